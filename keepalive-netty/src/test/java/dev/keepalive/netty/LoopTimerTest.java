package dev.keepalive.netty;

import io.netty.channel.DefaultEventLoop;
import io.netty.channel.EventLoop;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

import java.util.ArrayList;
import java.util.List;
import java.util.Random;
import java.util.concurrent.Callable;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertSame;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** The event loop's shared timer: entries fire once, never before their time, in order; moves and cancels hold. */
class LoopTimerTest {
    private final EventLoop loop = new DefaultEventLoop();

    @AfterEach
    void shutDown() throws Exception {
        loop.shutdownGracefully(0, 1, TimeUnit.SECONDS).sync();
    }

    /** An entry recording when it fired. */
    private static final class Recorder extends LoopTimer.Entry {
        final long due;
        final List<Long> firedAt = new ArrayList<>();
        final CountDownLatch fired;
        final List<Recorder> order;

        Recorder(long due, CountDownLatch fired, List<Recorder> order) {
            this.due = due;
            this.fired = fired;
            this.order = order;
        }

        @Override
        void fire() {
            firedAt.add(System.nanoTime());
            order.add(this);
            fired.countDown();
        }
    }

    private <T> T onLoop(Callable<T> task) throws Exception {
        return loop.submit(task).get(5, TimeUnit.SECONDS);
    }

    @Test
    void everyEntryFiresOnceNeverBeforeItsTimeAndInTimeOrder() throws Exception {
        int n = 5_000;
        CountDownLatch fired = new CountDownLatch(n);
        List<Recorder> order = new ArrayList<>();
        List<Recorder> entries = onLoop(() -> {
            LoopTimer timer = LoopTimer.of(loop);
            Random random = new Random(42);
            long now = System.nanoTime();
            long tick = TimeUnit.MILLISECONDS.toNanos(2);
            List<Recorder> list = new ArrayList<>();
            for (int i = 0; i < n; i++) {
                // few distinct times (shared ticks), as the handlers' rounded fire times are
                long due = now + tick * (1 + random.nextInt(100));
                Recorder r = new Recorder(due, fired, order);
                timer.arm(r, due, now);
                list.add(r);
            }
            return list;
        });
        assertTrue(fired.await(5, TimeUnit.SECONDS), "every entry fired");
        onLoop(() -> null); // order is filled on the loop
        long previousDue = order.get(0).due;
        for (Recorder r : order) {
            assertTrue(r.due - previousDue >= 0, "entries fire in the order of their times");
            previousDue = r.due;
        }
        for (Recorder r : entries) {
            assertEquals(1, r.firedAt.size(), "fired exactly once");
            assertTrue(r.firedAt.get(0) - r.due >= 0, "never before its time");
            assertFalse(r.isArmed());
        }
        assertEquals(0, (int) onLoop(() -> LoopTimer.of(loop).bucketCount()), "no bucket left behind");
    }

    @Test
    void aMovedEntryFiresAtItsNewTimeOnlyAndACancelledOneNever() throws Exception {
        CountDownLatch fired = new CountDownLatch(2);
        List<Recorder> order = new ArrayList<>();
        long[] times = new long[2];
        Recorder[] r = onLoop(() -> {
            LoopTimer timer = LoopTimer.of(loop);
            long now = System.nanoTime();
            Recorder moved = new Recorder(0, fired, order);
            Recorder cancelled = new Recorder(0, fired, order);
            Recorder marker = new Recorder(0, fired, order);
            timer.arm(moved, now + TimeUnit.MILLISECONDS.toNanos(20), now);
            timer.arm(cancelled, now + TimeUnit.MILLISECONDS.toNanos(20), now);
            times[0] = now + TimeUnit.MILLISECONDS.toNanos(60);
            timer.arm(moved, times[0], now); // later: the earlier bucket empties, its wake-up finds nothing
            timer.cancel(cancelled);
            times[1] = now + TimeUnit.MILLISECONDS.toNanos(80);
            timer.arm(marker, times[1], now);
            assertSame(timer, LoopTimer.of(loop));
            return new Recorder[] {moved, cancelled, marker};
        });
        assertTrue(fired.await(5, TimeUnit.SECONDS), "the moved entry and the marker fired");
        onLoop(() -> null);
        assertEquals(List.of(r[0], r[2]), order);
        assertTrue(r[0].firedAt.get(0) - times[0] >= 0, "the moved entry fired at its new time, not its old");
        assertTrue(r[1].firedAt.isEmpty(), "the cancelled entry never fired");
    }

    @Test
    void anEntryReArmedForATimeAlreadyDueRunsInALaterPassAfterOtherTasks() throws Exception {
        int rounds = 5;
        CountDownLatch done = new CountDownLatch(1);
        List<String> events = new ArrayList<>();
        onLoop(() -> {
            LoopTimer timer = LoopTimer.of(loop);
            LoopTimer.Entry entry = new LoopTimer.Entry() {
                int fired;

                @Override
                void fire() {
                    events.add("fire " + fired);
                    if (++fired < rounds) {
                        loop.execute(() -> events.add("task " + fired)); // stands for the loop's I/O pass
                        long now = System.nanoTime();
                        timer.arm(this, now, now); // due at once: a re-check after one more pass
                    } else {
                        done.countDown();
                    }
                }
            };
            long now = System.nanoTime();
            timer.arm(entry, now, now);
            return null;
        });
        assertTrue(done.await(5, TimeUnit.SECONDS));
        onLoop(() -> null);
        assertEquals(List.of("fire 0", "task 1", "fire 1", "task 2", "fire 2", "task 3", "fire 3", "task 4",
                "fire 4"), events);
    }

    @Test
    void anEntryMovedEarlierFiresAtTheEarlierTime() throws Exception {
        CountDownLatch fired = new CountDownLatch(1);
        List<Recorder> order = new ArrayList<>();
        long[] early = new long[1];
        Recorder r = onLoop(() -> {
            LoopTimer timer = LoopTimer.of(loop);
            long now = System.nanoTime();
            Recorder e = new Recorder(0, fired, order);
            timer.arm(e, now + TimeUnit.SECONDS.toNanos(30), now);
            early[0] = now + TimeUnit.MILLISECONDS.toNanos(10);
            timer.arm(e, early[0], now);
            return e;
        });
        assertTrue(fired.await(5, TimeUnit.SECONDS), "fired at the earlier time, not 30 s later");
        onLoop(() -> null);
        assertTrue(r.firedAt.get(0) - early[0] >= 0);
    }

    @Test
    void onlyTheLoopsOwnThreadGetsItsTimer() throws Exception {
        assertNull(LoopTimer.of(loop), "off the loop's thread: the caller schedules its own task");
        assertNotNull(onLoop(() -> LoopTimer.of(loop)));
        EventLoop other = new DefaultEventLoop();
        try {
            assertNull(onLoop(() -> LoopTimer.of(other)), "another executor asked from this thread");
        } finally {
            other.shutdownGracefully(0, 1, TimeUnit.SECONDS).sync();
        }
    }
}
