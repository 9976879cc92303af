package dev.keepalive.benchmarks.storm;

import dev.keepalive.benchmarks.support.Reports;
import dev.keepalive.reconnect.Backoff;

import java.util.Arrays;
import java.util.SplittableRandom;
import java.util.function.DoubleSupplier;

/**
 * What a backoff predicts for a storm, by Monte Carlo: each client starts a fresh {@link Backoff.Sequence} at its
 * own (measured) loss time, as {@code ReconnectingClient} does; an attempt before the new server listens is refused
 * after {@code refusal} nanoseconds and the next delay follows; the first attempt at or after {@code up} connects.
 * Repeated {@code runs} times with independent random draws, attempts counted per bucket.
 *
 * @param perBucket       mean attempts per bucket of the grid starting at the origin
 * @param perBucketFromUp mean attempts per bucket of the grid starting when the new server listens
 * @param attempts        mean attempts per run, in all
 * @param peaks           each run's largest bucket (origin grid), ascending
 * @param peaksFromUp     each run's largest bucket (grid from up), ascending
 * @param lastBack        each run's time from up until its last client connected, nanoseconds, ascending
 * @param backOneRun      one run's time from up until each client connected, nanoseconds, ascending
 */
public record StormExpectation(double[] perBucket, double[] perBucketFromUp, double attempts, long[] peaks,
                               long[] peaksFromUp, long[] lastBack, long[] backOneRun) {
    /** A client that has not connected after this many attempts is left out (never with a sane backoff). */
    private static final int MAX_ATTEMPTS = 100_000;

    /**
     * Simulates the storm.
     *
     * @param lossAt  each client's loss time (nanos)
     * @param up      when the new server listened (nanos)
     * @param refusal how long a refused attempt takes until the next delay starts (nanos)
     * @param origin  the first bucket's start (nanos)
     * @param bucket  bucket width (nanos)
     * @param buckets buckets per grid
     */
    public static StormExpectation simulate(Backoff backoff, long[] lossAt, long up, long refusal, long origin,
                                            long bucket, int buckets, int runs, long seed) {
        SplittableRandom random = new SplittableRandom(seed);
        DoubleSupplier uniform = random::nextDouble;
        double[] sum = new double[buckets];
        double[] sumFromUp = new double[buckets];
        long[] peaks = new long[runs];
        long[] peaksFromUp = new long[runs];
        long[] lastBack = new long[runs];
        long[] backOneRun = new long[lossAt.length];
        long attempts = 0;
        int[] counts = new int[buckets];
        int[] countsFromUp = new int[buckets];
        for (int run = 0; run < runs; run++) {
            Arrays.fill(counts, 0);
            Arrays.fill(countsFromUp, 0);
            long last = 0;
            for (int c = 0; c < lossAt.length; c++) {
                Backoff.Sequence delays = backoff.newSequence(uniform);
                long t = lossAt[c];
                for (int a = 0; a < MAX_ATTEMPTS; a++) {
                    t += delays.next().toNanos();
                    attempts++;
                    count(counts, t - origin, bucket);
                    count(countsFromUp, t - up, bucket);
                    if (t >= up) {
                        last = Math.max(last, t - up);
                        if (run == 0) {
                            backOneRun[c] = t - up;
                        }
                        break;
                    }
                    t += refusal;
                }
            }
            int peak = 0;
            int peakFromUp = 0;
            for (int b = 0; b < buckets; b++) {
                sum[b] += counts[b];
                sumFromUp[b] += countsFromUp[b];
                peak = Math.max(peak, counts[b]);
                peakFromUp = Math.max(peakFromUp, countsFromUp[b]);
            }
            peaks[run] = peak;
            peaksFromUp[run] = peakFromUp;
            lastBack[run] = last;
        }
        for (int b = 0; b < buckets; b++) {
            sum[b] /= runs;
            sumFromUp[b] /= runs;
        }
        Arrays.sort(peaks);
        Arrays.sort(peaksFromUp);
        Arrays.sort(lastBack);
        Arrays.sort(backOneRun);
        return new StormExpectation(sum, sumFromUp, attempts / (double) runs, peaks, peaksFromUp, lastBack,
                backOneRun);
    }

    private static void count(int[] counts, long sinceOrigin, long bucket) {
        long i = Math.floorDiv(sinceOrigin, bucket);
        if (i >= 0 && i < counts.length) {
            counts[(int) i]++;
        }
    }

    /** The largest mean bucket (origin grid): the expected peak. */
    public double peak() {
        return Arrays.stream(perBucket).max().orElse(0);
    }

    /** The largest mean bucket of the grid from up. */
    public double peakFromUp() {
        return Arrays.stream(perBucketFromUp).max().orElse(0);
    }

    /** The mean of the runs' times from up until the last client connected, nanoseconds. */
    public double meanLastBack() {
        return Arrays.stream(lastBack).average().orElse(0);
    }

    /** A quantile of the runs' times from up until the last client connected, nanoseconds. */
    public long lastBackQuantile(double q) {
        return Reports.quantile(lastBack, q);
    }
}
