package dev.keepalive.testkit.session;

import dev.keepalive.netty.session.ClientSession;
import dev.keepalive.netty.session.SessionFraming;
import dev.keepalive.reconnect.ConnectionEvent;
import dev.keepalive.reconnect.ConnectionState;
import dev.keepalive.testkit.FaultLabExtension;
import dev.keepalive.testkit.KernelFirewallLab;
import dev.keepalive.testkit.PeerProcess;
import dev.keepalive.testsupport.Transport;
import io.netty.channel.EventLoopGroup;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.ExtendWith;

import java.net.InetSocketAddress;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import java.util.regex.MatchResult;

import static dev.keepalive.testkit.session.SessionPeers.buf;
import static dev.keepalive.testkit.session.SessionPeers.numbered;
import static java.time.Duration.ofSeconds;
import static org.awaitility.Awaitility.await;
import static org.junit.jupiter.api.Assertions.assertEquals;

/**
 * The session across a real kernel fault: the server runs as a process in the lab's namespace, its host vanishes
 * (every packet dropped) long enough for both ends to declare the other dead, then comes back. Each message arrives
 * once and in order both ways (the client's check covers the server: it answers each delivered message).
 */
@ExtendWith(FaultLabExtension.class)
class SessionKernelLabTest {
    private final EventLoopGroup group = Transport.NIO.newGroup(1);
    private SessionPeers.Client client;

    @AfterEach
    void tearDown() throws Exception {
        if (client != null) {
            client.close();
        }
        group.shutdownGracefully(0, 1, TimeUnit.SECONDS).sync();
    }

    @Test
    void sessionSurvivesTheServersHostVanishingAndComingBack(KernelFirewallLab lab) {
        PeerProcess server = lab.startJava(SessionServerMain.class, lab.peerAddress().getHostAddress(), "0");
        MatchResult listening = server.awaitLine("LISTENING \\S+ (\\d+)", ofSeconds(30));
        InetSocketAddress peer = lab.peerSocketAddress(Integer.parseInt(listening.group(1)));
        client = new SessionPeers.Client(group, List.of(peer), ClientSession.builder(SessionFraming.binary()).build());
        await().atMost(ofSeconds(10)).until(() -> client.client.state() == ConnectionState.CONNECTED);
        List<CompletableFuture<Void>> sends = new ArrayList<>();
        for (int i = 1; i <= 300; i++) {
            sends.add(client.client.send(buf("c" + i)));
        }
        lab.blackHole();
        for (int i = 301; i <= 600; i++) {
            sends.add(client.client.send(buf("c" + i)));
        }
        await().atMost(SessionPeers.KEEPALIVE.idleDetectionBound().plusSeconds(10)).until(() -> client.events.stream()
                .anyMatch(e -> e.type() == ConnectionEvent.Type.CONNECT_FAILED));
        lab.restore();
        for (int i = 601; i <= 900; i++) {
            sends.add(client.client.send(buf("c" + i)));
        }
        CompletableFuture.allOf(sends.toArray(new CompletableFuture[0])).orTimeout(30, TimeUnit.SECONDS).join();
        await().atMost(ofSeconds(10)).until(() -> client.received.size() >= 900);
        assertEquals(numbered("s", 1, 900), client.received);
        assertEquals(1, client.session.stats().resumed());
        assertEquals(0, client.session.stats().expired());
    }
}
