package dev.keepalive.reconnect;

import java.time.Duration;
import java.util.Objects;

/**
 * What {@code send} does while the client is not connected (fail at once, or queue), and the bounds on every send
 * the client holds: queued for a connection, and written but not yet confirmed or acknowledged (kept for re-sending
 * or for completing its future).
 */
public final class DisconnectedWrites {
    /** Default {@code maxMessages} of {@link #failFast()}: 10,000 sends held unconfirmed. */
    public static final int DEFAULT_MAX_MESSAGES = 10_000;
    /** Default {@code maxBytes} of {@link #failFast()}: 16 MiB held unconfirmed. */
    public static final long DEFAULT_MAX_BYTES = 16L << 20;
    /** Default {@code maxQueueTime} of {@link #failFast()}: 30 s for a send kept for re-sending to go out again. */
    public static final Duration DEFAULT_MAX_QUEUE_TIME = Duration.ofSeconds(30);

    private static final DisconnectedWrites FAIL_FAST =
            new DisconnectedWrites(false, DEFAULT_MAX_MESSAGES, DEFAULT_MAX_BYTES, DEFAULT_MAX_QUEUE_TIME);

    private final boolean queues;
    private final int maxMessages;
    private final long maxBytes;
    private final Duration maxQueueTime;

    private DisconnectedWrites(boolean queues, int maxMessages, long maxBytes, Duration maxQueueTime) {
        this.queues = queues;
        this.maxMessages = maxMessages;
        this.maxBytes = maxBytes;
        this.maxQueueTime = maxQueueTime;
    }

    /**
     * Fail each new send with {@link NotConnectedException} while not connected. Sends the client holds (written
     * but unconfirmed or unacknowledged, and those kept for re-sending) are bounded by {@link #DEFAULT_MAX_MESSAGES},
     * {@link #DEFAULT_MAX_BYTES} and {@link #DEFAULT_MAX_QUEUE_TIME}.
     */
    public static DisconnectedWrites failFast() {
        return FAIL_FAST;
    }

    /**
     * Fail each new send with {@link NotConnectedException} while not connected, with these bounds on the sends the
     * client holds (written but unconfirmed or unacknowledged, and those kept for re-sending).
     *
     * @throws IllegalArgumentException if a bound is not positive
     */
    public static DisconnectedWrites failFast(int maxMessages, long maxBytes, Duration maxQueueTime) {
        validate(maxMessages, maxBytes, maxQueueTime);
        return new DisconnectedWrites(false, maxMessages, maxBytes, maxQueueTime);
    }

    /**
     * Queue sends while not connected, and write them in order after the connection is proven. A send that would
     * make the client hold more than {@code maxMessages} or {@code maxBytes} (queued, plus written but not yet
     * confirmed or acknowledged) fails with {@link WriteBufferFullException}; a message waiting for a connection
     * longer than {@code maxQueueTime} (counted from the send, or from the loss of the connection it was written
     * on, when it is kept for re-sending) fails with {@link WriteExpiredException}.
     *
     * @throws IllegalArgumentException if a bound is not positive
     */
    public static DisconnectedWrites queue(int maxMessages, long maxBytes, Duration maxQueueTime) {
        validate(maxMessages, maxBytes, maxQueueTime);
        return new DisconnectedWrites(true, maxMessages, maxBytes, maxQueueTime);
    }

    private static void validate(int maxMessages, long maxBytes, Duration maxQueueTime) {
        if (maxMessages < 1) {
            throw new IllegalArgumentException("maxMessages must be >= 1, but was " + maxMessages);
        }
        if (maxBytes < 1) {
            throw new IllegalArgumentException("maxBytes must be >= 1, but was " + maxBytes);
        }
        Objects.requireNonNull(maxQueueTime, "maxQueueTime");
        if (maxQueueTime.toMillis() < 1) {
            throw new IllegalArgumentException("maxQueueTime must be >= 1 ms, but was " + maxQueueTime);
        }
    }

    /** Whether new sends are queued while disconnected ({@code false}: they fail fast). */
    public boolean queues() {
        return queues;
    }

    /** The most sends the client holds at once: queued, and written but not confirmed or acknowledged. */
    public int maxMessages() {
        return maxMessages;
    }

    /** The most bytes the client holds at once, counted as {@link #maxMessages()}. */
    public long maxBytes() {
        return maxBytes;
    }

    /** The longest a send waits for a connection (fresh, or kept for re-sending) before it fails. */
    public Duration maxQueueTime() {
        return maxQueueTime;
    }

    @Override
    public String toString() {
        return (queues ? "queue" : "failFast") + "(maxMessages=" + maxMessages + ", maxBytes=" + maxBytes
                + ", maxQueueTime=" + maxQueueTime + ')';
    }
}
