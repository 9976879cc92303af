package dev.keepalive.core;

import dev.keepalive.DeadPeerReason;
import dev.keepalive.KeepaliveSettings;
import dev.keepalive.LivenessState;
import dev.keepalive.ManualTicker;
import dev.keepalive.core.LivenessMonitor.Action;
import dev.keepalive.core.LivenessMonitor.PeerPingVerdict;
import dev.keepalive.core.LivenessMonitor.PingCause;
import dev.keepalive.core.LivenessMonitor.PongResult;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

import java.time.Duration;
import java.util.HashSet;
import java.util.Random;
import java.util.Set;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

class LivenessMonitorTest {

    private static final long I = Duration.ofSeconds(10).toNanos();
    private static final long T = Duration.ofSeconds(2).toNanos();
    /** Starts just below the overflow, so every test crosses it. */
    private static final long START = Long.MAX_VALUE - I / 2;

    private final ManualTicker ticker = new ManualTicker(START);

    private static KeepaliveSettings.Builder base() {
        return KeepaliveSettings.builder()
                .pingInterval(Duration.ofNanos(I))
                .pingTimeout(Duration.ofNanos(T))
                .pingsMissedBeforeDead(1)
                .pingJitter(0);
    }

    /** An active connection whose peer has answered once, at {@link #START}. */
    private LivenessMonitor monitor(KeepaliveSettings settings) {
        LivenessMonitor m = new LivenessMonitor(settings, ticker, true, () -> 0.0);
        m.onActive();
        m.onInbound();
        m.onReadComplete();
        return m;
    }

    /** A message read from the socket now. */
    private void read(LivenessMonitor m) {
        m.onInbound();
        m.onReadComplete();
    }

    /** Advances to the monitor's deadline and fires the timer there, as a punctual event loop would. */
    private Action fire(LivenessMonitor m) {
        assertTrue(m.hasDeadline(), "a deadline is armed");
        ticker.set(m.deadline());
        return timer(m, ticker.nanoTime());
    }

    /**
     * Fires the timer at {@code now}; when the monitor asks for one more I/O pass first, the pass finds nothing in
     * the socket and the timer fires again at once.
     */
    private static Action timer(LivenessMonitor m, long now) {
        Action a = m.onTimer(now);
        if (a == Action.RECHECK_AFTER_READ) {
            assertEquals(now, m.deadline(), "the re-check is due at once");
            a = m.onTimer(now);
            assertTrue(a != Action.RECHECK_AFTER_READ, "one re-check per decision");
        }
        return a;
    }

    @Test
    void idleConnectionIsPingedExactlyAtTheIntervalAcrossTheOverflow() {
        LivenessMonitor m = monitor(base().build());
        assertEquals(START + I, m.deadline());
        assertEquals(Action.NONE, m.onTimer(START + I - 1), "a timer before the deadline does nothing");
        assertEquals(Action.SEND_PING, fire(m));
        assertTrue(ticker.nanoTime() < 0, "time wrapped past Long.MAX_VALUE");
        assertEquals(1, m.pingId());
        assertEquals(PingCause.IDLE, m.pingCause());
        assertEquals(LivenessState.PING_OUTSTANDING, m.state());
        assertEquals(START + I + T, m.deadline());
    }

    @Test
    void extraTimerCallsAreHarmless() {
        LivenessMonitor m = monitor(base().build());
        assertEquals(Action.SEND_PING, fire(m));
        long deadline = m.deadline();
        assertEquals(Action.NONE, m.onTimer(ticker.nanoTime()));
        assertEquals(Action.NONE, m.onTimer(ticker.nanoTime()));
        assertEquals(deadline, m.deadline());
        assertEquals(1, m.stats().pingsSent());
    }

    @Test
    void unansweredPingKillsThePeerAtIntervalPlusTimeout() {
        LivenessMonitor m = monitor(base().build());
        assertEquals(Action.SEND_PING, fire(m));
        assertEquals(Action.PEER_DEAD, fire(m));
        assertEquals(START + I + T, ticker.nanoTime());
        assertEquals(DeadPeerReason.PING_TIMEOUT, m.deadReason());
        assertEquals(LivenessState.DEAD, m.state());
        assertFalse(m.hasDeadline());
        assertEquals(1, m.missedPings());
    }

