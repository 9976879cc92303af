package dev.keepalive.testsupport;

import dev.keepalive.ManualTicker;
import io.netty.channel.embedded.EmbeddedChannel;

import java.time.Duration;
import java.util.concurrent.TimeUnit;

/**
 * Moves an {@link EmbeddedChannel}'s frozen clock and a {@link ManualTicker} together, running each scheduled task
 * exactly at its deadline, so that handler timing can be asserted to the nanosecond.
 */
public final class EmbeddedTime {
    private static final int MAX_STEPS = 1_000_000;
    private final ManualTicker ticker;
    private final EmbeddedChannel channel;

    public EmbeddedTime(ManualTicker ticker, EmbeddedChannel channel) {
        this.ticker = ticker;
        this.channel = channel;
        channel.freezeTime();
    }

    /** Advances by {@code d}, running every task that falls due on the way at its own time. */
    public void advance(Duration d) {
        long remaining = d.toNanos();
        channel.runPendingTasks();
        for (int i = 0; i < MAX_STEPS; i++) {
            long next = channel.runScheduledPendingTasks();
            if (remaining <= 0) {
                return;
            }
            long step = next < 0 ? remaining : Math.min(Math.max(next, 1), remaining);
            ticker.advanceNanos(step);
            channel.advanceTimeBy(step, TimeUnit.NANOSECONDS);
            remaining -= step;
        }
        throw new AssertionError("more than " + MAX_STEPS + " timer steps in " + d);
    }

    public long now() {
        return ticker.nanoTime();
    }
}
