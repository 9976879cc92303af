package dev.keepalive.reconnect;

import java.io.IOException;

/** A send did not fit in the bounds on what the client holds (queued and unconfirmed); the message names the bound. */
public class WriteBufferFullException extends IOException {
    private static final long serialVersionUID = 1L;

    /** Which bound was reached. */
    public enum Bound {
        /** {@link DisconnectedWrites#maxMessages()}. */
        MESSAGES,
        /** {@link DisconnectedWrites#maxBytes()}. */
        BYTES
    }

    private final Bound bound;

    /** The send exceeded {@code bound}; {@code message} names the bound and the values. */
    public WriteBufferFullException(Bound bound, String message) {
        super(message);
        this.bound = bound;
    }

    /** Which bound the send exceeded. */
    public Bound bound() {
        return bound;
    }
}