    @Test
    void severalMissedPingsAreNeededWhenConfigured() {
        LivenessMonitor m = monitor(base().pingsMissedBeforeDead(3).build());
        assertEquals(Action.SEND_PING, fire(m));
        assertEquals(Action.SEND_PING, fire(m));
        assertEquals(PingCause.RETRY_AFTER_MISS, m.pingCause());
        assertEquals(2, m.pingId());
        assertEquals(Action.SEND_PING, fire(m));
        assertEquals(Action.PEER_DEAD, fire(m));
        assertEquals(START + I + 3 * T, ticker.nanoTime());
        assertEquals(3, m.stats().pingsMissed());
    }

    @Test
    void pongMeasuresTheRoundTripAndTheNextPingIsOneIntervalAfterOurs() {
        LivenessMonitor m = monitor(base().build());
        fire(m);
        long sentAt = ticker.nanoTime();
        ticker.advanceNanos(1_500_000);
        m.onInbound();
        assertEquals(PongResult.ANSWERED, m.onPong(1));
        assertEquals(1_500_000, m.lastRttNanos());
        assertEquals(LivenessState.WATCHING, m.state());
        assertEquals(sentAt + I, m.deadline(), "without jitter the steady period is the interval");
        assertEquals(1, m.stats().pongsReceived());
    }

    @Test
    void staleDuplicateAndUnsolicitedPongsAreIgnored() {
        LivenessMonitor m = monitor(base().pingsMissedBeforeDead(2).build());
        fire(m); // ping 1
        fire(m); // ping 1 missed, ping 2 sent
        assertEquals(2, m.pingId());
        assertEquals(PongResult.STALE, m.onPong(1));
        assertEquals(LivenessState.PING_OUTSTANDING, m.state(), "a stale pong does not answer the current ping");
        assertEquals(PongResult.UNSOLICITED, m.onPong(7));
        assertEquals(PongResult.UNSOLICITED, m.onPong(0));
        assertEquals(PongResult.ANSWERED, m.onPong(2));
        assertEquals(PongResult.DUPLICATE, m.onPong(2));
        var stats = m.stats();
        assertEquals(1, stats.stalePongs());
        assertEquals(1, stats.duplicatePongs());
        assertEquals(2, stats.unsolicitedPongs());
        assertEquals(1, stats.pongsReceived());
    }

    @Test
    void anyInboundTrafficProvesLivenessWhilePongsAreLate() {
        LivenessMonitor m = monitor(base().build());
        assertEquals(Action.SEND_PING, fire(m));
        ticker.advanceNanos(T / 2);
        read(m); // application data, no pong
        assertEquals(Action.NONE, fire(m), "data arrived after the ping: the peer is alive");
        assertEquals(LivenessState.WATCHING, m.state());
        ticker.advanceNanos(T);
        assertEquals(PongResult.ANSWERED, m.onPong(1), "a late pong of the current ping still measures RTT");
        assertEquals(T / 2 * 3 + T / 2, m.lastRttNanos());
    }

    @Test
    void busyConnectionSendsNoPings() {
        LivenessMonitor m = monitor(base().build());
        long end = START + 150 * (I / 3);
        int timers = 0;
        // Inbound every I/3; fire the timer whenever it is due. Bounded: 150 steps.
        for (int step = 0; step < 150; step++) {
            long next = ticker.nanoTime() + I / 3;
            while (m.deadline() - next <= 0) {
                ticker.set(m.deadline());
                assertEquals(Action.NONE, m.onTimer(ticker.nanoTime()));
                timers++;
            }
            ticker.set(next);
            read(m);
        }
        assertTrue(ticker.nanoTime() - end >= 0);
        assertEquals(0, m.stats().pingsSent());
        assertTrue(timers <= 150 / 3 + 1,
                "the timer sleeps until a ping would be due: at most one run per interval, was " + timers);
    }

    @Test
    void irregularTrafficDenserThanTheSilenceThresholdNeverPings() {
        // Jittered intervals and bytes every 10..100 ms against a 500 ms interval, for 120 s.
        long interval = Duration.ofMillis(500).toNanos();
        KeepaliveSettings s = base().pingInterval(Duration.ofNanos(interval)).pingJitter(0.2).build();
        Random random = new Random(3);
        LivenessMonitor m = new LivenessMonitor(s, ticker, true, random::nextDouble);
        m.onActive();
        m.onInbound();
        assertTrue(m.onReadComplete(), "only the first byte re-arms (read idle and the ordinary rules start)");
        long end = ticker.nanoTime() + Duration.ofSeconds(120).toNanos();
        int steps = 0;
        while (end - ticker.nanoTime() > 0 && steps++ < 100_000) {
            long next = ticker.nanoTime() + Duration.ofMillis(10 + random.nextInt(91)).toNanos();
            while (m.deadline() - next <= 0) {
                ticker.set(m.deadline());
                m.onTimer(ticker.nanoTime());
            }
            ticker.set(next);
            long deadline = m.deadline();
            m.onInbound();
            assertFalse(m.onReadComplete(), "traffic never re-arms the timer");
            assertEquals(deadline, m.deadline(), "nor moves its deadline");
        }
        assertEquals(0, m.stats().pingsSent(), "a busy connection sends no pings");
    }

