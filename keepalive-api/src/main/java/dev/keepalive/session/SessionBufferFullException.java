package dev.keepalive.session;

import java.io.IOException;

/**
 * A write did not fit in the session's buffer of messages the peer has not acknowledged yet; the message names the
 * bound and the values. Nothing was sent: the application may retry once the channel is writable again.
 */
public class SessionBufferFullException extends IOException {
    private static final long serialVersionUID = 1L;

    /** Which bound was reached. */
    public enum Bound {
        /** {@link SessionSettings#maxUnackedMessages()}. */
        MESSAGES,
        /** {@link SessionSettings#maxUnackedBytes()}. */
        BYTES
    }

    private final Bound bound;

    /** The write exceeded {@code bound}; {@code message} names the bound and the values. */
    public SessionBufferFullException(Bound bound, String message) {
        super(message);
        this.bound = bound;
    }

    /** Which bound the write exceeded. */
    public Bound bound() {
        return bound;
    }
}
