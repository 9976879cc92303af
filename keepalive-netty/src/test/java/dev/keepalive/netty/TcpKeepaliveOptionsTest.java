package dev.keepalive.netty;

import dev.keepalive.KeepaliveSettings;
import dev.keepalive.testsupport.Loopback;
import dev.keepalive.testsupport.Transport;
import io.netty.channel.Channel;
import io.netty.channel.ChannelOption;
import io.netty.channel.embedded.EmbeddedChannel;
import io.netty.channel.socket.SocketChannel;
import io.netty.channel.socket.nio.NioChannelOption;
import jdk.net.ExtendedSocketOptions;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.EnumSource;

import java.time.Duration;
import java.util.List;
import java.util.concurrent.atomic.AtomicReference;

import static org.awaitility.Awaitility.await;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

class TcpKeepaliveOptionsTest {
    private static final KeepaliveSettings SETTINGS = KeepaliveSettings.builder()
            .tcpKeepIdle(Duration.ofSeconds(7)).tcpKeepInterval(Duration.ofSeconds(3)).tcpKeepCount(4)
            .tcpUserTimeout(Duration.ofMillis(12_345)).build();

    private static void assertConfigured(EffectiveTcpOptions o, Transport transport) {
        assertNotNull(o);
        assertTrue(o.soKeepAlive());
        assertEquals(7, o.keepIdleSeconds());
        assertEquals(3, o.keepIntervalSeconds());
        assertEquals(4, o.keepCount());
        if (transport == Transport.NIO) {
            assertEquals("nio", o.transport());
            assertEquals(-1, o.userTimeoutMillis());
            assertEquals(List.of("TCP_USER_TIMEOUT"), o.unsupported(), "reported, not silently skipped");
        } else {
            assertEquals(12_345, o.userTimeoutMillis());
            assertEquals(List.of(), o.unsupported());
        }
    }

    @ParameterizedTest
    @EnumSource(Transport.class)
    void optionsReadBackFromRealSocketsOnBothEnds(Transport transport) {
        if (transport == Transport.IO_URING) {
            assumeTrue(transport.isAvailable(), transport::unavailableBecause);
        }
        try (Loopback net = new Loopback(transport)) {
            AtomicReference<KeepaliveHandler> serverSide = new AtomicReference<>();
            Channel server = net.server(ch -> {
                KeepaliveHandler h = KeepaliveHandler.builder(SETTINGS).build();
                serverSide.set(h);
                Loopback.framed(ch, h);
            });
            KeepaliveHandler clientSide = KeepaliveHandler.builder(SETTINGS).build();
            SocketChannel client = net.connect(server, ch -> Loopback.framed(ch, clientSide));
            // The connect future completes just before channelActive runs on the event loop.
            await().until(() -> clientSide.effectiveTcpOptions() != null);
            assertConfigured(clientSide.effectiveTcpOptions(), transport);
            await().until(() -> serverSide.get() != null && serverSide.get().effectiveTcpOptions() != null);
            assertConfigured(serverSide.get().effectiveTcpOptions(), transport);
            // Read again, independently of the handler, straight from the socket.
            EffectiveTcpOptions again = TcpKeepaliveOptions.read(client);
            assertEquals(7, again.keepIdleSeconds());
            assertEquals(Boolean.TRUE, client.config().getOption(ChannelOption.SO_KEEPALIVE));
            if (transport == Transport.NIO) {
                assertEquals(7, client.config().getOption(NioChannelOption.of(ExtendedSocketOptions.TCP_KEEPIDLE)));
                assertEquals(3, client.config().getOption(
                        NioChannelOption.of(ExtendedSocketOptions.TCP_KEEPINTERVAL)));
                assertEquals(4, client.config().getOption(NioChannelOption.of(ExtendedSocketOptions.TCP_KEEPCOUNT)));
            }
        }
    }

    @ParameterizedTest
    @EnumSource(value = Transport.class, names = {"NIO", "EPOLL"})
    void derivedSettingsAreApplied(Transport transport) {
        KeepaliveSettings s = KeepaliveSettings.builder().detectWithin(Duration.ofSeconds(20)).build();
        try (Loopback net = new Loopback(transport)) {
            Channel server = net.server(ch -> { });
            KeepaliveHandler h = KeepaliveHandler.builder(s).build();
            net.connect(server, ch -> ch.pipeline().addLast(h));
            await().until(() -> h.effectiveTcpOptions() != null);
            EffectiveTcpOptions o = h.effectiveTcpOptions();
            assertEquals(s.tcpKeepIdle().getSeconds(), o.keepIdleSeconds());
            assertEquals(s.tcpKeepInterval().getSeconds(), o.keepIntervalSeconds());
            assertEquals(s.tcpKeepCount(), o.keepCount());
            if (transport == Transport.EPOLL) {
                assertEquals(20_000, o.userTimeoutMillis());
            }
        }
    }

    @Test
    void keepaliveOffTurnsSoKeepaliveOff() {
        KeepaliveSettings off = KeepaliveSettings.builder().tcpKeepAlive(false).tcpUserTimeout(Duration.ZERO).build();
        try (Loopback net = new Loopback(Transport.EPOLL)) {
            Channel server = net.server(ch -> { });
            KeepaliveHandler h = KeepaliveHandler.builder(off).build();
            net.connect(server, ch -> ch.pipeline().addLast(h));
            await().until(() -> h.effectiveTcpOptions() != null);
            assertEquals(false, h.effectiveTcpOptions().soKeepAlive());
            assertEquals(0, h.effectiveTcpOptions().userTimeoutMillis(), "zero leaves the kernel default");
        }
    }

    @Test
    void nonTcpChannelsAreLeftAlone() {
        EmbeddedChannel ch = new EmbeddedChannel();
        assertNull(TcpKeepaliveOptions.apply(ch, SETTINGS));
        assertNull(TcpKeepaliveOptions.read(ch));
        ch.finishAndReleaseAll();
    }
}
