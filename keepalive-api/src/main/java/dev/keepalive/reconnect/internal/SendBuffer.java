package dev.keepalive.reconnect.internal;

import dev.keepalive.Ticker;
import dev.keepalive.reconnect.DisconnectedWrites;
import dev.keepalive.reconnect.WriteBufferFullException;
import dev.keepalive.reconnect.WriteExpiredException;

import java.time.Duration;
import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.Iterator;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Objects;
import java.util.concurrent.CompletableFuture;
import java.util.function.Consumer;

/**
 * The sends a reconnecting client holds: those queued for a connection, and those written but not yet confirmed
 * (read by the peer) or acknowledged. It decides what fits the bounds, what expires, what completes, and what is
 * re-sent or failed when a connection is lost. No I/O: the transport writes what {@link #poll()} gives, reports
 * writes, confirmations, acknowledgements and losses, and arms one timer for {@link #deadline()}.
 *
 * <h2>Bounds</h2>
 * Every held send counts against {@link DisconnectedWrites#maxMessages()} and {@link DisconnectedWrites#maxBytes()}:
 * queued and in flight together. A queued send fails with {@link WriteExpiredException} once it has waited
 * {@link DisconnectedWrites#maxQueueTime()} (from the send, or from the loss of the connection it was written on when
 * it is re-queued); a send in flight fails the same way once it has waited {@code ackTimeout} since it was written.
 *
 * <p>Messages are released through the given function whenever the buffer lets go of them (completed or failed).
 * Not thread-safe: one owner thread makes every call.
 */
public final class SendBuffer {

    /** One held send. */
    public static final class Entry {
        final Object msg;
        final CompletableFuture<Void> future;
        final long size;
        long since;
        long key = -1;

        Entry(Object msg, CompletableFuture<Void> future, long size, long since) {
            this.msg = msg;
            this.future = future;
            this.size = size;
            this.since = since;
        }

        /** The message. */
        public Object message() {
            return msg;
        }

        /** The send's future. */
        public CompletableFuture<Void> future() {
            return future;
        }

        /** Its size in bytes, as counted against the bounds. */
        public long size() {
            return size;
        }
    }

    private final DisconnectedWrites bounds;
    private final long maxQueueNanos;
    private final long ackTimeoutNanos;
    private final Duration ackTimeout;
    private final Ticker ticker;
    private final Consumer<Object> release;
    private final ArrayDeque<Entry> queue = new ArrayDeque<>();
    /** Written, awaiting confirmation or acknowledgement; insertion (write) order. */
    private final LinkedHashMap<Long, Entry> inFlight = new LinkedHashMap<>();
    private long bytes;
    private long nextSeq = 1;

    /** A buffer within {@code bounds}, failing sends unconfirmed {@code ackTimeout} after their write. */
    public SendBuffer(DisconnectedWrites bounds, Duration ackTimeout, Ticker ticker, Consumer<Object> release) {
        this.bounds = Objects.requireNonNull(bounds, "bounds");
        this.maxQueueNanos = bounds.maxQueueTime().toNanos();
        this.ackTimeout = Objects.requireNonNull(ackTimeout, "ackTimeout");
        this.ackTimeoutNanos = ackTimeout.toNanos();
        this.ticker = Objects.requireNonNull(ticker, "ticker");
        this.release = Objects.requireNonNull(release, "release");
    }

    /**
     * A new send of {@code size} bytes, if it fits the bounds; otherwise fails {@code future} with
     * {@link WriteBufferFullException} naming the bound, releases {@code msg} and returns {@code null}. The entry is
     * not held yet: {@link #enqueue} or {@link #written} it.
     */
    public Entry admit(Object msg, long size, CompletableFuture<Void> future) {
        int messages = queue.size() + inFlight.size();
        if (messages + 1 > bounds.maxMessages()) {
            fail(msg, future, new WriteBufferFullException(WriteBufferFullException.Bound.MESSAGES, "the client holds "
                    + messages + " messages (queued " + queue.size() + ", unconfirmed " + inFlight.size()
                    + "), the maximum (maxMessages " + bounds.maxMessages() + ")"));
            return null;
        }
        if (bytes + size > bounds.maxBytes()) {
            fail(msg, future, new WriteBufferFullException(WriteBufferFullException.Bound.BYTES, "the client holds "
                    + bytes + " bytes and this message has " + size + " (maxBytes " + bounds.maxBytes() + ")"));
            return null;
        }
        return new Entry(msg, future, size, ticker.nanoTime());
    }

    /** Queues an admitted entry for the next connection. */
    public void enqueue(Entry e) {
        e.since = ticker.nanoTime();
        queue.add(e);
        bytes += e.size;
    }

    /** The next queued entry to write, in order, or {@code null}; it is no longer held until {@link #written}. */
    public Entry poll() {
        Entry e = queue.poll();
        if (e != null) {
            bytes -= e.size;
        }
        return e;
    }

    /** A fresh sequence number for a send tracked by confirmation; increasing, so confirmations cover prefixes. */
    public long nextSequence() {
        return nextSeq++;
    }

    /**
     * The entry was written under {@code key} (its sequence number, or its acknowledgement id) and is held until
     * {@link #confirmUpTo} or {@link #acknowledged}. An entry held under the same key is failed: a newer message
     * took its id.
     */
    public void written(Entry e, long key) {
        e.key = key;
        e.since = ticker.nanoTime();
        Entry previous = inFlight.remove(key);
        if (previous != null && previous != e) {
            bytes -= previous.size;
            fail(previous, new IllegalStateException("a newer message was sent with the same id " + key));
        }
        inFlight.put(key, e);
        bytes += e.size;
    }

