package dev.keepalive.reconnect;

/**
 * Receives a reconnecting client's events, on the client's event loop: keep it short and never block.
 */
@FunctionalInterface
public interface ConnectionListener {
    /** A listener that does nothing. */
    ConnectionListener NOOP = e -> { };

    /** Called on the client's event loop for every state change and attempt; must not block. */
    void onEvent(ConnectionEvent event);
}
