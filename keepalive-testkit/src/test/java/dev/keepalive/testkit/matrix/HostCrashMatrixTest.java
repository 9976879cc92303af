package dev.keepalive.testkit.matrix;

import static dev.keepalive.testkit.matrix.Matrix.APP;
import static dev.keepalive.testkit.matrix.Matrix.CONTROL_MARGIN;
import static dev.keepalive.testkit.matrix.Matrix.EARLY_SLACK;
import static dev.keepalive.testkit.matrix.Matrix.FIRST_RETRANSMISSION;
import static dev.keepalive.testkit.matrix.Matrix.KERNEL_ONLY;
import static dev.keepalive.testkit.matrix.Matrix.TOLERANCE;
import static dev.keepalive.testkit.matrix.Matrix.WAIT;
import static org.awaitility.Awaitility.await;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import dev.keepalive.DeadPeerReason;
import dev.keepalive.PeerDiagnosis;
import dev.keepalive.netty.EffectiveTcpOptions;
import dev.keepalive.netty.KeepaliveProbe;
import dev.keepalive.testkit.FaultLabExtension;
import dev.keepalive.testkit.KernelFirewallLab;
import dev.keepalive.testsupport.Transport;
import java.io.IOException;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.extension.ExtendWith;

/**
 * The fault matrix, part two: the peer's host crashes. A {@link KernelFirewallLab} drops every packet both ways
 * ({@code lab.blackHole()}), established flows included, with no FIN and no RST — a crashed host or a pulled
 * cable. One peer JVM in the lab serves every client of this class (and is itself the client of two servers in the
 * test JVM), and one black hole hits them all at the same moment; each test then checks one connection.
 *
 * <table>
 *   <caption>Connections</caption>
 *   <tr><th>connection</th><th>transport</th><th>keepalive</th><th>traffic after the crash</th><th>expected</th></tr>
 *   <tr><td>idle, pings</td><td>epoll</td><td>{@code detectWithin(3 s)}</td><td>none</td>
 *       <td>PING_TIMEOUT within 2.85 s</td></tr>
 *   <tr><td>idle, kernel only</td><td>epoll</td><td>passive probe; TCP keepalive 1 s/1 s/1 + user timeout 2 s</td>
 *       <td>none</td><td>TCP_TIMEOUT within 2 s</td></tr>
 *   <tr><td>in flight, pings</td><td>NIO (no TCP_USER_TIMEOUT)</td><td>{@code detectWithin(3 s)}</td>
 *       <td>one frame</td><td>PING_TIMEOUT within 2.85 s</td></tr>
 *   <tr><td>in flight, kernel only</td><td>epoll, io_uring</td><td>as idle, kernel only</td><td>one frame</td>
 *       <td>TCP_TIMEOUT at the 2 s user timeout (counted by the kernel from its first retransmission)</td></tr>
 *   <tr><td>server side</td><td>epoll server, line probe</td><td>{@code detectWithin(3 s)}</td><td>none</td>
 *       <td>PING_TIMEOUT within 2.85 s: the server closes the vanished client</td></tr>
 *   <tr><td>controls</td><td>NIO / epoll / NIO server</td><td>none, SO_KEEPALIVE off</td>
 *       <td>none / one frame / none</td><td>still open past every bound</td></tr>
 * </table>
 */
@ExtendWith(FaultLabExtension.class)
@Timeout(60)
class HostCrashMatrixTest {
    private static final String SCENARIO = "lab host crash (drop all)";
    /** The kernel's bound on an idle connection: the user timeout, which also caps keepalive probing. */
    private static final Duration KERNEL_IDLE_BOUND = Matrix.longest(KERNEL_ONLY.tcpKeepaliveBound().orElseThrow(),
            KERNEL_ONLY.tcpUserTimeout());

    private static MatrixNet net;
    private static Conn idlePings;
    private static Conn idleKernel;
    private static Conn inFlightPingsNio;
    private static Conn inFlightKernelEpoll;
    private static Conn inFlightKernelIoUring;
    private static Conn serverSide;
    private static Conn controlIdle;
    private static Conn controlInFlight;
    private static Conn controlServer;
    private static Matrix.Peer peer;
    private static long faultAt;
    private static long inFlightNioAt;
    private static long inFlightEpollAt;
    private static long inFlightIoUringAt;
    private static long watchedUntil;

