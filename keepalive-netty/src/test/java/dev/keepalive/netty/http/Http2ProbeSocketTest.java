package dev.keepalive.netty.http;

import dev.keepalive.testsupport.KeepaliveEvents;
import dev.keepalive.DeadPeerReason;
import dev.keepalive.KeepaliveSettings;
import dev.keepalive.PeerDeadException;
import dev.keepalive.netty.KeepaliveHandler;
import dev.keepalive.testsupport.Loopback;
import dev.keepalive.testsupport.Transport;
import io.netty.channel.Channel;
import io.netty.channel.ChannelHandler;
import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.ChannelInboundHandlerAdapter;
import io.netty.channel.socket.SocketChannel;
import io.netty.handler.codec.http2.DefaultHttp2Headers;
import io.netty.handler.codec.http2.DefaultHttp2HeadersFrame;
import io.netty.handler.codec.http2.Http2FrameCodecBuilder;
import io.netty.handler.codec.http2.Http2HeadersFrame;
import io.netty.handler.codec.http2.Http2MultiplexHandler;
import io.netty.handler.codec.http2.Http2StreamChannel;
import io.netty.handler.codec.http2.Http2StreamChannelBootstrap;
import io.netty.util.ReferenceCountUtil;
import org.junit.jupiter.api.Test;

import java.time.Duration;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;

import static java.time.Duration.ofMillis;
import static java.time.Duration.ofSeconds;
import static org.awaitility.Awaitility.await;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** The HTTP/2 probe between real Netty HTTP/2 (h2c, prior knowledge) clients and servers on loopback. */
class Http2ProbeSocketTest {
    private static final Duration TOLERANCE = ofMillis(400);
    private static final Duration I = ofMillis(300);
    private static final Duration T = ofMillis(200);

    private static KeepaliveSettings fast() {
        return KeepaliveSettings.builder().pingInterval(I).pingTimeout(T).pingsMissedBeforeDead(1).pingJitter(0)
                .build();
    }

    /** Answers every request stream with a 200 and no body. */
    @ChannelHandler.Sharable
    static final class Ok extends ChannelInboundHandlerAdapter {
        @Override
        public void channelRead(ChannelHandlerContext ctx, Object msg) {
            if (msg instanceof Http2HeadersFrame && ((Http2HeadersFrame) msg).isEndStream()) {
                ctx.writeAndFlush(new DefaultHttp2HeadersFrame(new DefaultHttp2Headers().status("200"), true));
            }
            ReferenceCountUtil.release(msg);
        }
    }

    /** Swallows everything: for the client's side of server-initiated streams, which none of these tests open. */
    @ChannelHandler.Sharable
    static final class Discard extends ChannelInboundHandlerAdapter {
        @Override
        public void channelRead(ChannelHandlerContext ctx, Object msg) {
            ReferenceCountUtil.release(msg);
        }
    }

    private static Channel server(Loopback net, boolean autoAckPings, KeepaliveHandler.Builder keepalive) {
        return net.server(ch -> {
            ch.pipeline().addLast(Http2FrameCodecBuilder.forServer().autoAckPingFrame(autoAckPings).build());
            if (keepalive != null) {
                ch.pipeline().addLast(keepalive.build());
            }
            ch.pipeline().addLast(new Http2MultiplexHandler(new Ok()));
        });
    }

    private static SocketChannel client(Loopback net, Channel server, KeepaliveHandler keepalive) {
        return net.connect(server, ch -> ch.pipeline().addLast(Http2FrameCodecBuilder.forClient().build(),
                keepalive, new Http2MultiplexHandler(new Discard())));
    }

