package dev.keepalive.reconnect;

import java.time.Duration;
import java.util.Objects;

/**
 * What {@code send} does while the client is not connected: fail at once, or queue within bounds.
 */
public final class DisconnectedWrites {
    private static final DisconnectedWrites FAIL_FAST = new DisconnectedWrites(0, 0, Duration.ZERO);

    private final int maxMessages;
    private final long maxBytes;
    private final Duration maxQueueTime;

    private DisconnectedWrites(int maxMessages, long maxBytes, Duration maxQueueTime) {
        this.maxMessages = maxMessages;
        this.maxBytes = maxBytes;
        this.maxQueueTime = maxQueueTime;
    }

    /** Fail each send with {@link NotConnectedException} while not connected. */
    public static DisconnectedWrites failFast() {
        return FAIL_FAST;
    }

    /**
     * Queue sends while not connected, and write them in order after the on-connected hook. A send that would
     * exceed {@code maxMessages} or {@code maxBytes} fails with {@link WriteBufferFullException}; a message queued
     * longer than {@code maxQueueTime} fails with {@link WriteExpiredException}. The bounds include messages kept
     * for re-sending when acknowledgements are on.
     *
     * @throws IllegalArgumentException if a bound is not positive
     */
    public static DisconnectedWrites queue(int maxMessages, long maxBytes, Duration maxQueueTime) {
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
        return new DisconnectedWrites(maxMessages, maxBytes, maxQueueTime);
    }

    /** Whether sends are queued while disconnected ({@code false}: they fail fast). */
    public boolean queues() {
        return maxMessages > 0;
    }

    /** The most messages held while disconnected; 0 when failing fast. */
    public int maxMessages() {
        return maxMessages;
    }

    /** The most bytes held while disconnected. */
    public long maxBytes() {
        return maxBytes;
    }

    /** The longest a message waits for a connection before it fails. */
    public Duration maxQueueTime() {
        return maxQueueTime;
    }

    @Override
    public String toString() {
        return queues() ? "queue(maxMessages=" + maxMessages + ", maxBytes=" + maxBytes + ", maxQueueTime="
                + maxQueueTime + ')' : "failFast()";
    }
}
