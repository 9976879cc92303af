package dev.keepalive.netty.client;

import dev.keepalive.KeepaliveSettings;
import dev.keepalive.netty.KeepaliveProbe;
import dev.keepalive.reconnect.Backoff;
import dev.keepalive.reconnect.ConnectionEvent;
import dev.keepalive.reconnect.ConnectionEvent.Type;
import dev.keepalive.reconnect.ConnectionState;
import dev.keepalive.reconnect.ReconnectPolicy;
import dev.keepalive.testsupport.LineServer;
import dev.keepalive.testsupport.Transport;
import io.netty.bootstrap.Bootstrap;
import io.netty.bootstrap.ServerBootstrap;
import io.netty.channel.Channel;
import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.ChannelInboundHandlerAdapter;
import io.netty.channel.EventLoopGroup;
import io.netty.channel.socket.nio.NioServerSocketChannel;
import io.netty.channel.socket.nio.NioSocketChannel;
import io.netty.handler.codec.LineBasedFrameDecoder;
import io.netty.handler.codec.string.StringDecoder;
import io.netty.handler.codec.string.StringEncoder;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.ServerSocket;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;

import static java.time.Duration.ofMillis;
import static java.time.Duration.ofSeconds;
import static org.awaitility.Awaitility.await;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * On real loopback sockets: a connection counts only once the peer answered, the backoff keeps growing against
 * servers that accept and then close or never answer, and the events carry the fields their javadoc promises.
 */
class ProvenConnectionTest {
    /** Full jitter at random 0.999: delays of about 49, 99, 199, 399, 799 ms. */
    private static final ReconnectPolicy GROWING = ReconnectPolicy.builder()
            .backoff(Backoff.exponentialFullJitter(ofMillis(50), ofSeconds(5))).random(() -> 0.999)
            .connectTimeout(ofMillis(300)).build();
    private static final KeepaliveSettings KEEPALIVE = KeepaliveSettings.builder().detectWithin(ofSeconds(2)).build();

    private final EventLoopGroup group = Transport.NIO.newGroup(2);
    private final List<AutoCloseable> closeables = new ArrayList<>();
    private final List<ConnectionEvent> events = new CopyOnWriteArrayList<>();
    private final List<Long> eventTimes = new CopyOnWriteArrayList<>();
    /** How much later than the client's decision a listener may stamp its event. */
    private static final Duration EVENT_STAMP_LAG = Duration.ofMillis(10);
    private final List<Channel> channels = new CopyOnWriteArrayList<>();

    @AfterEach
    void tearDown() throws Exception {
        for (int i = closeables.size() - 1; i >= 0; i--) {
            closeables.get(i).close();
        }
        group.shutdownGracefully(0, 1, TimeUnit.SECONDS).sync();
    }

    private ReconnectingClient client(InetSocketAddress server, ReconnectPolicy policy) {
        ReconnectingClient c = ReconnectingClient.builder(new Bootstrap().group(group).channel(NioSocketChannel.class))
                .endpoints(List.of(server))
                .pipeline((ch, keepalive) -> {
                    channels.add(ch);
                    ch.pipeline().addLast(new LineBasedFrameDecoder(1 << 16),
                            new StringDecoder(StandardCharsets.UTF_8), new StringEncoder(StandardCharsets.UTF_8),
                            keepalive);
                })
                .keepalive(KEEPALIVE, KeepaliveProbe.lines())
                .policy(policy)
                .listener(e -> {
                    eventTimes.add(System.nanoTime());
                    events.add(e);
                })
                .build();
        closeables.add(c::close);
        return c.start();
    }

    private List<ConnectionEvent> ofType(Type type) {
        return events.stream().filter(e -> e.type() == type).toList();
    }

    /** A server that accepts each connection and closes it at once. */
    private InetSocketAddress acceptAndClose() throws InterruptedException {
        Channel server = new ServerBootstrap().group(group).channel(NioServerSocketChannel.class)
                .childHandler(new ChannelInboundHandlerAdapter() {
                    @Override
                    public void channelActive(ChannelHandlerContext ctx) {
                        ctx.close();
                    }
                }).bind(InetAddress.getLoopbackAddress(), 0).sync().channel();
        closeables.add(() -> server.close().sync());
        return (InetSocketAddress) server.localAddress();
    }

    /** Every event's state and attempt follow the table of {@link ConnectionEvent}. */
    private void assertEventFieldsMatchTheJavadoc() {
        int attempt = 0;
        for (ConnectionEvent e : events) {
            switch (e.type()) {
                case CONNECTING:
                    assertEquals(ConnectionState.CONNECTING, e.state(), e.toString());
                    attempt = e.attempt();
                    break;
                case CONNECTED:
                    assertEquals(ConnectionState.CONNECTED, e.state(), e.toString());
                    assertEquals(attempt, e.attempt(), "CONNECTED carries the attempt that connected: " + e);
                    break;
                case CONNECT_FAILED:
                    assertTrue(e.state() == ConnectionState.BACKING_OFF || e.state() == ConnectionState.CLOSED,
                            e.toString());
                    assertEquals(attempt, e.attempt(), "CONNECT_FAILED carries the failed attempt: " + e);
                    assertTrue(e.cause() != null, e.toString());
                    break;
                case DISCONNECTED:
                    assertTrue(e.state() != ConnectionState.CONNECTED, "the state after the loss: " + e);
                    break;
                case RECONNECTING:
                    assertEquals(ConnectionState.BACKING_OFF, e.state(), e.toString());
                    assertTrue(e.attempt() >= 1 && e.delay() != null, e.toString());
                    break;
                default:
                    assertEquals(ConnectionState.CLOSED, e.state(), e.toString());
            }
        }
    }

