package dev.keepalive.reconnect;

import java.io.IOException;

/** A send was refused because the client is not connected and is set to fail fast. */
public class NotConnectedException extends IOException {
    private static final long serialVersionUID = 1L;

    /** With the message naming the state, and the last connection failure as the cause (or null). */
    public NotConnectedException(String message, Throwable lastCause) {
        super(message, lastCause);
    }
}
