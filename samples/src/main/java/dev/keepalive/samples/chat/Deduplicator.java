package dev.keepalive.samples.chat;

import java.util.LinkedHashMap;
import java.util.Map;
import java.util.Objects;

/**
 * The server's de-duplication of chat messages by (name, id). A client re-sends every message that was not
 * acknowledged when its connection died, in order, so a message may arrive twice; ids increase within a client's
 * session, so one high-water mark per name tells a new message from a re-sent one. A client process that starts
 * again has a new session and starts its ids again at 1: a new session resets the mark.
 *
 * <p>Remembers the {@code capacity} names used most recently (and forgets the others: a name unused that long has
 * nothing left to re-send). Not thread-safe: the server calls it from its one event loop.
 */
final class Deduplicator {
    /** What a message is. */
    enum Verdict {
        /** Not seen before: accept it. */
        NEW,
        /** Accepted before (its acknowledgement was lost): acknowledge it again, do not deliver it again. */
        DUPLICATE
    }

    private final Map<String, Mark> marks;

    Deduplicator(int capacity) {
        if (capacity < 1) {
            throw new IllegalArgumentException("capacity must be >= 1, but was " + capacity);
        }
        this.marks = new LinkedHashMap<>(16, 0.75f, true) {
            private static final long serialVersionUID = 1L;

            @Override
            protected boolean removeEldestEntry(Map.Entry<String, Mark> eldest) {
                return size() > capacity;
            }
        };
    }

    /** Classifies message {@code id} of {@code name}'s {@code session}, and records it when it is new. */
    Verdict offer(String name, String session, long id) {
        Objects.requireNonNull(name, "name");
        Objects.requireNonNull(session, "session");
        Mark mark = marks.get(name);
        if (mark == null || !mark.session.equals(session)) {
            marks.put(name, new Mark(session, id));
            return Verdict.NEW;
        }
        if (id <= mark.highest) {
            return Verdict.DUPLICATE;
        }
        mark.highest = id;
        return Verdict.NEW;
    }

    /** The highest id accepted from {@code name}'s {@code session}, or 0. */
    long highest(String name, String session) {
        Mark mark = marks.get(name);
        return mark != null && mark.session.equals(session) ? mark.highest : 0;
    }

    private static final class Mark {
        final String session;
        long highest;

        Mark(String session, long highest) {
            this.session = session;
            this.highest = highest;
        }
    }
}
