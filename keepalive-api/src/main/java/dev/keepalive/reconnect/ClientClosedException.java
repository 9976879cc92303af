package dev.keepalive.reconnect;

import java.io.IOException;

/** A send could not complete because the client was closed, by the application or by giving up. */
public class ClientClosedException extends IOException {
    private static final long serialVersionUID = 1L;

    /** A send failed because the client closed; {@code cause} is why it gave up, or {@code null}. */
    public ClientClosedException(String message, Throwable cause) {
        super(message, cause);
    }
}
