package dev.keepalive;

import org.junit.jupiter.api.Test;

import java.net.InetSocketAddress;
import java.time.Duration;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

class PeerDeadExceptionTest {

    @Test
    void theDiagnosisIsCarriedAndToldInTheMessage() {
        PeerDeadException e = new PeerDeadException(DeadPeerReason.PING_TIMEOUT,
                PeerDiagnosis.APPLICATION_NOT_ANSWERING, InetSocketAddress.createUnresolved("db-1", 5432),
                Duration.ofMillis(2_850), 2, Duration.ofMillis(3), null);
        assertEquals(PeerDiagnosis.APPLICATION_NOT_ANSWERING, e.diagnosis());
        assertEquals("peer db-1/<unresolved>:5432 is dead: PING_TIMEOUT (last inbound 2850 ms ago, missed pings 2, "
                + "last RTT 3000 us; kernel: the peer's host acknowledged our bytes, so the host and the path are up, "
                + "but its application is not answering)", e.getMessage());
    }

    @Test
    void withoutADiagnosisItIsUnknown() {
        PeerDeadException e = new PeerDeadException(DeadPeerReason.RESET_BY_PEER, null, Duration.ZERO, 0, null,
                new java.io.IOException("Connection reset by peer"));
        assertEquals(PeerDiagnosis.UNKNOWN, e.diagnosis());
        assertTrue(e.getMessage().endsWith("kernel: the kernel's view of the peer is unknown): "
                + "Connection reset by peer"), e.getMessage());
        assertThrows(NullPointerException.class, () -> new PeerDeadException(DeadPeerReason.PING_TIMEOUT, null,
                null, Duration.ZERO, 0, null, null));
    }
}
