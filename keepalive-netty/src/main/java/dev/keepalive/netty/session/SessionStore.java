package dev.keepalive.netty.session;

import java.util.List;

/**
 * Where a server keeps sessions whose connection is gone, until their client resumes them or they expire. Servers
 * that share one store let a client resume its session on any of them (failover): a session is resumable elsewhere
 * once the server it was on has detached it (that server noticed the connection's end, or closed).
 *
 * <p>Implementations are thread-safe: servers call them from any event loop. The default is
 * {@link InMemorySessionStore}; a store outside the process would serialise what {@link DetachedSession} exposes
 * (not provided: the write futures of its messages stay with the process that wrote them).
 */
public interface SessionStore {
    /**
     * Keeps {@code session} until it is {@linkplain #take taken} or {@linkplain #expire expires}.
     *
     * @return the sessions dropped to stay within the store's budget (possibly {@code session} itself); they are
     *         expired by the caller
     */
    List<DetachedSession> put(DetachedSession session);

    /** Removes and returns the session with this id, or {@code null} when the store does not have it. */
    DetachedSession take(String id);

    /** Removes and returns the sessions whose {@link DetachedSession#expiresAt()} is not after {@code now}. */
    List<DetachedSession> expire(long now);

    /** Removes and returns every session (when the servers stop for good). */
    List<DetachedSession> takeAll();

    /** The sessions kept now. */
    int size();

    /** Their unacknowledged payload bytes. */
    long bytes();
}
