package dev.keepalive.core;

import dev.keepalive.DeadPeerReason;
import dev.keepalive.KeepaliveSettings;
import dev.keepalive.LivenessState;
import dev.keepalive.ManualTicker;
import dev.keepalive.core.LivenessMonitor.Action;
import org.junit.jupiter.api.Test;

import java.time.Duration;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** Pings the protocol could not carry: {@link LivenessMonitor#onPingDeferred(long)}, exact and across the overflow. */
class LivenessMonitorDeferralTest {
    private static final long I = Duration.ofSeconds(10).toNanos();
    private static final long T = Duration.ofSeconds(2).toNanos();
    private static final long D = Duration.ofSeconds(3).toNanos();
    private static final long START = Long.MAX_VALUE - I / 2;

    private final ManualTicker ticker = new ManualTicker(START);

    private LivenessMonitor monitor() {
        LivenessMonitor m = new LivenessMonitor(KeepaliveSettings.builder().pingInterval(Duration.ofNanos(I))
                .pingTimeout(Duration.ofNanos(T)).pingsMissedBeforeDead(1).pingJitter(0).build(), ticker, true,
                () -> 0.0);
        m.onActive();
        m.onInbound(); // the peer answered once, at START: proven
        m.onReadComplete();
        return m;
    }

    /** Fires the timer at {@code at}; a re-check the monitor asks for finds nothing in the socket. */
    private Action fireAt(LivenessMonitor m, long at) {
        ticker.set(at);
        Action a = m.onTimer(at);
        return a == Action.RECHECK_AFTER_READ ? m.onTimer(at) : a;
    }

    @Test
    void aDeferredPingTimesOutOnlyFromTheEndOfTheDelay() {
        LivenessMonitor m = monitor();
        assertEquals(Action.SEND_PING, fireAt(m, START + I));
        m.onPingDeferred(D);
        assertEquals(0, m.stats().pingsSent(), "not counted as sent");
        assertEquals(START + I + D + T, m.deadline());
        assertEquals(Action.NONE, fireAt(m, START + I + T), "the plain timeout would have convicted here");
        assertEquals(Action.NONE, fireAt(m, START + I + D + T - 1));
        assertEquals(Action.PEER_DEAD, fireAt(m, START + I + D + T));
        assertEquals(DeadPeerReason.PING_TIMEOUT, m.deadReason());
    }

    @Test
    void aZeroDelayIsAPingNotSent() {
        LivenessMonitor m = monitor();
        assertEquals(Action.SEND_PING, fireAt(m, START + I));
        m.onPingDeferred(0);
        assertEquals(START + I + T, m.deadline());
        assertEquals(0, m.stats().pingsSent());
    }

    @Test
    void anEndlessDelayNeverTimesOutAndInboundStillAnswersIt() {
        LivenessMonitor m = monitor();
        assertEquals(Action.SEND_PING, fireAt(m, START + I));
        m.onPingDeferred(Long.MAX_VALUE);
        assertTrue(m.deadline() - (START + I) > Long.MAX_VALUE / 8, "no deadline for a ping that cannot be sent");
        assertEquals(Action.NONE, fireAt(m, START + 100 * I));
        assertEquals(LivenessState.PING_OUTSTANDING, m.state());
        m.onInbound();
        m.onReadComplete();
        // Settled at the next check: the inbound bytes answered the unsent ping, so no miss and no verdict, and a
        // fresh ping is decided after the silence that followed.
        assertEquals(Action.SEND_PING, fireAt(m, m.deadline()));
        assertEquals(2, m.pingId());
        assertEquals(0, m.missedPings());
    }
}
