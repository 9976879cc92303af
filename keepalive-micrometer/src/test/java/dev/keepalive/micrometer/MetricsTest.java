package dev.keepalive.micrometer;

import dev.keepalive.DeadPeerReason;
import dev.keepalive.KeepaliveSettings;
import dev.keepalive.PeerDiagnosis;
import dev.keepalive.netty.KeepaliveHandler;
import dev.keepalive.netty.KeepaliveProbe;
import dev.keepalive.netty.client.ReconnectingClient;
import dev.keepalive.reconnect.Backoff;
import dev.keepalive.reconnect.ConnectionState;
import dev.keepalive.reconnect.ReconnectPolicy;
import dev.keepalive.testsupport.LineServer;
import dev.keepalive.testsupport.Loopback;
import dev.keepalive.testsupport.Transport;
import io.micrometer.core.instrument.Tags;
import io.micrometer.core.instrument.simple.SimpleMeterRegistry;
import io.netty.bootstrap.Bootstrap;
import io.netty.channel.Channel;
import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.ChannelInboundHandlerAdapter;
import io.netty.channel.EventLoopGroup;
import io.netty.channel.socket.nio.NioSocketChannel;
import io.netty.handler.codec.LineBasedFrameDecoder;
import io.netty.handler.codec.string.StringDecoder;
import io.netty.handler.codec.string.StringEncoder;
import io.netty.util.ReferenceCountUtil;
import org.junit.jupiter.api.Test;

import java.net.InetSocketAddress;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.List;
import java.util.concurrent.TimeUnit;

import static java.time.Duration.ofMillis;
import static java.time.Duration.ofSeconds;
import static org.awaitility.Awaitility.await;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

class MetricsTest {
    private static final KeepaliveSettings FAST = KeepaliveSettings.builder().pingInterval(ofMillis(200))
            .pingTimeout(ofMillis(200)).pingsMissedBeforeDead(1).build();

    @Test
    void handlerMetricsCountPingsRoundTripsAndDeathsByReason() {
        SimpleMeterRegistry registry = new SimpleMeterRegistry();
        KeepaliveMetrics metrics = new KeepaliveMetrics(Tags.of("service", "test"));
        metrics.bindTo(registry);
        try (Loopback net = new Loopback(Transport.NIO)) {
            Channel answering = net.server(ch -> Loopback.framed(ch, KeepaliveHandler.builder(FAST).build()));
            net.connect(answering, ch -> Loopback.framed(ch, KeepaliveHandler.builder(FAST).listener(metrics)
                    .build()));
            await().atMost(ofSeconds(10)).until(() ->
                    registry.get("keepalive.pongs.received").functionCounter().count() >= 3);
            assertTrue(registry.get("keepalive.pings.sent").tag("service", "test").functionCounter().count() >= 3);
            assertTrue(registry.get("keepalive.ping.rtt").timer().count() >= 3);
            assertTrue(registry.get("keepalive.ping.rtt").timer().max(TimeUnit.SECONDS) < 1);

            // A server that greets once (the connection has proven itself), then never answers again.
            Channel silent = net.server(ch -> ch.pipeline().addLast(new ChannelInboundHandlerAdapter() {
                @Override
                public void channelActive(ChannelHandlerContext ctx) {
                    ctx.writeAndFlush(ctx.alloc().buffer(8).writeInt(4).writeInt(0x4E11));
                    ctx.fireChannelActive();
                }

                @Override
                public void channelRead(ChannelHandlerContext ctx, Object msg) {
                    ReferenceCountUtil.release(msg);
                }
            }));
            net.connect(silent, ch -> Loopback.framed(ch, KeepaliveHandler.builder(FAST).listener(metrics).build()));
            await().atMost(ofSeconds(10)).until(() -> deaths(registry, "PING_TIMEOUT") == 1);
            // NIO cannot read the kernel's view.
            assertEquals(1, registry.get("keepalive.peers.dead").tag("reason", "PING_TIMEOUT")
                    .tag("diagnosis", PeerDiagnosis.UNKNOWN.name()).functionCounter().count());
            assertEquals(0, deaths(registry, "RESET_BY_PEER"));
        }
    }

