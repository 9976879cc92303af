package dev.keepalive;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.function.Executable;

import java.time.Duration;

import static java.time.Duration.ofMillis;
import static java.time.Duration.ofSeconds;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

class KeepaliveSettingsTest {

    private static void rejects(String message, Executable e) {
        IllegalArgumentException ex = assertThrows(IllegalArgumentException.class, e);
        assertEquals(message, ex.getMessage());
    }

    @Test
    void defaultsAreDocumentedAndAgree() {
        KeepaliveSettings s = KeepaliveSettings.defaults();
        assertEquals(KeepaliveSettings.DEFAULT_PING_INTERVAL, s.pingInterval());
        assertEquals(KeepaliveSettings.DEFAULT_PING_TIMEOUT, s.pingTimeout());
        assertEquals(2, s.pingsMissedBeforeDead());
        assertEquals(0.2, s.pingJitter());
        assertEquals(ofSeconds(50), s.idleDetectionBound());
        assertEquals(ofSeconds(50), s.tcpUserTimeout(), "the kernel gives up on unacked data at the same bound");
        assertEquals(ofSeconds(30), s.tcpKeepIdle(), "the kernel probes about when the application pings");
        assertTrue(s.tcpKeepaliveBound().orElseThrow().compareTo(s.idleDetectionBound()) <= 0);
        assertEquals(ofSeconds(5), s.localStallThreshold());
        assertEquals(ofMillis(100), s.minPeerPingInterval());
        assertTrue(s.tcpKeepAlive());
        assertTrue(s.readIdleTimeout().isEmpty());
        assertTrue(s.writeStallTimeout().isEmpty());
    }

    @Test
    void detectWithinDerivesEveryLayerWithinTheBudget() {
        for (Duration budget : new Duration[] {ofSeconds(3), ofSeconds(10), ofSeconds(30), ofSeconds(60),
                Duration.ofMinutes(5), Duration.ofHours(1)}) {
            KeepaliveSettings s = KeepaliveSettings.builder().detectWithin(budget).build();
            assertTrue(s.idleDetectionBound().compareTo(budget) <= 0, "app bound within " + budget + ": " + s);
            assertTrue(s.tcpKeepaliveBound().orElseThrow().compareTo(budget) <= 0, "kernel bound: " + s);
            assertEquals(budget, s.tcpUserTimeout(), "unacked data: " + s);
            assertTrue(s.tcpKeepIdle().compareTo(s.pingInterval()) <= 0, s.toString());
            assertEquals(budget, s.detectionBudget().orElseThrow());
        }
        KeepaliveSettings s = KeepaliveSettings.builder().detectWithin(ofSeconds(60)).build();
        assertEquals(ofSeconds(33), s.pingInterval());
        assertEquals(ofSeconds(12), s.pingTimeout());
        assertEquals(ofSeconds(33), s.tcpKeepIdle());
        assertEquals(ofSeconds(9), s.tcpKeepInterval());
        assertEquals(3, s.tcpKeepCount());
    }

    @Test
    void detectWithinHonoursMissedPingsAndKeepsExplicitValues() {
        KeepaliveSettings s = KeepaliveSettings.builder().detectWithin(ofSeconds(20)).pingsMissedBeforeDead(4)
                .pingInterval(ofSeconds(5)).build();
        assertEquals(ofSeconds(5), s.pingInterval());
        assertEquals(ofSeconds(2), s.pingTimeout());
        assertTrue(s.idleDetectionBound().compareTo(ofSeconds(20)) <= 0);
    }

    @Test
    void subSecondBudgetKeepsTheApplicationBoundWhenKernelKeepaliveIsOff() {
        KeepaliveSettings s = KeepaliveSettings.builder().detectWithin(ofMillis(800)).tcpKeepAlive(false).build();
        assertTrue(s.idleDetectionBound().compareTo(ofMillis(800)) <= 0);
        assertEquals(ofMillis(800), s.tcpUserTimeout());
        assertTrue(s.tcpKeepaliveBound().isEmpty());
    }

    @Test
    void explicitValuesThatBreakTheBudgetAreRejected() {
        rejects("pingInterval + pingsMissedBeforeDead x pingTimeout must be <= detectWithin (PT10S), but was "
                        + "PT8S + 2 x PT2S = PT12S",
                () -> KeepaliveSettings.builder().detectWithin(ofSeconds(10)).pingInterval(ofSeconds(8))
                        .pingTimeout(ofSeconds(2)).build());
        rejects("tcpUserTimeout must be <= detectWithin (PT10S), but was PT20S",
                () -> KeepaliveSettings.builder().detectWithin(ofSeconds(10)).tcpUserTimeout(ofSeconds(20)).build());
        rejects("tcpKeepIdle + tcpKeepCount x tcpKeepInterval must be <= detectWithin (PT10S), but was "
                        + "PT5S + 3 x PT5S = PT20S",
                () -> KeepaliveSettings.builder().detectWithin(ofSeconds(10)).tcpKeepIdle(ofSeconds(5))
                        .tcpKeepInterval(ofSeconds(5)).tcpKeepCount(3).build());
    }

    @Test
    void keepaliveOffHasNoKernelBound() {
        KeepaliveSettings s = KeepaliveSettings.builder().detectWithin(ofSeconds(10)).tcpKeepAlive(false).build();
        assertFalse(s.tcpKeepAlive());
        assertTrue(s.tcpKeepaliveBound().isEmpty());
    }

