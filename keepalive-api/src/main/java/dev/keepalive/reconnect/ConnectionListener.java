package dev.keepalive.reconnect;

/**
 * Receives a reconnecting client's events, on the client's event loop: keep it short and never block.
 */
@FunctionalInterface
public interface ConnectionListener {
    /** A listener that does nothing. */
    ConnectionListener NOOP = e -> { };

    /** One event; the fields are described by {@link ConnectionEvent}. */
    void onEvent(ConnectionEvent event);
}
