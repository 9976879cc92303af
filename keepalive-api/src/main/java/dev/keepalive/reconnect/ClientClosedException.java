package dev.keepalive.reconnect;

import java.io.IOException;

/** A send could not complete because the client was closed, by the application or by giving up. */
public class ClientClosedException extends IOException {
    private static final long serialVersionUID = 1L;

    /** With the message saying who closed the client and why, and the last failure as the cause (or null). */
    public ClientClosedException(String message, Throwable cause) {
        super(message, cause);
    }
}
