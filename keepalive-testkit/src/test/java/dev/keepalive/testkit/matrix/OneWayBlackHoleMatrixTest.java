package dev.keepalive.testkit.matrix;

import static dev.keepalive.testkit.matrix.Matrix.APP;
import static dev.keepalive.testkit.matrix.Matrix.CONTROL_MARGIN;
import static dev.keepalive.testkit.matrix.Matrix.FIRST_RETRANSMISSION;
import static dev.keepalive.testkit.matrix.Matrix.KERNEL_ONLY;
import static dev.keepalive.testkit.matrix.Matrix.TOLERANCE;
import static dev.keepalive.testkit.matrix.Matrix.WAIT;
import static org.awaitility.Awaitility.await;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.keepalive.DeadPeerReason;
import dev.keepalive.netty.KeepaliveProbe;
import dev.keepalive.testkit.FaultLabExtension;
import dev.keepalive.testkit.KernelFirewallLab;
import dev.keepalive.testkit.Traffic;
import dev.keepalive.testsupport.Transport;
import java.time.Duration;
import java.util.List;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.extension.ExtendWith;

/**
 * The fault matrix, part four: a one-way black hole in the kernel. {@code lab.blackHole(Traffic.FROM_PEER)} drops
 * only what the peer sends: requests (and pings) arrive, answers (pongs, and the kernel's ACKs) vanish. Unlike the
 * proxy's one-way black hole ({@link ProxyFaultMatrixTest}), the clients' kernels see their data unacknowledged, so
 * TCP_USER_TIMEOUT alone finds it too.
 */
@ExtendWith(FaultLabExtension.class)
@Timeout(60)
class OneWayBlackHoleMatrixTest {
    private static final String SCENARIO = "lab one-way black hole (peer->host dropped)";

    private static MatrixNet net;
    private static Matrix.Peer peer;
    private static Conn pings;
    private static Conn kernel;
    private static Conn control;
    private static long faultAt;
    private static long kernelWroteAt;
    private static long watchedUntil;

    @BeforeAll
    static void dropEverythingThePeerSends(KernelFirewallLab lab) throws Exception {
        net = new MatrixNet();
        peer = Matrix.startPeer(lab);
        pings = net.keepaliveClient("pings (epoll)", Transport.EPOLL, peer.server(), APP);
        kernel = net.connect(Conn.keepalive("kernel only (epoll)", Framing.BINARY, KERNEL_ONLY,
                KeepaliveProbe.passive()), Transport.EPOLL, peer.server(), b -> { });
        control = net.plainClient("control (epoll)", Transport.EPOLL, peer.server());
        for (Conn c : List.of(pings, kernel, control)) {
            Matrix.assertEcho(c);
        }

        faultAt = System.nanoTime();
        lab.blackHole(Traffic.FROM_PEER);
        pings.sendNow("request");
        kernelWroteAt = kernel.sendNow("request");
        control.sendNow("request");
        // The requests arrive: the fault is one-way.
        await().atMost(WAIT).until(() -> peer.received(pings, "request") && peer.received(kernel, "request")
                && peer.received(control, "request"));

        Duration longest = longestBound();
        Matrix.awaitDeaths(List.of(pings, kernel), longest.plus(TOLERANCE).plus(WAIT));
        watchedUntil = Matrix.watchUntil(faultAt + longest.plus(TOLERANCE).plus(CONTROL_MARGIN).toNanos(),
                control::isActive);
    }

    private static Duration longestBound() {
        return Matrix.longest(APP.idleDetectionBound(), KERNEL_ONLY.tcpUserTimeout().plus(FIRST_RETRANSMISSION));
    }

    @AfterAll
    static void close() {
        if (net != null) {
            net.close();
        }
    }

    @Test
    void requestsArriveButNoPongsComeBackAPingTimeout() {
        Matrix.assertDetected(SCENARIO, pings, DeadPeerReason.PING_TIMEOUT, faultAt, APP.idleDetectionBound());
    }

    @Test
    void withPingsOffTheUnacknowledgedRequestIsATcpTimeout() {
        Duration took = Matrix.assertDetected(SCENARIO, kernel, DeadPeerReason.TCP_TIMEOUT, kernelWroteAt,
                KERNEL_ONLY.tcpUserTimeout().plus(FIRST_RETRANSMISSION));
        assertTrue(took.compareTo(KERNEL_ONLY.tcpUserTimeout().minus(Matrix.EARLY_SLACK)) >= 0,
                "not before the user timeout: " + took);
    }

    @Test
    void controlWithoutKeepaliveStaysOpenWithoutAnAnswer() throws InterruptedException {
        Matrix.assertStillOpen(SCENARIO, control, faultAt, watchedUntil, longestBound());
        assertNull(control.pollFrame(Duration.ZERO), "the answer never came");
    }
}
