package dev.keepalive.netty.session;

/** A server session whose connection is gone, as kept in a {@link SessionStore}. */
public final class DetachedSession {
    final SessionState state;
    private final String id;
    private final int messages;
    private final long bytes;
    private final long expiresAt;

    DetachedSession(SessionState state, int messages, long bytes, long expiresAt) {
        this.state = state;
        this.id = state.id;
        this.messages = messages;
        this.bytes = bytes;
        this.expiresAt = expiresAt;
    }

    /** The session's id. */
    public String id() {
        return id;
    }

    /** Messages it keeps for its client, unacknowledged. */
    public int messages() {
        return messages;
    }

    /** Their payload bytes. */
    public long bytes() {
        return bytes;
    }

    /** When it expires, in the servers' ticker nanoseconds. */
    public long expiresAt() {
        return expiresAt;
    }

    @Override
    public String toString() {
        return "DetachedSession{" + id + ", " + messages + " messages, " + bytes + " bytes}";
    }
}
