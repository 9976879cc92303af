package dev.keepalive;

import java.time.Duration;

/**
 * A {@link Ticker} that moves only when told to, for tests with exact deadlines. Not thread-safe beyond the
 * visibility of its value: advance it from the thread that owns the code under test.
 */
public final class ManualTicker implements Ticker {
    private volatile long nanos;

    /** Starts at {@code startNanos}; any value works, including ones close to {@link Long#MAX_VALUE}. */
    public ManualTicker(long startNanos) {
        this.nanos = startNanos;
    }

    /** Starts at zero. */
    public ManualTicker() {
        this(0);
    }

    @Override
    public long nanoTime() {
        return nanos;
    }

    /** Moves time forward by {@code d} (wrapping like {@link System#nanoTime()}) and returns the new value. */
    public long advance(Duration d) {
        return advanceNanos(d.toNanos());
    }

    /** Moves time forward by {@code n} nanoseconds and returns the new value. */
    public long advanceNanos(long n) {
        if (n < 0) {
            throw new IllegalArgumentException("time moves forward only, but advance was " + n + " ns");
        }
        nanos += n;
        return nanos;
    }

    /** Sets the time to {@code value}, which must not be earlier than now (wrap-safe). */
    public void set(long value) {
        advanceNanos(value - nanos);
    }
}
