package dev.keepalive.reconnect;

/** Where a reconnecting client's one logical connection stands. */
public enum ConnectionState {
    /** Dialing an endpoint, or running the on-connected hook; sends are queued or refused. */
    CONNECTING,
    /** Connected and ready: the hook has completed and queued sends have been written. */
    CONNECTED,
    /** Waiting out the backoff delay before the next attempt. */
    BACKING_OFF,
    /** Closed by the application, or given up: nothing more happens. */
    CLOSED
}
