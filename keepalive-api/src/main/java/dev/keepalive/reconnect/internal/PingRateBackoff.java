package dev.keepalive.reconnect.internal;

import dev.keepalive.DeadPeerReason;

import java.time.Duration;
import java.util.Objects;

/**
 * How often a reconnecting client pings after a peer told it that it pinged too often
 * ({@link DeadPeerReason#TOO_MANY_PINGS}): the ping interval doubles on each such close, up to
 * {@link #MAX_FACTOR} times the configured one, and comes back down by half after each connection that stayed up
 * for {@link #HEALTHY_INTERVALS} of its (raised) ping intervals without being told so again. A close for any other
 * reason, in particular {@link DeadPeerReason#PEER_PINGED_TOO_OFTEN} (this side closed a flooding peer), changes
 * nothing. Pure: no I/O, no clock; the caller says how long each connection lived.
 */
public final class PingRateBackoff {
    /** The ping interval never grows past this many times the configured one (the detection bound with it). */
    public static final int MAX_FACTOR = 8;
    /** A connection that stayed up this many (raised) ping intervals proves the lower rate is accepted. */
    public static final int HEALTHY_INTERVALS = 10;

    private final Duration configured;
    private Duration current;

    /** Starts at {@code configured}, the ping interval the user set. */
    public PingRateBackoff(Duration configured) {
        this.configured = Objects.requireNonNull(configured, "configured");
        this.current = configured;
    }

    /**
     * A connection ended.
     *
     * @param reason  why, or {@code null} when this side closed it on purpose
     * @param upFor   how long it had been up (proven), or {@link Duration#ZERO} when it never was
     * @return the ping interval for the next connection
     */
    public Duration onConnectionEnded(DeadPeerReason reason, Duration upFor) {
        Objects.requireNonNull(upFor, "upFor");
        if (reason == DeadPeerReason.TOO_MANY_PINGS) {
            Duration doubled = current.multipliedBy(2);
            Duration cap = configured.multipliedBy(MAX_FACTOR);
            current = doubled.compareTo(cap) > 0 ? cap : doubled;
        } else if (current.compareTo(configured) > 0
                && upFor.compareTo(current.multipliedBy(HEALTHY_INTERVALS)) >= 0) {
            Duration halved = current.dividedBy(2);
            current = halved.compareTo(configured) < 0 ? configured : halved;
        }
        return current;
    }

    /** The ping interval now in force for new connections. */
    public Duration current() {
        return current;
    }

    /** The ping interval the user configured. */
    public Duration configured() {
        return configured;
    }

    /** Whether the interval is at its cap. */
    public boolean capped() {
        return current.equals(configured.multipliedBy(MAX_FACTOR));
    }
}