    @Test
    void whenTrafficStopsThePingComesWithinOneIntervalOfTheLastByte() {
        LivenessMonitor m = monitor(base().build());
        long lastInbound = 0;
        for (int step = 0; step < 40; step++) {
            long next = ticker.nanoTime() + I / 7;
            while (m.deadline() - next <= 0) {
                fire(m); // punctual timers: the loop is healthy
            }
            ticker.set(next);
            read(m);
            lastInbound = ticker.nanoTime();
        }
        Action a;
        int timers = 0;
        do {
            a = fire(m);
            timers++;
        } while (a == Action.NONE && timers < 10);
        assertEquals(Action.SEND_PING, a);
        assertEquals(I, ticker.nanoTime() - lastInbound, "the ping goes exactly one interval after the last byte");
        assertEquals(Action.PEER_DEAD, fire(m));
        assertEquals(I + T, ticker.nanoTime() - lastInbound, "dead exactly at the bound");
    }

    @Test
    void writeOnAQuietConnectionProbesAtOnce() {
        LivenessMonitor m = monitor(base().build());
        ticker.advanceNanos(I + 1); // the timer is late: nobody fired it
        assertEquals(Action.SEND_PING, m.onWrite());
        assertEquals(PingCause.WRITE_AFTER_QUIET, m.pingCause());
        assertEquals(ticker.nanoTime() + T, m.deadline(), "dead within one ping timeout of the write");
        assertEquals(Action.NONE, m.onWrite(), "one probe, not one per write");
    }

    @Test
    void writeAfterRecentInboundDoesNotProbe() {
        LivenessMonitor m = monitor(base().build());
        ticker.advanceNanos(I / 2);
        assertEquals(Action.NONE, m.onWrite());
        ticker.advanceNanos(I);
        m.onInbound(); // being read right now
        assertEquals(Action.NONE, m.onWrite(), "the write flag is per timer window");
        assertEquals(0, m.stats().pingsSent());
    }

    @Test
    void lateTimerMeansLocalStallAndReprobesInsteadOfDying() {
        KeepaliveSettings s = base().build();
        LivenessMonitor m = monitor(s);
        fire(m);
        long stall = s.localStallThreshold().toNanos();
        ticker.set(m.deadline() + stall);
        assertEquals(Action.SEND_PING, m.onTimer(ticker.nanoTime()));
        assertEquals(PingCause.LOCAL_STALL, m.pingCause());
        assertEquals(LivenessState.PING_OUTSTANDING, m.state());
        assertEquals(1, m.stats().localStalls());
        ticker.set(m.deadline() + stall);
        assertEquals(Action.SEND_PING, m.onTimer(ticker.nanoTime()));
        ticker.set(m.deadline() + stall);
        assertEquals(Action.PEER_DEAD, timer(m, ticker.nanoTime()),
                "after " + LivenessMonitor.MAX_STALL_REPROBES + " re-probes a late timeout counts");
    }

    @Test
    void timerSlightlyLateIsNotAStall() {
        KeepaliveSettings s = base().build();
        LivenessMonitor m = monitor(s);
        fire(m);
        ticker.set(m.deadline() + s.localStallThreshold().toNanos() - 1);
        assertEquals(Action.PEER_DEAD, timer(m, ticker.nanoTime()));
    }

    @Test
    void jitterOnlyShortensTheWaitAndSpreadsConnections() {
        KeepaliveSettings s = base().pingJitter(0.2).build();
        Random random = new Random(42);
        Set<Long> buckets = new HashSet<>();
        long min = Long.MAX_VALUE;
        long max = Long.MIN_VALUE;
        for (int i = 0; i < 2000; i++) {
            LivenessMonitor m = new LivenessMonitor(s, ticker, true, random::nextDouble);
            m.onActive();
            long wait = m.deadline() - ticker.nanoTime();
            min = Math.min(min, wait);
            max = Math.max(max, wait);
            buckets.add(wait / 10_000_000); // 10 ms buckets
        }
        assertTrue(min >= (long) (I * 0.8), "never shorter than interval x (1 - jitter): " + min);
        assertTrue(max <= I, "never longer than the interval: " + max);
        assertTrue(buckets.size() > 150, "2000 connections spread over the 2 s jitter window: " + buckets.size());
    }

