package dev.keepalive.testkit.internal;

import dev.keepalive.testkit.Direction;
import dev.keepalive.testkit.FlowCounters;
import java.util.concurrent.atomic.AtomicLong;

/**
 * Byte counters per direction, written by an event loop and read from any thread. One instance per flow direction
 * pair and one for a whole proxy.
 */
public final class FlowTotals {
    private final AtomicLong forwardedC2s = new AtomicLong();
    private final AtomicLong forwardedS2c = new AtomicLong();
    private final AtomicLong droppedC2s = new AtomicLong();
    private final AtomicLong droppedS2c = new AtomicLong();

    void addForwarded(Direction d, long n) {
        (d == Direction.CLIENT_TO_SERVER ? forwardedC2s : forwardedS2c).addAndGet(n);
    }

    void addDropped(Direction d, long n) {
        (d == Direction.CLIENT_TO_SERVER ? droppedC2s : droppedS2c).addAndGet(n);
    }

    /** @return a snapshot */
    public FlowCounters snapshot() {
        return new FlowCounters(forwardedC2s.get(), forwardedS2c.get(), droppedC2s.get(), droppedS2c.get());
    }
}
