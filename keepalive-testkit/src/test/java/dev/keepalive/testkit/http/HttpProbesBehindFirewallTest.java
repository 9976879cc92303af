package dev.keepalive.testkit.http;

import dev.keepalive.DeadPeerReason;
import dev.keepalive.KeepaliveSettings;
import dev.keepalive.PeerDeadException;
import dev.keepalive.netty.KeepaliveHandler;
import dev.keepalive.testkit.Direction;
import dev.keepalive.testkit.FaultLabExtension;
import dev.keepalive.testkit.FirewallProxy;
import dev.keepalive.testkit.FirewallProxyFactory;
import dev.keepalive.testkit.Flow;
import dev.keepalive.testkit.FlowState;
import dev.keepalive.testsupport.Transport;
import io.netty.bootstrap.Bootstrap;
import io.netty.channel.ChannelOption;
import io.netty.channel.EventLoopGroup;
import io.netty.channel.socket.nio.NioSocketChannel;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.extension.ExtendWith;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.MethodSource;

import java.time.Duration;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import java.util.stream.Stream;

import static dev.keepalive.testkit.http.Protocol.answerTo;
import static java.time.Duration.ofMillis;
import static java.time.Duration.ofSeconds;
import static org.awaitility.Awaitility.await;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * The HTTP/1.1, WebSocket and HTTP/2 probes between real Netty clients and servers on loopback, through a
 * {@link FirewallProxy} that forgets flows idle for {@link #FORGET_AFTER}, as a NAT or load balancer does: with the
 * probe, an idle connection outlives three forget timeouts and requests still work on it; without it, the flow is
 * forgotten and the next request vanishes while the client believes it is connected; a black hole is found within
 * the detection bound.
 */
@ExtendWith(FaultLabExtension.class)
class HttpProbesBehindFirewallTest {
    /** The emulated stateful firewall forgets a flow after this long without a byte either way. */
    static final Duration FORGET_AFTER = ofMillis(1500);
    /** How long the connections sit idle: three forget timeouts. */
    static final Duration IDLE = FORGET_AFTER.multipliedBy(3);
    /** A ping after at most 500 ms of silence (20 % jitter), well inside the forget timeout; two missed = dead. */
    static final KeepaliveSettings SETTINGS = KeepaliveSettings.builder().pingInterval(ofMillis(500))
            .pingTimeout(ofMillis(400)).pingsMissedBeforeDead(2).build();
    /** From the last inbound byte to the verdict: 500 ms + 2 x 400 ms = 1.3 s. */
    static final Duration BOUND = SETTINGS.idleDetectionBound();
    /** Timer and scheduling lateness allowed on top of {@link #BOUND} on a loaded two-core machine. */
    static final Duration TOLERANCE = ofMillis(600);
    /**
     * The verdict may come this much sooner than the two ping timeouts after the black hole: the first unanswered
     * ping may have left up to a round trip (well under a millisecond on loopback) before the hole.
     */
    static final Duration EARLY = ofMillis(100);
    /** How long a request is watched for an answer that must not come; loopback answers take milliseconds. */
    static final Duration NO_ANSWER_WATCH = ofSeconds(1);
    static final Duration WAIT = ofSeconds(5);

    private final EventLoopGroup group = Transport.NIO.newGroup(2);

    @AfterEach
    void shutDown() {
        group.shutdownGracefully(0, 1, TimeUnit.SECONDS).awaitUninterruptibly(10, TimeUnit.SECONDS);
    }

    static Stream<Protocol> protocols() {
        return Stream.of(new Http1Protocol(), new WebSocketProtocol(), new Http2Protocol());
    }

    private Bootstrap bootstrap() {
        return new Bootstrap().group(group).channel(NioSocketChannel.class)
                .option(ChannelOption.CONNECT_TIMEOUT_MILLIS, (int) WAIT.toMillis());
    }

    private static KeepaliveHandler keepalive(Protocol protocol, ProbeEvents events) {
        return KeepaliveHandler.builder(SETTINGS).probe(protocol.probe()).listener(events).build();
    }

    private static String get(CompletableFuture<String> answer) throws Exception {
        return answer.get(WAIT.toMillis(), TimeUnit.MILLISECONDS);
    }

    private static long millisSince(long nanoTime) {
        return TimeUnit.NANOSECONDS.toMillis(System.nanoTime() - nanoTime);
    }

    @ParameterizedTest(name = "{0}")
    @MethodSource("protocols")
    void theProbeKeepsAnIdleConnectionThroughThreeForgetTimeouts(Protocol protocol, FirewallProxyFactory proxies)
            throws Exception {
        LoopbackServer server = proxies.track(new LoopbackServer(group, protocol));
        FirewallProxy firewall = proxies.builder(server.address()).forgetIdleFlowsAfter(FORGET_AFTER).start();
        ProbeEvents events = new ProbeEvents();
        ProtocolClient client = protocol.connect(bootstrap(), firewall.address(), keepalive(protocol, events));
        Flow flow = firewall.awaitFlow(0, WAIT);
        assertEquals(answerTo("before"), get(client.request("before")));

        int pongsBefore = events.pongs.get();
        // From here on only the probe crosses the firewall: the flow must stay remembered the whole time.
        await("the flow stays OPEN and the client connected for " + IDLE.toMillis() + " ms of idleness")
                .during(IDLE).atMost(IDLE.plus(WAIT))
                .until(() -> flow.state() == FlowState.OPEN && client.channel().isActive());
        int pongs = events.pongs.get() - pongsBefore;
        assertTrue(pongs >= IDLE.dividedBy(FORGET_AFTER), "at least one probe answered per forget timeout: " + pongs);
        assertFalse(events.death.isDone(), () -> "no dead peer: " + events.death.getNow(null));
        assertEquals(0, flow.counters().dropped(Direction.BOTH), "the firewall dropped nothing: " + flow.counters());

        assertEquals(answerTo("after"), get(client.request("after")), "requests still work after the idle time");
        assertEquals(1, server.accepted(), "on the same connection");
        assertEquals(FlowState.OPEN, flow.state());
        System.out.printf("%s with %s: idle %d ms behind a firewall forgetting after %d ms, %d probes answered, "
                + "flow %s%n", protocol, protocol.probe(), IDLE.toMillis(), FORGET_AFTER.toMillis(), pongs,
                flow.state());
    }

    @ParameterizedTest(name = "{0}")
    @MethodSource("protocols")
    void withoutTheProbeTheIdleFlowIsForgottenAndTheNextRequestVanishes(Protocol protocol,
                                                                         FirewallProxyFactory proxies)
            throws Exception {
        LoopbackServer server = proxies.track(new LoopbackServer(group, protocol));
        FirewallProxy firewall = proxies.builder(server.address()).forgetIdleFlowsAfter(FORGET_AFTER).start();
        ProtocolClient client = protocol.connect(bootstrap(), firewall.address(), null);
        Flow flow = firewall.awaitFlow(0, WAIT);
        assertEquals(answerTo("before"), get(client.request("before")));

        long idleFrom = System.nanoTime();
        flow.awaitState(FlowState.FORGOTTEN, IDLE); // within the idle time the probe survives
        long forgottenAfter = millisSince(idleFrom);
        assertTrue(client.channel().isActive(), "the client noticed nothing");

        CompletableFuture<String> answer = client.request("after");
        await("the request reaches the firewall, which drops it").atMost(WAIT)
                .until(() -> flow.counters().dropped(Direction.CLIENT_TO_SERVER) > 0);
        await("no answer for " + NO_ANSWER_WATCH.toMillis() + " ms, and the client still believes it is connected")
                .during(NO_ANSWER_WATCH).atMost(NO_ANSWER_WATCH.plus(WAIT))
                .until(() -> !answer.isDone() && client.channel().isActive());
        assertEquals(FlowState.FORGOTTEN, flow.state());
        assertEquals(1, server.accepted());
        System.out.printf("%s without a probe: flow forgotten %d ms after the last answer; the next request got no "
                + "answer in %d ms, client channel active=%s%n", protocol, forgottenAfter, NO_ANSWER_WATCH.toMillis(),
                client.channel().isActive());
    }

    @ParameterizedTest(name = "{0}")
    @MethodSource("protocols")
    void aBlackHoleIsDetectedWithinTheBound(Protocol protocol, FirewallProxyFactory proxies) throws Exception {
        LoopbackServer server = proxies.track(new LoopbackServer(group, protocol));
        FirewallProxy firewall = proxies.builder(server.address()).forgetIdleFlowsAfter(FORGET_AFTER).start();
        ProbeEvents events = new ProbeEvents();
        ProtocolClient client = protocol.connect(bootstrap(), firewall.address(), keepalive(protocol, events));
        Flow flow = firewall.awaitFlow(0, WAIT);
        assertEquals(answerTo("before"), get(client.request("before")));
        await("the probe is answered").atMost(WAIT).until(() -> events.pongs.get() >= 1);

        long holeAt = System.nanoTime();
        flow.blackHole(); // the server's host is gone: no byte passes, no FIN, no RST
        PeerDeadException e = events.death.get(BOUND.plus(TOLERANCE).plus(WAIT).toMillis(), TimeUnit.MILLISECONDS);
        Duration took = Duration.ofNanos(events.deadAt - holeAt);
        assertEquals(DeadPeerReason.PING_TIMEOUT, e.reason(), e::toString);
        assertTrue(took.compareTo(BOUND.plus(TOLERANCE)) <= 0, "dead after " + took.toMillis() + " ms, bound "
                + BOUND.toMillis() + " ms + tolerance " + TOLERANCE.toMillis() + " ms");
        assertTrue(e.sinceLastInbound().compareTo(BOUND.plus(TOLERANCE)) <= 0, "since the last inbound byte: " + e);
        Duration earliest = SETTINGS.pingTimeout().multipliedBy(SETTINGS.pingsMissedBeforeDead()).minus(EARLY);
        assertTrue(took.compareTo(earliest) >= 0, "not before the pings timed out: " + took.toMillis() + " ms");
        await("the client closes its connection").atMost(WAIT).until(flow::clientClosed);
        assertFalse(client.channel().isOpen());
        System.out.printf("%s with %s: black hole detected (%s) after %d ms, %d ms after the last inbound byte; "
                + "bound %d ms + tolerance %d ms%n", protocol, protocol.probe(), e.reason(), took.toMillis(),
                e.sinceLastInbound().toMillis(), BOUND.toMillis(), TOLERANCE.toMillis());
    }
}
