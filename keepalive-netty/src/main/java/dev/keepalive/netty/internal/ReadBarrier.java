package dev.keepalive.netty.internal;

import dev.keepalive.Ticker;

import java.util.ArrayList;
import java.util.List;
import java.util.Objects;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.Future;

/**
 * Read confirmations of one connection ({@code KeepaliveHandler.confirmRead()}): each request completes with the pong
 * to a ping sent after it. TCP keeps order and the peer's handler answers a ping only after it has read everything
 * before it, so that pong proves the peer read everything written before the request.
 *
 * <p>Requests are coalesced: at most one barrier ping is in flight, and the next goes out only after its pong and
 * no sooner than {@code spacing} after the previous one, so a stream of requests costs at most one ping per spacing
 * (the spacing is kept above the peer's {@code minPeerPingInterval}, which closes a connection that pings more
 * often). Barrier pings carry ids with {@link #ID_BIT} set, apart from the liveness monitor's ids (which count up
 * from 1), and still within the 48 bits the WebSocket and HTTP/2 probes carry.
 *
 * <p>No I/O: the handler asks {@link #shouldSend(long)}, sends ping {@link #nextId()} and reports it with
 * {@link #sent}, or arms a timer for {@link #sendAt()}. Not thread-safe: the channel's event loop makes every call.
 */
public final class ReadBarrier {
    /** Set in every barrier ping id. */
    public static final long ID_BIT = 1L << 46;

    private final Ticker ticker;
    private final long spacingNanos;
    private List<CompletableFuture<Void>> waiting = new ArrayList<>();
    private List<CompletableFuture<Void>> inFlight = new ArrayList<>();
    private long inFlightId;
    private boolean pingInFlight;
    private boolean sentAny;
    private long lastSentAt;
    private long seq;
    private long pingsSent;
    /** The transport's wake-up for {@link #sendAt()}, kept here by the handler (one field less per connection). */
    private Future<?> timer;

    /** Barrier pings at least {@code spacingNanos} apart. */
    public ReadBarrier(Ticker ticker, long spacingNanos) {
        this.ticker = Objects.requireNonNull(ticker, "ticker");
        this.spacingNanos = Math.max(0, spacingNanos);
    }

    /** The transport's pending wake-up for {@link #sendAt()}, or {@code null}. */
    public Future<?> timer() {
        return timer;
    }

    /** Records the transport's pending wake-up ({@code null}: none). */
    public void timer(Future<?> timer) {
        this.timer = timer;
    }

    /** Cancels the transport's pending wake-up, if any. */
    public void cancelTimer() {
        if (timer != null) {
            timer.cancel(false);
            timer = null;
        }
    }

    /** A new request, completed by the pong of the next barrier ping sent. */
    public void add(CompletableFuture<Void> request) {
        waiting.add(request);
    }

    /** Whether a barrier ping should go out at {@code now}. */
    public boolean shouldSend(long now) {
        return !waiting.isEmpty() && !pingInFlight && (!sentAny || now - lastSentAt >= spacingNanos);
    }

    /** Whether requests wait for a ping that cannot go out yet (arm a timer for {@link #sendAt()}). */
    public boolean mustWait() {
        return !waiting.isEmpty() && !pingInFlight;
    }

    /** When the next barrier ping may go out; valid while {@link #mustWait()}. */
    public long sendAt() {
        return sentAny ? lastSentAt + spacingNanos : ticker.nanoTime();
    }

    /** The id for the next barrier ping. */
    public long nextId() {
        return ID_BIT | ((seq + 1) & (ID_BIT - 1));
    }

    /** Barrier ping {@code id} went out: the waiting requests now wait for its pong. */
    public void sent(long id) {
        seq++;
        pingsSent++;
        inFlightId = id;
        pingInFlight = true;
        sentAny = true;
        lastSentAt = ticker.nanoTime();
        List<CompletableFuture<Void>> swap = inFlight;
        inFlight = waiting;
        waiting = swap;
    }

    /** Whether {@code pingId} is a barrier ping's. */
    public static boolean isBarrierId(long pingId) {
        return (pingId & ID_BIT) != 0;
    }

    /**
     * A pong with a barrier id arrived: the requests of that ping complete. A stale or unknown id does nothing.
     *
     * @return whether it answered the ping in flight
     */
    public boolean onPong(long pingId) {
        if (!pingInFlight || pingId != inFlightId) {
            return false;
        }
        pingInFlight = false;
        List<CompletableFuture<Void>> done = inFlight;
        inFlight = new ArrayList<>();
        for (CompletableFuture<Void> f : done) {
            f.complete(null);
        }
        return true;
    }

    /** The connection ended: every request fails with {@code cause}. */
    public void failAll(Throwable cause) {
        List<CompletableFuture<Void>> a = waiting;
        List<CompletableFuture<Void>> b = inFlight;
        waiting = new ArrayList<>();
        inFlight = new ArrayList<>();
        pingInFlight = false;
        for (CompletableFuture<Void> f : b) {
            f.completeExceptionally(cause);
        }
        for (CompletableFuture<Void> f : a) {
            f.completeExceptionally(cause);
        }
    }

    /** Barrier pings sent. */
    public long pingsSent() {
        return pingsSent;
    }
}
