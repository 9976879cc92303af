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

/**
 * Settings that build but could not work are refused, with a message in the user's terms: what they set, the
 * derived or default value it conflicts with, and why. Each rule is tested on both edges: the mistake is refused,
 * the nearest working value builds.
 */
class KeepaliveSettingsMistakesTest {
    private static void rejects(String message, Executable e) {
        IllegalArgumentException ex = assertThrows(IllegalArgumentException.class, e);
        assertEquals(message, ex.getMessage());
    }

    @Test
    void aPingIntervalThatTheSameSettingsWouldCallAFloodIsRefused() {
        rejects("pingInterval PT0.001S less pingJitter 0.2 is PT0.0008S, below minPeerPingInterval PT0.1S (default): "
                        + "a peer with the same settings would close this connection for TOO_MANY_PINGS. Make "
                        + "pingInterval at least PT0.125S; or set minPeerPingInterval explicitly (Duration.ZERO turns "
                        + "the limit off) if the peer's limit differs",
                () -> KeepaliveSettings.builder().pingInterval(ofMillis(1)).build());
        // The edge: 125 ms less 20 % is exactly the limit.
        assertEquals(ofMillis(125), KeepaliveSettings.builder().pingInterval(ofMillis(125)).build().pingInterval());
        assertThrows(IllegalArgumentException.class,
                () -> KeepaliveSettings.builder().pingInterval(ofMillis(124)).build());
        // Without jitter the interval itself is the shortest wait.
        KeepaliveSettings.builder().pingInterval(ofMillis(100)).pingJitter(0).build();
        // An explicit limit is a deliberate choice about the peer, and turning it off too.
        KeepaliveSettings.builder().pingInterval(ofMillis(50)).minPeerPingInterval(ofSeconds(1)).build();
        KeepaliveSettings.builder().pingInterval(ofMillis(1)).minPeerPingInterval(Duration.ZERO).build();
    }

    @Test
    void aTinyBudgetIsRefusedNamingTheBudgetNotValuesTheUserNeverSet() {
        rejects("pingInterval PT0.001S (derived from detectWithin PT0.001S) less pingJitter 0.2 is PT0.0008S, below "
                        + "minPeerPingInterval PT0.1S (default): a peer with the same settings would close this "
                        + "connection for TOO_MANY_PINGS. Give detectWithin at least PT0.228S, or set pingInterval "
                        + "yourself; or set minPeerPingInterval explicitly (Duration.ZERO turns the limit off) if the "
                        + "peer's limit differs",
                () -> KeepaliveSettings.builder().detectWithin(ofMillis(1)).tcpKeepAlive(false).build());
        KeepaliveSettings edge = KeepaliveSettings.builder().detectWithin(ofMillis(228)).tcpKeepAlive(false).build();
        assertTrue(edge.idleDetectionBound().compareTo(ofMillis(228)) <= 0, edge.toString());
        assertThrows(IllegalArgumentException.class,
                () -> KeepaliveSettings.builder().detectWithin(ofMillis(227)).tcpKeepAlive(false).build());
    }

    @Test
    void aBudgetTheKernelKeepaliveCannotKeepIsRefused() {
        rejects("detectWithin PT0.5S is shorter than the kernel's TCP keepalive can detect: it counts whole seconds, "
                        + "and the shortest it can do here is tcpKeepIdle PT1S + 1 x tcpKeepInterval PT1S = PT2S. Set "
                        + "tcpKeepAlive(false) to keep the budget with application pings (and TCP_USER_TIMEOUT) "
                        + "alone, or give detectWithin at least PT2S",
                () -> KeepaliveSettings.builder().detectWithin(ofMillis(500)).build());
        rejects("detectWithin PT1.999S is shorter than the kernel's TCP keepalive can detect: it counts whole "
                        + "seconds, and the shortest it can do here is tcpKeepIdle PT1S + 1 x tcpKeepInterval PT1S = "
                        + "PT2S. Set tcpKeepAlive(false) to keep the budget with application pings (and "
                        + "TCP_USER_TIMEOUT) alone, or give detectWithin at least PT2S",
                () -> KeepaliveSettings.builder().detectWithin(ofMillis(1999)).build());
        KeepaliveSettings two = KeepaliveSettings.builder().detectWithin(ofSeconds(2)).build();
        assertEquals(ofSeconds(2), two.tcpKeepaliveBound().orElseThrow());
        KeepaliveSettings appOnly = KeepaliveSettings.builder().detectWithin(ofMillis(500)).tcpKeepAlive(false)
                .build();
        assertFalse(appOnly.tcpKeepAlive());
        assertTrue(appOnly.idleDetectionBound().compareTo(ofMillis(500)) <= 0, appOnly.toString());
        assertEquals(ofMillis(500), appOnly.tcpUserTimeout(), "data in flight still bounded by the kernel");
    }

    @Test
    void kernelKeepaliveValuesWithKeepaliveOffAreRefused() {
        rejects("tcpKeepIdle PT5S set with tcpKeepAlive(false): the kernel's keepalive is off, so they would never "
                        + "be used. Remove them, or leave tcpKeepAlive on",
                () -> KeepaliveSettings.builder().tcpKeepAlive(false).tcpKeepIdle(ofSeconds(5)).build());
        rejects("tcpKeepInterval PT2S, tcpKeepCount 3 set with tcpKeepAlive(false): the kernel's keepalive is off, "
                        + "so they would never be used. Remove them, or leave tcpKeepAlive on",
                () -> KeepaliveSettings.builder().tcpKeepInterval(ofSeconds(2)).tcpKeepCount(3).tcpKeepAlive(false)
                        .build());
        assertFalse(KeepaliveSettings.builder().tcpKeepAlive(false).build().tcpKeepAlive());
        assertTrue(KeepaliveSettings.builder().tcpKeepAlive(true).tcpKeepIdle(ofSeconds(5)).build().tcpKeepAlive());
    }

    @Test
    void anExplicitBudgetOverrunNamesWhichValuesWereDerived() {
        rejects("pingInterval + pingsMissedBeforeDead x pingTimeout must be <= detectWithin (PT10S), but was PT8S + 2 "
                        + "x PT2S (derived from detectWithin PT10S) = PT12S",
                () -> KeepaliveSettings.builder().detectWithin(ofSeconds(10)).pingInterval(ofSeconds(8)).build());
    }
}
