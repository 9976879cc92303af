package dev.keepalive.netty;

import dev.keepalive.KeepaliveSettings;
import dev.keepalive.testsupport.Loopback;
import dev.keepalive.testsupport.Transport;
import io.netty.channel.Channel;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.EnumSource;

import java.time.Duration;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * {@link KeepaliveHandler#effectiveTcpOptions()} is filled in before {@code connect()} completes: a user who reads it
 * right after {@code connect().sync()} sees what is in force, not {@code null} (it used to be set in channelActive,
 * which Netty fires only after completing the connect promise).
 */
class EffectiveTcpOptionsTimingTest {
    private static final KeepaliveSettings SETTINGS = KeepaliveSettings.builder()
            .tcpKeepIdle(Duration.ofSeconds(7)).tcpKeepInterval(Duration.ofSeconds(3)).tcpKeepCount(4)
            .tcpUserTimeout(Duration.ofMillis(12_345)).build();

    @ParameterizedTest
    @EnumSource(value = Transport.class, names = {"NIO", "EPOLL"})
    void readableAsSoonAsConnectCompletes(Transport transport) {
        try (Loopback net = new Loopback(transport)) {
            Channel server = net.server(ch -> { });
            for (int attempt = 0; attempt < 20; attempt++) {
                KeepaliveHandler h = KeepaliveHandler.builder(SETTINGS).build();
                net.connect(server, ch -> ch.pipeline().addLast(h));   // returns when connect() completed
                EffectiveTcpOptions o = h.effectiveTcpOptions();      // read at once: no wait
                assertNotNull(o, "effectiveTcpOptions() right after connect(), attempt " + attempt);
                assertTrue(o.soKeepAlive());
                assertEquals(7, o.keepIdleSeconds());
                assertEquals(3, o.keepIntervalSeconds());
                assertEquals(4, o.keepCount());
                assertEquals(transport == Transport.EPOLL ? 12_345 : -1, o.userTimeoutMillis());
            }
        }
    }
}
