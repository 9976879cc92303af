package dev.keepalive.testkit.matrix;

import static dev.keepalive.testkit.matrix.Matrix.TOLERANCE;
import static dev.keepalive.testkit.matrix.Matrix.WAIT;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.keepalive.DeadPeerReason;
import dev.keepalive.KeepaliveSettings;
import dev.keepalive.KeepaliveStats;
import dev.keepalive.PeerDeadException;
import dev.keepalive.testkit.ConntrackEntry;
import dev.keepalive.testkit.FaultLabExtension;
import dev.keepalive.testkit.KernelFirewallLab;
import dev.keepalive.testkit.KernelLabSettings;
import dev.keepalive.testsupport.Transport;
import java.time.Duration;
import java.util.List;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.extension.ExtendWith;

/**
 * The fault matrix, part three: a stateful firewall forgets idle flows. The {@link KernelFirewallLab}'s nftables
 * firewall has a conntrack timeout of {@value #FIREWALL_SECONDS} s and {@code nf_conntrack_tcp_loose = 0}: a flow
 * idle for that long is forgotten, and every later packet of it is dropped silently, both ways. Three connections
 * to one peer go idle together:
 * <ul>
 *   <li><b>below</b>: the handler told about the firewall ({@code middleboxIdleTimeout(3 s)}) pings within 1.5 s
 *       of silence, so the firewall never forgets the flow: after three firewall timeouts of application silence,
 *       data still flows;</li>
 *   <li><b>above</b>: pings only after 4.05–4.5 s of silence, when the flow is already forgotten: the ping is
 *       dropped, and the dead flow is found within interval + timeout (PING_TIMEOUT) of the peer's last byte;</li>
 *   <li><b>control</b>: plain Netty, SO_KEEPALIVE off: after the idle period its write gets no answer, and it still
 *       believes it is connected.</li>
 * </ul>
 */
@ExtendWith(FaultLabExtension.class)
@KernelLabSettings(conntrackTimeoutSeconds = FirewallExpiryMatrixTest.FIREWALL_SECONDS)
@Timeout(60)
class FirewallExpiryMatrixTest {
    static final int FIREWALL_SECONDS = 3;
    private static final String SCENARIO = "lab firewall forgets idle flows (" + FIREWALL_SECONDS + " s)";
    private static final Duration FIREWALL = Duration.ofSeconds(FIREWALL_SECONDS);
    /** Told about the firewall: pings after at most 1.5 s of silence, TCP keepalive after 1 s. */
    private static final KeepaliveSettings BELOW = KeepaliveSettings.builder().detectWithin(Duration.ofSeconds(3))
            .middleboxIdleTimeout(FIREWALL).build();
    /** Not told: pings after 4.05–4.5 s of silence; one unanswered 1 s ping is dead (bound 5.5 s). */
    private static final KeepaliveSettings ABOVE = KeepaliveSettings.builder().pingInterval(Duration.ofMillis(4_500))
            .pingJitter(0.1).pingTimeout(Duration.ofSeconds(1)).pingsMissedBeforeDead(1).build();
    /** How long the connections stay idle (no application data): three firewall timeouts and a bit. */
    private static final Duration IDLE = FIREWALL.multipliedBy(3).plusMillis(500);
    /** How long the control waits for the answer to its write: hundreds of round trips on the lab's veth. */
    private static final Duration ANSWER_WAIT = Duration.ofSeconds(2);

    private static MatrixNet net;
    private static KernelFirewallLab lab;
    private static Matrix.Peer peer;
    private static Conn below;
    private static Conn above;
    private static Conn control;
    private static long idleFrom;
    private static long idleUntil;
    private static String belowAnswer;
    private static String controlAnswer;
    private static long controlWroteAt;
    private static long controlWatchedUntil;
    private static List<ConntrackEntry> entriesAfter;
    private static KeepaliveStats aboveAtIdle;

