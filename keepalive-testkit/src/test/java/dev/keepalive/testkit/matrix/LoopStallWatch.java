package dev.keepalive.testkit.matrix;

import io.netty.channel.EventLoop;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicLong;

/**
 * Measures, independently of the library, how long an event loop was stuck: a task due every
 * {@value #PERIOD_MILLIS} ms on the loop adds up how late it ran, when at least {@value #THRESHOLD_MILLIS} ms (the
 * library's own threshold for a stall). The handler's silence verdicts wait that much longer by design (a node that
 * is itself slow does not trust its judgement of others), so a test that times a verdict adds what this saw.
 */
final class LoopStallWatch implements AutoCloseable {
    static final long PERIOD_MILLIS = 5;
    static final long THRESHOLD_MILLIS = 10;

    private final EventLoop loop;
    private final AtomicLong stalledNanos = new AtomicLong();
    private final AtomicLong worstNanos = new AtomicLong();
    private volatile boolean closed;
    private long dueAt;

    private LoopStallWatch(EventLoop loop) {
        this.loop = loop;
    }

    /** Starts watching {@code loop}. */
    static LoopStallWatch start(EventLoop loop) {
        LoopStallWatch w = new LoopStallWatch(loop);
        loop.execute(w::arm);
        return w;
    }

    private void arm() {
        if (closed) {
            return;
        }
        dueAt = System.nanoTime() + TimeUnit.MILLISECONDS.toNanos(PERIOD_MILLIS);
        loop.schedule(this::tick, PERIOD_MILLIS, TimeUnit.MILLISECONDS);
    }

    private void tick() {
        long late = System.nanoTime() - dueAt;
        if (late >= TimeUnit.MILLISECONDS.toNanos(THRESHOLD_MILLIS)) {
            stalledNanos.addAndGet(late);
            worstNanos.accumulateAndGet(late, Math::max);
        }
        arm();
    }

    /** The total time the loop was seen stuck since the start, in milliseconds. */
    long stalledMillis() {
        return TimeUnit.NANOSECONDS.toMillis(stalledNanos.get());
    }

    /** The longest single stall seen, in milliseconds. */
    long worstMillis() {
        return TimeUnit.NANOSECONDS.toMillis(worstNanos.get());
    }

    @Override
    public void close() {
        closed = true;
    }

    @Override
    public String toString() {
        return "loop stalled " + stalledMillis() + " ms in all (worst " + worstMillis() + " ms)";
    }
}
