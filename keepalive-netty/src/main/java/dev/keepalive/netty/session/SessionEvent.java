package dev.keepalive.netty.session;

import java.util.Objects;

/**
 * Fired up the pipeline (as a user event) by the session handler, so that the application's handlers after it know
 * which session their connection carries: once it is {@link Type#STARTED started} or {@link Type#RESUMED resumed},
 * and when the server said it {@link Type#EXPIRED expired} (client only).
 */
public final class SessionEvent {
    /** What happened. */
    public enum Type {
        /** A new session is open on this connection: nothing before it is known to the peer. */
        STARTED,
        /** An existing session is open on this connection; what the peer missed was re-sent. */
        RESUMED,
        /** The server forgot the session: unacknowledged writes failed; a new session follows. */
        EXPIRED
    }

    private final Type type;
    private final String sessionId;

    SessionEvent(Type type, String sessionId) {
        this.type = Objects.requireNonNull(type, "type");
        this.sessionId = Objects.requireNonNull(sessionId, "sessionId");
    }

    /** What happened. */
    public Type type() {
        return type;
    }

    /** The session's id. */
    public String sessionId() {
        return sessionId;
    }

    @Override
    public String toString() {
        return "SessionEvent{" + type + ' ' + sessionId + '}';
    }
}
