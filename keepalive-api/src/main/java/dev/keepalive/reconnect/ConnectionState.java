package dev.keepalive.reconnect;

/** Where a reconnecting client's one logical connection stands. */
public enum ConnectionState {
    /**
     * Dialing an endpoint, running the on-connected hook, or waiting for the peer's first answer; sends are queued
     * or refused.
     */
    CONNECTING,
    /** Connected and proven: the hook has completed, the peer has answered, queued sends have been written. */
    CONNECTED,
    /** Waiting out the backoff delay before the next attempt (also the state before {@code start()}). */
    BACKING_OFF,
    /** Closed by the application, or given up: nothing more happens. */
    CLOSED
}
