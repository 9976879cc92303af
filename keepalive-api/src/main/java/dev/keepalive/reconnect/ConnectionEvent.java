package dev.keepalive.reconnect;

import dev.keepalive.DeadPeerReason;

import java.net.SocketAddress;
import java.time.Duration;

/**
 * Something that happened to a reconnecting client's connection.
 *
 * @param type     what happened
 * @param state    the state after it
 * @param remote   the endpoint concerned, or {@code null}
 * @param attempt  the attempt number in the current reconnect sequence (1 for the first), or 0
 * @param delay    the backoff before the next attempt ({@link Type#RECONNECTING}), or {@link Duration#ZERO}
 * @param reason   why the last connection died, when it was declared dead or lost, or {@code null}
 * @param cause    the error behind it, or {@code null}
 */
public record ConnectionEvent(Type type, ConnectionState state, SocketAddress remote, int attempt, Duration delay,
                              DeadPeerReason reason, Throwable cause) {

    /** The kinds of event. */
    public enum Type {
        /** An attempt to connect to {@code remote} starts. */
        CONNECTING,
        /** Connected to {@code remote}, the on-connected hook completed, queued sends were written. */
        CONNECTED,
        /** An attempt failed (refused, timed out, hook failed, circuit open). */
        CONNECT_FAILED,
        /** The established connection was lost or its peer declared dead; {@code reason} says why. */
        DISCONNECTED,
        /** The next attempt starts after {@code delay}. */
        RECONNECTING,
        /** The policy's limit on attempts or time was reached: the client is closed. */
        GAVE_UP,
        /** The application closed the client. */
        CLOSED
    }
}