    /** The peer read everything written up to sequence {@code seq}: those sends succeed. */
    public int confirmUpTo(long seq) {
        int done = 0;
        for (Iterator<Entry> it = inFlight.values().iterator(); it.hasNext(); ) {
            Entry e = it.next();
            if (e.key > seq) {
                break;
            }
            it.remove();
            bytes -= e.size;
            release.accept(e.msg);
            e.future.complete(null);
            done++;
        }
        return done;
    }

    /** The peer acknowledged id {@code id}. @return {@code true} if a held send had it */
    public boolean acknowledged(long id) {
        Entry e = inFlight.remove(id);
        if (e == null) {
            return false;
        }
        bytes -= e.size;
        release.accept(e.msg);
        e.future.complete(null);
        return true;
    }

    /** The write of the send held under {@code key} failed: it fails with {@code cause}. */
    public void writeFailed(long key, Throwable cause) {
        Entry e = inFlight.remove(key);
        if (e != null) {
            bytes -= e.size;
            fail(e, cause);
        }
    }

    /**
     * The connection the sends in flight were written on is gone. With {@code resend} they go back to the front of
     * the queue in their order (their queue time counts from now); otherwise they fail with {@code cause}.
     *
     * @return how many were re-queued or failed
     */
    public int connectionLost(boolean resend, Throwable cause) {
        int n = inFlight.size();
        if (n == 0) {
            return 0;
        }
        List<Entry> inOrder = new ArrayList<>(inFlight.values());
        inFlight.clear();
        long now = ticker.nanoTime();
        for (int i = inOrder.size() - 1; i >= 0; i--) {
            Entry e = inOrder.get(i);
            if (resend) {
                e.since = now;
                e.key = -1;
                queue.addFirst(e);
            } else {
                bytes -= e.size;
                fail(e, cause);
            }
        }
        return n;
    }

    /**
     * Fails what waited too long, at {@code now}. Early or extra calls do nothing.
     *
     * @param failUnconfirmed whether a send in flight past {@code ackTimeout} fails; when {@code false} it stays
     *                        held, and the transport drops the connection (the sends are then re-sent or failed by
     *                        {@link #connectionLost})
     * @return whether a send in flight is past {@code ackTimeout} and still held
     */
    public boolean onTimer(long now, boolean failUnconfirmed) {
        for (int i = queue.size(); i > 0 && !queue.isEmpty() && now - queue.peek().since >= maxQueueNanos; i--) {
            Entry e = queue.poll();
            bytes -= e.size;
            fail(e, new WriteExpiredException("the message waited " + Duration.ofNanos(now - e.since).toMillis()
                    + " ms for a connection, longer than maxQueueTime " + bounds.maxQueueTime()));
        }
        for (Iterator<Entry> it = inFlight.values().iterator(); it.hasNext(); ) {
            Entry e = it.next();
            if (now - e.since < ackTimeoutNanos) {
                break;
            }
            if (!failUnconfirmed) {
                return true;
            }
            it.remove();
            bytes -= e.size;
            fail(e, new WriteExpiredException("the message was written " + Duration.ofNanos(now - e.since).toMillis()
                    + " ms ago and not confirmed or acknowledged since, longer than ackTimeout " + ackTimeout));
        }
        return false;
    }

    /** Fails everything held with {@code cause}. */
    public void failAll(Throwable cause) {
        for (Entry e = queue.poll(); e != null; e = queue.poll()) {
            fail(e, cause);
        }
        for (Iterator<Entry> it = inFlight.values().iterator(); it.hasNext(); ) {
            Entry e = it.next();
            it.remove();
            fail(e, cause);
        }
        bytes = 0;
    }

    /** Fails a send that was never held (refused), releasing its message. */
    public void fail(Entry e, Throwable cause) {
        fail(e.msg, e.future, cause);
    }

    private void fail(Object msg, CompletableFuture<Void> future, Throwable cause) {
        release.accept(msg);
        future.completeExceptionally(cause);
    }

    /** Whether a timer is needed. */
    public boolean hasDeadline() {
        return !queue.isEmpty() || !inFlight.isEmpty();
    }

    /**
     * When the oldest held send expires, in ticker nanoseconds; valid while {@link #hasDeadline()}. (A send in flight
     * kept past its timeout by {@code onTimer(now, false)} keeps its deadline until the connection is dropped.)
     */
    public long deadline() {
        long d = 0;
        boolean any = false;
        if (!queue.isEmpty()) {
            d = queue.peek().since + maxQueueNanos;
            any = true;
        }
        if (!inFlight.isEmpty()) {
            long f = inFlight.values().iterator().next().since + ackTimeoutNanos;
            d = !any || f - d < 0 ? f : d;
        }
        return d;
    }

    /** Whether anything is queued for a connection. */
    public boolean hasQueued() {
        return !queue.isEmpty();
    }

    /** Sends held: queued plus in flight. */
    public int messages() {
        return queue.size() + inFlight.size();
    }

    /** Sends in flight (written, unconfirmed). */
    public int inFlight() {
        return inFlight.size();
    }

    /** Bytes held: queued plus in flight. */
    public long bytes() {
        return bytes;
    }
}
