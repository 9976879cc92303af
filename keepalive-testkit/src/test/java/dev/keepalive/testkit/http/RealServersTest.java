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
import dev.keepalive.testkit.http.RealServer.Kind;
import dev.keepalive.testkit.http.RealServer.Site;
import dev.keepalive.testsupport.Transport;
import io.netty.bootstrap.Bootstrap;
import io.netty.channel.ChannelOption;
import io.netty.channel.EventLoopGroup;
import io.netty.channel.socket.nio.NioSocketChannel;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.ExtendWith;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.EnumSource;
import org.opentest4j.AssertionFailedError;
import org.opentest4j.TestAbortedException;

import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.EnumMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;

import static dev.keepalive.testkit.http.Protocol.answerTo;
import static java.time.Duration.ofMillis;
import static java.time.Duration.ofSeconds;
import static org.awaitility.Awaitility.await;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * The HTTP/1.1 and HTTP/2 probes against real servers installed from the distribution's packages (nginx, Apache
 * httpd; see {@link RealServer}), through a {@link FirewallProxy} that forgets flows idle for
 * {@link #CONNTRACK_TIMEOUT}: the default probe keeps a pooled connection alive through it, a forgotten flow is found
 * within the detection bound, and the servers' own idle and request-count limits are reported as retirements, not
 * as dead peers.
 */
@ExtendWith(FaultLabExtension.class)
class RealServersTest {
    /** The emulated firewall forgets a flow after this long without a byte either way (a short conntrack timeout). */
    static final Duration CONNTRACK_TIMEOUT = ofSeconds(3);
    /** How long the kept-alive connection sits idle: past the conntrack timeout by a third. */
    static final Duration IDLE = ofSeconds(4);
    /** A probe within 1 s of silence; dead after 2 missed 500 ms timeouts: bound 2 s. */
    static final KeepaliveSettings SETTINGS = KeepaliveSettings.builder().pingInterval(ofSeconds(1))
            .pingTimeout(ofMillis(500)).pingsMissedBeforeDead(2).build();
    static final Duration BOUND = SETTINGS.idleDetectionBound();
    /** Timer and scheduling lateness allowed on a loaded two-core machine. */
    static final Duration TOLERANCE = ofMillis(700);
    /** The servers' keep-alive timeout on the "short" sites. */
    static final Duration SERVER_IDLE_TIMEOUT = ofSeconds(2);
    static final Duration WAIT = ofSeconds(10);

    private static final List<Site> SITES = List.of(
            new Site("keep", false, ofSeconds(60), 1000),
            new Site("short", false, SERVER_IDLE_TIMEOUT, 1000),
            new Site("few", false, ofSeconds(60), 3));
    private static final List<Site> NGINX_H2C = List.of(
            new Site("h2c", true, ofSeconds(60), 1000),
            new Site("h2c-short", true, SERVER_IDLE_TIMEOUT, 1000));
    private static final Map<Kind, RealServer> SERVERS = new EnumMap<>(Kind.class);
    private static final EventLoopGroup GROUP = Transport.NIO.newGroup(2);

    /** Starts {@code kind} once for the class (skipping or failing the test when it is not installed). */
    private static synchronized RealServer server(Kind kind) throws Exception {
        RealServer.assumeInstalled(kind);
        RealServer server = SERVERS.get(kind);
        if (server == null) {
            List<Site> sites = new ArrayList<>(SITES);
            if (kind == Kind.NGINX) {
                sites.addAll(NGINX_H2C);
            }
            server = RealServer.start(kind, sites);
            SERVERS.put(kind, server);
        }
        return server;
    }

    @AfterAll
    static void stopServers() throws InterruptedException {
        for (RealServer server : SERVERS.values()) {
            server.close();
        }
        SERVERS.clear();
        GROUP.shutdownGracefully(0, 1, TimeUnit.SECONDS).awaitUninterruptibly(10, TimeUnit.SECONDS);
    }

    private static Bootstrap bootstrap() {
        return new Bootstrap().group(GROUP).channel(NioSocketChannel.class)
                .option(ChannelOption.CONNECT_TIMEOUT_MILLIS, 5000);
    }

    private static KeepaliveHandler keepalive(Protocol protocol, KeepaliveSettings settings, ProbeEvents events) {
        return KeepaliveHandler.builder(settings).probe(protocol.probe()).listener(events).build();
    }

    private static String get(CompletableFuture<String> answer) throws Exception {
        return answer.get(WAIT.toMillis(), TimeUnit.MILLISECONDS);
    }

    private void keptAliveThroughTheConntrackTimeout(RealServer server, String site, Protocol protocol,
                                                     FirewallProxyFactory proxies) throws Exception {
        FirewallProxy firewall = proxies.builder(server.address(site)).forgetIdleFlowsAfter(CONNTRACK_TIMEOUT)
                .start();
        ProbeEvents events = new ProbeEvents();
        ProtocolClient client = protocol.connect(bootstrap(), firewall.address(), keepalive(protocol, SETTINGS,
                events));
        Flow flow = firewall.awaitFlow(0, WAIT);
        assertEquals(answerTo("before"), get(client.request("before")), server::logs);
        int pongsBefore = events.pongs.get();
        await("the flow stays OPEN and the client connected for " + IDLE.toMillis() + " ms of idleness")
                .during(IDLE).atMost(IDLE.plus(WAIT))
                .until(() -> flow.state() == FlowState.OPEN && client.channel().isActive());
        int pongs = events.pongs.get() - pongsBefore;
        assertTrue(pongs >= IDLE.toSeconds() - 1, "the server answered the probes: " + pongs);
        assertFalse(events.death.isDone(), () -> "no dead peer: " + events.death.getNow(null));
        assertEquals(List.of(), events.retirements, "the server accepts the probe and keeps the connection");
        assertEquals(answerTo("after"), get(client.request("after")), "requests still work after the idle time");
        assertEquals(1, firewall.flows().size(), "on the same connection");
        assertEquals(0, flow.counters().dropped(Direction.BOTH), flow.counters().toString());
        System.out.printf("%s %s with %s: idle %d ms through a %d ms conntrack timeout, %d probes answered%n",
                server.kind(), protocol, protocol.probe(), IDLE.toMillis(), CONNTRACK_TIMEOUT.toMillis(), pongs);
    }

    private void aForgottenFlowIsFoundWithinTheBound(RealServer server, String site, Protocol protocol,
                                                     FirewallProxyFactory proxies) throws Exception {
        FirewallProxy firewall = proxies.builder(server.address(site)).forgetIdleFlowsAfter(CONNTRACK_TIMEOUT)
                .start();
        ProbeEvents events = new ProbeEvents();
        ProtocolClient client = protocol.connect(bootstrap(), firewall.address(), keepalive(protocol, SETTINGS,
                events));
        Flow flow = firewall.awaitFlow(0, WAIT);
        assertEquals(answerTo("before"), get(client.request("before")), server::logs);
        await("a probe is answered").atMost(WAIT).until(() -> events.pongs.get() >= 1);
        long forgottenAt = System.nanoTime();
        flow.forget(); // as a NAT that rebooted: later bytes are dropped both ways, no FIN, no RST
        PeerDeadException e = events.death.get(BOUND.plus(TOLERANCE).plus(WAIT).toMillis(), TimeUnit.MILLISECONDS);
        Duration took = Duration.ofNanos(events.deadAt - forgottenAt);
        assertEquals(DeadPeerReason.PING_TIMEOUT, e.reason(), e::toString);
        assertTrue(took.compareTo(BOUND.plus(TOLERANCE)) <= 0, "found after " + took.toMillis() + " ms, bound "
                + BOUND.toMillis() + " ms + " + TOLERANCE.toMillis() + " ms");
        assertTrue(e.sinceLastInbound().compareTo(BOUND.plus(TOLERANCE)) <= 0, e::toString);
        assertEquals(List.of(), events.retirements);
        await().atMost(WAIT).until(() -> !client.channel().isOpen());
        System.out.printf("%s %s: forgotten flow found after %d ms (%s, %d ms after the last inbound byte), "
                + "bound %d ms%n", server.kind(), protocol, took.toMillis(), e.reason(),
                e.sinceLastInbound().toMillis(), BOUND.toMillis());
    }

    private void idleRetirementIsReportedAsARetirement(RealServer server, String site, Protocol protocol,
                                                       String expected, FirewallProxyFactory proxies)
            throws Exception {
        FirewallProxy firewall = proxies.start(server.address(site));
        ProbeEvents events = new ProbeEvents();
        // Pings less often than the server's keep-alive timeout: the server retires the idle connection first.
        KeepaliveSettings slow = KeepaliveSettings.builder().pingInterval(ofSeconds(30)).pingTimeout(ofSeconds(5))
                .build();
        ProtocolClient client = protocol.connect(bootstrap(), firewall.address(), keepalive(protocol, slow, events));
        long idleFrom = System.nanoTime(); // the server's idle time starts after this request, never before
        assertEquals(answerTo("before"), get(client.request("before")), server::logs);
        String how = events.retired.get(SERVER_IDLE_TIMEOUT.plus(WAIT).toMillis(), TimeUnit.MILLISECONDS);
        Duration after = Duration.ofNanos(System.nanoTime() - idleFrom);
        assertEquals(expected, how);
        assertFalse(events.death.isDone(), () -> "a retirement is no dead peer: " + events.death.getNow(null));
        // nginx times with its cached clock, which may lag by a loop iteration: a little early is still on time.
        assertTrue(after.compareTo(SERVER_IDLE_TIMEOUT.minus(ofMillis(500))) >= 0
                && after.compareTo(SERVER_IDLE_TIMEOUT.plus(ofSeconds(2))) <= 0,
                "at the server's keep-alive timeout: " + after.toMillis() + " ms");
        await().atMost(WAIT).until(() -> !client.channel().isOpen());
        System.out.printf("%s %s: retired by the server after %d ms idle: %s%n", server.kind(), protocol,
                after.toMillis(), how);
    }

    @ParameterizedTest(name = "{0}")
    @EnumSource(Kind.class)
    void http1KeptAliveThroughAConntrackTimeoutWithTheDefaultProbe(Kind kind, FirewallProxyFactory proxies)
            throws Exception {
        keptAliveThroughTheConntrackTimeout(server(kind), "keep", new Http1Protocol(), proxies);
    }

    @ParameterizedTest(name = "{0}")
    @EnumSource(Kind.class)
    void http1ForgottenFlowFoundWithinTheBound(Kind kind, FirewallProxyFactory proxies) throws Exception {
        aForgottenFlowIsFoundWithinTheBound(server(kind), "keep", new Http1Protocol(), proxies);
    }

    @ParameterizedTest(name = "{0}")
    @EnumSource(Kind.class)
    void http1IdleRetirementIsARetirement(Kind kind, FirewallProxyFactory proxies) throws Exception {
        idleRetirementIsReportedAsARetirement(server(kind), "short", new Http1Protocol(),
                "it closed the idle connection (nothing in flight)", proxies);
    }

    @ParameterizedTest(name = "{0}")
    @EnumSource(Kind.class)
    void http1RequestLimitReachedOnAProbeIsARetirement(Kind kind, FirewallProxyFactory proxies) throws Exception {
        RealServer server = server(kind);
        FirewallProxy firewall = proxies.start(server.address("few")); // 3 requests per connection
        ProbeEvents events = new ProbeEvents();
        KeepaliveSettings fast = KeepaliveSettings.builder().pingInterval(ofMillis(300)).pingTimeout(ofSeconds(1))
                .build();
        Http1Protocol protocol = new Http1Protocol();
        ProtocolClient client = protocol.connect(bootstrap(), firewall.address(), keepalive(protocol, fast, events));
        assertEquals(answerTo("before"), get(client.request("before")), server::logs);
        String how = events.retired.get(WAIT.toMillis(), TimeUnit.MILLISECONDS);
        assertEquals("it answered the keepalive probe with Connection: close", how);
        // nginx closes on the 3rd request (the 2nd probe); Apache httpd counts keep-alive requests after the
        // first, so it closes on the 4th (the 3rd probe).
        int answeredProbes = kind == Kind.NGINX ? 2 : 3;
        assertEquals(answeredProbes, events.pongs.get(), "the probe that reached the limit was answered with close");
        assertFalse(events.death.isDone(), () -> "no dead peer: " + events.death.getNow(null));
        await().atMost(WAIT).until(() -> !client.channel().isOpen());
    }

    @Test
    void aMissingServerIsSkippedWithTheReasonOrFailsWhenRequired() {
        Path missing = Path.of("/nonexistent/sbin/httpd");
        TestAbortedException skipped = assertThrows(TestAbortedException.class,
                () -> RealServer.assumeInstalled("some httpd", missing, "some-httpd", null));
        assertEquals("some httpd is not installed (/nonexistent/sbin/httpd is missing; apt-get "
                + "install some-httpd); set KEEPALIVE_REAL_SERVERS=required to fail instead of skipping",
                skipped.getMessage());
        AssertionFailedError failed = assertThrows(AssertionFailedError.class,
                () -> RealServer.assumeInstalled("some httpd", missing, "some-httpd", "required"));
        assertTrue(failed.getMessage().endsWith("but KEEPALIVE_REAL_SERVERS=required"), failed.getMessage());
    }

    @Test
    void http2KeptAliveThroughAConntrackTimeoutByNginx(FirewallProxyFactory proxies) throws Exception {
        keptAliveThroughTheConntrackTimeout(server(Kind.NGINX), "h2c", new Http2Protocol(), proxies);
    }

    @Test
    void http2ForgottenFlowFoundWithinTheBoundByNginx(FirewallProxyFactory proxies) throws Exception {
        aForgottenFlowIsFoundWithinTheBound(server(Kind.NGINX), "h2c", new Http2Protocol(), proxies);
    }

    @Test
    void http2IdleGoAwayFromNginxIsARetirement(FirewallProxyFactory proxies) throws Exception {
        idleRetirementIsReportedAsARetirement(server(Kind.NGINX), "h2c-short", new Http2Protocol(),
                "it sent GOAWAY NO_ERROR", proxies);
    }
}