    @Test
    void extremeRandomValuesStayInBounds() {
        KeepaliveSettings s = base().pingJitter(0.5).build();
        LivenessMonitor m = new LivenessMonitor(s, ticker, true, () -> 0.9999999);
        m.onActive();
        assertTrue(m.deadline() - ticker.nanoTime() >= I / 2);
    }

    @Test
    void readIdleIsDeclaredExactlyAtItsTimeoutAfterTheLastByte() {
        long ri = Duration.ofSeconds(8).toNanos();
        KeepaliveSettings s = base().readIdleTimeout(Duration.ofNanos(ri)).build();
        LivenessMonitor m = new LivenessMonitor(s, ticker, false, () -> 0.0);
        m.onActive();
        read(m);
        // A long quiet stretch, then one byte.
        ticker.advanceNanos(ri / 2);
        read(m);
        long lastByte = ticker.nanoTime();
        Action a;
        int timers = 0;
        do {
            ticker.set(m.deadline());
            a = m.onTimer(ticker.nanoTime());
            timers++;
        } while (a == Action.NONE && timers < 20);
        assertEquals(Action.RECHECK_AFTER_READ, a, "one more read before the verdict");
        assertEquals(ri, ticker.nanoTime() - lastByte, "never before the timeout, and at it");
        read(m); // the extra read finds a byte after all
        assertEquals(Action.NONE, m.onTimer(ticker.nanoTime()));
        assertEquals(LivenessState.WATCHING, m.state());
        long last = ticker.nanoTime();
        assertEquals(Action.PEER_DEAD, fire(m));
        assertEquals(DeadPeerReason.READ_IDLE, m.deadReason());
        assertEquals(ri, ticker.nanoTime() - last);
        assertEquals(0, m.stats().pingsSent(), "passive: never pings");
    }

    @Test
    void passiveModeDefaultsReadIdleToTheDetectionBound() {
        KeepaliveSettings s = base().build();
        LivenessMonitor m = new LivenessMonitor(s, ticker, false, () -> 0.0);
        m.onActive();
        read(m);
        assertEquals(Action.PEER_DEAD, fire(m));
        assertEquals(START + s.idleDetectionBound().toNanos(), ticker.nanoTime());
        assertEquals(DeadPeerReason.READ_IDLE, m.deadReason());
    }

    @Test
    void writeStallIsDeclaredWhenPendingBytesDoNotDrain() {
        long ws = Duration.ofSeconds(4).toNanos();
        LivenessMonitor m = monitor(base().pingInterval(Duration.ofSeconds(60))
                .writeStallTimeout(Duration.ofNanos(ws)).build());
        ticker.advanceNanos(1000);
        assertEquals(Action.REARM, m.onWrite(), "the first write brings the write-stall check forward");
        assertEquals(ticker.nanoTime() + ws / LivenessMonitor.CHECK_STEPS, m.deadline());
        assertFalse(m.onOutboundSample(1000, 1), "the check is already that close");
        long stallStart = ticker.nanoTime();
        // Progress for a while: no stall.
        for (int token = 2; token < 10; token++) {
            fire(m);
            read(m);
            m.onOutboundSample(1000, token);
            stallStart = ticker.nanoTime();
        }
        assertEquals(LivenessState.WATCHING, m.state());
        Action a;
        int timers = 0;
        do {
            m.onOutboundSample(1000, 9);
            read(m); // the peer still talks: only the write side is stuck
            a = fire(m);
            timers++;
        } while (a == Action.NONE && timers < 30);
        assertEquals(Action.PEER_DEAD, a);
        assertEquals(DeadPeerReason.WRITE_STALL, m.deadReason());
        long stalled = ticker.nanoTime() - stallStart;
        assertTrue(stalled >= ws && stalled <= ws + ws / LivenessMonitor.CHECK_STEPS, "stall " + stalled);
    }

    @Test
    void drainedQueueIsNotAStall() {
        LivenessMonitor m = monitor(base().writeStallTimeout(Duration.ofSeconds(1)).build());
        m.onOutboundSample(10, 1);
        fire(m);
        m.onOutboundSample(0, 1);
        for (int i = 0; i < 5; i++) {
            read(m);
            assertEquals(Action.NONE, fire(m));
        }
    }

