package dev.keepalive.testkit.http;

import dev.keepalive.netty.KeepaliveHandler;
import dev.keepalive.netty.KeepaliveProbe;
import dev.keepalive.netty.http.WebSocketProbe;
import io.netty.bootstrap.Bootstrap;
import io.netty.channel.Channel;
import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.ChannelInboundHandlerAdapter;
import io.netty.channel.ChannelInitializer;
import io.netty.channel.SimpleChannelInboundHandler;
import io.netty.channel.socket.SocketChannel;
import io.netty.handler.codec.http.HttpClientCodec;
import io.netty.handler.codec.http.HttpObjectAggregator;
import io.netty.handler.codec.http.HttpServerCodec;
import io.netty.handler.codec.http.websocketx.TextWebSocketFrame;
import io.netty.handler.codec.http.websocketx.WebSocketClientProtocolConfig;
import io.netty.handler.codec.http.websocketx.WebSocketClientProtocolHandler;
import io.netty.handler.codec.http.websocketx.WebSocketServerProtocolHandler;
import io.netty.util.NetUtil;
import io.netty.util.ReferenceCountUtil;

import java.net.InetSocketAddress;
import java.net.URI;
import java.nio.channels.ClosedChannelException;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;

/** WebSocket with {@link WebSocketProbe}: Netty's WebSocket client and server; the server echoes text frames. */
final class WebSocketProtocol implements Protocol {
    private static final String PATH = "/ws";

    @Override
    public void initServerChannel(SocketChannel ch) {
        ch.pipeline().addLast(new HttpServerCodec(), new HttpObjectAggregator(1 << 16),
                new WebSocketServerProtocolHandler(PATH), new Echo());
    }

    @Override
    public KeepaliveProbe probe() {
        return WebSocketProbe.create();
    }

    @Override
    public ProtocolClient connect(Bootstrap bootstrap, InetSocketAddress address, KeepaliveHandler keepalive)
            throws Exception {
        URI uri = URI.create("ws://" + NetUtil.toSocketAddressString(address) + PATH);
        FrameReader reader = new FrameReader();
        Channel ch = bootstrap.handler(new ChannelInitializer<SocketChannel>() {
            @Override
            protected void initChannel(SocketChannel c) {
                c.pipeline().addLast(new HttpClientCodec(), new HttpObjectAggregator(8192));
                if (keepalive != null) {
                    c.pipeline().addLast(keepalive); // before the protocol handler, which drops pongs
                }
                c.pipeline().addLast(new WebSocketClientProtocolHandler(WebSocketClientProtocolConfig.newBuilder()
                        .webSocketUri(uri).build()), reader);
            }
        }).connect(address).sync().channel();
        reader.handshake.get(5, TimeUnit.SECONDS);
        return new ProtocolClient() {
            @Override
            public Channel channel() {
                return ch;
            }

            @Override
            public CompletableFuture<String> request(String text) {
                return reader.answers.send(ch, new TextWebSocketFrame(text));
            }
        };
    }

    @Override
    public String toString() {
        return "WebSocket";
    }

    /** The client's application: notes the handshake, hands each text frame to the waiting request. */
    private static final class FrameReader extends ChannelInboundHandlerAdapter {
        final CompletableFuture<Void> handshake = new CompletableFuture<>();
        final InOrderAnswers answers = new InOrderAnswers();

        @Override
        public void userEventTriggered(ChannelHandlerContext ctx, Object evt) {
            if (evt == WebSocketClientProtocolHandler.ClientHandshakeStateEvent.HANDSHAKE_COMPLETE) {
                handshake.complete(null);
            }
            ctx.fireUserEventTriggered(evt);
        }

        @Override
        public void channelRead(ChannelHandlerContext ctx, Object msg) {
            try {
                if (msg instanceof TextWebSocketFrame) {
                    answers.answered(((TextWebSocketFrame) msg).text());
                }
            } finally {
                ReferenceCountUtil.release(msg);
            }
        }

        @Override
        public void channelInactive(ChannelHandlerContext ctx) {
            ClosedChannelException closed = new ClosedChannelException();
            handshake.completeExceptionally(closed);
            answers.failAll(closed);
            ctx.fireChannelInactive();
        }

        @Override
        public void exceptionCaught(ChannelHandlerContext ctx, Throwable cause) {
            handshake.completeExceptionally(cause);
            answers.failAll(cause);
            ctx.close();
        }
    }

    /** Answers each text frame with {@code you said: } and its text. */
    private static final class Echo extends SimpleChannelInboundHandler<TextWebSocketFrame> {
        @Override
        protected void channelRead0(ChannelHandlerContext ctx, TextWebSocketFrame frame) {
            ctx.writeAndFlush(new TextWebSocketFrame(Protocol.answerTo(frame.text())));
        }
    }
}
