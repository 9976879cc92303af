package dev.keepalive.session;

import java.time.Duration;
import java.util.Objects;

/**
 * The settings of a resumable session, immutable and validated when built.
 *
 * <table>
 *   <caption>Settings</caption>
 *   <tr><th>setting</th><th>default</th><th>meaning</th></tr>
 *   <tr><td>{@link Builder#maxUnackedMessages maxUnackedMessages}</td><td>{@value #DEFAULT_MAX_UNACKED_MESSAGES}</td>
 *       <td>messages written and not yet acknowledged by the peer, kept for a resume; a write past it fails with
 *       {@link SessionBufferFullException}</td></tr>
 *   <tr><td>{@link Builder#maxUnackedBytes maxUnackedBytes}</td><td>16 MiB</td><td>the same, in payload bytes</td></tr>
 *   <tr><td>{@link Builder#ackInterval ackInterval}</td><td>20 ms</td><td>a standalone acknowledgement goes out at most
 *       once per interval when no data carries one</td></tr>
 *   <tr><td>{@link Builder#detachedTimeout detachedTimeout}</td><td>2 min</td><td>how long a server keeps a session
 *       whose connection is gone, for the client to resume it</td></tr>
 * </table>
 * The channel turns unwritable while the buffer holds more than three quarters of either bound, and writable again
 * below half of both.
 */
public final class SessionSettings {
    /** Default {@link #maxUnackedMessages()}. */
    public static final int DEFAULT_MAX_UNACKED_MESSAGES = 10_000;
    /** Default {@link #maxUnackedBytes()}: 16 MiB. */
    public static final long DEFAULT_MAX_UNACKED_BYTES = 16L << 20;
    /** Default {@link #ackInterval()}: 20 ms. */
    public static final Duration DEFAULT_ACK_INTERVAL = Duration.ofMillis(20);
    /** Default {@link #detachedTimeout()}: 2 minutes. */
    public static final Duration DEFAULT_DETACHED_TIMEOUT = Duration.ofMinutes(2);

    private static final SessionSettings DEFAULTS = builder().build();

    private final int maxUnackedMessages;
    private final long maxUnackedBytes;
    private final Duration ackInterval;
    private final Duration detachedTimeout;

    private SessionSettings(Builder b) {
        this.maxUnackedMessages = b.maxUnackedMessages;
        this.maxUnackedBytes = b.maxUnackedBytes;
        this.ackInterval = b.ackInterval;
        this.detachedTimeout = b.detachedTimeout;
    }

    /** The defaults. */
    public static SessionSettings defaults() {
        return DEFAULTS;
    }

    /** A builder starting from the defaults. */
    public static Builder builder() {
        return new Builder();
    }

    /** A builder starting from these settings. */
    public Builder toBuilder() {
        return new Builder().maxUnackedMessages(maxUnackedMessages).maxUnackedBytes(maxUnackedBytes)
                .ackInterval(ackInterval).detachedTimeout(detachedTimeout);
    }

    /** Messages kept unacknowledged at most. */
    public int maxUnackedMessages() {
        return maxUnackedMessages;
    }

    /** Payload bytes kept unacknowledged at most. */
    public long maxUnackedBytes() {
        return maxUnackedBytes;
    }

    /** The least time between two standalone acknowledgements. */
    public Duration ackInterval() {
        return ackInterval;
    }

    /** How long a server keeps a detached session. */
    public Duration detachedTimeout() {
        return detachedTimeout;
    }

    @Override
    public boolean equals(Object o) {
        if (!(o instanceof SessionSettings)) {
            return false;
        }
        SessionSettings s = (SessionSettings) o;
        return maxUnackedMessages == s.maxUnackedMessages && maxUnackedBytes == s.maxUnackedBytes
                && ackInterval.equals(s.ackInterval) && detachedTimeout.equals(s.detachedTimeout);
    }

    @Override
    public int hashCode() {
        return Objects.hash(maxUnackedMessages, maxUnackedBytes, ackInterval, detachedTimeout);
    }

    @Override
    public String toString() {
        return "SessionSettings{maxUnackedMessages=" + maxUnackedMessages + ", maxUnackedBytes=" + maxUnackedBytes
                + ", ackInterval=" + ackInterval + ", detachedTimeout=" + detachedTimeout + '}';
    }

    /** Builds {@link SessionSettings}; each setter validates its value at once. */
    public static final class Builder {
        private int maxUnackedMessages = DEFAULT_MAX_UNACKED_MESSAGES;
        private long maxUnackedBytes = DEFAULT_MAX_UNACKED_BYTES;
        private Duration ackInterval = DEFAULT_ACK_INTERVAL;
        private Duration detachedTimeout = DEFAULT_DETACHED_TIMEOUT;

        private Builder() {
        }

        /**
         * Messages written and not yet acknowledged that the session keeps. Default
         * {@value #DEFAULT_MAX_UNACKED_MESSAGES}.
         *
         * @throws IllegalArgumentException if not in 1 .. 10,000,000
         */
        public Builder maxUnackedMessages(int max) {
            if (max < 1 || max > 10_000_000) {
                throw new IllegalArgumentException("maxUnackedMessages must be in 1 .. 10000000, but was " + max);
            }
            this.maxUnackedMessages = max;
            return this;
        }

        /**
         * Payload bytes written and not yet acknowledged that the session keeps. Default 16 MiB.
         *
         * @throws IllegalArgumentException if not in 1 .. 2^40
         */
        public Builder maxUnackedBytes(long max) {
            if (max < 1 || max > 1L << 40) {
                throw new IllegalArgumentException("maxUnackedBytes must be in 1 .. 1099511627776, but was " + max);
            }
            this.maxUnackedBytes = max;
            return this;
        }

        /**
         * The least time between two standalone acknowledgements (sent when no data carries the acknowledgement).
         * Default {@link #DEFAULT_ACK_INTERVAL}.
         *
         * @throws IllegalArgumentException if not in 1 ms .. 10 s
         * @throws NullPointerException     if null
         */
        public Builder ackInterval(Duration interval) {
            Objects.requireNonNull(interval, "ackInterval");
            if (interval.compareTo(Duration.ofMillis(1)) < 0 || interval.compareTo(Duration.ofSeconds(10)) > 0) {
                throw new IllegalArgumentException("ackInterval must be in 1 ms .. 10 s, but was " + interval);
            }
            this.ackInterval = interval;
            return this;
        }

        /**
         * How long a server keeps a session whose connection is gone. Default {@link #DEFAULT_DETACHED_TIMEOUT}.
         *
         * @throws IllegalArgumentException if not in 1 ms .. 24 h
         * @throws NullPointerException     if null
         */
        public Builder detachedTimeout(Duration timeout) {
            Objects.requireNonNull(timeout, "detachedTimeout");
            if (timeout.compareTo(Duration.ofMillis(1)) < 0 || timeout.compareTo(Duration.ofHours(24)) > 0) {
                throw new IllegalArgumentException("detachedTimeout must be in 1 ms .. 24 h, but was " + timeout);
            }
            this.detachedTimeout = timeout;
            return this;
        }

        /** The settings. */
        public SessionSettings build() {
            return new SessionSettings(this);
        }
    }
}