    @Test
    void adaptiveTimeoutFollowsTheRoundTripWithinBounds() {
        long min = Duration.ofMillis(100).toNanos();
        LivenessMonitor m = monitor(base().adaptivePingTimeout(Duration.ofNanos(min)).build());
        assertEquals(T, m.effectiveTimeoutNanos(), "the full timeout until a round trip is measured");
        long id = 0;
        for (int i = 0; i < 10; i++) {
            fire(m);
            ticker.advanceNanos(1_000_000); // 1 ms RTT
            assertEquals(PongResult.ANSWERED, m.onPong(++id));
        }
        assertEquals(min, m.effectiveTimeoutNanos(), "small RTT: the lower bound");
        for (int i = 0; i < 10; i++) {
            fire(m);
            ticker.advanceNanos(T / 2 + (i % 2) * T / 4); // slow, varying RTT
            m.onPong(++id);
        }
        assertEquals(T, m.effectiveTimeoutNanos(), "large RTT: capped at pingTimeout");
        fire(m);
        ticker.advanceNanos(400_000_000);
        m.onPong(++id);
        long eff = m.effectiveTimeoutNanos();
        assertTrue(eff > min && eff <= T, "in between: " + eff);
    }

    @ParameterizedTest
    @ValueSource(ints = {0, 1, 3})
    void peerPingingTooOftenIsClosedPastTheAllowance(int strikes) {
        LivenessMonitor m = monitor(base().minPeerPingInterval(Duration.ofSeconds(1)).peerPingStrikes(strikes)
                .build());
        assertEquals(PeerPingVerdict.ANSWER, m.onPeerPing());
        for (int i = 0; i < strikes; i++) {
            m.onReadComplete();
            ticker.advance(Duration.ofMillis(100));
            assertEquals(PeerPingVerdict.ANSWER, m.onPeerPing());
        }
        m.onReadComplete();
        ticker.advance(Duration.ofMillis(100));
        assertEquals(PeerPingVerdict.TOO_MANY_PINGS, m.onPeerPing());
        assertEquals(DeadPeerReason.PEER_PINGED_TOO_OFTEN, m.deadReason());
        assertEquals(strikes + 1, m.stats().peerPingStrikes());
    }

    @Test
    void wellSpacedPeerPingsResetTheStrikes() {
        LivenessMonitor m = monitor(base().minPeerPingInterval(Duration.ofSeconds(1)).peerPingStrikes(1).build());
        for (int i = 0; i < 20; i++) {
            ticker.advance(Duration.ofMillis(i % 2 == 0 ? 500 : 1500));
            assertEquals(PeerPingVerdict.ANSWER, m.onPeerPing());
            m.onReadComplete();
        }
        assertEquals(20, m.stats().peerPingsReceived());
    }

    @Test
    void enforcementOffAnswersEveryPing() {
        LivenessMonitor m = monitor(base().minPeerPingInterval(Duration.ZERO).build());
        for (int i = 0; i < 1000; i++) {
            assertEquals(PeerPingVerdict.ANSWER, m.onPeerPing());
        }
    }

    @Test
    void markDeadIsFinalAndOnlyOnce() {
        LivenessMonitor m = monitor(base().build());
        assertTrue(m.markDead(DeadPeerReason.RESET_BY_PEER));
        assertFalse(m.markDead(DeadPeerReason.PING_TIMEOUT));
        assertEquals(DeadPeerReason.RESET_BY_PEER, m.deadReason());
        assertEquals(Action.NONE, m.onTimer(ticker.advanceNanos(10 * I)));
        assertEquals(Action.NONE, m.onWrite());
    }

    @Test
    void nothingHappensBeforeActive() {
        LivenessMonitor m = new LivenessMonitor(base().build(), ticker, true, () -> 0.0);
        assertFalse(m.hasDeadline());
        assertEquals(Action.NONE, m.onTimer(ticker.advanceNanos(10 * I)));
        assertEquals(LivenessState.INACTIVE, m.state());
        m.onActive();
        m.onActive();
        assertEquals(ticker.nanoTime() + I, m.deadline());
    }

    @Test
    void closedStopsWatching() {
        LivenessMonitor m = monitor(base().build());
        m.onClosed();
        assertEquals(LivenessState.CLOSED, m.state());
        assertFalse(m.hasDeadline());
        assertFalse(m.markDead(DeadPeerReason.CLOSED_BY_PEER));
    }

