package dev.keepalive.netty;

import io.netty.channel.EventLoop;
import io.netty.util.collection.LongObjectHashMap;
import io.netty.util.concurrent.EventExecutor;
import io.netty.util.concurrent.FastThreadLocal;
import io.netty.util.concurrent.ScheduledFuture;

import java.util.Arrays;
import java.util.concurrent.TimeUnit;

/**
 * One timer per event loop for the keepalive handlers on it, instead of one Netty task per connection and arm.
 *
 * <p>The handlers' fire times are already rounded up to a shared tick (see {@link KeepaliveHandler#fireAt}), so the
 * connections of a loop have few distinct fire times. Each distinct time is a bucket: a list linking the handlers'
 * own {@link Entry entries} (no object per arm), found through a map by time, and the times are kept in a min-heap
 * of primitives. Arming, moving and cancelling a handler's timer are O(1) link operations, without allocation, and
 * the loop holds one Netty scheduled task, for the earliest bucket: one wake-up per fire time for all its
 * connections, not one task run (and heap removal) per connection.
 *
 * <p>A bucket is taken out of the map before its entries run, so an entry re-armed for a time already due (a
 * re-check after one more I/O pass) goes to a new bucket that runs in the loop's next pass, after its I/O, as a Netty
 * task with no delay would. Confined to its event loop's thread.
 */
final class LoopTimer implements Runnable {
    private static final FastThreadLocal<LoopTimer> TIMERS = new FastThreadLocal<>();

    /** A handler's place in a bucket: linked when armed, unlinked when it fired or was cancelled. */
    abstract static class Entry {
        private Entry next;
        private Entry prev;
        private Bucket bucket;

        /** Whether this entry is armed. */
        final boolean isArmed() {
            return bucket != null;
        }

        /** The time this entry fires at (meaningful while armed). */
        final long armedFor() {
            return bucket.time;
        }

        /** Runs when the entry's time has come; it is no longer armed then. */
        abstract void fire();
    }

    private static final class Bucket {
        final long time;
        Entry head;

        Bucket(long time) {
            this.time = time;
        }
    }

    private final EventLoop loop;
    private final LongObjectHashMap<Bucket> buckets = new LongObjectHashMap<>();
    /** Bucket times, a binary min-heap; a time whose bucket is gone (emptied, or run) is skipped when it surfaces. */
    private long[] heap = new long[64];
    private int heapSize;
    private ScheduledFuture<?> task;
    private long taskTime;
    private boolean running;

    private LoopTimer(EventLoop loop) {
        this.loop = loop;
    }

    /**
     * The timer of {@code executor}, called on its thread; {@code null} when the thread's timer belongs to another
     * executor (several embedded loops on one test thread) or the executor is not an event loop: the caller then
     * schedules on the executor itself.
     */
    static LoopTimer of(EventExecutor executor) {
        if (!(executor instanceof EventLoop) || !executor.inEventLoop()) {
            return null;
        }
        LoopTimer timer = TIMERS.get();
        if (timer == null) {
            timer = new LoopTimer((EventLoop) executor);
            TIMERS.set(timer);
        }
        return timer.loop == executor ? timer : null;
    }

    /** Arms {@code entry} for {@code time} (a {@link System#nanoTime()} value), moving it if it was armed. */
    void arm(Entry entry, long time, long now) {
        if (entry.bucket != null) {
            if (entry.bucket.time == time) {
                return;
            }
            unlink(entry);
        }
        Bucket b = buckets.get(time);
        if (b == null) {
            b = new Bucket(time);
            buckets.put(time, b);
            push(time);
            if (!running && (task == null || time - taskTime < 0)) {
                schedule(time, now);
            }
        }
        entry.bucket = b;
        entry.prev = null;
        entry.next = b.head;
        if (b.head != null) {
            b.head.prev = entry;
        }
        b.head = entry;
    }

    /** Disarms {@code entry}; nothing if it is not armed. */
    void cancel(Entry entry) {
        if (entry.bucket != null) {
            unlink(entry);
        }
    }

    private void unlink(Entry e) {
        Bucket b = e.bucket;
        if (e.prev != null) {
            e.prev.next = e.next;
        } else {
            b.head = e.next;
        }
        if (e.next != null) {
            e.next.prev = e.prev;
        }
        e.next = null;
        e.prev = null;
        e.bucket = null;
        if (b.head == null && buckets.get(b.time) == b) {
            buckets.remove(b.time); // its heap entry is skipped when it surfaces
        }
    }

    @Override
    public void run() {
        task = null;
        running = true;
        try {
            long now = System.nanoTime();
            // Take every due bucket out first: entries re-armed for a due time go to new buckets, run next pass.
            Bucket[] due = null;
            int count = 0;
            while (heapSize > 0 && heap[0] - now <= 0) {
                long time = pop();
                Bucket b = buckets.remove(time);
                if (b != null) {
                    if (due == null) {
                        due = new Bucket[4];
                    } else if (count == due.length) {
                        due = Arrays.copyOf(due, count * 2);
                    }
                    due[count++] = b;
                }
            }
            for (int i = 0; i < count; i++) {
                Bucket b = due[i];
                Entry e;
                while ((e = b.head) != null) {
                    unlink(e);
                    e.fire();
                }
            }
        } finally {
            running = false;
            scheduleEarliest(System.nanoTime());
        }
    }

    private void scheduleEarliest(long now) {
        while (heapSize > 0 && !buckets.containsKey(heap[0])) {
            pop();
        }
        if (heapSize > 0) {
            schedule(heap[0], now);
        } else if (task != null) {
            task.cancel(false);
            task = null;
        }
    }

    private void schedule(long time, long now) {
        if (task != null) {
            if (taskTime == time) {
                return;
            }
            task.cancel(false);
        }
        taskTime = time;
        task = loop.schedule(this, Math.max(0, time - now), TimeUnit.NANOSECONDS);
    }

    // ---- min-heap of times -----------------------------------------------------------------------------------

    private void push(long time) {
        if (heapSize == heap.length) {
            heap = Arrays.copyOf(heap, heapSize * 2);
        }
        int i = heapSize++;
        while (i > 0) {
            int parent = (i - 1) >>> 1;
            if (heap[parent] - time <= 0) {
                break;
            }
            heap[i] = heap[parent];
            i = parent;
        }
        heap[i] = time;
    }

    private long pop() {
        long top = heap[0];
        long last = heap[--heapSize];
        int i = 0;
        int half = heapSize >>> 1;
        while (i < half) {
            int child = 2 * i + 1;
            int right = child + 1;
            if (right < heapSize && heap[right] - heap[child] < 0) {
                child = right;
            }
            if (last - heap[child] <= 0) {
                break;
            }
            heap[i] = heap[child];
            i = child;
        }
        if (heapSize > 0) {
            heap[i] = last;
        }
        return top;
    }

    /** Armed entries' distinct times (for tests). */
    int bucketCount() {
        return buckets.size();
    }
}
