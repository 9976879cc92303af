package dev.keepalive.session;

import java.io.IOException;

/**
 * The peer no longer knows the session: it was detached longer than the server keeps sessions, evicted for the
 * memory budget, or the server lost it (a restart without a shared store). Messages written on it and not
 * acknowledged fail with this exception: the peer may or may not have received them. The client starts a new
 * session on the same connection.
 */
public class SessionExpiredException extends IOException {
    private static final long serialVersionUID = 1L;

    private final String sessionId;

    /** Session {@code sessionId} expired; {@code message} says why. */
    public SessionExpiredException(String sessionId, String message) {
        super(message);
        this.sessionId = sessionId;
    }

    /** The id of the session that expired. */
    public String sessionId() {
        return sessionId;
    }
}
