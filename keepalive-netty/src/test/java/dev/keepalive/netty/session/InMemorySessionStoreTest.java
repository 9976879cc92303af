package dev.keepalive.netty.session;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertSame;

import dev.keepalive.session.SessionSettings;
import java.util.List;
import java.util.stream.Collectors;
import org.junit.jupiter.api.Test;

class InMemorySessionStoreTest {
    private static DetachedSession detached(String id, long expiresAt) {
        return new DetachedSession(new SessionState(id, SessionSettings.defaults(), new SessionCounters()), 0, 0,
                expiresAt);
    }

    private static List<String> ids(List<DetachedSession> sessions) {
        return sessions.stream().map(DetachedSession::id).collect(Collectors.toList());
    }

    @Test
    void expiresOnlyTheDueSessionsEarliestFirstAndNotOnesTakenOrPutAgain() {
        InMemorySessionStore store = new InMemorySessionStore();
        store.put(detached("late", 300));
        store.put(detached("early", 100));
        DetachedSession resumed = detached("resumed", 150);
        store.put(resumed);
        store.put(detached("middle", 200));
        assertSame(resumed, store.take("resumed"));
        DetachedSession again = detached("middle", 400); // resumed and detached again: a later expiry
        store.put(again);

        assertEquals(List.of(), ids(store.expire(99)));
        assertEquals(List.of("early"), ids(store.expire(250)), "not the taken one, not middle's old time");
        assertEquals(2, store.size());
        assertEquals(List.of("late"), ids(store.expire(300)));
        assertEquals(List.of("middle"), ids(store.expire(1_000)));
        assertNull(store.take("middle"));
        assertEquals(0, store.size());
    }

    @Test
    void tracksWhichServerHoldsAnAttachedSession() {
        InMemorySessionStore store = new InMemorySessionStore();
        ServerSessions a = ServerSessions.builder(SessionFraming.binary()).store(store).build();
        ServerSessions b = ServerSessions.builder(SessionFraming.binary()).store(store).build();
        store.attached("s", a);
        store.released("s", b); // only the holder releases it
        assertSame(a, store.attachedAt("s"));
        store.attached("s", b);
        store.released("s", a);
        assertSame(b, store.attachedAt("s"));
        store.released("s", b);
        assertNull(store.attachedAt("s"));
    }
}
