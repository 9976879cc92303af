package dev.keepalive.reconnect;

import io.github.resilience4j.core.IntervalFunction;
import org.junit.jupiter.api.Test;

import java.time.Duration;
import java.util.HashSet;
import java.util.Random;
import java.util.Set;

import static java.time.Duration.ofMillis;
import static java.time.Duration.ofSeconds;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

class BackoffTest {
    private static final Duration INITIAL = ofMillis(100);
    private static final Duration MAX = ofSeconds(10);

    @Test
    void fullJitterStaysUnderTheExponentialCapAndKeepsItsSpreadAtTheCap() {
        Random random = new Random(7);
        Backoff.Sequence s = Backoff.exponentialFullJitter(INITIAL, MAX).newSequence(random::nextDouble);
        for (int n = 1; n <= 10; n++) {
            long d = s.next().toMillis();
            long cap = Math.min(MAX.toMillis(), INITIAL.toMillis() << (n - 1));
            assertTrue(d >= 0 && d <= cap, "attempt " + n + ": " + d + " within [0, " + cap + "]");
        }
        // Far past the cap, 1000 clients still retry at different instants.
        Set<Long> atCap = new HashSet<>();
        for (int client = 0; client < 1000; client++) {
            IntervalFunction f = Backoff.exponentialFullJitter(INITIAL, MAX).intervalFunction(random::nextDouble);
            long d = f.apply(40);
            assertTrue(d <= MAX.toMillis());
            atCap.add(d / 10);
        }
        assertTrue(atCap.size() > 500, "delays at the cap spread over 10 ms buckets: " + atCap.size());
    }

    @Test
    void equalJitterKeepsHalfFixed() {
        Random random = new Random(7);
        IntervalFunction f = Backoff.exponentialEqualJitter(INITIAL, MAX).intervalFunction(random::nextDouble);
        for (int n = 1; n <= 20; n++) {
            long cap = Math.min(MAX.toMillis(), INITIAL.toMillis() << Math.min(n - 1, 30));
            long d = f.apply(n);
            assertTrue(d >= cap / 2 && d <= cap, "attempt " + n + ": " + d);
        }
    }

    @Test
    void decorrelatedJitterGrowsFromThePreviousDelay() {
        Random random = new Random(7);
        Backoff.Sequence s = Backoff.decorrelatedJitter(INITIAL, MAX).newSequence(random::nextDouble);
        long previous = INITIAL.toMillis();
        for (int n = 1; n <= 30; n++) {
            long d = s.next().toMillis();
            assertTrue(d >= INITIAL.toMillis() && d <= Math.min(MAX.toMillis(), previous * 3),
                    "attempt " + n + ": " + d + " after " + previous);
            previous = d;
        }
        assertEquals(30, s.attempts());
        assertThrows(UnsupportedOperationException.class,
                () -> Backoff.decorrelatedJitter(INITIAL, MAX).intervalFunction(Math::random));
    }

    @Test
    void fixedAndCustomIntervalFunctions() {
        Backoff.Sequence fixed = Backoff.fixed(ofMillis(250)).newSequence(() -> 0.9);
        assertEquals(ofMillis(250), fixed.next());
        assertEquals(ofMillis(250), fixed.next());
        assertEquals(ofMillis(150), Backoff.fixed(ofMillis(250), 0.5).newSequence(() -> 0.8).next());
        Backoff custom = Backoff.of(IntervalFunction.ofExponentialBackoff(ofMillis(10), 2.0));
        Backoff.Sequence s = custom.newSequence(() -> 0);
        assertEquals(ofMillis(10), s.next());
        assertEquals(ofMillis(20), s.next());
    }

    @Test
    void eachSequenceStartsAfresh() {
        Backoff b = Backoff.exponentialEqualJitter(INITIAL, MAX);
        Backoff.Sequence first = b.newSequence(() -> 0.5);
        for (int i = 0; i < 5; i++) {
            first.next();
        }
        assertEquals(first.attempts(), 5);
        Backoff.Sequence fresh = b.newSequence(() -> 0.5);
        assertEquals(ofMillis(75), fresh.next(), "starts at the initial delay again");
    }

    @Test
    void invalidValuesAreRejectedWithTheirNames() {
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
                () -> Backoff.exponentialFullJitter(Duration.ZERO, MAX));
        assertEquals("initial must be >= 1 ms, but was PT0S", e.getMessage());
        e = assertThrows(IllegalArgumentException.class, () -> Backoff.exponentialFullJitter(MAX, INITIAL));
        assertEquals("max must be >= initial (PT10S), but was PT0.1S", e.getMessage());
        e = assertThrows(IllegalArgumentException.class, () -> Backoff.fixed(ofMillis(1), 2));
        assertEquals("jitter must be in 0..1, but was 2.0", e.getMessage());
        e = assertThrows(IllegalArgumentException.class, () -> ReconnectPolicy.builder().maxAttempts(-1));
        assertEquals("maxAttempts must be >= 0 (0 = unlimited), but was -1", e.getMessage());
        e = assertThrows(IllegalArgumentException.class, () -> ReconnectPolicy.builder().connectTimeout(Duration.ZERO));
        assertEquals("connectTimeout must be in 1 ms .. 10 min, but was PT0S", e.getMessage());
        e = assertThrows(IllegalArgumentException.class, () -> DisconnectedWrites.queue(0, 1, ofSeconds(1)));
        assertEquals("maxMessages must be >= 1, but was 0", e.getMessage());
        e = assertThrows(IllegalArgumentException.class, () -> DisconnectedWrites.queue(1, 0, ofSeconds(1)));
        assertEquals("maxBytes must be >= 1, but was 0", e.getMessage());
        e = assertThrows(IllegalArgumentException.class, () -> DisconnectedWrites.queue(1, 1, Duration.ZERO));
        assertEquals("maxQueueTime must be >= 1 ms, but was PT0S", e.getMessage());
    }
}
