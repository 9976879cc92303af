package dev.keepalive.session;

import org.junit.jupiter.api.Test;

import java.time.Duration;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;

class SessionSettingsTest {
    @Test
    void defaultsAreDocumentedConstants() {
        SessionSettings s = SessionSettings.defaults();
        assertEquals(SessionSettings.DEFAULT_MAX_UNACKED_MESSAGES, s.maxUnackedMessages());
        assertEquals(SessionSettings.DEFAULT_MAX_UNACKED_BYTES, s.maxUnackedBytes());
        assertEquals(SessionSettings.DEFAULT_ACK_INTERVAL, s.ackInterval());
        assertEquals(SessionSettings.DEFAULT_DETACHED_TIMEOUT, s.detachedTimeout());
        assertEquals(s, s.toBuilder().build());
    }

    @Test
    void invalidValuesFailNamingParameterRuleAndValue() {
        assertEquals("maxUnackedMessages must be in 1 .. 10000000, but was 0", assertThrows(
                IllegalArgumentException.class, () -> SessionSettings.builder().maxUnackedMessages(0)).getMessage());
        assertEquals("maxUnackedBytes must be in 1 .. 1099511627776, but was -1", assertThrows(
                IllegalArgumentException.class, () -> SessionSettings.builder().maxUnackedBytes(-1)).getMessage());
        assertEquals("ackInterval must be in 1 ms .. 10 s, but was PT0S", assertThrows(
                IllegalArgumentException.class, () -> SessionSettings.builder().ackInterval(Duration.ZERO))
                .getMessage());
        assertEquals("detachedTimeout must be in 1 ms .. 24 h, but was PT25H", assertThrows(
                IllegalArgumentException.class, () -> SessionSettings.builder().detachedTimeout(
                        Duration.ofHours(25))).getMessage());
        assertEquals("ackInterval", assertThrows(NullPointerException.class,
                () -> SessionSettings.builder().ackInterval(null)).getMessage());
    }
}