    @BeforeAll
    static void goIdleBehindTheFirewall(KernelFirewallLab theLab) throws Exception {
        lab = theLab;
        net = new MatrixNet();
        peer = Matrix.startPeer(lab);
        below = net.keepaliveClient("below: interval 1.5 s < firewall 3 s", Transport.EPOLL, peer.server(), BELOW);
        above = net.keepaliveClient("above: interval 4.5 s > firewall 3 s", Transport.EPOLL, peer.server(), ABOVE);
        control = net.plainClient("control", Transport.NIO, peer.server());
        for (Conn c : List.of(below, above, control)) {
            Matrix.assertEcho(c);
        }
        // A second exchange ends the connections' opening: a connection's first wait is spread over the whole
        // interval (connections opened together do not ping in waves), so it may ping, and be answered, before the
        // firewall forgets; from the second read on, "above" pings only after 4.05-4.5 s of silence.
        Matrix.assertEcho(above);
        idleFrom = System.nanoTime();
        aboveAtIdle = above.keepalive().stats();

        Matrix.awaitDeaths(List.of(above), ABOVE.idleDetectionBound().plus(TOLERANCE).plus(WAIT));
        idleUntil = Matrix.watchUntil(idleFrom + IDLE.toNanos(),
                () -> below.isActive() && !below.isDead() && control.isActive());

        below.send("after the idle period");
        belowAnswer = below.pollFrame(WAIT);
        controlWroteAt = control.sendNow("after the idle period");
        controlAnswer = control.pollFrame(ANSWER_WAIT);
        controlWatchedUntil = System.nanoTime();
        entriesAfter = lab.conntrackEntries();
    }

    @AfterAll
    static void close() {
        if (net != null) {
            net.close();
        }
    }

    private static boolean tracked(Conn c) {
        int port = c.channel().localAddress().getPort();
        return entriesAfter.stream().anyMatch(e -> e.protocol().equals("tcp") && e.source().getPort() == port);
    }

    @Test
    void withTheIntervalBelowTheFirewallTimeoutTheFlowSurvivesThreeTimeoutsAndDataFlows() {
        Duration idle = Duration.ofNanos(idleUntil - idleFrom);
        Matrix.note(SCENARIO, "{}: alive after {} ms of application silence, {} pings, answer {}", below.name,
                idle.toMillis(), below.keepalive().stats().pingsSent(), belowAnswer);
        assertTrue(idle.compareTo(FIREWALL.multipliedBy(3)) > 0, "idle for " + idle);
        assertFalse(below.isDead(), () -> below + ": " + below.deadCause().getMessage());
        assertEquals("after the idle period", belowAnswer, "data still flows");
        assertTrue(below.keepalive().stats().pingsSent() >= 3, "pings kept the flow known to the firewall");
        assertTrue(tracked(below), "the firewall still tracks the flow");
    }

    @Test
    void withTheIntervalAboveTheFirewallTimeoutTheDeadFlowIsFoundWithinIntervalPlusTimeout() {
        Duration bound = ABOVE.pingInterval().plus(ABOVE.pingTimeout());
        assertEquals(bound, ABOVE.idleDetectionBound());
        PeerDeadException e = above.deadCause();
        assertNotNull(e, "the dead flow was found");
        // The bound runs from the last byte the peer sent: the last echo, or the pong to a ping that went out
        // before the firewall forgot the flow. (In two full CI runs, one on each Netty line, never alone, "above"
        // pinged about 2.8 s into the idle period, as only the opening's spread first wait allows: its cause is not
        // found yet.) The firewall forgets the flow FIREWALL after that byte, so the ping after it is lost.
        long lastInbound = above.deadAt() - e.sinceLastInbound().toNanos();
        KeepaliveStats stats = above.keepalive().stats();
        Matrix.note(SCENARIO, "{}: last inbound {} ms into the idle period; when it began {}; at the end {}",
                above.name, (lastInbound - idleFrom) / 1_000_000, aboveAtIdle, stats);
        assertTrue(lastInbound - idleFrom < FIREWALL.toNanos(), "the last answer came while the flow was known");
        assertEquals(stats.pongsReceived() + 1, stats.pingsSent(), "exactly one ping went unanswered: " + stats);
        Duration took = Matrix.assertDetected(SCENARIO, above, DeadPeerReason.PING_TIMEOUT,
                Math.max(idleFrom, lastInbound), bound);
        assertTrue(Duration.ofNanos(above.deadAt() - idleFrom).compareTo(FIREWALL) > 0,
                "the flow was alive until the firewall forgot it: " + took);
        assertFalse(tracked(above), "the firewall forgot the flow");
    }

    @Test
    void controlWithoutKeepaliveIsLeftHalfOpenAndDoesNotKnow() {
        Matrix.assertStillOpen(SCENARIO, control, idleFrom, controlWatchedUntil, ABOVE.idleDetectionBound());
        Matrix.note(SCENARIO, "control: no answer {} ms after its write", (controlWatchedUntil - controlWroteAt)
                / 1_000_000);
        assertNull(controlAnswer, "the write after the idle period got no answer");
        assertTrue(control.isActive(), "the control still believes it is connected");
        assertTrue(peer.received(below, "after the idle period"), peer.process().lines().toString());
        assertFalse(peer.received(control, "after the idle period"), "the control's frame never reached the peer");
        assertFalse(tracked(control), "the firewall forgot the flow");
    }
}
