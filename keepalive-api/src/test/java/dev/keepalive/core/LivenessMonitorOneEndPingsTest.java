package dev.keepalive.core;

import dev.keepalive.DeadPeerReason;
import dev.keepalive.KeepaliveSettings;
import dev.keepalive.LivenessState;
import dev.keepalive.ManualTicker;
import dev.keepalive.core.LivenessMonitor.Action;
import dev.keepalive.core.LivenessMonitor.PeerPingVerdict;
import dev.keepalive.core.LivenessMonitor.PongResult;
import org.junit.jupiter.api.Test;

import java.time.Duration;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * One end pings: a peer's ping defers our own by a full interval, and a read that carried a pong or a peer's ping
 * moves the timer once, to the next ping, instead of leaving it to wake up for nothing. Exact, across the overflow.
 */
class LivenessMonitorOneEndPingsTest {
    private static final long I = Duration.ofSeconds(10).toNanos();
    private static final long T = Duration.ofSeconds(2).toNanos();
    private static final long START = Long.MAX_VALUE - I / 2;

    private final ManualTicker ticker = new ManualTicker(START);

    private static KeepaliveSettings.Builder base() {
        return KeepaliveSettings.builder().pingInterval(Duration.ofNanos(I)).pingTimeout(Duration.ofNanos(T))
                .pingsMissedBeforeDead(2);
    }

    /** Proven at START; jitter 0.2 and the largest cut: this end's own waits are as short as they get (0.8 I). */
    private LivenessMonitor monitor() {
        LivenessMonitor m = new LivenessMonitor(base().pingJitter(0.2).build(), ticker, true, () -> 0.99);
        m.onActive();
        m.onInbound();
        m.onReadComplete();
        return m;
    }

    /** The peer's ping read from the socket now, as the handler reports it. */
    private static boolean peerPingRead(LivenessMonitor m) {
        m.onInbound();
        assertEquals(PeerPingVerdict.ANSWER, m.onPeerPing());
        return m.onReadComplete();
    }

    private Action fire(LivenessMonitor m) {
        ticker.set(m.deadline());
        Action a = m.onTimer(ticker.nanoTime());
        return a == Action.RECHECK_AFTER_READ ? m.onTimer(ticker.nanoTime()) : a;
    }

    @Test
    void aPeerPingDefersOurPingByExactlyOneIntervalWithoutJitter() {
        LivenessMonitor m = monitor();
        assertEquals(START + I - (long) (I * 0.2 * 0.99), m.deadline(), "our own wait is jittered");
        ticker.advanceNanos(I / 20);
        long pingAt = ticker.nanoTime();
        assertTrue(peerPingRead(m), "the read that carried the peer's ping moves the timer");
        assertEquals(pingAt + I, m.deadline(), "exactly one interval, no jitter, from the peer's ping");
        ticker.set(pingAt + I - 1);
        assertEquals(Action.NONE, m.onTimer(ticker.nanoTime()), "not a nanosecond before");
        assertEquals(Action.SEND_PING, fire(m));
        assertEquals(pingAt + I, ticker.nanoTime());
    }

    @Test
    void anEndWhosePeerPingsMoreOftenThanTheIntervalNeverPings() {
        LivenessMonitor m = monitor();
        long peerEvery = I * 85 / 100; // the peer's own jittered wait
        ticker.advanceNanos(I / 20);
        peerPingRead(m); // the peer pings first
        for (int round = 0; round < 200; round++) {
            ticker.advanceNanos(peerEvery);
            assertTrue(m.deadline() - ticker.nanoTime() > 0, "no ping due before the peer's, round " + round);
            assertEquals(Action.NONE, m.onTimer(ticker.nanoTime()));
            assertTrue(peerPingRead(m));
        }
        assertEquals(0, m.stats().pingsSent());
        assertEquals(201, m.stats().peerPingsReceived());
    }

