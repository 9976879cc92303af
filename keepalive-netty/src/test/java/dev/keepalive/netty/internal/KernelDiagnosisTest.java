package dev.keepalive.netty.internal;

import dev.keepalive.PeerDiagnosis;
import dev.keepalive.netty.internal.KernelDiagnosis.TcpInfo;
import org.junit.jupiter.api.Test;

import static org.junit.jupiter.api.Assertions.assertEquals;

class KernelDiagnosisTest {

    @Test
    void unacknowledgedBytesBeingRetransmittedMeanTheHostOrPathIsGone() {
        assertEquals(PeerDiagnosis.HOST_OR_PATH_UNREACHABLE,
                KernelDiagnosis.diagnose(new TcpInfo(2, 3, 0, 2_800, 600), 2_850, true));
    }

    @Test
    void everythingAcknowledgedAfterThePeersLastByteMeansItsApplicationIsNotAnswering() {
        assertEquals(PeerDiagnosis.APPLICATION_NOT_ANSWERING,
                KernelDiagnosis.diagnose(new TcpInfo(0, 0, 0, 600, 600), 2_850, true));
    }

    @Test
    void aPingThatLeftRightAfterThePeersLastByteAndWasAcknowledgedMeansItsApplicationIsNotAnswering() {
        // The first ping can leave a few ms after the peer's last byte, and its ACK comes within the margin of it
        // too. As seen on CI (MetricsTest, epoll, 200 ms pings): 400 ms of silence, the ping sent and acknowledged
        // 395 ms ago.
        assertEquals(PeerDiagnosis.APPLICATION_NOT_ANSWERING,
                KernelDiagnosis.diagnose(new TcpInfo(0, 0, 0, 395, 395), 400, true));
        assertEquals(PeerDiagnosis.APPLICATION_NOT_ANSWERING,
                KernelDiagnosis.diagnose(new TcpInfo(0, 0, 0, 399, 400), 400, true));
        // The kernel counts in jiffies (4 ms at HZ=250): a ping that left 1 ms after the peer's byte may read older.
        assertEquals(PeerDiagnosis.APPLICATION_NOT_ANSWERING,
                KernelDiagnosis.diagnose(new TcpInfo(0, 0, 0, 402, 404), 400, true));
        // The last data left well before the peer's last byte, so the pings never left: the ACK was for older data.
        assertEquals(PeerDiagnosis.HOST_OR_PATH_UNREACHABLE,
                KernelDiagnosis.diagnose(new TcpInfo(0, 0, 0, 430, 430), 400, true));
        // The ACK came before our last data left: that data was not acknowledged.
        assertEquals(PeerDiagnosis.HOST_OR_PATH_UNREACHABLE,
                KernelDiagnosis.diagnose(new TcpInfo(0, 0, 0, 398, 390), 400, true));
    }

    @Test
    void noAcknowledgementSinceThePeersLastByteProvesNothing() {
        // Nothing was sent since (a read-idle verdict, no ping): the last ACK came with the peer's last bytes.
        assertEquals(PeerDiagnosis.UNKNOWN,
                KernelDiagnosis.diagnose(new TcpInfo(0, 0, 0, 2_840, 5_000), 2_850, false));
        // Within the margin of the millisecond clocks.
        assertEquals(PeerDiagnosis.UNKNOWN,
                KernelDiagnosis.diagnose(new TcpInfo(0, 0, 0, 2_835, 5_000), 2_850, false));
    }

    @Test
    void pingsThatGotNoAcknowledgementAtAllMeanTheHostOrPathIsGoneEvenWhenTheyNeverLeft() {
        // The route to the peer vanished (its host deleted): the kernel could not send the pings, so nothing is
        // unacknowledged, and no ACK came since the peer's last byte. As measured in the kernel lab
        // (HostVanishedMatrixTest, epoll): 2,650 ms after the last inbound byte, unacked 0, retransmits 0, probes 3,
        // last ACK 2,652 ms ago.
        assertEquals(PeerDiagnosis.HOST_OR_PATH_UNREACHABLE,
                KernelDiagnosis.diagnose(new TcpInfo(0, 0, 3, 2_652, 556), 2_650, true));
        // Data the kernel sent after the peer's last byte, never acknowledged (a read-idle verdict).
        assertEquals(PeerDiagnosis.HOST_OR_PATH_UNREACHABLE,
                KernelDiagnosis.diagnose(new TcpInfo(0, 0, 0, 9_000, 3_000), 9_000, false));
    }

    @Test
    void bytesInFlightWithoutARetransmissionYetAreNotConclusive() {
        assertEquals(PeerDiagnosis.UNKNOWN, KernelDiagnosis.diagnose(new TcpInfo(1, 0, 0, 50, 5_000), 2_850, true));
    }

    @Test
    void withoutTcpInfoTheDiagnosisIsUnknown() {
        assertEquals(PeerDiagnosis.UNKNOWN, KernelDiagnosis.diagnose(null, 2_850, true));
        assertEquals(PeerDiagnosis.UNKNOWN, KernelDiagnosis.diagnoseKernelTimeout(null, 3_000));
    }

    @Test
    void aKernelTimeoutAfterRetransmissionsIsAnUnreachableHost() {
        assertEquals(PeerDiagnosis.HOST_OR_PATH_UNREACHABLE,
                KernelDiagnosis.diagnoseKernelTimeout(new TcpInfo(0, 4, 0, 2_500, 5_000), 2_000));
    }

    @Test
    void aKernelTimeoutWithNoAcknowledgementForTheWholeBoundIsAnUnreachableHost() {
        // Keepalive probes unanswered: the kernel counts the user timeout, or the keepalive bound, from the last ACK.
        assertEquals(PeerDiagnosis.HOST_OR_PATH_UNREACHABLE,
                KernelDiagnosis.diagnoseKernelTimeout(new TcpInfo(0, 0, 0, 2_100, 5_000), 2_000));
        assertEquals(PeerDiagnosis.HOST_OR_PATH_UNREACHABLE,
                KernelDiagnosis.diagnoseKernelTimeout(new TcpInfo(0, 0, 0, 1_900, 5_000), 2_000));
        assertEquals(PeerDiagnosis.HOST_OR_PATH_UNREACHABLE,
                KernelDiagnosis.diagnoseKernelTimeout(new TcpInfo(0, 0, 0, 3_000, 5_000), 0));
    }

    @Test
    void aKernelTimeoutWhileThePeerKeptAnsweringZeroWindowProbesIsAPeerThatStoppedReading() {
        // As measured on loopback: a 1 s user timeout, the last probe answered about 0.6 s before the abort.
        assertEquals(PeerDiagnosis.APPLICATION_NOT_ANSWERING,
                KernelDiagnosis.diagnoseKernelTimeout(new TcpInfo(0, 0, 0, 580, 5_000), 1_000));
        assertEquals(PeerDiagnosis.APPLICATION_NOT_ANSWERING,
                KernelDiagnosis.diagnoseKernelTimeout(new TcpInfo(0, 0, 0, 1_700, 5_000), 2_000));
        // A full receive buffer also drops in-window segments: retransmissions, yet the host kept acknowledging.
        assertEquals(PeerDiagnosis.APPLICATION_NOT_ANSWERING,
                KernelDiagnosis.diagnoseKernelTimeout(new TcpInfo(0, 2, 0, 600, 5_000), 1_000));
    }
}