    @Test
    void deathsAreTaggedWithTheKernelsDiagnosisOnEpoll() {
        assertTrue(Transport.EPOLL.isAvailable(), Transport.EPOLL::unavailableBecause);
        SimpleMeterRegistry registry = new SimpleMeterRegistry();
        KeepaliveMetrics metrics = new KeepaliveMetrics();
        metrics.bindTo(registry);
        try (Loopback net = new Loopback(Transport.EPOLL)) {
            // The peer's application greets once, then reads and never answers; its kernel acknowledges every ping.
            Channel silent = net.server(ch -> ch.pipeline().addLast(new ChannelInboundHandlerAdapter() {
                @Override
                public void channelActive(ChannelHandlerContext ctx) {
                    ctx.writeAndFlush(ctx.alloc().buffer(8).writeInt(4).writeInt(0x4E11));
                    ctx.fireChannelActive();
                }

                @Override
                public void channelRead(ChannelHandlerContext ctx, Object msg) {
                    ReferenceCountUtil.release(msg);
                }
            }));
            net.connect(silent, ch -> Loopback.framed(ch, KeepaliveHandler.builder(FAST).listener(metrics).build()));
            await().atMost(ofSeconds(10)).until(() -> deaths(registry, "PING_TIMEOUT") == 1);
            assertEquals(1, registry.get("keepalive.peers.dead").tag("reason", "PING_TIMEOUT")
                    .tag("diagnosis", PeerDiagnosis.APPLICATION_NOT_ANSWERING.name()).functionCounter().count(),
                    () -> "deaths by tags: " + registry.get("keepalive.peers.dead").functionCounters().stream()
                            .filter(c -> c.count() > 0).map(c -> c.getId().getTags() + "=" + c.count()).toList());
            // The final miss is counted as every other one.
            assertEquals(1, registry.get("keepalive.pings.missed").functionCounter().count());
        }
    }

    private static double deaths(SimpleMeterRegistry registry, String reason) {
        return registry.get("keepalive.peers.dead").tag("reason", reason).functionCounters().stream()
                .mapToDouble(c -> c.count()).sum();
    }

    @Test
    void retirementsAreCountedApartFromDeaths() {
        SimpleMeterRegistry registry = new SimpleMeterRegistry();
        KeepaliveMetrics metrics = new KeepaliveMetrics();
        metrics.bindTo(registry);
        metrics.onPeerRetired(new InetSocketAddress("127.0.0.1", 8080), "it closed the idle connection");
        metrics.onPeerRetired(new InetSocketAddress("127.0.0.1", 8080), "it sent GOAWAY NO_ERROR");
        assertEquals(2, registry.get("keepalive.peers.retired").functionCounter().count());
        for (DeadPeerReason reason : DeadPeerReason.values()) {
            assertEquals(0, registry.get("keepalive.peers.dead").tag("reason", reason.name()).functionCounters()
                    .stream().mapToDouble(c -> c.count()).sum(), "a retirement is no death: " + reason);
        }
    }

    @Test
    void clientMetricsFollowStateAttemptsAndDeaths() throws Exception {
        EventLoopGroup group = Transport.NIO.newGroup(1);
        LineServer server = new LineServer(group, KeepaliveSettings.defaults()).start();
        ReconnectingClient client = ReconnectingClient.builder(new Bootstrap().group(group)
                        .channel(NioSocketChannel.class))
                .endpoints(List.of(server.address()))
                .pipeline((ch, keepalive) -> ch.pipeline().addLast(new LineBasedFrameDecoder(1024),
                        new StringDecoder(StandardCharsets.UTF_8), new StringEncoder(StandardCharsets.UTF_8),
                        keepalive))
                .keepalive(KeepaliveSettings.builder().pingInterval(ofMillis(300)).pingJitter(0).build(),
                        KeepaliveProbe.lines())
                .policy(ReconnectPolicy.builder().backoff(Backoff.fixed(ofMillis(50))).build())
                .build();
        SimpleMeterRegistry registry = new SimpleMeterRegistry();
        new ReconnectingClientMetrics(client, "chat", server.address().toString(), Tags.empty()).bindTo(registry);
        try {
            client.start();
            await().atMost(ofSeconds(5)).until(() -> registry.get("keepalive.client.state")
                    .tag("state", ConnectionState.CONNECTED.name()).gauge().value() == 1);
            server.dropConnections();
            await().atMost(ofSeconds(5)).until(() -> registry.get("keepalive.client.connect.successes")
                    .functionCounter().count() == 2);
            assertEquals(1, registry.get("keepalive.client.deaths").tag("reason", "CLOSED_BY_PEER")
                    .functionCounter().count());
            assertEquals(2, registry.get("keepalive.client.connect.attempts").tag("client", "chat")
                    .functionCounter().count());
            await().atMost(ofSeconds(5)).until(() -> registry.get("keepalive.client.pongs.received")
                    .functionCounter().count() >= 1);
            assertTrue(registry.get("keepalive.client.rtt.max").timeGauge().value(TimeUnit.SECONDS) < 1);
            assertTrue(registry.get("keepalive.client.disconnected.time").timeGauge().value(TimeUnit.SECONDS) >= 0);
            assertEquals(0, registry.get("keepalive.client.queued.messages").gauge().value());
            assertEquals(Duration.ofMillis(500), ReconnectingClientMetrics.SNAPSHOT_MAX_AGE);
        } finally {
            client.close();
            server.stop();
            group.shutdownGracefully(0, 1, TimeUnit.SECONDS).sync();
        }
    }
}