    @Test
    void verdictsStillComeAtTheBoundAfterThePeersLastPing() {
        // The peer pings, then dies: our first ping comes one interval later, and the verdict exactly at the bound.
        LivenessMonitor m = monitor();
        ticker.advanceNanos(I / 2);
        peerPingRead(m);
        long last = ticker.nanoTime();
        long bound = base().build().idleDetectionBound().toNanos();
        assertEquals(Action.SEND_PING, fire(m));
        assertEquals(last + I, ticker.nanoTime());
        Action a = Action.NONE;
        for (int i = 0; i < 10 && a != Action.PEER_DEAD; i++) {
            a = fire(m);
            if (a != Action.PEER_DEAD) {
                assertTrue(ticker.nanoTime() - last < bound, "alive before the bound");
            }
        }
        assertEquals(Action.PEER_DEAD, a);
        assertEquals(last + bound, ticker.nanoTime(), "dead exactly at the bound after the last byte");
        assertEquals(DeadPeerReason.PING_TIMEOUT, m.deadReason());
    }

    @Test
    void aPeerPingWhileOurPingIsOutstandingProvesThePeerAliveThoughOurPongIsLate() {
        // Both ends ping at about the same time, and the peer is too busy to answer ours within the timeout; its
        // own ping got through, so it is alive.
        LivenessMonitor m = monitor();
        assertEquals(Action.SEND_PING, fire(m));
        ticker.advanceNanos(T / 2);
        peerPingRead(m);
        assertEquals(Action.NONE, fire(m), "the timeout passes without our pong: not a miss");
        assertEquals(LivenessState.WATCHING, m.state());
        assertEquals(0, m.stats().pingsMissed());
        assertEquals(PongResult.ANSWERED, m.onPong(1), "the late pong still answers our ping");
    }

    @Test
    void aPongReadMovesTheTimerToTheNextPingOneSteadyPeriodAfterOurs() {
        int[] draws = {0};
        LivenessMonitor m = new LivenessMonitor(base().pingJitter(0.2).build(), ticker, true, () -> {
            draws[0]++;
            return 0.5;
        });
        m.onActive();
        m.onInbound();
        m.onReadComplete();
        assertEquals(Action.SEND_PING, fire(m));
        long sentAt = ticker.nanoTime();
        long timeoutCheck = m.deadline();
        ticker.advanceNanos(1_000_000);
        m.onInbound();
        assertEquals(PongResult.ANSWERED, m.onPong(1));
        int drawsAtPong = draws[0];
        ticker.advanceNanos(3_000); // the read completes a little later
        assertTrue(m.onReadComplete(), "the pong's read moves the timer");
        long steady = I - (long) (I * 0.2 / 8);
        assertEquals(sentAt + steady, m.deadline(),
                "the next ping one steady period after ours left, whatever its round trip took");
        assertNotEquals(timeoutCheck, m.deadline());
        assertEquals(drawsAtPong, draws[0], "no random draw: the connection keeps its place");
        m.onInbound();
        assertFalse(m.onReadComplete(), "later traffic does not move it");
    }

    @Test
    void aReplanAfterAReadKeepsTheWriteStallCheckAWriteAskedFor() {
        long stall = Duration.ofMillis(800).toNanos();
        LivenessMonitor m = new LivenessMonitor(base().pingJitter(0).writeStallTimeout(Duration.ofNanos(stall))
                .build(), ticker, true, () -> 0.0);
        m.onActive();
        long writeAt = ticker.nanoTime();
        assertEquals(Action.REARM, m.onWrite());
        long check = writeAt + stall / LivenessMonitor.CHECK_STEPS;
        assertEquals(check, m.deadline());
        ticker.advanceNanos(1_000);
        m.onInbound();
        assertTrue(m.onReadComplete(), "the first bytes re-plan");
        assertEquals(check, m.deadline(), "the write-stall check stays where the write put it");
    }

    @Test
    void pingIdsAndCountersAreUnsignedInts() {
        LivenessMonitor m = monitor();
        assertEquals(Action.SEND_PING, fire(m));
        assertEquals(1, m.pingId());
        assertEquals(PongResult.UNSOLICITED, m.onPong(1L << 32 | 1), "an id past 32 bits is never ours");
        assertEquals(1, m.stats().unsolicitedPongs());
        assertEquals(0, m.stats().stalePongs());
    }
}
