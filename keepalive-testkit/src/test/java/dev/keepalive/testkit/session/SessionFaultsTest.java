package dev.keepalive.testkit.session;

import dev.keepalive.KeepaliveSettings;
import dev.keepalive.netty.session.ClientSession;
import dev.keepalive.netty.session.InMemorySessionStore;
import dev.keepalive.netty.session.ServerSessions;
import dev.keepalive.netty.session.SessionFraming;
import dev.keepalive.reconnect.ConnectionState;
import dev.keepalive.session.SessionExpiredException;
import dev.keepalive.session.SessionSettings;
import dev.keepalive.session.SessionStats;
import dev.keepalive.testkit.Fault;
import dev.keepalive.testkit.FaultLabExtension;
import dev.keepalive.testkit.FirewallProxy;
import dev.keepalive.testkit.FirewallProxyFactory;
import dev.keepalive.testkit.Flow;
import dev.keepalive.testsupport.Transport;
import io.netty.channel.EventLoopGroup;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.ExtendWith;

import java.net.InetSocketAddress;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.TimeUnit;

import static dev.keepalive.testkit.session.SessionPeers.buf;
import static dev.keepalive.testkit.session.SessionPeers.numbered;
import static java.time.Duration.ofMillis;
import static java.time.Duration.ofSeconds;
import static org.awaitility.Awaitility.await;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * Real sockets on loopback through the testkit's proxy: messages flow both ways while the connection is reset,
 * black-holed and forgotten by the firewall; every message arrives once and in order on both ends, and every send
 * succeeds.
 */
@ExtendWith(FaultLabExtension.class)
class SessionFaultsTest {
    private final EventLoopGroup group = Transport.NIO.newGroup(2);
    private final List<AutoCloseable> closing = new ArrayList<>();

    @AfterEach
    void tearDown() throws Exception {
        for (int i = closing.size() - 1; i >= 0; i--) {
            closing.get(i).close();
        }
        group.shutdownGracefully(0, 1, TimeUnit.SECONDS).sync();
    }

    private SessionPeers.Server server(ServerSessions sessions, List<String> received) {
        SessionPeers.Server s = SessionPeers.server(group, new InetSocketAddress("127.0.0.1", 0), sessions, received);
        closing.add(s);
        return s;
    }

    @Test
    void nothingLostNothingRepeatedAcrossResetBlackHoleAndFirewallExpiry(FirewallProxyFactory proxies) {
        ServerSessions sessions = ServerSessions.builder(SessionFraming.binary()).build();
        closing.add(sessions);
        List<String> atServer = new CopyOnWriteArrayList<>();
        SessionPeers.Server server = server(sessions, atServer);
        FirewallProxy proxy = proxies.start(server.address());
        SessionPeers.Client c = new SessionPeers.Client(group, List.of(proxy.address()),
                ClientSession.builder(SessionFraming.binary()).build());
        closing.add(c);
        await().atMost(ofSeconds(5)).until(() -> c.client.state() == ConnectionState.CONNECTED);

        List<CompletableFuture<Void>> sends = new ArrayList<>();
        int next = 1;
        List<Fault> faults = List.of(Fault.reset(), Fault.blackHole(), Fault.forget(), Fault.reset());
        for (Fault fault : faults) {
            long connects = c.connects();
            for (int i = 0; i < 250; i++) {
                sends.add(c.client.send(buf("c" + next++)));
            }
            List<Flow> flows = proxy.flows();
            flows.get(flows.size() - 1).inject(fault);
            for (int i = 0; i < 250; i++) {
                sends.add(c.client.send(buf("c" + next++))); // into the dying connection, or queued
            }
            await().atMost(SessionPeers.KEEPALIVE.idleDetectionBound().plusSeconds(10))
                    .until(() -> c.connects() > connects && c.client.state() == ConnectionState.CONNECTED);
        }
        int total = next - 1;
        CompletableFuture.allOf(sends.toArray(new CompletableFuture[0])).orTimeout(30, TimeUnit.SECONDS).join();
        await().atMost(ofSeconds(20)).until(() -> c.received.size() >= total && atServer.size() >= total);
        assertEquals(numbered("c", 1, total), atServer, "the server got each message once, in order");
        assertEquals(numbered("s", 1, total), c.received, "the client got each answer once, in order");
        SessionStats client = c.session.stats();
        SessionStats server0 = sessions.stats();
        assertEquals(1, client.started());
        assertEquals(faults.size(), client.resumed(), "one resume per fault");
        assertEquals(0, client.duplicates() + server0.duplicates());
        await().atMost(ofSeconds(5)).until(() -> c.session.stats().unackedMessages() == 0
                && sessions.stats().unackedMessages() == 0);
        System.out.printf("session across %d faults: %d messages each way, client re-sent %d, server re-sent %d%n",
                faults.size(), total, client.resentMessages(), server0.resentMessages());
    }