    @Test
    void aServerThatAcceptsAndClosesAtOnceIsRedialledNoFasterThanTheBackoff() throws Exception {
        InetSocketAddress server = acceptAndClose();
        client(server, GROWING);
        await().atMost(ofSeconds(10)).until(() -> ofType(Type.CONNECTING).size() >= 6);
        assertEquals(0, ofType(Type.CONNECTED).size(), "never proven: " + events);
        List<ConnectionEvent> dials = ofType(Type.CONNECTING);
        for (int i = 0; i < dials.size(); i++) {
            assertEquals(i + 1, dials.get(i).attempt(), "the attempt numbers grow: " + dials);
        }
        // Each dial comes at least the announced delay after the RECONNECTING before it. The delay runs from the
        // client's decision, the event is stamped when its listener runs, after the decision and the log line: on a
        // loaded 2-core machine that can be a few milliseconds later (it was 2-3 ms in two runs), so 10 ms are
        // allowed; a client that ignored the backoff would dial at once, 49 ms and more too early.
        for (int i = 0; i < events.size(); i++) {
            if (events.get(i).type() != Type.RECONNECTING) {
                continue;
            }
            for (int j = i + 1; j < events.size(); j++) {
                if (events.get(j).type() == Type.CONNECTING) {
                    long waited = eventTimes.get(j) - eventTimes.get(i);
                    assertTrue(waited >= events.get(i).delay().toNanos() - EVENT_STAMP_LAG.toNanos(), "dialled after " + waited / 1_000_000
                            + " ms, backoff " + events.get(i).delay().toMillis() + " ms");
                    break;
                }
            }
        }
        List<Long> delays = ofType(Type.RECONNECTING).stream().map(e -> e.delay().toMillis()).toList();
        assertEquals(List.of(49L, 99L, 199L, 399L, 799L), delays.subList(0, 5), "the backoff grows");
        assertEventFieldsMatchTheJavadoc();
    }

    @Test
    void aFrozenServerWhoseBacklogAcceptsNeverCountsAsConnected() throws Exception {
        // A listening socket nobody accepts from: the kernel completes handshakes into the backlog, as for a server
        // process that is SIGSTOPped; nothing is ever answered.
        ServerSocket frozen = new ServerSocket(0, 50, InetAddress.getLoopbackAddress());
        closeables.add(frozen);
        client(new InetSocketAddress(InetAddress.getLoopbackAddress(), frozen.getLocalPort()), GROWING);
        await().atMost(ofSeconds(10)).until(() -> ofType(Type.CONNECT_FAILED).size() >= 3);
        assertEquals(0, ofType(Type.CONNECTED).size(), "never proven: " + events);
        for (ConnectionEvent failed : ofType(Type.CONNECT_FAILED)) {
            assertInstanceOf(TimeoutException.class, failed.cause());
            assertTrue(failed.cause().getMessage().contains("the peer did not answer"), failed.cause().getMessage());
        }
        List<ConnectionEvent> retries = ofType(Type.RECONNECTING);
        for (int i = 0; i < retries.size(); i++) {
            assertEquals(i + 2, retries.get(i).attempt(), "the backoff never restarts: " + retries);
        }
        assertEventFieldsMatchTheJavadoc();
    }

    @Test
    void aLiveServerIsConnectedAfterItAnsweredAndEventsMatchTheJavadoc() throws Exception {
        LineServer server = new LineServer(group, KEEPALIVE).start();
        closeables.add(server::stop);
        ReconnectingClient c = client(server.address(), GROWING);
        await().atMost(ofSeconds(5)).until(() -> c.state() == ConnectionState.CONNECTED);
        server.dropConnections();
        await().atMost(ofSeconds(5)).until(() -> ofType(Type.CONNECTED).size() == 2);
        ConnectionEvent lost = ofType(Type.DISCONNECTED).get(0);
        assertEquals(ConnectionState.BACKING_OFF, lost.state(), "the state after the loss");
        assertEquals(1, lost.attempt(), "shorter than backoffResetAfter: the sequence goes on");
        assertEquals(2, ofType(Type.CONNECTED).get(1).attempt());
        c.close();
        assertEquals(Type.CLOSED, events.get(events.size() - 1).type());
        assertEventFieldsMatchTheJavadoc();
    }

    @Test
    void closeWhileWaitingForTheProofClosesTheChannelFirstAndEmitsNothingAfterClosed() throws Exception {
        ServerSocket frozen = new ServerSocket(0, 50, InetAddress.getLoopbackAddress());
        closeables.add(frozen);
        ReconnectingClient c = client(new InetSocketAddress(InetAddress.getLoopbackAddress(),
                frozen.getLocalPort()), ReconnectPolicy.builder().connectTimeout(ofSeconds(5)).build());
        await().atMost(ofSeconds(5)).until(() -> ofType(Type.CONNECTING).size() == 1);
        c.close();
        assertTrue(channels.stream().noneMatch(Channel::isOpen), "close() returns once its channels are closed");
        int n = events.size();
        assertEquals(Type.CLOSED, events.get(n - 1).type());
        assertEquals(ConnectionState.CLOSED, c.stats().state());
        await().during(ofMillis(300)).atMost(ofSeconds(1)).until(() -> events.size() == n);
        assertEquals(0, ofType(Type.CONNECT_FAILED).size(), "no CONNECT_FAILED after CLOSED: " + events);
    }
}
