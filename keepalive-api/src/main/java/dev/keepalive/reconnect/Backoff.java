package dev.keepalive.reconnect;

import io.github.resilience4j.core.IntervalFunction;

import java.time.Duration;
import java.util.Objects;
import java.util.function.DoubleSupplier;

/**
 * How long to wait before each reconnect attempt. Delays are resilience4j {@link IntervalFunction}s
 * ({@code attempt -> millis}, attempts counted from 1); each connection loss starts a fresh {@link Sequence}.
 *
 * <p>Unlike resilience4j's capped exponential function, these apply the jitter <em>after</em> the cap, so clients
 * that all reached the cap still retry at different instants.
 * <ul>
 *   <li>{@link #exponentialFullJitter}: {@code random(0, min(max, initial x 2^(n-1)))} — the default, the widest
 *       spread;</li>
 *   <li>{@link #exponentialEqualJitter}: half of it fixed, half random — never retries at once;</li>
 *   <li>{@link #decorrelatedJitter}: {@code min(max, random(initial, previous x 3))};</li>
 *   <li>{@link #fixed}: the same delay each time (with optional jitter).</li>
 * </ul>
 */
public abstract class Backoff {

    /** The default: exponential with full jitter from 100 ms up to 30 s. */
    public static final Backoff DEFAULT = exponentialFullJitter(Duration.ofMillis(100), Duration.ofSeconds(30));

    private final String description;

    private Backoff(String description) {
        this.description = description;
    }

    /** A sequence of delays, one per attempt. Not thread-safe. */
    public interface Sequence {
        /** The delay before the next attempt. */
        Duration next();

        /** How many delays this sequence has given. */
        int attempts();
    }

    /**
     * A fresh sequence of delays using {@code random} (uniform values in [0, 1)).
     */
    public abstract Sequence newSequence(DoubleSupplier random);

    /**
     * This backoff as a resilience4j {@link IntervalFunction} (stateless backoffs only; decorrelated jitter needs
     * the previous delay and is available as a {@link Sequence}).
     *
     * @throws UnsupportedOperationException for {@link #decorrelatedJitter}
     */
    public abstract IntervalFunction intervalFunction(DoubleSupplier random);

    /**
     * Exponential backoff with full jitter: before attempt {@code n}, a delay uniform in
     * {@code [0, min(max, initial x 2^(n-1))]}.
     *
     * @throws IllegalArgumentException if {@code initial} is not positive or {@code max < initial}
     */
    public static Backoff exponentialFullJitter(Duration initial, Duration max) {
        long i = positiveMillis("initial", initial);
        long m = atLeast("max", max, initial);
        return new Stateless("exponentialFullJitter(" + initial + ", " + max + ")",
                (attempt, r) -> (long) (r * capped(i, m, attempt)));
    }

    /**
     * Exponential backoff with equal jitter: before attempt {@code n}, with {@code d = min(max, initial x
     * 2^(n-1))}, a delay uniform in {@code [d/2, d]}.
     *
     * @throws IllegalArgumentException if {@code initial} is not positive or {@code max < initial}
     */
    public static Backoff exponentialEqualJitter(Duration initial, Duration max) {
        long i = positiveMillis("initial", initial);
        long m = atLeast("max", max, initial);
        return new Stateless("exponentialEqualJitter(" + initial + ", " + max + ")", (attempt, r) -> {
            long d = capped(i, m, attempt);
            return d / 2 + (long) (r * (d - d / 2));
        });
    }