    @Test
    void sinceLastInboundIsReported() {
        LivenessMonitor m = monitor(base().build());
        fire(m);
        assertEquals(I, m.sinceLastInboundNanos(ticker.nanoTime()));
    }

    // ---- the two-sided contract -------------------------------------------------------------------------------

    @ParameterizedTest
    @ValueSource(doubles = {0.0, 0.5, 0.9999999})
    void pingTimeoutComesExactlyAtTheBoundWhateverTheJitter(double draw) {
        KeepaliveSettings s = base().pingJitter(0.5).pingsMissedBeforeDead(2)
                .adaptivePingTimeout(Duration.ofMillis(1)).build();
        LivenessMonitor m = new LivenessMonitor(s, ticker, true, () -> draw);
        m.onActive();
        read(m);
        // One measured round trip of 1 ms: the adaptive timeout shrinks far below pingTimeout.
        fire(m);
        ticker.advanceNanos(1_000_000);
        read(m);
        m.onPong(1);
        long lastByte = ticker.nanoTime();
        long bound = s.idleDetectionBound().toNanos();
        Action a = Action.NONE;
        int timers = 0;
        while (a != Action.PEER_DEAD && timers++ < 20) {
            assertTrue(m.deadline() - (lastByte + bound) <= 0, "no deadline past the bound");
            a = fire(m);
            if (a != Action.PEER_DEAD) {
                assertTrue(ticker.nanoTime() - lastByte < bound, "alive before the bound");
            }
        }
        assertEquals(Action.PEER_DEAD, a);
        assertEquals(DeadPeerReason.PING_TIMEOUT, m.deadReason());
        assertEquals(bound, ticker.nanoTime() - lastByte, "least silence = most silence = the bound");
        assertEquals(2, m.missedPings());
    }

    @Test
    void aPeerThatAnswersJustBeforeTheBoundIsNotConvicted() {
        KeepaliveSettings s = base().pingsMissedBeforeDead(2).build();
        LivenessMonitor m = monitor(s);
        long bound = s.idleDetectionBound().toNanos();
        assertEquals(Action.SEND_PING, fire(m));
        assertEquals(Action.SEND_PING, fire(m)); // first miss, retry
        ticker.set(START + bound - 1);
        read(m);
        m.onPong(2);
        assertEquals(LivenessState.WATCHING, m.state());
        assertEquals(0, m.missedPings());
        assertEquals(START + bound - 1 + I, m.deadline(), "a full interval of silence before the next ping");
    }

    @Test
    void aPongAlreadyInTheSocketIsReadBeforeAMissCounts() {
        LivenessMonitor m = monitor(base().build());
        assertEquals(Action.SEND_PING, fire(m));
        ticker.set(m.deadline() + T / 4); // the loop was held by another channel while the pong arrived
        assertEquals(Action.RECHECK_AFTER_READ, m.onTimer(ticker.nanoTime()),
                "one more I/O pass before the miss counts");
        // That pass reads the pong that arrived long ago.
        m.onInbound();
        assertEquals(PongResult.ANSWERED, m.onPong(1));
        m.onReadComplete();
        assertEquals(Action.NONE, m.onTimer(ticker.nanoTime()));
        assertEquals(LivenessState.WATCHING, m.state());
        assertEquals(0, m.stats().pingsMissed());
    }

    // ---- proof of life for new connections ---------------------------------------------------------------------

    @Test
    void aNewConnectionIsJudgedOnlyByItsFirstResponseAllowance() {
        KeepaliveSettings s = base().pingsMissedBeforeDead(2).build();
        long allowance = s.firstResponseTimeout().toNanos();
        assertEquals(2 * s.idleDetectionBound().toNanos(), allowance, "default: twice the detection bound");
        LivenessMonitor m = new LivenessMonitor(s, ticker, true, () -> 0.0);
        m.onActive();
        assertFalse(m.proven());
        Action a = Action.NONE;
        int timers = 0;
        while (a != Action.PEER_DEAD && timers++ < 50) {
            a = fire(m);
            if (a != Action.PEER_DEAD) {
                assertTrue(ticker.nanoTime() - START < allowance, "alive before the allowance");
            }
        }
        assertEquals(DeadPeerReason.FIRST_RESPONSE_TIMEOUT, m.deadReason());
        assertEquals(allowance, ticker.nanoTime() - START, "exactly at the allowance");
        assertTrue(m.stats().pingsSent() >= 2, "pings went out meanwhile: " + m.stats().pingsSent());
        assertTrue(m.stats().pingsMissed() >= 2, "missed, but not held against an unproven connection");
    }

