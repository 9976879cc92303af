package dev.keepalive.netty.session;

import java.util.List;

/**
 * Where a server keeps sessions whose connection is gone, until their client resumes them or they expire. Servers
 * that share one store let a client resume its session on any of them (failover): a session is resumable elsewhere
 * once the server it was on has detached it (that server noticed the connection's end, or closed).
 *
 * <p>Implementations are thread-safe: servers call them from any event loop. The default is
 * {@link InMemorySessionStore}. A store holds live objects of this process; to keep sessions across a crash or a
 * restart of the process, record them in a {@link SessionJournal} ({@link ServerSessions.Builder#journal}), which a
 * server started again reads back into its store.
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

    /**
     * Session {@code id} is attached to a connection of {@code server} now. Servers sharing a store that tracks
     * this find a session still attached elsewhere: a client that failed over before the server it left noticed
     * resumes on the new server, which takes the session over (and the old server's connection is closed). A store
     * that does not track it (the default) makes such a client wait until the old server detaches the session,
     * or be told it expired.
     */
    default void attached(String id, ServerSessions server) {
    }

    /** Session {@code id} is no longer attached to a connection of {@code server}. */
    default void released(String id, ServerSessions server) {
    }

    /** The server that has session {@code id} attached to one of its connections, or {@code null}. */
    default ServerSessions attachedAt(String id) {
        return null;
    }
}
