package dev.keepalive.netty.internal;

import dev.keepalive.PeerDiagnosis;
import dev.keepalive.netty.internal.KernelDiagnosis.TcpInfo;
import org.junit.jupiter.api.Test;

import static org.junit.jupiter.api.Assertions.assertEquals;

class KernelDiagnosisTest {

    @Test
    void unacknowledgedBytesBeingRetransmittedMeanTheHostOrPathIsGone() {
        assertEquals(PeerDiagnosis.HOST_OR_PATH_UNREACHABLE,
                KernelDiagnosis.diagnose(new TcpInfo(2, 3, 0, 2_800), 2_850));
    }

    @Test
    void everythingAcknowledgedAfterThePeersLastByteMeansItsApplicationIsNotAnswering() {
        assertEquals(PeerDiagnosis.APPLICATION_NOT_ANSWERING,
                KernelDiagnosis.diagnose(new TcpInfo(0, 0, 0, 600), 2_850));
    }

    @Test
    void noAcknowledgementSinceThePeersLastByteProvesNothing() {
        // Nothing was sent since (no ping left the process): the last ACK came with the peer's last bytes.
        assertEquals(PeerDiagnosis.UNKNOWN, KernelDiagnosis.diagnose(new TcpInfo(0, 0, 0, 2_840), 2_850));
        // Within the margin of the millisecond clocks.
        assertEquals(PeerDiagnosis.UNKNOWN, KernelDiagnosis.diagnose(new TcpInfo(0, 0, 0, 2_835), 2_850));
    }

    @Test
    void bytesInFlightWithoutARetransmissionYetAreNotConclusive() {
        assertEquals(PeerDiagnosis.UNKNOWN, KernelDiagnosis.diagnose(new TcpInfo(1, 0, 0, 50), 2_850));
    }

    @Test
    void withoutTcpInfoTheDiagnosisIsUnknown() {
        assertEquals(PeerDiagnosis.UNKNOWN, KernelDiagnosis.diagnose(null, 2_850));
        assertEquals(PeerDiagnosis.UNKNOWN, KernelDiagnosis.diagnoseKernelTimeout(null, 3_000));
    }

    @Test
    void aKernelTimeoutAfterRetransmissionsIsAnUnreachableHost() {
        assertEquals(PeerDiagnosis.HOST_OR_PATH_UNREACHABLE,
                KernelDiagnosis.diagnoseKernelTimeout(new TcpInfo(0, 4, 0, 2_500), 2_000));
    }

    @Test
    void aKernelTimeoutWithNoAcknowledgementForTheWholeBoundIsAnUnreachableHost() {
        // Keepalive probes unanswered: the kernel counts the user timeout, or the keepalive bound, from the last ACK.
        assertEquals(PeerDiagnosis.HOST_OR_PATH_UNREACHABLE,
                KernelDiagnosis.diagnoseKernelTimeout(new TcpInfo(0, 0, 0, 2_100), 2_000));
        assertEquals(PeerDiagnosis.HOST_OR_PATH_UNREACHABLE,
                KernelDiagnosis.diagnoseKernelTimeout(new TcpInfo(0, 0, 0, 1_900), 2_000));
        assertEquals(PeerDiagnosis.HOST_OR_PATH_UNREACHABLE,
                KernelDiagnosis.diagnoseKernelTimeout(new TcpInfo(0, 0, 0, 3_000), 0));
    }

    @Test
    void aKernelTimeoutWhileThePeerKeptAnsweringZeroWindowProbesIsAPeerThatStoppedReading() {
        // As measured on loopback: a 1 s user timeout, the last probe answered about 0.6 s before the abort.
        assertEquals(PeerDiagnosis.APPLICATION_NOT_ANSWERING,
                KernelDiagnosis.diagnoseKernelTimeout(new TcpInfo(0, 0, 0, 580), 1_000));
        assertEquals(PeerDiagnosis.APPLICATION_NOT_ANSWERING,
                KernelDiagnosis.diagnoseKernelTimeout(new TcpInfo(0, 0, 0, 1_700), 2_000));
    }
}
