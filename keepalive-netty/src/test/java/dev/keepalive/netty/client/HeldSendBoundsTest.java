package dev.keepalive.netty.client;

import dev.keepalive.KeepaliveSettings;
import dev.keepalive.netty.KeepaliveProbe;
import dev.keepalive.reconnect.Backoff;
import dev.keepalive.reconnect.ConnectionEvent;
import dev.keepalive.reconnect.ConnectionState;
import dev.keepalive.reconnect.DisconnectedWrites;
import dev.keepalive.reconnect.ReconnectPolicy;
import dev.keepalive.reconnect.WriteBufferFullException;
import dev.keepalive.reconnect.WriteExpiredException;
import dev.keepalive.testsupport.LineServer;
import dev.keepalive.testsupport.Transport;
import io.netty.bootstrap.Bootstrap;
import io.netty.channel.EventLoopGroup;
import io.netty.channel.socket.nio.NioSocketChannel;
import io.netty.handler.codec.LineBasedFrameDecoder;
import io.netty.handler.codec.string.StringDecoder;
import io.netty.handler.codec.string.StringEncoder;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionException;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.TimeUnit;

import static java.time.Duration.ofMillis;
import static java.time.Duration.ofSeconds;
import static org.awaitility.Awaitility.await;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** On loopback: the bounds cover sends written but never acknowledged, which time out and expire. */
class HeldSendBoundsTest {
    private static final KeepaliveSettings KEEPALIVE = KeepaliveSettings.builder().detectWithin(ofSeconds(2)).build();

    private final EventLoopGroup group = Transport.NIO.newGroup(2);
    private final List<AutoCloseable> closeables = new ArrayList<>();
    private final List<ConnectionEvent> events = new CopyOnWriteArrayList<>();

    @AfterEach
    void tearDown() throws Exception {
        for (int i = closeables.size() - 1; i >= 0; i--) {
            closeables.get(i).close();
        }
        group.shutdownGracefully(0, 1, TimeUnit.SECONDS).sync();
    }

    private LineServer server() {
        LineServer s = new LineServer(group, KEEPALIVE).start(); // reads, never acknowledges
        closeables.add(s::stop);
        return s;
    }

    /** Lines "id text"; acknowledgements would be lines "ACK id" (the server sends none). */
    private ReconnectingClient.Builder client(LineServer server) {
        return ReconnectingClient.builder(new Bootstrap().group(group).channel(NioSocketChannel.class))
                .endpoints(List.of(server.address()))
                .pipeline((ch, keepalive) -> ch.pipeline().addLast(new LineBasedFrameDecoder(1 << 16),
                        new StringDecoder(StandardCharsets.UTF_8), new StringEncoder(StandardCharsets.UTF_8),
                        keepalive))
                .keepalive(KEEPALIVE, KeepaliveProbe.lines())
                .policy(ReconnectPolicy.builder().backoff(Backoff.fixed(ofMillis(50))).connectTimeout(ofSeconds(1))
                        .build())
                .acknowledgements(m -> Long.parseLong(m.toString().split(" ")[0]),
                        in -> in.toString().startsWith("ACK ") ? Long.parseLong(in.toString().substring(4)) : -1)
                .listener(events::add);
    }

    private ReconnectingClient started(ReconnectingClient.Builder b) {
        ReconnectingClient c = b.build();
        closeables.add(c::close);
        c.start();
        await().atMost(ofSeconds(5)).until(() -> c.state() == ConnectionState.CONNECTED);
        return c;
    }

    private static Throwable failure(CompletableFuture<?> f) {
        return assertThrows(CompletionException.class, f::join).getCause();
    }