    /**
     * Decorrelated jitter: each delay uniform in {@code [initial, previous x 3]}, capped at {@code max} (the first
     * previous is {@code initial}).
     *
     * @throws IllegalArgumentException if {@code initial} is not positive or {@code max < initial}
     */
    public static Backoff decorrelatedJitter(Duration initial, Duration max) {
        long i = positiveMillis("initial", initial);
        long m = atLeast("max", max, initial);
        return new Backoff("decorrelatedJitter(" + initial + ", " + max + ")") {
            @Override
            public Sequence newSequence(DoubleSupplier random) {
                Objects.requireNonNull(random, "random");
                return new Sequence() {
                    private long previous = i;
                    private int attempts;

                    @Override
                    public Duration next() {
                        attempts++;
                        long upper = Math.max(i, Math.min(m, saturatedMultiply(previous, 3)));
                        previous = Math.min(m, i + (long) (random.getAsDouble() * (upper - i)));
                        return Duration.ofMillis(previous);
                    }

                    @Override
                    public int attempts() {
                        return attempts;
                    }
                };
            }

            @Override
            public IntervalFunction intervalFunction(DoubleSupplier random) {
                throw new UnsupportedOperationException("decorrelated jitter depends on the previous delay: use "
                        + "newSequence()");
            }
        };
    }

    /**
     * The same delay before every attempt, shortened by a random fraction up to {@code jitter}.
     *
     * @throws IllegalArgumentException if {@code delay} is negative or {@code jitter} not in 0..1
     */
    public static Backoff fixed(Duration delay, double jitter) {
        Objects.requireNonNull(delay, "delay");
        if (delay.isNegative()) {
            throw new IllegalArgumentException("delay must be >= 0, but was " + delay);
        }
        if (!(jitter >= 0 && jitter <= 1)) {
            throw new IllegalArgumentException("jitter must be in 0..1, but was " + jitter);
        }
        long d = delay.toMillis();
        return new Stateless("fixed(" + delay + ", jitter " + jitter + ")",
                (attempt, r) -> d - (long) (d * jitter * r));
    }

    /** The same delay before every attempt, without jitter. */
    public static Backoff fixed(Duration delay) {
        return fixed(delay, 0);
    }

    /**
     * Any resilience4j interval function ({@code attempt -> millis}), for example one the application already
     * uses for its retries.
     */
    public static Backoff of(IntervalFunction function) {
        Objects.requireNonNull(function, "function");
        return new Backoff("of(" + function + ")") {
            @Override
            public Sequence newSequence(DoubleSupplier random) {
                return new CountingSequence(function);
            }

            @Override
            public IntervalFunction intervalFunction(DoubleSupplier random) {
                return function;
            }
        };
    }

    @Override
    public String toString() {
        return description;
    }

    static long capped(long initial, long max, int attempt) {
        int shift = Math.min(62, Math.max(0, attempt - 1));
        long d = initial > (Long.MAX_VALUE >> shift) ? Long.MAX_VALUE : initial << shift;
        return Math.min(max, d);
    }

    private static long saturatedMultiply(long a, long b) {
        long r = a * b;
        return (a != 0 && r / a != b) ? Long.MAX_VALUE : r;
    }

    private static long positiveMillis(String name, Duration d) {
        Objects.requireNonNull(d, name);
        if (d.toMillis() <= 0) {
            throw new IllegalArgumentException(name + " must be >= 1 ms, but was " + d);
        }
        return d.toMillis();
    }

    private static long atLeast(String name, Duration d, Duration min) {
        Objects.requireNonNull(d, name);
        if (d.compareTo(min) < 0) {
            throw new IllegalArgumentException(name + " must be >= initial (" + min + "), but was " + d);
        }
        return d.toMillis();
    }

    private interface Formula {
        long millis(int attempt, double random);
    }

    private static final class Stateless extends Backoff {
        private final Formula formula;

        Stateless(String description, Formula formula) {
            super(description);
            this.formula = formula;
        }

        @Override
        public Sequence newSequence(DoubleSupplier random) {
            return new CountingSequence(intervalFunction(random));
        }

        @Override
        public IntervalFunction intervalFunction(DoubleSupplier random) {
            Objects.requireNonNull(random, "random");
            return attempt -> formula.millis(attempt, random.getAsDouble());
        }
    }

    private static final class CountingSequence implements Sequence {
        private final IntervalFunction function;
        private int attempts;

        CountingSequence(IntervalFunction function) {
            this.function = function;
        }

        @Override
        public Duration next() {
            attempts++;
            return Duration.ofMillis(Math.max(0, function.apply(attempts)));
        }

        @Override
        public int attempts() {
            return attempts;
        }
    }
}