    @Test
    void theFirstByteJustBeforeTheAllowanceStartsTheOrdinaryRules() {
        KeepaliveSettings s = base().firstResponseTimeout(Duration.ofSeconds(30)).build();
        LivenessMonitor m = new LivenessMonitor(s, ticker, true, () -> 0.0);
        m.onActive();
        long allowance = Duration.ofSeconds(30).toNanos();
        while (m.deadline() - (START + allowance - 1) < 0) {
            assertTrue(fire(m) != Action.PEER_DEAD);
        }
        ticker.set(START + allowance - 1);
        m.onInbound();
        assertTrue(m.onReadComplete(), "the first byte re-arms");
        assertTrue(m.proven());
        long firstByte = ticker.nanoTime();
        Action a = Action.NONE;
        int timers = 0;
        while (a != Action.PEER_DEAD && timers++ < 20) {
            a = fire(m);
        }
        assertEquals(DeadPeerReason.PING_TIMEOUT, m.deadReason());
        assertEquals(s.idleDetectionBound().toNanos(), ticker.nanoTime() - firstByte);
    }

    @Test
    void aNewPassiveConnectionGetsTheAllowanceInsteadOfReadIdle() {
        KeepaliveSettings s = base().readIdleTimeout(Duration.ofSeconds(3)).build();
        assertEquals(Duration.ofSeconds(6), s.firstResponseTimeout(), "default: twice readIdleTimeout");
        LivenessMonitor m = new LivenessMonitor(s, ticker, false, () -> 0.0);
        m.onActive();
        assertEquals(Action.PEER_DEAD, fire(m));
        assertEquals(DeadPeerReason.FIRST_RESPONSE_TIMEOUT, m.deadReason());
        assertEquals(Duration.ofSeconds(6).toNanos(), ticker.nanoTime() - START);
    }

    // ---- local health -----------------------------------------------------------------------------------------

    @Test
    void verdictsWaitAsLongAsTheLoopWasStuckDuringTheSilence() {
        KeepaliveSettings s = base().build();
        LoopHealth health = new LoopHealth();
        LivenessMonitor m = new LivenessMonitor(s, ticker, true, () -> 0.0);
        m.useLoopHealth(health);
        m.onActive();
        read(m);
        long bound = s.idleDetectionBound().toNanos();
        assertEquals(Action.SEND_PING, fire(m));
        // Another connection's timer on the same loop ran 3 s late: the loop was stuck for 3 s.
        long stuck = Duration.ofSeconds(3).toNanos();
        ticker.advanceNanos(T / 2);
        health.recordLateness(ticker.nanoTime(), stuck);
        health.recordLateness(ticker.nanoTime(), stuck - 1_000_000); // the same stall, seen by another timer
        Action a = Action.NONE;
        int timers = 0;
        while (a != Action.PEER_DEAD && timers++ < 20) {
            a = fire(m);
            if (a != Action.PEER_DEAD) {
                assertTrue(ticker.nanoTime() - START < bound + stuck);
            }
        }
        assertEquals(bound + stuck, ticker.nanoTime() - START, "the bound plus the time the loop was stuck");
    }

    @Test
    void aTimerLateOnlyByItsTickRoundingAndOrdinaryJitterIsNoStall() {
        long tick = 5_000_000L;
        KeepaliveSettings s = base().build();
        LoopHealth health = new LoopHealth();
        LivenessMonitor m = new LivenessMonitor(MonitorConfig.of(s, ticker, true, () -> 0.0).withTimerTick(tick));
        m.useLoopHealth(health);
        m.onActive();
        // The read such that the ping is due 1 ms past a tick, and the transport's timer for it at the next tick,
        // 4 ms later.
        ticker.set(MonitorConfig.roundUpToTick(ticker.nanoTime() + I, tick) + 1_000_000L - I);
        read(m);
        long deadline = m.deadline();
        long due = MonitorConfig.roundUpToTick(deadline, tick);
        assertEquals(4_000_000L, due - deadline);
        // The timer runs 7 ms after the tick it was due at: 11 ms after the deadline, but only 7 ms late.
        ticker.set(due + 7_000_000L);
        assertEquals(Action.SEND_PING, m.onTimer(ticker.nanoTime()));
        assertEquals(0, health.stalledNanos(), "7 ms late is ordinary jitter, and the rounding is not the loop's");
        // The other edge: 10 ms after the tick is a stall of 10 ms (the rounding still not counted).
        ticker.set(MonitorConfig.roundUpToTick(m.deadline(), tick) + LoopHealth.LAG_THRESHOLD_NANOS);
        m.onTimer(ticker.nanoTime());
        assertEquals(LoopHealth.LAG_THRESHOLD_NANOS, health.stalledNanos());
    }

