package dev.keepalive.testkit.matrix;

import static dev.keepalive.testkit.matrix.Matrix.APP;
import static dev.keepalive.testkit.matrix.Matrix.TOLERANCE;
import static dev.keepalive.testkit.matrix.Matrix.WAIT;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import dev.keepalive.DeadPeerReason;
import dev.keepalive.PeerDiagnosis;
import dev.keepalive.testkit.FaultLabExtension;
import dev.keepalive.testkit.KernelFirewallLab;
import dev.keepalive.testsupport.Transport;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.extension.ExtendWith;

/**
 * The fault matrix, part six: the peer's host vanishes for good. The lab drops every packet (so that the FINs of
 * the peer's sockets, closed as its JVM is killed, never leave), then is closed: the peer JVM is killed, its
 * namespace and the veth pair are deleted, and the route to it is gone. Nothing ever answers again: the kernel's
 * view after the ping timeout must be {@link PeerDiagnosis#HOST_OR_PATH_UNREACHABLE}, as after a black hole, and
 * unknown on NIO.
 */
@ExtendWith(FaultLabExtension.class)
@Timeout(60)
class HostVanishedMatrixTest {
    private static final String SCENARIO = "lab host vanished (namespace deleted)";

    private static MatrixNet net;
    private static Conn epoll;
    private static Conn ioUring;
    private static Conn nio;
    private static long faultAt;

    @BeforeAll
    static void deleteThePeerHost(KernelFirewallLab lab) throws Exception {
        net = new MatrixNet();
        Matrix.Peer peer = Matrix.startPeer(lab);
        epoll = net.keepaliveClient("pings (epoll)", Transport.EPOLL, peer.server(), APP);
        nio = net.keepaliveClient("pings (nio)", Transport.NIO, peer.server(), APP);
        List<Conn> clients = new ArrayList<>(List.of(epoll, nio));
        if (MatrixNet.available(Transport.IO_URING)) {
            ioUring = net.keepaliveClient("pings (io_uring)", Transport.IO_URING, peer.server(), APP);
            clients.add(ioUring);
        }
        for (Conn c : clients) {
            Matrix.assertEcho(c);
        }

        faultAt = System.nanoTime();
        lab.blackHole();
        lab.close();
        Matrix.awaitDeaths(clients, APP.idleDetectionBound().plus(TOLERANCE).plus(WAIT));
    }

    @AfterAll
    static void close() {
        if (net != null) {
            net.close();
        }
    }

    @Test
    void onEpollTheKernelSaysTheHostOrPathIsGone() {
        Matrix.assertDetected(SCENARIO, epoll, DeadPeerReason.PING_TIMEOUT, faultAt, APP.idleDetectionBound());
        assertEquals(PeerDiagnosis.HOST_OR_PATH_UNREACHABLE, epoll.deadCause().diagnosis(),
                epoll.deadCause().getMessage());
    }

    @Test
    void onIoUringTheKernelSaysTheHostOrPathIsGone() {
        assumeTrue(ioUring != null, Transport.IO_URING::unavailableBecause);
        Matrix.assertDetected(SCENARIO, ioUring, DeadPeerReason.PING_TIMEOUT, faultAt, APP.idleDetectionBound());
        assertEquals(PeerDiagnosis.HOST_OR_PATH_UNREACHABLE, ioUring.deadCause().diagnosis(),
                ioUring.deadCause().getMessage());
    }

    @Test
    void onNioTheKernelsViewIsUnknown() {
        Matrix.assertDetected(SCENARIO, nio, DeadPeerReason.PING_TIMEOUT, faultAt, APP.idleDetectionBound());
        assertEquals(PeerDiagnosis.UNKNOWN, nio.deadCause().diagnosis(), nio.deadCause().getMessage());
    }
}