    @Test
    void aClientBackAfterItsSessionExpiredIsToldAndStartsANewOne(FirewallProxyFactory proxies) {
        ServerSessions sessions = ServerSessions.builder(SessionFraming.binary())
                .settings(SessionSettings.builder().detachedTimeout(ofMillis(200)).build()).build();
        closing.add(sessions);
        List<String> atServer = new CopyOnWriteArrayList<>();
        SessionPeers.Server server = server(sessions, atServer);
        FirewallProxy proxy = proxies.start(server.address());
        SessionPeers.Client c = new SessionPeers.Client(group, List.of(proxy.address()),
                ClientSession.builder(SessionFraming.binary()).build());
        closing.add(c);
        await().atMost(ofSeconds(5)).until(() -> c.client.state() == ConnectionState.CONNECTED);
        c.client.send(buf("c1")).orTimeout(5, TimeUnit.SECONDS).join();
        String oldId = c.session.id();

        proxy.injectAll(Fault.blackHole()); // this flow and every new one: nothing passes
        CompletableFuture<Void> lost = c.client.send(buf("c2"));
        await().atMost(ofSeconds(10)).until(() -> sessions.stats().expired() == 1);
        proxy.restoreAll();
        await().atMost(ofSeconds(10)).until(() -> c.session.stats().expired() == 1
                && c.client.state() == ConnectionState.CONNECTED);
        SessionExpiredException e = assertInstanceOf(SessionExpiredException.class, assertThrows(
                java.util.concurrent.CompletionException.class, lost::join).getCause());
        assertEquals(oldId, e.sessionId(), "the write held by the expired session fails saying so");
        c.client.send(buf("c3")).orTimeout(5, TimeUnit.SECONDS).join();
        await().atMost(ofSeconds(5)).until(() -> atServer.contains("c3"));
        assertEquals(2, c.session.stats().started(), "a new session after the expiry");
        assertTrue(atServer.indexOf("c1") == 0 && atServer.indexOf("c3") > 0);
    }

    @Test
    void failoverToAnotherServerSharingTheStoreResumesThere() throws Exception {
        InMemorySessionStore store = new InMemorySessionStore();
        ServerSessions first = ServerSessions.builder(SessionFraming.binary()).store(store).build();
        ServerSessions second = ServerSessions.builder(SessionFraming.binary()).store(store).build();
        closing.add(first::expireAllStored);
        closing.add(first);
        closing.add(second);
        List<String> atServers = new CopyOnWriteArrayList<>();
        SessionPeers.Server a = server(first, atServers);
        SessionPeers.Server b = server(second, atServers);
        SessionPeers.Client c = new SessionPeers.Client(group, List.of(a.address(), b.address()),
                ClientSession.builder(SessionFraming.binary()).build());
        closing.add(c);
        await().atMost(ofSeconds(5)).until(() -> c.client.state() == ConnectionState.CONNECTED);
        List<CompletableFuture<Void>> sends = new ArrayList<>();
        for (int i = 1; i <= 300; i++) {
            sends.add(c.client.send(buf("c" + i)));
        }
        await().atMost(ofSeconds(5)).until(() -> atServers.size() >= 100);
        a.close(); // server A stops listening and drops its connection: the session goes to the store
        for (int i = 301; i <= 600; i++) {
            sends.add(c.client.send(buf("c" + i)));
        }
        CompletableFuture.allOf(sends.toArray(new CompletableFuture[0])).orTimeout(30, TimeUnit.SECONDS).join();
        await().atMost(ofSeconds(10)).until(() -> c.received.size() >= 600);
        assertEquals(numbered("c", 1, 600), atServers);
        assertEquals(numbered("s", 1, 600), c.received);
        assertEquals(1, second.stats().resumed(), "resumed on the second server");
        assertEquals(0, c.session.stats().expired());
    }

    @Test
    void failoverWhileTheFirstServerStillHoldsTheSessionTakesItOverFromThere(FirewallProxyFactory proxies) {
        InMemorySessionStore store = new InMemorySessionStore();
        ServerSessions first = ServerSessions.builder(SessionFraming.binary()).store(store).build();
        ServerSessions second = ServerSessions.builder(SessionFraming.binary()).store(store).build();
        closing.add(first::expireAllStored);
        closing.add(first);
        closing.add(second);
        List<String> atServers = new CopyOnWriteArrayList<>();
        // The first server notices a dead client only after a minute: long after the client has moved on.
        KeepaliveSettings slow = KeepaliveSettings.builder().detectWithin(ofSeconds(60)).tcpKeepAlive(false).build();
        SessionPeers.Server a = SessionPeers.server(group, new InetSocketAddress("127.0.0.1", 0), first, atServers,
                slow);
        closing.add(a);
        SessionPeers.Server b = server(second, atServers);
        FirewallProxy toA = proxies.start(a.address());
        SessionPeers.Client c = new SessionPeers.Client(group, List.of(toA.address(), b.address()),
                ClientSession.builder(SessionFraming.binary()).build());
        closing.add(c);
        await().atMost(ofSeconds(5)).until(() -> c.client.state() == ConnectionState.CONNECTED);
        List<CompletableFuture<Void>> sends = new ArrayList<>();
        for (int i = 1; i <= 200; i++) {
            sends.add(c.client.send(buf("c" + i)));
        }
        await().atMost(ofSeconds(5)).until(() -> c.received.size() >= 100);
        toA.injectAll(Fault.blackHole()); // the path to A dies silently, for this flow and every new one
        for (int i = 201; i <= 400; i++) {
            sends.add(c.client.send(buf("c" + i)));
        }
        CompletableFuture.allOf(sends.toArray(new CompletableFuture[0])).orTimeout(30, TimeUnit.SECONDS).join();
        await().atMost(ofSeconds(10)).until(() -> c.received.size() >= 400);
        assertEquals(numbered("c", 1, 400), atServers, "each message once, in order, across both servers");
        assertEquals(numbered("s", 1, 400), c.received);
        assertEquals(1, second.stats().resumed(), "resumed on the second server");
        assertEquals(0, c.session.stats().expired() + first.stats().expired() + second.stats().expired(),
                "the session did not expire");
        assertEquals(0, first.attached(), "taken over from the first server, which still held it");
        assertEquals(1, second.attached());
    }
}
