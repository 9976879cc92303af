package dev.keepalive.session;

import java.io.IOException;

/**
 * The peer broke the session protocol: a frame that cannot be decoded, a sequence number that skips ahead, an
 * acknowledgement of a message never sent, data before the session was established. The handler counts it; one that
 * could lose or repeat a message closes the connection, so that the next resume puts things right.
 */
public class SessionProtocolException extends IOException {
    private static final long serialVersionUID = 1L;

    /** {@code message} says what the peer did. */
    public SessionProtocolException(String message) {
        super(message);
    }
}