    @BeforeAll
    static void crashThePeerHost(KernelFirewallLab lab) throws Exception {
        net = new MatrixNet();
        MatrixNet.Server keepaliveServer = net.server("server with keepalive", Transport.EPOLL,
                lab.hostSocketAddress(0), Framing.LINES, APP);
        MatrixNet.Server plainServer = net.server("control server", Transport.NIO, lab.hostSocketAddress(0),
                Framing.LINES, null);
        String host = lab.hostAddress().getHostAddress();
        peer = Matrix.startPeer(lab,
                "lines-client", host, Integer.toString(keepaliveServer.address().getPort()),
                "raw-client", host, Integer.toString(plainServer.address().getPort()));

        idlePings = net.keepaliveClient("idle, pings (epoll)", Transport.EPOLL, peer.server(), APP);
        idleKernel = kernelOnly("idle, kernel only (epoll)", Transport.EPOLL);
        inFlightPingsNio = net.keepaliveClient("in flight, pings (nio)", Transport.NIO, peer.server(), APP);
        inFlightKernelEpoll = kernelOnly("in flight, kernel only (epoll)", Transport.EPOLL);
        if (MatrixNet.available(Transport.IO_URING)) {
            inFlightKernelIoUring = kernelOnly("in flight, kernel only (io_uring)", Transport.IO_URING);
        }
        controlIdle = net.plainClient("control, idle (nio)", Transport.NIO, peer.server());
        controlInFlight = net.plainClient("control, in flight (epoll)", Transport.EPOLL, peer.server());
        List<Conn> clients = new ArrayList<>(List.of(idlePings, idleKernel, inFlightPingsNio, inFlightKernelEpoll,
                controlIdle, controlInFlight));
        if (inFlightKernelIoUring != null) {
            clients.add(inFlightKernelIoUring);
        }
        for (Conn c : clients) {
            Matrix.assertEcho(c);
        }
        serverSide = keepaliveServer.awaitConnection(0, WAIT);
        controlServer = plainServer.awaitConnection(0, WAIT);
        // The server side is healthy: it pinged the lab's client and got its pong.
        await().atMost(WAIT).until(() -> serverSide.keepalive().stats().pongsReceived() >= 1);

        faultAt = System.nanoTime();
        lab.blackHole();
        inFlightNioAt = inFlightPingsNio.sendNow("in flight");
        inFlightEpollAt = inFlightKernelEpoll.sendNow("in flight");
        if (inFlightKernelIoUring != null) {
            inFlightIoUringAt = inFlightKernelIoUring.sendNow("in flight");
        }
        controlInFlight.sendNow("in flight");

        List<Conn> guarded = new ArrayList<>(List.of(idlePings, idleKernel, inFlightPingsNio, inFlightKernelEpoll,
                serverSide));
        if (inFlightKernelIoUring != null) {
            guarded.add(inFlightKernelIoUring);
        }
        Duration longest = longestBound();
        Matrix.awaitDeaths(guarded, longest.plus(TOLERANCE).plus(WAIT));
        watchedUntil = Matrix.watchUntil(faultAt + longest.plus(TOLERANCE).plus(CONTROL_MARGIN).toNanos(),
                () -> controlIdle.isActive() && controlInFlight.isActive() && controlServer.isActive());
    }

    private static Duration longestBound() {
        return Matrix.longest(APP.idleDetectionBound(), KERNEL_IDLE_BOUND,
                KERNEL_ONLY.tcpUserTimeout().plus(FIRST_RETRANSMISSION));
    }

    private static Conn kernelOnly(String name, Transport t) {
        return net.connect(Conn.keepalive(name, Framing.BINARY, KERNEL_ONLY, KeepaliveProbe.passive()), t,
                peer.server(), b -> { });
    }

    @AfterAll
    static void close() {
        if (net != null) {
            net.close();
        }
    }

    @Test
    void anIdleConnectionWithPingsIsAPingTimeoutWithinTheBound() {
        Matrix.assertDetected(SCENARIO, idlePings, DeadPeerReason.PING_TIMEOUT, faultAt, APP.idleDetectionBound());
        // The pings sit unacknowledged and are being retransmitted: the kernel says the host or path is gone.
        assertEquals(PeerDiagnosis.HOST_OR_PATH_UNREACHABLE, idlePings.deadCause().diagnosis(),
                idlePings.deadCause().getMessage());
    }