    @Test
    void aLaggingLoopDelaysAVerdictByAtMostTheBoundAgain() {
        KeepaliveSettings s = base().build();
        LoopHealth health = new LoopHealth();
        LivenessMonitor m = new LivenessMonitor(s, ticker, true, () -> 0.0);
        m.useLoopHealth(health);
        m.onActive();
        read(m);
        long bound = s.idleDetectionBound().toNanos();
        Action a = Action.NONE;
        int timers = 0;
        while (a != Action.PEER_DEAD && timers++ < 200) {
            ticker.set(m.deadline());
            // Every timer on this loop runs 50 ms late, all the time.
            ticker.advanceNanos(50_000_000);
            health.recordLateness(ticker.nanoTime(), 50_000_000);
            a = timer(m, ticker.nanoTime());
        }
        assertEquals(DeadPeerReason.PING_TIMEOUT, m.deadReason());
        long silence = ticker.nanoTime() - START;
        assertTrue(silence > bound, "waited for the lag: " + silence);
        assertTrue(silence <= LivenessMonitor.MAX_LAG_FACTOR * bound + 50_000_000,
                "at most twice the bound plus timer lateness: " + silence);
    }

    @Test
    void loopHealthCountsEachStallOnceAndIgnoresJitter() {
        LoopHealth health = new LoopHealth();
        health.recordLateness(1_000, LoopHealth.LAG_THRESHOLD_NANOS - 1);
        assertEquals(0, health.stalledNanos(), "ordinary jitter");
        long now = 5_000_000_000L;
        health.recordLateness(now, 2_000_000_000L);
        health.recordLateness(now + 1, 2_000_000_001L); // the same stall
        health.recordLateness(now + 500_000_000L, 1_000_000_000L); // overlaps the first by 500 ms
        assertEquals(2_000_000_001L + 500_000_000L - 1, health.stalledNanos());
    }

    // ---- backpressure -------------------------------------------------------------------------------------------

    @Test
    void pausedReadsNeverConvictAndSilenceCountsFromTheResume() {
        KeepaliveSettings s = base().pingsMissedBeforeDead(2).build();
        LivenessMonitor m = monitor(s);
        long bound = s.idleDetectionBound().toNanos();
        assertEquals(Action.SEND_PING, fire(m));
        m.onReadsPaused(true);
        long end = START + 2 * bound;
        int timers = 0;
        while (m.deadline() - end < 0 && timers++ < 100) {
            assertTrue(fire(m) != Action.PEER_DEAD, "a pong we do not read proves nothing");
        }
        assertTrue(m.stats().pingsMissed() == 0, "no miss counted while paused");
        assertTrue(m.stats().pingsSent() >= 2, "pings go on, once an interval, so the peer sees us alive: "
                + m.stats().pingsSent());
        ticker.set(end);
        assertTrue(m.onReadsPaused(false));
        Action a = Action.NONE;
        timers = 0;
        while (a != Action.PEER_DEAD && timers++ < 20) {
            a = fire(m);
        }
        assertEquals(DeadPeerReason.PING_TIMEOUT, m.deadReason());
        assertEquals(bound, ticker.nanoTime() - end, "a full bound from the moment reads resumed");
    }

    // ---- ping floods ---------------------------------------------------------------------------------------------

    @Test
    void aPingBacklogReadAtOnceIsOneStrikeAtMost() {
        LivenessMonitor m = monitor(base().minPeerPingInterval(Duration.ofSeconds(1)).peerPingStrikes(0).build());
        assertEquals(PeerPingVerdict.ANSWER, m.onPeerPing());
        m.onReadComplete();
        // We stalled for 3 s; the peer's next pings queued and are read in one batch.
        ticker.advance(Duration.ofSeconds(3));
        for (int i = 0; i < 4; i++) {
            assertEquals(PeerPingVerdict.ANSWER, m.onPeerPing(), "backlog ping " + i);
        }
        m.onReadComplete();
        assertEquals(0, m.stats().peerPingStrikes());
        // A real flood: one ping per read, 10 ms apart.
        ticker.advance(Duration.ofMillis(10));
        assertEquals(PeerPingVerdict.TOO_MANY_PINGS, m.onPeerPing());
        assertEquals(DeadPeerReason.PEER_PINGED_TOO_OFTEN, m.deadReason());
    }
}
