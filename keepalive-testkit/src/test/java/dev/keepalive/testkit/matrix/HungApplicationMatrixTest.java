package dev.keepalive.testkit.matrix;

import static dev.keepalive.testkit.matrix.Matrix.APP;
import static dev.keepalive.testkit.matrix.Matrix.CONTROL_MARGIN;
import static dev.keepalive.testkit.matrix.Matrix.FIRST_RETRANSMISSION;
import static dev.keepalive.testkit.matrix.Matrix.TOLERANCE;
import static dev.keepalive.testkit.matrix.Matrix.WAIT;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.keepalive.DeadPeerReason;
import dev.keepalive.PeerDiagnosis;
import dev.keepalive.netty.EffectiveTcpOptions;
import dev.keepalive.netty.TcpKeepaliveOptions;
import dev.keepalive.testkit.FaultLabExtension;
import dev.keepalive.testkit.KernelFirewallLab;
import dev.keepalive.testkit.internal.Commands;
import dev.keepalive.testsupport.Transport;
import io.netty.channel.ChannelOption;
import io.netty.channel.epoll.EpollChannelOption;
import java.time.Duration;
import java.util.List;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.extension.ExtendWith;

/**
 * The fault matrix, part five: the peer's application hangs while its kernel still works. {@code SIGSTOP} on the
 * peer JVM ({@code PeerProcess.suspend()}): the kernel acknowledges every byte and answers TCP keepalive probes,
 * but nothing is ever answered. TCP keepalive and TCP_USER_TIMEOUT cannot see this; only the application's ping
 * can.
 */
@ExtendWith(FaultLabExtension.class)
@Timeout(60)
class HungApplicationMatrixTest {
    private static final String SCENARIO = "lab application hung (SIGSTOP), kernel still ACKs";
    /** The control's kernel keepalive: probes after 1 s idle, one unanswered probe 1 s later is fatal. */
    private static final int KEEP_IDLE = 1;
    private static final int KEEP_INTERVAL = 1;
    private static final int KEEP_COUNT = 1;
    private static final int USER_TIMEOUT_MILLIS = 2_000;
    /** The control's kernel bound: idle + count x interval, and the user timeout for data in flight. */
    private static final Duration KERNEL_BOUND = Matrix.longest(
            Duration.ofSeconds(KEEP_IDLE + (long) KEEP_COUNT * KEEP_INTERVAL),
            Duration.ofMillis(USER_TIMEOUT_MILLIS).plus(FIRST_RETRANSMISSION));

    private static MatrixNet net;
    private static Conn pings;
    private static Conn tcpKeepaliveOnly;
    private static long faultAt;
    private static long watchedUntil;
    private static String socketState;

    @BeforeAll
    static void hangThePeerApplication(KernelFirewallLab lab) throws Exception {
        net = new MatrixNet();
        Matrix.Peer peer = Matrix.startPeer(lab);
        pings = net.keepaliveClient("pings (epoll)", Transport.EPOLL, peer.server(), APP);
        // A plain client that relies on the kernel only: SO_KEEPALIVE with short timers and TCP_USER_TIMEOUT.
        tcpKeepaliveOnly = net.connect(Conn.plain("control: TCP keepalive + user timeout only (epoll)",
                Framing.BINARY), Transport.EPOLL, peer.server(), b -> b
                .option(ChannelOption.SO_KEEPALIVE, true)
                .option(EpollChannelOption.TCP_KEEPIDLE, KEEP_IDLE)
                .option(EpollChannelOption.TCP_KEEPINTVL, KEEP_INTERVAL)
                .option(EpollChannelOption.TCP_KEEPCNT, KEEP_COUNT)
                .option(EpollChannelOption.TCP_USER_TIMEOUT, USER_TIMEOUT_MILLIS));
        for (Conn c : List.of(pings, tcpKeepaliveOnly)) {
            Matrix.assertEcho(c);
        }

        faultAt = System.nanoTime();
        peer.process().suspend();
        tcpKeepaliveOnly.sendNow("while hung"); // acknowledged by the peer's kernel, never answered

        Duration longest = Matrix.longest(APP.idleDetectionBound(), KERNEL_BOUND);
        Matrix.awaitDeaths(List.of(pings), APP.idleDetectionBound().plus(TOLERANCE).plus(WAIT));
        watchedUntil = Matrix.watchUntil(faultAt + longest.plus(TOLERANCE).plus(CONTROL_MARGIN).toNanos(),
                tcpKeepaliveOnly::isActive);
        int port = tcpKeepaliveOnly.channel().localAddress().getPort();
        socketState = Commands.run("ss", "-tnoH", "state", "established", "sport", "=", ":" + port).check().stdout()
                .strip();
    }

    @AfterAll
    static void close() {
        if (net != null) {
            net.close();
        }
    }

    @Test
    void theApplicationPingFindsTheHungPeerWithinTheBound() {
        Matrix.assertDetected(SCENARIO, pings, DeadPeerReason.PING_TIMEOUT, faultAt, APP.idleDetectionBound());
    }

    @Test
    void theKernelSaysTheHostIsUpAndItsApplicationIsNotAnswering() {
        // The hung peer's kernel acknowledged the pings: TCP_INFO shows nothing unacknowledged, a recent ACK.
        assertEquals(PeerDiagnosis.APPLICATION_NOT_ANSWERING, pings.deadCause().diagnosis(),
                pings.deadCause().getMessage());
        Matrix.note(SCENARIO, "{}: {}", pings.name, pings.deadCause().getMessage());
    }

    @Test
    void tcpKeepaliveAloneCannotSeeIt() throws InterruptedException {
        assertEquals(new EffectiveTcpOptions("epoll", true, KEEP_IDLE, KEEP_INTERVAL, KEEP_COUNT,
                USER_TIMEOUT_MILLIS, List.of()), TcpKeepaliveOptions.read(tcpKeepaliveOnly.channel()));
        Matrix.assertStillOpen(SCENARIO, tcpKeepaliveOnly, faultAt, watchedUntil, KERNEL_BOUND);
        assertNull(tcpKeepaliveOnly.pollFrame(Duration.ZERO), "nothing was answered");
        // The kernel is in its keepalive phase with no unanswered probe: the data was acknowledged and every probe
        // answered by the hung peer's kernel.
        Matrix.note(SCENARIO, "control socket: {}", socketState);
        assertTrue(socketState.matches(".*timer:\\(keepalive,[^,]*,0\\).*"), socketState);
    }
}
