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
import io.netty.handler.codec.http.HttpClientCodec;
import io.netty.handler.codec.http.HttpObjectAggregator;
import io.netty.handler.codec.http.HttpServerCodec;
import io.netty.handler.codec.http.websocketx.PingWebSocketFrame;
import io.netty.handler.codec.http.websocketx.TextWebSocketFrame;
import io.netty.handler.codec.http.websocketx.WebSocketClientProtocolConfig;
import io.netty.handler.codec.http.websocketx.WebSocketClientProtocolHandler;
import io.netty.handler.codec.http.websocketx.WebSocketServerProtocolHandler;
import io.netty.util.ReferenceCountUtil;
import org.junit.jupiter.api.Test;

import java.net.InetSocketAddress;
import java.net.URI;
import java.time.Duration;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.TimeUnit;

import static java.time.Duration.ofMillis;
import static java.time.Duration.ofSeconds;
import static org.awaitility.Awaitility.await;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** The WebSocket probe between real Netty WebSocket clients and servers on loopback. */
class WebSocketProbeSocketTest {
    private static final Duration TOLERANCE = ofMillis(400);
    private static final Duration I = ofMillis(300);
    private static final Duration T = ofMillis(200);

    private static KeepaliveSettings fast() {
        return KeepaliveSettings.builder().pingInterval(I).pingTimeout(T).pingsMissedBeforeDead(1).pingJitter(0)
                .build();
    }

    /** The application end of a WebSocket: notes the handshake and the text frames. */
    static final class App extends ChannelInboundHandlerAdapter {
        final CompletableFuture<Long> handshake = new CompletableFuture<>();
        final List<String> texts = new CopyOnWriteArrayList<>();

        @Override
        public void userEventTriggered(ChannelHandlerContext ctx, Object evt) {
            if (evt == WebSocketClientProtocolHandler.ClientHandshakeStateEvent.HANDSHAKE_COMPLETE
                    || evt instanceof WebSocketServerProtocolHandler.HandshakeComplete) {
                handshake.complete(System.nanoTime());
            }
            ctx.fireUserEventTriggered(evt);
        }

        @Override
        public void channelRead(ChannelHandlerContext ctx, Object msg) {
            if (msg instanceof TextWebSocketFrame) {
                texts.add(((TextWebSocketFrame) msg).text());
            }
            ReferenceCountUtil.release(msg);
        }
    }

    /** A server application that hangs after the handshake: it never answers pings (its kernel still ACKs). */
    static final class DropsPings extends ChannelInboundHandlerAdapter {
        @Override
        public void channelRead(ChannelHandlerContext ctx, Object msg) {
            if (msg instanceof PingWebSocketFrame) {
                ReferenceCountUtil.release(msg);
            } else {
                ctx.fireChannelRead(msg);
            }
        }
    }

    private static Channel server(Loopback net, ChannelHandler... beforeProtocolHandler) {
        return net.server(ch -> {
            ch.pipeline().addLast(new HttpServerCodec(), new HttpObjectAggregator(1 << 16));
            ch.pipeline().addLast(beforeProtocolHandler);
            ch.pipeline().addLast(new WebSocketServerProtocolHandler("/ws"), new App());
        });
    }

    private static SocketChannel client(Loopback net, Channel server, App app, ChannelHandler keepalive) {
        InetSocketAddress address = (InetSocketAddress) server.localAddress();
        URI uri = URI.create("ws://127.0.0.1:" + address.getPort() + "/ws");
        return net.connect(server, ch -> {
            ch.pipeline().addLast(new HttpClientCodec(), new HttpObjectAggregator(8192));
            if (keepalive != null) {
                ch.pipeline().addLast(keepalive);
            }
            ch.pipeline().addLast(new WebSocketClientProtocolHandler(WebSocketClientProtocolConfig.newBuilder()
                    .webSocketUri(uri).build()), app);
        });
    }

    @Test
    void pingsKeepAnIdleWebSocketAliveAndFramesStillFlow() throws Exception {
        try (Loopback net = new Loopback(Transport.NIO)) {
            Channel server = server(net);
            KeepaliveEvents events = new KeepaliveEvents();
            KeepaliveHandler keepalive = KeepaliveHandler.builder(fast()).probe(WebSocketProbe.create())
                    .listener(events).build();
            App app = new App();
            SocketChannel ch = client(net, server, app, keepalive);
            app.handshake.get(5, TimeUnit.SECONDS);
            await().atMost(ofSeconds(10)).until(() -> events.pongs.get() >= 4);
            assertTrue(ch.isOpen());
            assertFalse(events.death.isDone());
            assertEquals(0, keepalive.stats().pingsMissed());
            ch.writeAndFlush(new TextWebSocketFrame("hello")).sync();
            assertEquals(List.of(), app.texts, "no probe frame reached the application");
        }
    }

    @Test
    void aPeerThatStopsAnsweringIsDeadWithinTheBound() throws Exception {
        try (Loopback net = new Loopback(Transport.NIO)) {
            Channel server = server(net, new DropsPings());
            KeepaliveEvents events = new KeepaliveEvents();
            KeepaliveHandler keepalive = KeepaliveHandler.builder(fast()).probe(WebSocketProbe.create())
                    .listener(events).build();
            App app = new App();
            SocketChannel ch = client(net, server, app, keepalive);
            long handshake = app.handshake.get(5, TimeUnit.SECONDS);
            PeerDeadException e = events.death.get(10, TimeUnit.SECONDS);
            assertEquals(DeadPeerReason.PING_TIMEOUT, e.reason());
            Duration took = Duration.ofNanos(events.deadAt - handshake);
            Duration bound = fast().idleDetectionBound();
            assertTrue(took.compareTo(bound.plus(TOLERANCE)) <= 0, "within " + bound + " + " + TOLERANCE
                    + " of the last inbound frame: " + took);
            assertTrue(keepalive.stats().pingsSent() >= 1);
            await().atMost(ofSeconds(5)).until(() -> !ch.isOpen());
        }
    }

    @Test
    void aServerPingsItsClientsAndNettysClientAnswers() throws Exception {
        try (Loopback net = new Loopback(Transport.NIO)) {
            KeepaliveEvents events = new KeepaliveEvents();
            Channel server = net.server(ch -> ch.pipeline().addLast(new HttpServerCodec(),
                    new HttpObjectAggregator(1 << 16),
                    KeepaliveHandler.builder(fast()).probe(WebSocketProbe.create()).listener(events).build(),
                    new WebSocketServerProtocolHandler("/ws"), new App()));
            App app = new App();
            SocketChannel ch = client(net, server, app, null);
            app.handshake.get(5, TimeUnit.SECONDS);
            await().atMost(ofSeconds(10)).until(() -> events.pongs.get() >= 3);
            assertTrue(ch.isOpen());
            assertFalse(events.death.isDone());
        }
    }
}
