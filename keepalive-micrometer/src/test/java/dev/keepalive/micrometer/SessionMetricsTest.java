package dev.keepalive.micrometer;

import dev.keepalive.session.SessionExpiredException;
import dev.keepalive.session.SessionProtocolException;
import io.micrometer.core.instrument.Tags;
import io.micrometer.core.instrument.simple.SimpleMeterRegistry;
import org.junit.jupiter.api.Test;

import static org.junit.jupiter.api.Assertions.assertEquals;

class SessionMetricsTest {
    @Test
    void eachSessionEventCountsOnItsMeter() {
        SimpleMeterRegistry registry = new SimpleMeterRegistry();
        SessionMetrics metrics = new SessionMetrics(Tags.of("service", "test"));
        metrics.bindTo(registry);
        metrics.onStarted("a", null);
        metrics.onResumed("a", null, 3, 120);
        metrics.onResumed("a", null, 2, 80);
        metrics.onDuplicate("a", 7);
        metrics.onExpired("a", 4, new SessionExpiredException("a", "gone"));
        metrics.onProtocolError(null, new SessionProtocolException("bad"));
        assertEquals(1, count(registry, "keepalive.sessions.started"));
        assertEquals(2, count(registry, "keepalive.sessions.resumed"));
        assertEquals(5, count(registry, "keepalive.sessions.resent.messages"));
        assertEquals(200, count(registry, "keepalive.sessions.resent.bytes"));
        assertEquals(1, count(registry, "keepalive.sessions.duplicates"));
        assertEquals(1, count(registry, "keepalive.sessions.expired"));
        assertEquals(4, count(registry, "keepalive.sessions.expired.messages"));
        assertEquals(1, count(registry, "keepalive.sessions.protocol.errors"));
    }

    private static double count(SimpleMeterRegistry registry, String name) {
        return registry.get(name).tag("service", "test").functionCounter().count();
    }
}
