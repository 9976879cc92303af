package dev.keepalive.testkit.recovery;

import dev.keepalive.DeadPeerReason;
import dev.keepalive.KeepaliveSettings;
import dev.keepalive.netty.KeepaliveProbe;
import dev.keepalive.netty.client.ReconnectingClient;
import dev.keepalive.reconnect.Backoff;
import dev.keepalive.reconnect.ConnectionEvent;
import dev.keepalive.reconnect.ConnectionState;
import dev.keepalive.reconnect.DisconnectedWrites;
import dev.keepalive.reconnect.ReconnectPolicy;
import dev.keepalive.testkit.Direction;
import dev.keepalive.testkit.EchoServer;
import dev.keepalive.testkit.Fault;
import dev.keepalive.testkit.FaultLabExtension;
import dev.keepalive.testkit.FirewallProxy;
import dev.keepalive.testkit.FirewallProxyFactory;
import dev.keepalive.testkit.Flow;
import dev.keepalive.testkit.KernelFirewallLab;
import dev.keepalive.testkit.PeerProcess;
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
import org.junit.jupiter.api.extension.ExtendWith;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.MethodSource;

import java.net.InetSocketAddress;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.TimeUnit;
import java.util.regex.MatchResult;
import java.util.stream.Stream;

import static java.time.Duration.ofMillis;
import static java.time.Duration.ofSeconds;
import static org.awaitility.Awaitility.await;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * The reconnecting client recovers from each fault within the detection bound + the backoff's maximum + the connect
 * timeout (+ {@link #TOLERANCE}), and a message sent into the dead connection is re-sent and arrives.
 */
@ExtendWith(FaultLabExtension.class)
class ReconnectingClientRecoveryTest {
    /** Scheduling slack on a loaded two-core machine, on top of the computed bound. */
    static final Duration TOLERANCE = ofMillis(700);
    static final KeepaliveSettings KEEPALIVE = KeepaliveSettings.builder().detectWithin(ofMillis(1500))
            .tcpKeepAlive(false)          // below 2 s the kernel keepalive cannot keep the budget: pings alone
            .pingJitter(0).build();
    static final Duration BACKOFF_MAX = ofMillis(400);
    static final Duration CONNECT_TIMEOUT = ofSeconds(1);
    static final ReconnectPolicy POLICY = ReconnectPolicy.builder()
            .backoff(Backoff.exponentialFullJitter(ofMillis(50), BACKOFF_MAX)).connectTimeout(CONNECT_TIMEOUT).build();
    static final Duration BOUND = KEEPALIVE.idleDetectionBound().plus(BACKOFF_MAX).plus(CONNECT_TIMEOUT);

    private final EventLoopGroup group = Transport.NIO.newGroup(1);
    private final List<ConnectionEvent> events = new CopyOnWriteArrayList<>();
    private ReconnectingClient client;
    private LineServer server;

    @AfterEach
    void tearDown() throws Exception {
        if (client != null) {
            client.close();
        }
        if (server != null) {
            server.stop();
        }
        group.shutdownGracefully(0, 1, TimeUnit.SECONDS).sync();
    }

    /** A line-protocol client with the keepalive handler, the test's policy and event recording. */
    private ReconnectingClient.Builder lineClient(Bootstrap bootstrap, List<InetSocketAddress> endpoints,
                                                  KeepaliveSettings settings) {
        return ReconnectingClient.builder(bootstrap)
                .endpoints(endpoints)
                .pipeline((ch, keepalive) -> ch.pipeline().addLast(new LineBasedFrameDecoder(1 << 16),
                        new StringDecoder(StandardCharsets.UTF_8), new StringEncoder(StandardCharsets.UTF_8),
                        keepalive))
                .keepalive(settings, KeepaliveProbe.lines())
                .policy(POLICY)
                .listener(events::add);
    }

    private Bootstrap nio() {
        return new Bootstrap().group(group).channel(NioSocketChannel.class);
    }

    /** A client that queues while disconnected and re-sends what is not acknowledged (MSG id / ACK id lines). */
    private ReconnectingClient client(List<InetSocketAddress> endpoints) {
        client = lineClient(nio(), endpoints, KEEPALIVE)
                .whileDisconnected(DisconnectedWrites.queue(100, 1 << 16, ofSeconds(30)))
                .acknowledgements(msg -> Long.parseLong(((String) msg).split(" ")[1].trim()),
                        in -> in instanceof String && ((String) in).startsWith("ACK ")
                                ? Long.parseLong(((String) in).substring(4).trim()) : -1)
                .build();
        return client.start();
    }

    private long connectedCount() {
        return events.stream().filter(e -> e.type() == ConnectionEvent.Type.CONNECTED).count();
    }

    static Stream<Arguments> faults() {
        return Stream.of(
                Arguments.of(Fault.blackHole(), DeadPeerReason.PING_TIMEOUT),
                Arguments.of(Fault.blackHole(Direction.SERVER_TO_CLIENT), DeadPeerReason.PING_TIMEOUT),
                Arguments.of(Fault.forget(), DeadPeerReason.PING_TIMEOUT),
                Arguments.of(Fault.reset(), DeadPeerReason.RESET_BY_PEER),
                Arguments.of(Fault.close(), DeadPeerReason.CLOSED_BY_PEER));
    }

    @ParameterizedTest(name = "{0}")
    @MethodSource("faults")
    void recoversFromEachFaultAndResendsWhatWasLost(Fault fault, DeadPeerReason expected,
                                                     FirewallProxyFactory proxies) throws Exception {
        server = new LineServer(group, KEEPALIVE).ack(true).start();
        FirewallProxy proxy = proxies.start(server.address());
        ReconnectingClient c = client(List.of(proxy.address()));
        await().atMost(ofSeconds(5)).until(() -> c.state() == ConnectionState.CONNECTED);
        Flow flow = proxy.awaitFlow(0, ofSeconds(5));

        long faultAt = System.nanoTime();
        flow.inject(fault);
        CompletableFuture<Void> lost = c.send("MSG 1 sent into the fault\n");
        await().atMost(BOUND.plus(TOLERANCE).plusSeconds(5)).until(() -> connectedCount() == 2);
        Duration recovered = Duration.ofNanos(System.nanoTime() - faultAt);

        ConnectionEvent death = events.stream().filter(e -> e.type() == ConnectionEvent.Type.DISCONNECTED)
                .findFirst().orElseThrow();
        if (fault.kind() == Fault.Kind.RESET) {
            // The send below may meet the RST first: Netty then closes the channel from the failed write without an
            // exceptionCaught, so the handler sees only the close. Either way the peer ended the connection.
            assertTrue(death.reason() == DeadPeerReason.RESET_BY_PEER
                    || death.reason() == DeadPeerReason.CLOSED_BY_PEER, "reset reported as " + death.reason());
        } else {
            assertEquals(expected, death.reason());
        }
        assertTrue(recovered.compareTo(BOUND.plus(TOLERANCE)) <= 0,
                fault + ": recovered in " + recovered.toMillis() + " ms, bound " + BOUND.toMillis() + " ms + "
                        + TOLERANCE.toMillis());
        lost.get(5, TimeUnit.SECONDS);
        await().atMost(ofSeconds(5)).until(() -> server.lines.contains("MSG 1 sent into the fault"));
        System.out.printf("recovery from %s: %d ms (bound %d ms)%n", fault, recovered.toMillis(), BOUND.toMillis());
    }

    @Test
    void blackHoledEndpointIsSkippedForTheNextOne(FirewallProxyFactory proxies) throws Exception {
        server = new LineServer(group, KEEPALIVE).ack(true).start();
        FirewallProxy dead = proxies.start(server.address());
        dead.injectAll(Fault.blackHole()); // accepts connections, then nothing ever passes
        ReconnectingClient c = client(List.of(dead.address(), server.address()));
        long start = System.nanoTime();
        await().atMost(BOUND.plus(TOLERANCE).plusSeconds(5)).until(() -> events.stream().anyMatch(e ->
                e.type() == ConnectionEvent.Type.CONNECTED && e.remote().equals(server.address())));
        Duration took = Duration.ofNanos(System.nanoTime() - start);
        assertTrue(took.compareTo(BOUND.plus(TOLERANCE)) <= 0, "failed over in " + took.toMillis() + " ms");
        c.send("MSG 7 after failover\n").get(5, TimeUnit.SECONDS);
    }

    @Test
    void recoversFromAWriteStall(FirewallProxyFactory proxies) throws Exception {
        server = new LineServer(group, KEEPALIVE).start();
        FirewallProxy proxy = proxies.start(server.address());
        Duration stall = ofMillis(500);
        KeepaliveSettings settings = KEEPALIVE.toBuilder().writeStallTimeout(stall).build();
        client = lineClient(nio().option(io.netty.channel.ChannelOption.SO_SNDBUF, 16 * 1024),
                List.of(proxy.address()), settings).build().start();
        await().atMost(ofSeconds(5)).until(() -> client.state() == ConnectionState.CONNECTED);
        Flow flow = proxy.awaitFlow(0, ofSeconds(5));
        flow.pause(Direction.CLIENT_TO_SERVER); // the path stops taking the client's bytes; answers still come
        long faultAt = System.nanoTime();
        String line = "x".repeat(8 * 1024) + "\n";
        for (int i = 0; i < 200; i++) {
            client.send(line);
        }
        Duration bound = stall.plus(stall.dividedBy(8)).plus(BACKOFF_MAX).plus(CONNECT_TIMEOUT);
        await().atMost(bound.plus(TOLERANCE).plusSeconds(5)).until(() -> connectedCount() == 2);
        Duration recovered = Duration.ofNanos(System.nanoTime() - faultAt);
        assertEquals(DeadPeerReason.WRITE_STALL, events.stream()
                .filter(e -> e.type() == ConnectionEvent.Type.DISCONNECTED).findFirst().orElseThrow().reason());
        assertTrue(recovered.compareTo(bound.plus(TOLERANCE)) <= 0,
                "recovered in " + recovered.toMillis() + " ms, bound " + bound.toMillis() + " ms");
        System.out.printf("recovery from a write stall: %d ms (bound %d ms)%n", recovered.toMillis(),
                bound.toMillis());
    }

    @Test
    void recoversWhenAHungServerProcessResumes(KernelFirewallLab lab) throws Exception {
        PeerProcess echo = lab.startJava(EchoServer.class, lab.peerAddress().getHostAddress(), "0");
        MatchResult listening = echo.awaitLine("LISTENING \\S+ (\\d+)", ofSeconds(30));
        InetSocketAddress peer = lab.peerSocketAddress(Integer.parseInt(listening.group(1)));
        client = lineClient(nio(), List.of(peer), KEEPALIVE).build().start();
        await().atMost(ofSeconds(5)).until(() -> client.state() == ConnectionState.CONNECTED);

        echo.suspend(); // SIGSTOP: its kernel still ACKs and even accepts new connections
        long stopped = System.nanoTime();
        await().atMost(KEEPALIVE.idleDetectionBound().plus(TOLERANCE).plusSeconds(5)).until(() -> events.stream()
                .anyMatch(e -> e.type() == ConnectionEvent.Type.DISCONNECTED));
        Duration detected = Duration.ofNanos(System.nanoTime() - stopped);
        assertEquals(DeadPeerReason.PING_TIMEOUT, events.stream()
                .filter(e -> e.type() == ConnectionEvent.Type.DISCONNECTED).findFirst().orElseThrow().reason());
        assertTrue(detected.compareTo(KEEPALIVE.idleDetectionBound().plus(TOLERANCE)) <= 0,
                "hung server detected after " + detected.toMillis() + " ms");

        echo.resume();
        long resumed = System.nanoTime();
        long pongsBefore = client.stats().pongsReceived();
        // Back to a connection whose pings are answered: within one bound (the current connection, if any, is
        // answered now) + backoff + connect timeout.
        Duration bound = KEEPALIVE.idleDetectionBound().plus(BACKOFF_MAX).plus(CONNECT_TIMEOUT).plus(TOLERANCE);
        await().atMost(bound.plusSeconds(5)).until(() -> client.state() == ConnectionState.CONNECTED
                && client.stats().pongsReceived() > pongsBefore);
        Duration took = Duration.ofNanos(System.nanoTime() - resumed);
        assertTrue(took.compareTo(bound) <= 0, "answered again " + took.toMillis() + " ms after SIGCONT");
        System.out.printf("hung server: detected in %d ms, answered again %d ms after SIGCONT%n",
                detected.toMillis(), took.toMillis());
    }

    @Test
    void recoversAfterTheServersHostComesBack(KernelFirewallLab lab) throws Exception {
        PeerProcess echo = lab.startJava(EchoServer.class, lab.peerAddress().getHostAddress(), "0");
        MatchResult listening = echo.awaitLine("LISTENING \\S+ (\\d+)", ofSeconds(30));
        InetSocketAddress peer = lab.peerSocketAddress(Integer.parseInt(listening.group(1)));
        // The echo server answers our line pings (echoed back, they count as inbound traffic).
        client = lineClient(nio(), List.of(peer), KEEPALIVE).build().start();
        await().atMost(ofSeconds(5)).until(() -> client.state() == ConnectionState.CONNECTED);

        lab.blackHole(); // the host is gone: SYNs and data are dropped
        await().atMost(KEEPALIVE.idleDetectionBound().plus(TOLERANCE)).until(() -> events.stream()
                .anyMatch(e -> e.type() == ConnectionEvent.Type.DISCONNECTED));
        assertEquals(DeadPeerReason.PING_TIMEOUT, events.stream()
                .filter(e -> e.type() == ConnectionEvent.Type.DISCONNECTED).findFirst().orElseThrow().reason());
        await().atMost(ofSeconds(10)).until(() -> events.stream().anyMatch(e ->
                e.type() == ConnectionEvent.Type.CONNECT_FAILED));
        long restored = System.nanoTime();
        lab.restore();
        Duration bound = BACKOFF_MAX.plus(CONNECT_TIMEOUT).plus(TOLERANCE);
        await().atMost(bound.plusSeconds(5)).until(() -> client.state() == ConnectionState.CONNECTED);
        Duration took = Duration.ofNanos(System.nanoTime() - restored);
        assertTrue(took.compareTo(bound) <= 0, "reconnected " + took.toMillis() + " ms after the host came back");
    }
}
