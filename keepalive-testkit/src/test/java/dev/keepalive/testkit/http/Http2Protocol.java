package dev.keepalive.testkit.http;

import dev.keepalive.netty.KeepaliveHandler;
import dev.keepalive.netty.KeepaliveProbe;
import dev.keepalive.netty.http.Http2Probe;
import io.netty.bootstrap.Bootstrap;
import io.netty.buffer.ByteBufUtil;
import io.netty.channel.Channel;
import io.netty.channel.ChannelHandler;
import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.ChannelInboundHandlerAdapter;
import io.netty.channel.ChannelInitializer;
import io.netty.channel.socket.SocketChannel;
import io.netty.handler.codec.http2.DefaultHttp2DataFrame;
import io.netty.handler.codec.http2.DefaultHttp2Headers;
import io.netty.handler.codec.http2.DefaultHttp2HeadersFrame;
import io.netty.handler.codec.http2.Http2DataFrame;
import io.netty.handler.codec.http2.Http2FrameCodecBuilder;
import io.netty.handler.codec.http2.Http2HeadersFrame;
import io.netty.handler.codec.http2.Http2MultiplexHandler;
import io.netty.handler.codec.http2.Http2StreamChannel;
import io.netty.handler.codec.http2.Http2StreamChannelBootstrap;
import io.netty.util.NetUtil;
import io.netty.util.ReferenceCountUtil;
import io.netty.util.concurrent.Future;

import java.net.InetSocketAddress;
import java.nio.channels.ClosedChannelException;
import java.nio.charset.StandardCharsets;
import java.util.concurrent.CompletableFuture;

/** HTTP/2 (h2c, prior knowledge) with {@link Http2Probe}: Netty's frame codec and multiplexer on both ends. */
final class Http2Protocol implements Protocol {
    private static final String PATH = "/say/";

    @Override
    public void initServerChannel(SocketChannel ch) {
        ch.pipeline().addLast(Http2FrameCodecBuilder.forServer().build(), new Http2MultiplexHandler(new Responder()));
    }

    @Override
    public KeepaliveProbe probe() {
        return Http2Probe.create();
    }

    @Override
    public ProtocolClient connect(Bootstrap bootstrap, InetSocketAddress address, KeepaliveHandler keepalive)
            throws InterruptedException {
        Channel ch = bootstrap.handler(new ChannelInitializer<SocketChannel>() {
            @Override
            protected void initChannel(SocketChannel c) {
                c.pipeline().addLast(Http2FrameCodecBuilder.forClient().build());
                if (keepalive != null) {
                    c.pipeline().addLast(keepalive); // sees connection-level frames and those of every stream
                }
                c.pipeline().addLast(new Http2MultiplexHandler(new Discard()), new CloseOnError());
            }
        }).connect(address).sync().channel();
        String authority = NetUtil.toSocketAddressString(address);
        return new ProtocolClient() {
            @Override
            public Channel channel() {
                return ch;
            }

            @Override
            public CompletableFuture<String> request(String text) {
                CompletableFuture<String> answer = new CompletableFuture<>();
                new Http2StreamChannelBootstrap(ch).handler(new StreamReader(answer)).open()
                        .addListener((Future<Http2StreamChannel> opened) -> {
                            if (!opened.isSuccess()) {
                                answer.completeExceptionally(opened.cause());
                                return;
                            }
                            opened.getNow().writeAndFlush(new DefaultHttp2HeadersFrame(new DefaultHttp2Headers()
                                    .method("GET").scheme("http").authority(authority).path(PATH + text), true))
                                    .addListener(written -> {
                                        if (!written.isSuccess()) {
                                            answer.completeExceptionally(written.cause());
                                        }
                                    });
                        });
                return answer;
            }
        };
    }

    @Override
    public String toString() {
        return "HTTP/2";
    }

    /** One request stream of the client: collects the status and body, completes the answer at end of stream. */
    private static final class StreamReader extends ChannelInboundHandlerAdapter {
        private final CompletableFuture<String> answer;
        private final StringBuilder body = new StringBuilder();
        private CharSequence status;

        StreamReader(CompletableFuture<String> answer) {
            this.answer = answer;
        }

        @Override
        public void channelRead(ChannelHandlerContext ctx, Object msg) {
            try {
                boolean end = false;
                if (msg instanceof Http2HeadersFrame) {
                    Http2HeadersFrame headers = (Http2HeadersFrame) msg;
                    if (status == null) {
                        status = headers.headers().status();
                    }
                    end = headers.isEndStream();
                } else if (msg instanceof Http2DataFrame) {
                    Http2DataFrame data = (Http2DataFrame) msg;
                    body.append(data.content().toString(StandardCharsets.UTF_8));
                    end = data.isEndStream();
                }
                if (end) {
                    answer.complete("200".equals(String.valueOf(status)) ? body.toString() : status + ": " + body);
                }
            } finally {
                ReferenceCountUtil.release(msg);
            }
        }

        @Override
        public void channelInactive(ChannelHandlerContext ctx) {
            answer.completeExceptionally(new ClosedChannelException()); // no-op once answered
            ctx.fireChannelInactive();
        }
    }

    /** Streams the server opens: none in these tests. */
    @ChannelHandler.Sharable
    private static final class Discard extends ChannelInboundHandlerAdapter {
        @Override
        public void channelRead(ChannelHandlerContext ctx, Object msg) {
            ReferenceCountUtil.release(msg);
        }
    }

    /** The end of the connection's pipeline: a connection error (a dead peer) closes it; the streams fail. */
    @ChannelHandler.Sharable
    private static final class CloseOnError extends ChannelInboundHandlerAdapter {
        @Override
        public void exceptionCaught(ChannelHandlerContext ctx, Throwable cause) {
            ctx.close();
        }
    }

    /** Answers {@code GET /say/x} with 200 and {@code you said: x}, anything else with 404. */
    @ChannelHandler.Sharable
    private static final class Responder extends ChannelInboundHandlerAdapter {
        @Override
        public void channelRead(ChannelHandlerContext ctx, Object msg) {
            try {
                if (msg instanceof Http2HeadersFrame && ((Http2HeadersFrame) msg).isEndStream()) {
                    CharSequence path = ((Http2HeadersFrame) msg).headers().path();
                    if (path != null && path.toString().startsWith(PATH)) {
                        String answer = Protocol.answerTo(path.toString().substring(PATH.length()));
                        ctx.write(new DefaultHttp2HeadersFrame(new DefaultHttp2Headers().status("200")));
                        ctx.writeAndFlush(new DefaultHttp2DataFrame(ByteBufUtil.writeUtf8(ctx.alloc(), answer), true));
                    } else {
                        ctx.writeAndFlush(new DefaultHttp2HeadersFrame(new DefaultHttp2Headers().status("404"), true));
                    }
                }
            } finally {
                ReferenceCountUtil.release(msg);
            }
        }
    }
}
