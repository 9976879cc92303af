package dev.keepalive.session;

import java.io.IOException;

/** The session was closed by the application: messages not acknowledged by then fail with this exception. */
public class SessionClosedException extends IOException {
    private static final long serialVersionUID = 1L;

    /** The session was closed; {@code message} says by whom. */
    public SessionClosedException(String message) {
        super(message);
    }
}
