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
    void aKernelTimeoutAfterUnansweredKeepaliveProbesIsAnUnreachableHost() {
        assertEquals(PeerDiagnosis.HOST_OR_PATH_UNREACHABLE,
                KernelDiagnosis.diagnoseKernelTimeout(new TcpInfo(0, 0, 1, 2_100), 2_000));
        assertEquals(PeerDiagnosis.HOST_OR_PATH_UNREACHABLE,
                KernelDiagnosis.diagnoseKernelTimeout(new TcpInfo(0, 0, 2, 3_000), 0));
    }

    @Test
    void aKernelTimeoutWhileThePeerKeptAnsweringZeroWindowProbesIsAPeerThatStoppedReading() {
        assertEquals(PeerDiagnosis.APPLICATION_NOT_ANSWERING,
                KernelDiagnosis.diagnoseKernelTimeout(new TcpInfo(0, 0, 0, 400), 2_000));
        assertEquals(PeerDiagnosis.APPLICATION_NOT_ANSWERING,
                KernelDiagnosis.diagnoseKernelTimeout(new TcpInfo(0, 0, 1, 900), 2_000));
    }
}