    @Test
    void pingsKeepAnIdleConnectionAliveAndStreamsStillWork() throws Exception {
        try (Loopback net = new Loopback(Transport.NIO)) {
            Channel server = server(net, true, null);
            KeepaliveEvents events = new KeepaliveEvents();
            KeepaliveHandler keepalive = KeepaliveHandler.builder(fast()).probe(Http2Probe.create())
                    .listener(events).build();
            SocketChannel ch = client(net, server, keepalive);
            await().atMost(ofSeconds(10)).until(() -> events.pongs.get() >= 4);
            assertTrue(ch.isOpen());
            assertFalse(events.death.isDone());
            assertEquals(0, keepalive.stats().pingsMissed());

            CompletableFuture<String> status = new CompletableFuture<>();
            Http2StreamChannel stream = new Http2StreamChannelBootstrap(ch).handler(
                    new ChannelInboundHandlerAdapter() {
                        @Override
                        public void channelRead(ChannelHandlerContext ctx, Object msg) {
                            if (msg instanceof Http2HeadersFrame) {
                                status.complete(String.valueOf(((Http2HeadersFrame) msg).headers().status()));
                            }
                            ReferenceCountUtil.release(msg);
                        }
                    }).open().sync().getNow();
            stream.writeAndFlush(new DefaultHttp2HeadersFrame(new DefaultHttp2Headers().method("GET").path("/")
                    .scheme("http").authority("127.0.0.1"), true)).sync();
            assertEquals("200", status.get(5, TimeUnit.SECONDS), "streams pass through the keepalive handler");
        }
    }

    @Test
    void aPeerThatStopsAckingIsDeadWithinTheBound() throws Exception {
        try (Loopback net = new Loopback(Transport.NIO)) {
            // A server whose codec does not acknowledge pings, and nothing else does: silence after SETTINGS.
            Channel server = server(net, false, null);
            KeepaliveEvents events = new KeepaliveEvents();
            KeepaliveHandler keepalive = KeepaliveHandler.builder(fast()).probe(Http2Probe.create())
                    .listener(events).build();
            long before = System.nanoTime();
            SocketChannel ch = client(net, server, keepalive);
            PeerDeadException e = events.death.get(10, TimeUnit.SECONDS);
            assertEquals(DeadPeerReason.PING_TIMEOUT, e.reason());
            Duration bound = fast().idleDetectionBound();
            // Both edges from the last byte (the server's SETTINGS); the wall clock also holds the handshake.
            assertTrue(e.sinceLastInbound().compareTo(bound) >= 0, "not before the bound: " + e.getMessage());
            assertTrue(e.sinceLastInbound().compareTo(bound.plus(TOLERANCE)) <= 0, "within " + bound + " + "
                    + TOLERANCE + ": " + e.getMessage());
            Duration took = Duration.ofNanos(events.deadAt - before);
            assertTrue(took.compareTo(bound.plus(TOLERANCE).plus(ofSeconds(1))) <= 0, "took " + took);
            await().atMost(ofSeconds(5)).until(() -> !ch.isOpen());
        }
    }

    @Test
    void aServerThatFindsThePingsTooFrequentSaysEnhanceYourCalmAndTheClientReportsTooManyPings()
            throws Exception {
        try (Loopback net = new Loopback(Transport.NIO)) {
            // The server allows one ping every 5 s and no strike; the client pings every 150 ms.
            KeepaliveEvents serverEvents = new KeepaliveEvents();
            Channel server = server(net, true, KeepaliveHandler.builder(KeepaliveSettings.builder()
                            .pingInterval(ofSeconds(30)).minPeerPingInterval(ofSeconds(5)).peerPingStrikes(0).build())
                    .probe(Http2Probe.create()).listener(serverEvents));
            KeepaliveEvents events = new KeepaliveEvents();
            KeepaliveHandler keepalive = KeepaliveHandler.builder(KeepaliveSettings.builder()
                            .pingInterval(ofMillis(150)).pingTimeout(ofSeconds(1)).pingJitter(0).build())
                    .probe(Http2Probe.create()).listener(events).build();
            SocketChannel ch = client(net, server, keepalive);
            PeerDeadException e = events.death.get(10, TimeUnit.SECONDS);
            assertEquals(DeadPeerReason.TOO_MANY_PINGS, e.reason(), "GOAWAY ENHANCE_YOUR_CALM");
            assertEquals(DeadPeerReason.PEER_PINGED_TOO_OFTEN, serverEvents.death.get(5, TimeUnit.SECONDS).reason());
            assertTrue(events.pongs.get() >= 1, "the first ping was acknowledged");
            await().atMost(ofSeconds(5)).until(() -> !ch.isOpen());
        }
    }
}
