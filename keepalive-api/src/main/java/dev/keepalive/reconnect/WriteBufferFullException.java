package dev.keepalive.reconnect;

import java.io.IOException;

/** A send did not fit in the bounded queue of a disconnected client; the message names the bound. */
public class WriteBufferFullException extends IOException {
    private static final long serialVersionUID = 1L;

    /** Which bound was reached. */
    public enum Bound {
        MESSAGES,
        BYTES
    }

    private final Bound bound;

    public WriteBufferFullException(Bound bound, String message) {
        super(message);
        this.bound = bound;
    }

    public Bound bound() {
        return bound;
    }
}
