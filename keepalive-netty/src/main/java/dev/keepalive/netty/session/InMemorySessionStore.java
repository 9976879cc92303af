package dev.keepalive.netty.session;

import java.util.ArrayList;
import java.util.Iterator;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.PriorityQueue;
import java.util.concurrent.ConcurrentHashMap;

/**
 * A {@link SessionStore} in this process's memory, bounded by a number of sessions and a budget of payload bytes:
 * past either, the sessions detached longest ago are dropped first (and expire). Thread-safe; share one instance
 * between servers in the same process for failover among them: it also tracks which server holds each attached
 * session, so that a client that fails over before its old server noticed resumes on the new one.
 */
public final class InMemorySessionStore implements SessionStore {
    /** Default {@code maxSessions}. */
    public static final int DEFAULT_MAX_SESSIONS = 100_000;
    /** Default {@code maxBytes}: 256 MiB. */
    public static final long DEFAULT_MAX_BYTES = 256L << 20;

    private final int maxSessions;
    private final long maxBytes;
    private final LinkedHashMap<String, DetachedSession> sessions = new LinkedHashMap<>();
    /** The sessions put, earliest expiry first; entries no longer in {@link #sessions} are stale. */
    private final PriorityQueue<DetachedSession> byExpiry = new PriorityQueue<>(
            (a, b) -> Long.signum(a.expiresAt() - b.expiresAt()));
    /** Which server holds each attached session, for failover before that server noticed the client left. */
    private final ConcurrentHashMap<String, ServerSessions> attachedAt = new ConcurrentHashMap<>();
    private long bytes;

    /** A store within the defaults. */
    public InMemorySessionStore() {
        this(DEFAULT_MAX_SESSIONS, DEFAULT_MAX_BYTES);
    }

    /**
     * A store keeping at most {@code maxSessions} sessions and {@code maxBytes} of their payload.
     *
     * @throws IllegalArgumentException if a bound is not positive
     */
    public InMemorySessionStore(int maxSessions, long maxBytes) {
        if (maxSessions < 1) {
            throw new IllegalArgumentException("maxSessions must be > 0, but was " + maxSessions);
        }
        if (maxBytes < 1) {
            throw new IllegalArgumentException("maxBytes must be > 0, but was " + maxBytes);
        }
        this.maxSessions = maxSessions;
        this.maxBytes = maxBytes;
    }

    @Override
    public synchronized List<DetachedSession> put(DetachedSession session) {
        DetachedSession previous = sessions.remove(session.id());
        if (previous != null) {
            bytes -= previous.bytes();
        }
        sessions.put(session.id(), session);
        byExpiry.add(session);
        bytes += session.bytes();
        List<DetachedSession> dropped = new ArrayList<>();
        if (previous != null && previous.state != session.state) {
            dropped.add(previous);
        }
        for (Iterator<DetachedSession> it = sessions.values().iterator();
             it.hasNext() && (sessions.size() > maxSessions || bytes > maxBytes); ) {
            DetachedSession oldest = it.next();
            it.remove();
            bytes -= oldest.bytes();
            dropped.add(oldest);
        }
        return dropped;
    }

    @Override
    public synchronized DetachedSession take(String id) {
        DetachedSession s = sessions.remove(id);
        if (s != null) {
            bytes -= s.bytes();
        }
        return s;
    }

    @Override
    public synchronized List<DetachedSession> expire(long now) {
        // The earliest expiry first: only the due ones are looked at (a session taken or replaced since it was put
        // leaves a stale entry here, skipped when its time comes).
        List<DetachedSession> expired = new ArrayList<>();
        while (!byExpiry.isEmpty() && byExpiry.peek().expiresAt() - now <= 0) {
            DetachedSession s = byExpiry.poll();
            if (sessions.get(s.id()) == s) {
                sessions.remove(s.id());
                bytes -= s.bytes();
                expired.add(s);
            }
        }
        return expired;
    }

    @Override
    public synchronized List<DetachedSession> takeAll() {
        List<DetachedSession> all = new ArrayList<>(sessions.values());
        sessions.clear();
        byExpiry.clear();
        bytes = 0;
        return all;
    }

    @Override
    public synchronized int size() {
        return sessions.size();
    }

    @Override
    public synchronized long bytes() {
        return bytes;
    }

    @Override
    public void attached(String id, ServerSessions server) {
        attachedAt.put(id, server);
    }

    @Override
    public void released(String id, ServerSessions server) {
        attachedAt.remove(id, server);
    }

    @Override
    public ServerSessions attachedAt(String id) {
        return attachedAt.get(id);
    }

    /** The most payload bytes kept. */
    public long maxBytes() {
        return maxBytes;
    }
}
