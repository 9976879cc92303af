package dev.keepalive.netty.client;

import dev.keepalive.DeadPeerReason;
import dev.keepalive.KeepaliveSettings;
import dev.keepalive.PeerDeadException;
import dev.keepalive.netty.KeepaliveProbe;
import dev.keepalive.reconnect.Backoff;
import dev.keepalive.reconnect.ConnectionEvent;
import dev.keepalive.reconnect.ConnectionState;
import dev.keepalive.reconnect.DisconnectedWrites;
import dev.keepalive.reconnect.ReconnectPolicy;
import dev.keepalive.testsupport.ChildServer;
import dev.keepalive.testsupport.Transport;
import io.netty.bootstrap.Bootstrap;
import io.netty.channel.EventLoopGroup;
import io.netty.channel.socket.nio.NioSocketChannel;
import io.netty.handler.codec.LineBasedFrameDecoder;
import io.netty.handler.codec.string.StringDecoder;
import io.netty.handler.codec.string.StringEncoder;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Set;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;

import static java.time.Duration.ofMillis;
import static java.time.Duration.ofSeconds;
import static org.awaitility.Awaitility.await;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * Delivery confirmed without application acknowledgements, against a real server process frozen with SIGSTOP for
 * 10 s while 100 messages are sent: no future succeeds for a message the server did not read, and every message is
 * read after it resumes or its future failed with the reason.
 */
class ConfirmedDeliveryTest {
    private static final KeepaliveSettings KEEPALIVE = KeepaliveSettings.builder().detectWithin(ofSeconds(2)).build();
    private static final Duration FREEZE = ofSeconds(10);

    private final EventLoopGroup group = Transport.NIO.newGroup(1);
    private final List<ConnectionEvent> events = new CopyOnWriteArrayList<>();
    private ChildServer server;
    private ReconnectingClient client;

    @AfterEach
    void tearDown() throws Exception {
        if (client != null) {
            client.close();
        }
        if (server != null) {
            server.close();
        }
        group.shutdownGracefully(0, 1, TimeUnit.SECONDS).sync();
    }

    @ParameterizedTest(name = "resendUnconfirmed={0}")
    @ValueSource(booleans = {false, true})
    void aFrozenServerNeverGetsASendReportedDeliveredThatItDidNotRead(boolean resend) throws Exception {
        server = ChildServer.start();
        client = ReconnectingClient.builder(new Bootstrap().group(group).channel(NioSocketChannel.class))
                .endpoints(List.of(new InetSocketAddress(InetAddress.getLoopbackAddress(), server.port())))
                .pipeline((ch, keepalive) -> ch.pipeline().addLast(new LineBasedFrameDecoder(1 << 16),
                        new StringDecoder(StandardCharsets.UTF_8), new StringEncoder(StandardCharsets.UTF_8),
                        keepalive))
                .keepalive(KEEPALIVE, KeepaliveProbe.lines())
                .policy(ReconnectPolicy.builder().backoff(Backoff.exponentialFullJitter(ofMillis(100), ofSeconds(1)))
                        .connectTimeout(ofSeconds(1)).build())
                .whileDisconnected(DisconnectedWrites.queue(1_000, 1 << 20, ofSeconds(60)))
                .resendUnconfirmed(resend)
                .listener(events::add)
                .build().start();
        await().atMost(ofSeconds(10)).until(() -> client.state() == ConnectionState.CONNECTED);
        client.send("warmup\n").get(5, TimeUnit.SECONDS);
        // The server printed it before answering the ping; its output pipe may lag a little behind.
        await().atMost(ofSeconds(5)).until(() -> server.read.contains("warmup"));

        server.freeze();
        AtomicBoolean frozen = new AtomicBoolean(true);
        assertTrue(events.stream().filter(e -> e.type() == ConnectionEvent.Type.CONNECTED).count() == 1);
        List<String> succeededWhileFrozen = new CopyOnWriteArrayList<>();
        List<CompletableFuture<Void>> futures = new ArrayList<>();
        long frozenAt = System.nanoTime();
        for (int i = 0; i < 100; i++) {
            String msg = "m" + i;
            CompletableFuture<Void> f = client.send(msg + "\n");
            f.thenRun(() -> {
                if (frozen.get()) {
                    succeededWhileFrozen.add(msg);
                }
            });
            futures.add(f);
            // Pacing, not synchronisation: 100 sends over the first 2 s, some before the death is detected, some after.
            Thread.sleep(20);
        }
        Thread.sleep(Math.max(0, FREEZE.toMillis() - (System.nanoTime() - frozenAt) / 1_000_000)); // the freeze

        assertTrue(events.stream().anyMatch(e -> e.type() == ConnectionEvent.Type.DISCONNECTED
                && e.reason() == DeadPeerReason.PING_TIMEOUT), "the freeze was detected: " + events);
        assertEquals(1, events.stream().filter(e -> e.type() == ConnectionEvent.Type.CONNECTED).count(),
                "the frozen server's backlog never counted as connected: " + events);
        frozen.set(false);
        server.resume();
        assertEquals(List.of(), succeededWhileFrozen, "no future succeeds while the server reads nothing");

        await().atMost(ofSeconds(30)).until(() -> futures.stream().allMatch(CompletableFuture::isDone));
        Set<String> succeeded = new HashSet<>();
        int failed = 0;
        for (int i = 0; i < futures.size(); i++) {
            CompletableFuture<Void> f = futures.get(i);
            if (!f.isCompletedExceptionally()) {
                succeeded.add("m" + i);
                continue;
            }
            failed++;
            Throwable cause = f.handle((ok, t) -> t).join();
            assertFalse(resend, "with re-sending, nothing fails: m" + i + " failed with " + cause);
            PeerDeadException dead = assertInstanceOf(PeerDeadException.class, cause, "m" + i);
            assertEquals(DeadPeerReason.PING_TIMEOUT, dead.reason());
        }
        // Every success was read by the server (its output lags a little behind the pong it sent).
        await().atMost(ofSeconds(5)).until(() -> server.read.containsAll(succeeded));
        if (resend) {
            assertEquals(100, succeeded.size());
            List<String> firstReads = server.read.stream().filter(l -> l.startsWith("m")).distinct().toList();
            for (int i = 0; i < firstReads.size(); i++) {
                assertEquals("m" + i, firstReads.get(i), "read in order, at least once: " + server.read);
            }
        }
        System.out.printf("frozen server, resendUnconfirmed=%s: %d succeeded (all read), %d failed with "
                + "PING_TIMEOUT, %d lines read%n", resend, succeeded.size(), failed, server.read.size());
    }
}
