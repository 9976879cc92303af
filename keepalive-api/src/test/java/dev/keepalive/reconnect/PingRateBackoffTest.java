package dev.keepalive.reconnect;

import dev.keepalive.DeadPeerReason;
import dev.keepalive.reconnect.internal.PingRateBackoff;
import org.junit.jupiter.api.Test;

import java.time.Duration;

import static java.time.Duration.ZERO;
import static java.time.Duration.ofSeconds;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

class PingRateBackoffTest {

    @Test
    void toldTooManyPingsDoublesUpToTheCap() {
        PingRateBackoff b = new PingRateBackoff(ofSeconds(10));
        assertEquals(ofSeconds(20), b.onConnectionEnded(DeadPeerReason.TOO_MANY_PINGS, ofSeconds(1)));
        assertEquals(ofSeconds(40), b.onConnectionEnded(DeadPeerReason.TOO_MANY_PINGS, ofSeconds(1)));
        assertEquals(ofSeconds(80), b.onConnectionEnded(DeadPeerReason.TOO_MANY_PINGS, ofSeconds(1)));
        assertTrue(b.capped());
        for (int i = 0; i < 10; i++) {
            assertEquals(ofSeconds(80), b.onConnectionEnded(DeadPeerReason.TOO_MANY_PINGS, ZERO), "capped at 8x");
        }
    }

    @Test
    void closingAFloodingPeerOurselvesChangesNothing() {
        PingRateBackoff b = new PingRateBackoff(ofSeconds(10));
        assertEquals(ofSeconds(10), b.onConnectionEnded(DeadPeerReason.PEER_PINGED_TOO_OFTEN, ZERO));
        assertEquals(ofSeconds(10), b.onConnectionEnded(DeadPeerReason.PING_TIMEOUT, ZERO));
        assertEquals(ofSeconds(10), b.onConnectionEnded(null, ofSeconds(1000)));
    }

    @Test
    void aHealthyConnectionBringsTheRateBackStepByStep() {
        PingRateBackoff b = new PingRateBackoff(ofSeconds(10));
        b.onConnectionEnded(DeadPeerReason.TOO_MANY_PINGS, ZERO);
        b.onConnectionEnded(DeadPeerReason.TOO_MANY_PINGS, ZERO); // 40 s
        // Up for one second less than ten raised intervals: not yet healthy.
        assertEquals(ofSeconds(40), b.onConnectionEnded(DeadPeerReason.CLOSED_BY_PEER, ofSeconds(399)));
        assertEquals(ofSeconds(20), b.onConnectionEnded(DeadPeerReason.CLOSED_BY_PEER, ofSeconds(400)));
        assertEquals(ofSeconds(10), b.onConnectionEnded(null, ofSeconds(200)));
        assertEquals(ofSeconds(10), b.onConnectionEnded(null, Duration.ofDays(1)), "never below the configured");
        assertFalse(b.capped());
    }
}