    @Test
    void middleboxIdleTimeoutKeepsProbesWellBeforeIt() {
        KeepaliveSettings nlb = KeepaliveSettings.builder().middleboxIdleTimeout(ofSeconds(350)).build();
        assertEquals(ofSeconds(30), nlb.pingInterval(), "the default is already well below");
        KeepaliveSettings azure = KeepaliveSettings.builder().pingInterval(Duration.ofMinutes(1))
                .middleboxIdleTimeout(Duration.ofMinutes(4)).build();
        assertEquals(Duration.ofMinutes(1), azure.pingInterval());
        KeepaliveSettings tight = KeepaliveSettings.builder().middleboxIdleTimeout(ofSeconds(20)).build();
        assertEquals(ofSeconds(10), tight.pingInterval());
        assertEquals(ofSeconds(10), tight.tcpKeepIdle());
        KeepaliveSettings budget = KeepaliveSettings.builder().detectWithin(Duration.ofMinutes(10))
                .middleboxIdleTimeout(ofSeconds(60)).build();
        assertEquals(ofSeconds(30), budget.pingInterval());
        assertEquals(ofSeconds(30), budget.tcpKeepIdle());
        rejects("pingInterval must be <= middleboxIdleTimeout / 2 (PT2M) so that probes go out well before the "
                        + "middlebox forgets the flow, but was PT3M with middleboxIdleTimeout PT4M",
                () -> KeepaliveSettings.builder().pingInterval(Duration.ofMinutes(3))
                        .middleboxIdleTimeout(Duration.ofMinutes(4)).build());
        rejects("tcpKeepIdle must be <= middleboxIdleTimeout / 2 (PT2M), but was PT3M with middleboxIdleTimeout PT4M",
                () -> KeepaliveSettings.builder().tcpKeepIdle(Duration.ofMinutes(3))
                        .middleboxIdleTimeout(Duration.ofMinutes(4)).build());
    }

    @Test
    void everySingleValueIsValidatedWithItsNameRuleAndValue() {
        KeepaliveSettings.Builder b = KeepaliveSettings.builder();
        rejects("pingInterval must be > 0, but was PT0S", () -> b.pingInterval(Duration.ZERO));
        rejects("pingInterval must be > 0, but was PT-1S", () -> b.pingInterval(ofSeconds(-1)));
        rejects("pingTimeout must be > 0, but was PT0S", () -> b.pingTimeout(Duration.ZERO));
        rejects("pingTimeoutMin must be > 0, but was PT0S", () -> b.adaptivePingTimeout(Duration.ZERO));
        rejects("pingsMissedBeforeDead must be in 1..100, but was 0", () -> b.pingsMissedBeforeDead(0));
        rejects("pingsMissedBeforeDead must be in 1..100, but was 101", () -> b.pingsMissedBeforeDead(101));
        rejects("pingJitter must be in 0..0.5, but was 0.6", () -> b.pingJitter(0.6));
        rejects("pingJitter must be in 0..0.5, but was -0.1", () -> b.pingJitter(-0.1));
        rejects("pingJitter must be in 0..0.5, but was NaN", () -> b.pingJitter(Double.NaN));
        rejects("readIdleTimeout must be > 0, but was PT0S", () -> b.readIdleTimeout(Duration.ZERO));
        rejects("writeStallTimeout must be > 0, but was PT-0.001S", () -> b.writeStallTimeout(ofMillis(-1)));
        rejects("localStallThreshold must be > 0, but was PT0S", () -> b.localStallThreshold(Duration.ZERO));
        rejects("minPeerPingInterval must be >= 0, but was PT-1S", () -> b.minPeerPingInterval(ofSeconds(-1)));
        rejects("peerPingStrikes must be in 0..1000, but was -1", () -> b.peerPingStrikes(-1));
        rejects("tcpKeepIdle must be a whole number of seconds in 1..32767 s, but was PT1.5S",
                () -> b.tcpKeepIdle(ofMillis(1500)));
        rejects("tcpKeepIdle must be a whole number of seconds in 1..32767 s, but was PT0S",
                () -> b.tcpKeepIdle(Duration.ZERO));
        rejects("tcpKeepInterval must be a whole number of seconds in 1..32767 s, but was PT9H6M8S",
                () -> b.tcpKeepInterval(ofSeconds(32768)));
        rejects("tcpKeepCount must be in 1..127, but was 128", () -> b.tcpKeepCount(128));
        rejects("tcpKeepCount must be in 1..127, but was 0", () -> b.tcpKeepCount(0));
        rejects("tcpUserTimeout must be a whole number of milliseconds in 0..2147483647 ms, but was PT-1S",
                () -> b.tcpUserTimeout(ofSeconds(-1)));
        rejects("tcpUserTimeout must be a whole number of milliseconds in 0..2147483647 ms, but was PT0.0000001S",
                () -> b.tcpUserTimeout(Duration.ofNanos(100)));
        rejects("detectWithin must be > 0, but was PT0S", () -> b.detectWithin(Duration.ZERO));
        rejects("middleboxIdleTimeout must be >= PT2S, but was PT1S", () -> b.middleboxIdleTimeout(ofSeconds(1)));
        assertThrows(NullPointerException.class, () -> b.pingInterval(null));
        rejects("pingTimeoutMin must be <= pingTimeout (PT10S), but was PT11S",
                () -> KeepaliveSettings.builder().adaptivePingTimeout(ofSeconds(11)).build());
    }

    @Test
    void builderIsReusableAndSettingsAreValues() {
        KeepaliveSettings a = KeepaliveSettings.builder().detectWithin(ofSeconds(20)).pingJitter(0.1).build();
        KeepaliveSettings b = a.toBuilder().build();
        assertEquals(a, b);
        assertEquals(a.hashCode(), b.hashCode());
        KeepaliveSettings c = a.toBuilder().pingJitter(0.3).build();
        assertEquals(0.3, c.pingJitter());
        assertEquals(0.1, a.pingJitter(), "immutable");
        assertTrue(a.toString().contains("detectWithin=PT20S"), a.toString());
    }
}
