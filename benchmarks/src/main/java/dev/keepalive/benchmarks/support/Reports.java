package dev.keepalive.benchmarks.support;

import java.nio.file.Path;
import java.util.Arrays;
import java.util.Locale;

/**
 * Where the benchmarks write their plots, and the small statistics they print.
 *
 * <p>Plots go to {@code benchmarks/results} under the working directory (the project root, where the documented
 * commands run), or to the directory in the system property {@code keepalive.benchmarks.out}.
 */
public final class Reports {
    /** The system property naming the directory for plots. */
    public static final String OUTPUT_PROPERTY = "keepalive.benchmarks.out";

    private Reports() {
    }

    /** A file in the output directory. */
    public static Path file(String name) {
        return Path.of(System.getProperty(OUTPUT_PROPERTY, "benchmarks/results")).resolve(name);
    }

    /** The value at quantile {@code q} (0..1) of ascending {@code sorted}, nearest rank; 0 when empty. */
    public static long quantile(long[] sorted, double q) {
        if (sorted.length == 0) {
            return 0;
        }
        return sorted[Math.max(0, Math.min(sorted.length - 1, (int) Math.ceil(q * sorted.length) - 1))];
    }

    /** "p50 … p99 … max …" of nanosecond samples, in milliseconds. */
    public static String millisSummary(long[] nanos) {
        long[] sorted = nanos.clone();
        Arrays.sort(sorted);
        if (sorted.length == 0) {
            return "none";
        }
        return String.format(Locale.ROOT, "p50 %8.1f ms  p99 %8.1f ms  max %8.1f ms", quantile(sorted, 0.5) / 1e6,
                quantile(sorted, 0.99) / 1e6, sorted[sorted.length - 1] / 1e6);
    }

    /**
     * Counts of {@code times} per bucket of {@code bucketNanos}, from {@code origin} for {@code buckets} buckets;
     * times outside are ignored.
     */
    public static int[] histogram(long[] times, long origin, long bucketNanos, int buckets) {
        int[] counts = new int[buckets];
        for (long t : times) {
            long i = Math.floorDiv(t - origin, bucketNanos);
            if (i >= 0 && i < buckets) {
                counts[(int) i]++;
            }
        }
        return counts;
    }

    /** {@code 0, step, 2 step, …} ({@code n} values): the x axis of a histogram. */
    public static double[] axis(int n, double step) {
        double[] x = new double[n];
        for (int i = 0; i < n; i++) {
            x[i] = i * step;
        }
        return x;
    }

    /** {@code counts} as doubles. */
    public static double[] doubles(int[] counts) {
        return Arrays.stream(counts).asDoubleStream().toArray();
    }

    /** Sums of {@code factor} consecutive counts: a histogram with buckets {@code factor} times wider. */
    public static int[] rebin(int[] counts, int factor) {
        if (factor < 1) {
            throw new IllegalArgumentException("factor must be >= 1, but was " + factor);
        }
        int[] wide = new int[(counts.length + factor - 1) / factor];
        for (int i = 0; i < counts.length; i++) {
            wide[i / factor] += counts[i];
        }
        return wide;
    }

    /** The largest sum of {@code width} consecutive counts (a sliding window); the total if there are fewer. */
    public static long slidingMax(int[] counts, int width) {
        long sum = 0;
        long max = 0;
        for (int i = 0; i < counts.length; i++) {
            sum += counts[i];
            if (i >= width) {
                sum -= counts[i - width];
            }
            max = Math.max(max, sum);
        }
        return max;
    }

    /** The largest count; 0 when empty. */
    public static int max(int[] counts) {
        return Arrays.stream(counts).max().orElse(0);
    }

    /** The median of {@code values}: the mean of the two middle ones for an even count. */
    public static double median(double[] values) {
        double[] v = values.clone();
        Arrays.sort(v);
        return v.length % 2 == 1 ? v[v.length / 2] : (v[v.length / 2 - 1] + v[v.length / 2]) / 2;
    }

    /**
     * A distribution-free confidence interval of the median, of at least 95 % from six values on: the order
     * statistics of ranks {@code j} and {@code n + 1 - j}, for the largest {@code j} with
     * {@code P(Binomial(n, 1/2) < j) <= 2.5 %}; the extremes for fewer values.
     */
    public static double[] medianInterval(double[] values) {
        double[] v = values.clone();
        Arrays.sort(v);
        int n = v.length;
        int rank = 1;
        double term = Math.pow(0.5, n); // P(X = 0)
        double below = term; // P(X <= rank - 1)
        while (rank < n / 2) {
            term = term * (n - (rank - 1)) / rank;
            if (below + term > 0.025) {
                break;
            }
            below += term;
            rank++;
        }
        return new double[] {v[rank - 1], v[n - rank]};
    }

    /** "median [low-high]" of ratios: the median and its 95 % interval ({@link #medianInterval}). */
    public static String medianWithInterval(double[] ratios) {
        double[] ci = medianInterval(ratios);
        return String.format(Locale.ROOT, "%.3f [%.3f-%.3f]", median(ratios), ci[0], ci[1]);
    }

    /**
     * Whether ratios meet a lower bound: "met" or "MISSED" only when the whole 95 % interval of their median lies on
     * one side of it, "not resolved" otherwise.
     */
    public static String atLeast(double[] ratios, double target) {
        double[] ci = medianInterval(ratios);
        return ci[0] >= target ? "met" : ci[1] < target ? "MISSED"
                : "not resolved (the interval holds " + target + ")";
    }
}