    @Test
    void anIdleConnectionWithOnlyTcpKeepaliveIsATcpTimeoutWithinTheKernelBound() {
        EffectiveTcpOptions tcp = idleKernel.keepalive().effectiveTcpOptions();
        assertEquals(new EffectiveTcpOptions("epoll", true, 1, 1, 1, 2_000, List.of()), tcp);
        Matrix.assertDetected(SCENARIO, idleKernel, DeadPeerReason.TCP_TIMEOUT, faultAt, KERNEL_IDLE_BOUND);
        assertEquals(PeerDiagnosis.HOST_OR_PATH_UNREACHABLE, idleKernel.deadCause().diagnosis(),
                idleKernel.deadCause().getMessage());
        assertEquals(0, idleKernel.keepalive().stats().pingsSent(), "the application never pinged");
    }

    @Test
    void dataInFlightOnNioIsFoundByThePingsWithinTheBound() {
        // NIO cannot set TCP_USER_TIMEOUT: the kernel would retransmit for about 15 minutes.
        assertTrue(inFlightPingsNio.keepalive().effectiveTcpOptions().unsupported().contains("TCP_USER_TIMEOUT"));
        Matrix.assertDetected(SCENARIO, inFlightPingsNio, DeadPeerReason.PING_TIMEOUT, faultAt,
                APP.idleDetectionBound());
        assertEquals(PeerDiagnosis.UNKNOWN, inFlightPingsNio.deadCause().diagnosis(), "NIO cannot read TCP_INFO");
        assertTrue(inFlightNioAt - faultAt >= 0);
    }

    @Test
    void dataInFlightOnEpollWithPingsOffIsATcpTimeoutAtTheUserTimeout() {
        assertKernelTimeout(inFlightKernelEpoll, inFlightEpollAt);
    }

    @Test
    void dataInFlightOnIoUringWithPingsOffIsATcpTimeoutAtTheUserTimeout() {
        assumeTrue(inFlightKernelIoUring != null, Transport.IO_URING::unavailableBecause);
        assertKernelTimeout(inFlightKernelIoUring, inFlightIoUringAt);
    }

    private static void assertKernelTimeout(Conn conn, long writtenAt) {
        Duration userTimeout = KERNEL_ONLY.tcpUserTimeout();
        assertEquals(2_000, conn.keepalive().effectiveTcpOptions().userTimeoutMillis());
        // Timed from the write; the kernel's clock starts at its first retransmission.
        Duration took = Matrix.assertDetected(SCENARIO, conn, DeadPeerReason.TCP_TIMEOUT, writtenAt,
                userTimeout.plus(FIRST_RETRANSMISSION));
        assertTrue(took.compareTo(userTimeout.minus(EARLY_SLACK)) >= 0, "not before the user timeout: " + took);
        assertNotNull(conn.deadCause().getCause(), "the kernel's ETIMEDOUT is the cause");
        assertTrue(conn.deadCause().getCause().getMessage().contains("timed out"), conn.deadCause().toString());
        assertEquals(0, conn.keepalive().stats().pingsSent(), "the application never pinged");
        assertEquals(PeerDiagnosis.HOST_OR_PATH_UNREACHABLE, conn.deadCause().diagnosis(),
                conn.deadCause().getMessage());
    }

    @Test
    void theServerClosesAClientWhoseHostVanishedWithinItsBound() {
        Matrix.assertDetected(SCENARIO, serverSide, DeadPeerReason.PING_TIMEOUT, faultAt, APP.idleDetectionBound());
        assertFalse(serverSide.channel().isOpen(), "the server closed the connection");
        assertEquals(PeerDiagnosis.HOST_OR_PATH_UNREACHABLE, serverSide.deadCause().diagnosis(),
                serverSide.deadCause().getMessage());
    }

    @Test
    void controlsWithoutKeepaliveStayOpenPastEveryBound() throws IOException, InterruptedException {
        Duration longest = longestBound();
        Matrix.assertStillOpen(SCENARIO, controlIdle, faultAt, watchedUntil, longest);
        Matrix.assertStillOpen(SCENARIO, controlInFlight, faultAt, watchedUntil, longest);
        Matrix.assertStillOpen(SCENARIO, controlServer, faultAt, watchedUntil, longest);
        assertEquals(null, controlInFlight.pollFrame(Duration.ZERO), "the frame in flight was never answered");
        assertFalse(peer.received(controlInFlight, "in flight"), "nothing sent after the crash reached the peer");
    }
}
