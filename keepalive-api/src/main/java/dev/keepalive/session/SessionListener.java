package dev.keepalive.session;

import java.net.SocketAddress;

/**
 * Receives what happens to sessions, on the event loop of the connection concerned: keep it short. Every method
 * has an empty default.
 */
public interface SessionListener {
    /** Does nothing. */
    SessionListener NOOP = new SessionListener() {
    };

    /** A new session {@code id} was established over the connection to {@code remote}. */
    default void onStarted(String id, SocketAddress remote) {
    }

    /**
     * Session {@code id} was resumed over a new connection to {@code remote}: this end re-sent
     * {@code resentMessages} messages ({@code resentBytes} payload bytes) the peer had not received.
     */
    default void onResumed(String id, SocketAddress remote, int resentMessages, long resentBytes) {
    }

    /** An inbound message {@code seq} of session {@code id} had been delivered before: dropped. */
    default void onDuplicate(String id, long seq) {
    }

    /**
     * Session {@code id} expired: {@code lostMessages} messages written on it were not acknowledged and failed with
     * {@code cause} (a {@link SessionExpiredException}); the peer may or may not have received them.
     */
    default void onExpired(String id, int lostMessages, SessionExpiredException cause) {
    }

    /** The peer broke the protocol on session {@code id} (or before one was established, {@code null}). */
    default void onProtocolError(String id, SessionProtocolException error) {
    }
}