    @Test
    void unacknowledgedSendsCountAgainstMaxMessagesAndMaxBytes() {
        LineServer server = server();
        ReconnectingClient c = started(client(server)
                .whileDisconnected(DisconnectedWrites.queue(10, 1024, ofSeconds(30))));
        List<CompletableFuture<Void>> fs = new ArrayList<>();
        for (int i = 0; i < 1000; i++) {
            fs.add(c.send(i + " " + "x".repeat(100) + "\n"));
        }
        await().atMost(ofSeconds(5)).until(() -> fs.stream().filter(CompletableFuture::isDone).count() >= 990);
        long held = fs.stream().filter(f -> !f.isDone()).count();
        assertTrue(held <= 10, held + " held");
        assertTrue(c.stats().queuedMessages() <= 10 && c.stats().queuedBytes() <= 1024, c.stats().toString());
        long refused = fs.stream().filter(f -> f.isDone() && failure(f) instanceof WriteBufferFullException).count();
        assertEquals(1000 - held, refused, "every other send was refused naming the bound");
        // 9 messages of 106 bytes fit in 1,024: the byte bound binds before the count.
        assertEquals(9, held);
    }

    @Test
    void sendsNeverAcknowledgedFailAtTheAckTimeout() {
        LineServer server = server();
        ReconnectingClient c = started(client(server).ackTimeout(ofMillis(300)));
        long sent = System.nanoTime();
        CompletableFuture<Void> f = c.send("1 hello\n");
        Throwable t = assertInstanceOf(WriteExpiredException.class, failure(f));
        Duration took = Duration.ofNanos(System.nanoTime() - sent);
        assertTrue(took.compareTo(ofMillis(300)) >= 0 && took.compareTo(ofSeconds(2)) < 0, took.toString());
        assertTrue(t.getMessage().endsWith("longer than ackTimeout PT0.3S"), t.getMessage());
        await().atMost(ofSeconds(2)).until(() -> server.lines.contains("1 hello"));
        assertEquals(0, c.stats().queuedMessages());
    }

    @Test
    void anAckTimeoutCanReconnectAndResendInsteadOfFailing() throws Exception {
        LineServer server = server(); // reads "MSG <id> ..." lines; acknowledges them only once ack(true)
        ReconnectingClient c = started(client(server)
                .acknowledgements(m -> Long.parseLong(m.toString().split(" ")[1]),
                        in -> in.toString().startsWith("ACK ") ? Long.parseLong(in.toString().substring(4)) : -1)
                .ackTimeout(ofMillis(300)).reconnectOnAckTimeout(true));
        CompletableFuture<Void> f = c.send("MSG 1 hello\n");
        await().atMost(ofSeconds(2)).until(() -> server.lines.contains("MSG 1 hello"));
        server.ack(true); // too late for the copy already read: only a re-send gets acknowledged
        f.get(5, TimeUnit.SECONDS);
        assertEquals(2, server.lines.stream().filter("MSG 1 hello"::equals).count(), "sent, then re-sent once");
        assertTrue(events.stream().anyMatch(e -> e.type() == ConnectionEvent.Type.DISCONNECTED && e.reason() == null),
                "the connection was dropped locally: " + events);
    }

    @Test
    void sendsRequeuedForResendingExpireEvenWhenFailingFast() {
        LineServer server = server();
        ReconnectingClient c = started(client(server)
                .whileDisconnected(DisconnectedWrites.failFast(100, 1 << 20, ofMillis(300))));
        CompletableFuture<Void> f = c.send("1 hello\n");
        await().atMost(ofSeconds(2)).until(() -> server.lines.contains("1 hello"));
        long stopped = System.nanoTime(); // before the loss, which may come before stop() returns
        server.stop(); // the connection drops and nothing listens any more: the send is re-queued, never re-sent
        Throwable t = assertInstanceOf(WriteExpiredException.class, failure(f));
        Duration took = Duration.ofNanos(System.nanoTime() - stopped);
        assertTrue(took.compareTo(ofMillis(300)) >= 0 && took.compareTo(ofSeconds(3)) < 0, took.toString());
        assertTrue(t.getMessage().contains("longer than maxQueueTime PT0.3S"), t.getMessage());
    }
}
