package dev.keepalive.benchmarks.storm;

import dev.keepalive.reconnect.Backoff;
import io.github.resilience4j.core.IntervalFunction;

import java.time.Duration;
import java.util.Locale;

/**
 * A reconnect backoff named on the command line, so that the driver and its client processes build the same one:
 * <ul>
 *   <li>{@code default}: {@link Backoff#DEFAULT};</li>
 *   <li>{@code full:100ms:2s}: {@link Backoff#exponentialFullJitter};</li>
 *   <li>{@code equal:100ms:2s}: {@link Backoff#exponentialEqualJitter};</li>
 *   <li>{@code decorrelated:100ms:2s}: {@link Backoff#decorrelatedJitter};</li>
 *   <li>{@code fixed:1s} or {@code fixed:1s:0.5}: {@link Backoff#fixed} (no jitter, or that much);</li>
 *   <li>{@code exp:100ms:2s}: exponential (x2) from 100 ms capped at 2 s <em>without</em> jitter, resilience4j's
 *       {@link IntervalFunction#ofExponentialBackoff(Duration, double, Duration)}: what naive clients do.</li>
 * </ul>
 * Durations: {@code 250ms}, {@code 2s}, {@code 1.5s}, or bare milliseconds.
 *
 * @param spec     the text it was parsed from
 * @param backoff  the backoff
 * @param maxDelay the longest delay the backoff gives (found by asking it with the extreme random values)
 */
public record BackoffSpec(String spec, Backoff backoff, Duration maxDelay) {

    /** Parses {@code spec}; see the class comment. */
    public static BackoffSpec parse(String spec) {
        String[] p = spec.trim().toLowerCase(Locale.ROOT).split(":");
        Backoff b;
        try {
            switch (p[0]) {
                case "default":
                    b = Backoff.DEFAULT;
                    break;
                case "full":
                    b = Backoff.exponentialFullJitter(duration(p[1]), duration(p[2]));
                    break;
                case "equal":
                    b = Backoff.exponentialEqualJitter(duration(p[1]), duration(p[2]));
                    break;
                case "decorrelated":
                    b = Backoff.decorrelatedJitter(duration(p[1]), duration(p[2]));
                    break;
                case "fixed":
                    b = p.length > 2 ? Backoff.fixed(duration(p[1]), Double.parseDouble(p[2]))
                            : Backoff.fixed(duration(p[1]));
                    break;
                case "exp":
                    b = Backoff.of(IntervalFunction.ofExponentialBackoff(duration(p[1]), 2.0, duration(p[2])));
                    break;
                default:
                    throw new IllegalArgumentException("unknown kind " + p[0]);
            }
        } catch (ArrayIndexOutOfBoundsException | NumberFormatException e) {
            throw new IllegalArgumentException("bad backoff \"" + spec + "\": expected default, full:I:M, equal:I:M, "
                    + "decorrelated:I:M, fixed:D[:jitter] or exp:I:M", e);
        }
        return new BackoffSpec(spec.trim(), b, maxDelay(b));
    }

    /** Whether the delays are random (every kind but {@code exp} and {@code fixed} without jitter). */
    public boolean jittered() {
        long[] low = delays(backoff, 0.0, 16);
        long[] high = delays(backoff, Math.nextDown(1.0), 16);
        return !java.util.Arrays.equals(low, high);
    }

    /** A readable name: the backoff's own description, or for {@code exp} what it is. */
    public String describe() {
        return spec.startsWith("exp:") ? "exponential x2 " + spec.substring(4).replace(':', '-') + " without jitter"
                : backoff.toString();
    }

    @Override
    public String toString() {
        return describe();
    }

    private static Duration maxDelay(Backoff b) {
        long max = 0;
        for (double r : new double[] {0.0, 0.5, Math.nextDown(1.0)}) {
            for (long d : delays(b, r, 64)) {
                max = Math.max(max, d);
            }
        }
        return Duration.ofMillis(max);
    }

    private static long[] delays(Backoff b, double random, int n) {
        Backoff.Sequence s = b.newSequence(() -> random);
        long[] d = new long[n];
        for (int i = 0; i < n; i++) {
            d[i] = s.next().toMillis();
        }
        return d;
    }

    /** {@code 250ms}, {@code 2s}, {@code 1.5s} or bare milliseconds. */
    public static Duration duration(String text) {
        String t = text.trim().toLowerCase(Locale.ROOT);
        if (t.endsWith("ms")) {
            return Duration.ofMillis(Long.parseLong(t.substring(0, t.length() - 2)));
        }
        if (t.endsWith("s")) {
            return Duration.ofMillis(Math.round(Double.parseDouble(t.substring(0, t.length() - 1)) * 1000));
        }
        return Duration.ofMillis(Long.parseLong(t));
    }
}
