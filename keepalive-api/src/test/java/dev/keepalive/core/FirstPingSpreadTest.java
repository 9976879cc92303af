package dev.keepalive.core;

import dev.keepalive.DeadPeerReason;
import dev.keepalive.KeepaliveSettings;
import dev.keepalive.ManualTicker;
import dev.keepalive.core.LivenessMonitor.Action;
import org.junit.jupiter.api.Test;

import java.time.Duration;
import java.util.Arrays;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** Evenly spread first pings ({@link MonitorConfig#spreadingFirstPings}), and no early verdict from them. */
class FirstPingSpreadTest {
    private static final long I = Duration.ofSeconds(10).toNanos();
    private static final long T = Duration.ofSeconds(2).toNanos();
    private static final long START = Long.MAX_VALUE - I / 2;
    /** One steady ping period with jitter 0.2: I x (1 - 0.2 / 8) = 0.975 I. */
    private static final long STEADY = I - I / 40;

    private final ManualTicker ticker = new ManualTicker(START);

    private static KeepaliveSettings settings(double jitter) {
        return KeepaliveSettings.builder().pingInterval(Duration.ofNanos(I)).pingTimeout(Duration.ofNanos(T))
                .pingsMissedBeforeDead(2).pingJitter(jitter).build();
    }

    /** The accepting end's monitor (the peer is expected to ping first), past its first read. */
    private LivenessMonitor acceptedAndProven(MonitorConfig config) {
        LivenessMonitor m = new LivenessMonitor(config);
        m.useLoopHealth(new LoopHealth());
        m.letPeerPingFirst();
        m.onActive();
        m.onInbound();
        m.onReadComplete();
        return m;
    }

    /** A connecting end just opened, no byte read yet, its first-ping slot at 0.75 of the steady period. */
    private LivenessMonitor openedWithSlotAtThreeQuarters() {
        LivenessMonitor m = new LivenessMonitor(
                MonitorConfig.of(settings(0.2), ticker, true, () -> 0.0).spreadingFirstPings(() -> 0.75));
        m.useLoopHealth(new LoopHealth());
        m.onActive();
        return m;
    }

    private LivenessMonitor proven(MonitorConfig config, LoopHealth loop) {
        LivenessMonitor m = new LivenessMonitor(config);
        m.useLoopHealth(loop);
        m.onActive();
        m.onInbound();
        m.onReadComplete();
        return m;
    }

    @Test
    void theFirstPingFallsInTheConnectionsSlotOfTheSteadyPeriodOnTheClockWithinOnePeriodBeforeTheInterval() {
        MonitorConfig c = MonitorConfig.of(settings(0.2), ticker, true, () -> 0.0).spreadingFirstPings(() -> 0.75);
        long slot = (long) (STEADY * 0.75);
        for (long opened : new long[] {START, START + 1, START + STEADY / 3}) {
            ticker.set(opened);
            long wait = proven(c, new LoopHealth()).deadline() - opened;
            assertTrue(wait >= I - STEADY && wait < I, "within one steady period before the interval: " + wait);
            // (opened + wait may pass Long.MAX_VALUE: the ticker starts near it, to prove wrap-safe arithmetic)
            assertEquals(slot, Math.floorMod(Math.floorMod(opened, STEADY) + wait, STEADY),
                    "the same place on the clock, opened at " + opened);
        }
    }

    @Test
    void aConnectionOpenedJustBeforeItsSlotWaitsTheShortestFirstWaitJustAfterAlmostTheInterval() {
        MonitorConfig c = MonitorConfig.of(settings(0.2), ticker, true, () -> 0.0).spreadingFirstPings(() -> 0.75);
        long slotTime = proven(c, new LoopHealth()).deadline();
        ticker.set(slotTime - (I - STEADY));
        assertEquals(slotTime, proven(c, new LoopHealth()).deadline(), "the shortest first wait: I - STEADY");
        ticker.set(slotTime - (I - STEADY) + 1);
        assertEquals(slotTime + STEADY, proven(c, new LoopHealth()).deadline(), "the slot's next turn");
    }

    @Test
    void theFirstBytesReadLateKeepTheFirstPingInTheSlotPlannedWhenTheConnectionOpened() {
        // The connecting end's loop reads the answer to its hello late, just before its slot (it was busy opening
        // other connections). Drawn again from that read, the slot would move a steady period later: past the full
        // interval the accepting end waits from reading the hello, which would then ping first.
        LivenessMonitor m = openedWithSlotAtThreeQuarters();
        long slotTime = m.deadline();
        assertTrue(slotTime - START >= I - STEADY && slotTime - START < I,
                "the slot, planned on opening: before the accepting end's full interval from the hello");
        ticker.set(slotTime - (I - STEADY) / 2);
        m.onInbound();
        assertTrue(m.onReadComplete(), "the first bytes re-plan");
        assertEquals(slotTime, m.deadline(), "the first ping stays in its slot");
        ticker.set(slotTime);
        assertEquals(Action.SEND_PING, m.onTimer(ticker.nanoTime()));
    }

    @Test
    void firstBytesReadAfterTheSlotHadPassedSendTheFirstPingAtOnce() {
        // The loop was late: it read the first bytes before running the overdue timer. The ping goes out at once,
        // not a steady period later (when the accepting end would already have pinged); the next one keeps the
        // place of this one.
        LivenessMonitor m = openedWithSlotAtThreeQuarters();
        long slotTime = m.deadline();
        ticker.set(slotTime + 5_000_000);
        m.onInbound();
        assertTrue(m.onReadComplete());
        assertEquals(ticker.nanoTime(), m.deadline(), "due now");
        assertEquals(Action.SEND_PING, m.onTimer(ticker.nanoTime()));
        ticker.advanceNanos(1_000_000);
        assertEquals(LivenessMonitor.PongResult.ANSWERED, m.onPong(1));
        assertEquals(slotTime + 5_000_000 + STEADY, m.deadline(), "one steady period after it");
    }

    @Test
    void firstBytesAfterAFirstPingSentBeforeThemChangeNothingOfThatPing() {
        // A slow server: the first ping left at its slot before any byte came; the answer to the hello comes
        // later and leaves that ping outstanding (its pong, or the traffic that answers it, settles it).
        LivenessMonitor m = openedWithSlotAtThreeQuarters();
        ticker.set(m.deadline());
        assertEquals(Action.SEND_PING, m.onTimer(ticker.nanoTime()));
        ticker.advanceNanos(300_000_000);
        m.onInbound();
        assertTrue(m.onReadComplete());
        ticker.set(m.deadline());
        assertTrue(m.onTimer(ticker.nanoTime()) != Action.SEND_PING, "no second ping at once");
    }

    @Test
    void connectionsOpenedUnevenlyStillPingEvenlySpread() {
        // 1,000 connections, each opened at the instant that would cancel its phase had the place in the period
        // been counted from the connection's start: then every first ping came at the same instant. Counted on the
        // clock, they are evenly apart: no 10 ms slot (of 975) holds more than 3.
        ManualTicker clock = new ManualTicker(0);
        MonitorConfig c = MonitorConfig.of(settings(0.2), clock, true, () -> 0.0).spreadingFirstPings(null);
        LoopHealth loop = new LoopHealth(0.3);
        LoopHealth twin = new LoopHealth(0.3); // the same sequence, to know each connection's phase ahead
        int[] slots = new int[(int) (STEADY / 10_000_000L) + 1];
        for (int i = 0; i < 1_000; i++) {
            clock.set(i * STEADY + (long) (STEADY * twin.nextPhase())); // one connection per period
            long deadline = proven(c, loop).deadline();
            slots[(int) (Math.floorMod(deadline, STEADY) / 10_000_000L)]++;
        }
        int max = Arrays.stream(slots).max().orElseThrow();
        assertTrue(max <= 3, "largest 10 ms slot: " + max);
    }

    @Test
    void onlyTheFirstSilenceIsSpreadLaterWaitsAreTheUsualJitter() {
        // The slot on the clock that makes this connection's first ping come a tenth of an interval in.
        double phase = (double) Math.floorMod(START + I / 10, STEADY) / STEADY;
        MonitorConfig c = MonitorConfig.of(settings(0.2), ticker, true, () -> 0.0).spreadingFirstPings(() -> phase);
        LivenessMonitor m = proven(c, new LoopHealth());
        assertTrue(m.deadline() - START < I / 5, "the first ping may come early: " + (m.deadline() - START));
        ticker.advanceNanos(1_000);
        m.onInbound();
        m.onReadComplete(); // a second read: the opening exchange is over
        ticker.set(m.deadline());
        assertEquals(Action.NONE, m.onTimer(ticker.nanoTime()), "the early timer finds newer traffic");
        assertEquals(START + 1_000 + I, m.deadline(), "after a second read, the usual wait (random 0: full)");
    }

    /** A monitor past its first silence whose next ping is planned for the returned time. */
    private long pastTheFirstSilence(LivenessMonitor m) {
        ticker.advanceNanos(1_000);
        m.onInbound();
        m.onReadComplete(); // past the first silence: the usual wait, the full interval with random 0
        ticker.set(m.deadline());
        assertEquals(Action.NONE, m.onTimer(ticker.nanoTime()));
        assertEquals(START + 1_000 + I, m.deadline());
        return m.deadline();
    }

    @Test
    void aPingALateLoopSentKeepsItsPlaceTheNextComesOneSteadyPeriodAfterItsPlannedTime() {
        MonitorConfig c = MonitorConfig.of(settings(0.2), ticker, true, () -> 0.0).spreadingFirstPings(() -> 0.5);
        LivenessMonitor m = proven(c, new LoopHealth());
        long planned = pastTheFirstSilence(m);
        // The loop stalls: the ping goes out 10 ms late, its pong comes 1 ms later.
        ticker.set(planned + LoopHealth.LAG_THRESHOLD_NANOS);
        assertEquals(Action.SEND_PING, m.onTimer(ticker.nanoTime()));
        ticker.advanceNanos(1_000_000);
        assertEquals(LivenessMonitor.PongResult.ANSWERED, m.onPong(1));
        assertEquals(planned + STEADY, m.deadline(), "its place: a steady period after the planned time");
        // Punctual: the same again.
        ticker.set(m.deadline());
        assertEquals(Action.SEND_PING, m.onTimer(ticker.nanoTime()));
        ticker.advanceNanos(2_000_000);
        assertEquals(LivenessMonitor.PongResult.ANSWERED, m.onPong(2));
        assertEquals(planned + 2 * STEADY, m.deadline());
    }

    @Test
    void aPingSentTooLateToKeepItsPlaceIsFollowedByASpreadWait() {
        MonitorConfig c = MonitorConfig.of(settings(0.2), ticker, true, () -> 0.0).spreadingFirstPings(() -> 0.5);
        LivenessMonitor m = proven(c, new LoopHealth());
        long planned = pastTheFirstSilence(m);
        // Its place would come sooner than 0.8 I after it: 0.175 I late is the most that keeps it.
        long mostLate = STEADY - (I - I / 5);
        ticker.set(planned + mostLate + 1);
        assertEquals(Action.SEND_PING, m.onTimer(ticker.nanoTime()));
        ticker.advanceNanos(1_000_000);
        assertEquals(LivenessMonitor.PongResult.ANSWERED, m.onPong(1));
        assertEquals(ticker.nanoTime() + I - (long) (I * 0.2 * 0.5), m.deadline(),
                "after the stall, the jitter range with a spread phase (the random source says 0)");
        assertTrue(m.deadline() - (planned + mostLate + 1) >= I - I / 5, "never closer than 0.8 I to the last");
    }

    @Test
    void theAcceptingEndWaitsFullIntervalsInTheFirstSilenceAndIsNeverEarlyNorLateToConvict() {
        MonitorConfig c = MonitorConfig.of(settings(0.2), ticker, true, () -> 0.99).spreadingFirstPings(() -> 0.99);
        LivenessMonitor m = acceptedAndProven(c);
        assertEquals(START + I, m.deadline(), "neither spread nor jittered: the connecting end pings first");
        long bound = settings(0.2).idleDetectionBound().toNanos();
        Action a = Action.NONE;
        for (int i = 0; i < 20 && a != Action.PEER_DEAD; i++) {
            ticker.set(m.deadline());
            a = m.onTimer(ticker.nanoTime());
            if (a == Action.RECHECK_AFTER_READ) {
                a = m.onTimer(ticker.nanoTime());
            }
        }
        assertEquals(Action.PEER_DEAD, a);
        assertEquals(START + bound, ticker.nanoTime(), "a silent peer: dead exactly at the bound");
    }

    @Test
    void anAcceptingEndThatHadToPingFirstSpreadsItsNextPingItKeepsItsPlaceOnlyFromThen() {
        // Its first ping's place came from when the connection opened (connections open in bursts): the next wait
        // takes its cut of the jitter range from the loop's phases; the pings after it keep their place.
        MonitorConfig c = MonitorConfig.of(settings(0.2), ticker, true, () -> 0.0).spreadingFirstPings(() -> 0.5);
        LivenessMonitor m = acceptedAndProven(c);
        ticker.set(m.deadline());
        assertEquals(Action.SEND_PING, m.onTimer(ticker.nanoTime()), "the connecting end did not ping first");
        ticker.advanceNanos(1_000_000);
        assertEquals(LivenessMonitor.PongResult.ANSWERED, m.onPong(1));
        long spread = ticker.nanoTime() + I - (long) (I * 0.2 * 0.5);
        assertEquals(spread, m.deadline(), "spread within the jitter range (phase 0.5), from the pong");
        ticker.set(spread);
        assertEquals(Action.SEND_PING, m.onTimer(ticker.nanoTime()));
        ticker.advanceNanos(3_000_000);
        assertEquals(LivenessMonitor.PongResult.ANSWERED, m.onPong(2));
        assertEquals(spread + STEADY, m.deadline(), "from then on, its place: one steady period after the last");
    }

    @Test
    void jitterZeroSpreadsNothing() {
        MonitorConfig c = MonitorConfig.of(settings(0), ticker, true, () -> 0.0).spreadingFirstPings(() -> 0.99);
        assertEquals(START + I, proven(c, new LoopHealth()).deadline());
    }

    @Test
    void anEarlyFirstPingNeverBringsAnEarlyVerdict() {
        // The first ping at 0.11 x I, and the peer silent from its first byte on: dead exactly at the bound.
        MonitorConfig c = MonitorConfig.of(settings(0.2), ticker, true, () -> 0.0).spreadingFirstPings(() -> 0.99);
        LivenessMonitor m = proven(c, new LoopHealth());
        long bound = settings(0.2).idleDetectionBound().toNanos();
        Action a = Action.NONE;
        int pings = 0;
        for (int i = 0; i < 20 && a != Action.PEER_DEAD; i++) {
            ticker.set(m.deadline());
            a = m.onTimer(ticker.nanoTime());
            if (a == Action.RECHECK_AFTER_READ) {
                a = m.onTimer(ticker.nanoTime());
            }
            if (a == Action.SEND_PING) {
                pings++;
            }
            if (a != Action.PEER_DEAD) {
                assertTrue(ticker.nanoTime() - START < bound, "alive before the bound");
            }
        }
        assertEquals(Action.PEER_DEAD, a);
        assertEquals(DeadPeerReason.PING_TIMEOUT, m.deadReason());
        assertEquals(START + bound, ticker.nanoTime(), "exactly at the bound after the last byte");
        assertEquals(2, pings, "the early ping and its retry");
    }

    @Test
    void theLoopsPhasesSpreadConnectionsOpenedTogetherEvenly() {
        // 1,000 connections opened at the same instant on one loop: their first pings fall into one steady period
        // with no 10 ms slot (of 975) holding more than 3 (random placement would put 6 or more in some slot).
        MonitorConfig c = MonitorConfig.of(settings(0.2), ticker, true, () -> 0.0).spreadingFirstPings(null);
        LoopHealth loop = new LoopHealth(0.3);
        int[] slots = new int[(int) (STEADY / 10_000_000L) + 1];
        for (int i = 0; i < 1_000; i++) {
            long wait = proven(c, loop).deadline() - START;
            assertTrue(wait > I - STEADY && wait <= I, "within one steady period before the interval: " + wait);
            slots[(int) ((I - wait) / 10_000_000L)]++;
        }
        int max = Arrays.stream(slots).max().orElseThrow();
        assertTrue(max <= 3, "largest 10 ms slot: " + max);
    }

    @Test
    void theTimerTickIsAFineFractionOfTheIntervalAndNoneWithATestTicker() {
        KeepaliveSettings.Builder b = KeepaliveSettings.builder().pingTimeout(Duration.ofMillis(100));
        assertEquals(5_000_000L, MonitorConfig.of(b.pingInterval(Duration.ofSeconds(1)).build(),
                dev.keepalive.Ticker.system(), true, () -> 0.0).timerTickNanos());
        assertEquals(1_000_000L, MonitorConfig.of(b.pingInterval(Duration.ofMillis(150)).build(),
                dev.keepalive.Ticker.system(), true, () -> 0.0).timerTickNanos());
        assertEquals(0, MonitorConfig.of(settings(0.2), ticker, true, () -> 0.0).timerTickNanos(),
                "deadlines stay exact with a test ticker");
    }

    @Test
    void phasesAreInTheUnitIntervalAndTheStartIsValidated() {
        LoopHealth loop = new LoopHealth(0.999);
        for (int i = 0; i < 10_000; i++) {
            double p = loop.nextPhase();
            assertTrue(p >= 0 && p < 1, "phase " + p);
        }
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> new LoopHealth(1.0));
        assertEquals("firstPhase must be in [0, 1), but was 1.0", e.getMessage());
    }
}
