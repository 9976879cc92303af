package dev.keepalive.netty.session;

import java.util.ArrayList;
import java.util.Iterator;
import java.util.LinkedHashMap;
import java.util.List;

/**
 * A {@link SessionStore} in this process's memory, bounded by a number of sessions and a budget of payload bytes:
 * past either, the sessions detached longest ago are dropped first (and expire). Thread-safe; share one instance
 * between servers in the same process for failover among them.
 */
public final class InMemorySessionStore implements SessionStore {
    /** Default {@code maxSessions}. */
    public static final int DEFAULT_MAX_SESSIONS = 100_000;
    /** Default {@code maxBytes}: 256 MiB. */
    public static final long DEFAULT_MAX_BYTES = 256L << 20;

    private final int maxSessions;
    private final long maxBytes;
    private final LinkedHashMap<String, DetachedSession> sessions = new LinkedHashMap<>();
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
        List<DetachedSession> expired = new ArrayList<>();
        for (Iterator<DetachedSession> it = sessions.values().iterator(); it.hasNext(); ) {
            DetachedSession s = it.next();
            if (s.expiresAt() - now <= 0) {
                it.remove();
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

    /** The most payload bytes kept. */
    public long maxBytes() {
        return maxBytes;
    }
}
