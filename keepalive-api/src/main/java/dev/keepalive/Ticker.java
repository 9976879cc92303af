package dev.keepalive;

/**
 * A source of monotonic nanosecond time, injected into the liveness core so that tests can drive time by hand.
 *
 * <p>Values are only meaningful relative to each other and may wrap around {@link Long#MAX_VALUE}: compare them
 * with wrap-safe subtraction ({@code a - b < 0}), never with {@code a < b}.
 */
@FunctionalInterface
public interface Ticker {

    /** Returns the current value of this ticker in nanoseconds. */
    long nanoTime();

    /** The ticker backed by {@link System#nanoTime()}. */
    static Ticker system() {
        return SystemTicker.INSTANCE;
    }
}

final class SystemTicker implements Ticker {
    static final SystemTicker INSTANCE = new SystemTicker();

    private SystemTicker() {
    }

    @Override
    public long nanoTime() {
        return System.nanoTime();
    }

    @Override
    public String toString() {
        return "Ticker.system()";
    }
}
