package dev.keepalive.testkit.http;

import dev.keepalive.netty.KeepaliveHandler;
import dev.keepalive.netty.KeepaliveProbe;
import dev.keepalive.netty.http.Http1Probe;
import io.netty.bootstrap.Bootstrap;
import io.netty.buffer.Unpooled;
import io.netty.channel.Channel;
import io.netty.channel.ChannelFutureListener;
import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.ChannelInitializer;
import io.netty.channel.SimpleChannelInboundHandler;
import io.netty.channel.socket.SocketChannel;
import io.netty.handler.codec.http.DefaultFullHttpRequest;
import io.netty.handler.codec.http.DefaultFullHttpResponse;
import io.netty.handler.codec.http.FullHttpRequest;
import io.netty.handler.codec.http.FullHttpResponse;
import io.netty.handler.codec.http.HttpClientCodec;
import io.netty.handler.codec.http.HttpHeaderNames;
import io.netty.handler.codec.http.HttpMethod;
import io.netty.handler.codec.http.HttpObjectAggregator;
import io.netty.handler.codec.http.HttpResponseStatus;
import io.netty.handler.codec.http.HttpServerCodec;
import io.netty.handler.codec.http.HttpUtil;
import io.netty.handler.codec.http.HttpVersion;
import io.netty.util.NetUtil;

import java.net.InetSocketAddress;
import java.nio.channels.ClosedChannelException;
import java.nio.charset.StandardCharsets;
import java.util.concurrent.CompletableFuture;

/** HTTP/1.1 with {@link Http1Probe}: a client connection held open as a pool holds it, to a Netty HTTP server. */
final class Http1Protocol implements Protocol {
    private static final String PATH = "/say/";

    @Override
    public void initServerChannel(SocketChannel ch) {
        ch.pipeline().addLast(new HttpServerCodec(), new HttpObjectAggregator(1 << 16), new Responder());
    }

    @Override
    public KeepaliveProbe probe() {
        return Http1Probe.create();
    }

    @Override
    public ProtocolClient connect(Bootstrap bootstrap, InetSocketAddress address, KeepaliveHandler keepalive)
            throws InterruptedException {
        InOrderAnswers answers = new InOrderAnswers();
        Channel ch = bootstrap.handler(new ChannelInitializer<SocketChannel>() {
            @Override
            protected void initChannel(SocketChannel c) {
                c.pipeline().addLast(new HttpClientCodec());
                if (keepalive != null) {
                    c.pipeline().addLast(keepalive);
                }
                c.pipeline().addLast(new HttpObjectAggregator(1 << 16), new ResponseReader(answers));
            }
        }).connect(address).sync().channel();
        String host = NetUtil.toSocketAddressString(address);
        return new ProtocolClient() {
            @Override
            public Channel channel() {
                return ch;
            }

            @Override
            public CompletableFuture<String> request(String text) {
                FullHttpRequest get = new DefaultFullHttpRequest(HttpVersion.HTTP_1_1, HttpMethod.GET, PATH + text);
                get.headers().set(HttpHeaderNames.HOST, host);
                return answers.send(ch, get);
            }
        };
    }

    @Override
    public String toString() {
        return "HTTP/1.1";
    }

    /** The client's application: hands each response's body (or status, if not 200) to the waiting request. */
    private static final class ResponseReader extends SimpleChannelInboundHandler<FullHttpResponse> {
        private final InOrderAnswers answers;

        ResponseReader(InOrderAnswers answers) {
            this.answers = answers;
        }

        @Override
        protected void channelRead0(ChannelHandlerContext ctx, FullHttpResponse response) {
            String body = response.content().toString(StandardCharsets.UTF_8);
            answers.answered(response.status().code() == 200 ? body : response.status() + ": " + body);
        }

        @Override
        public void channelInactive(ChannelHandlerContext ctx) {
            answers.failAll(new ClosedChannelException());
            ctx.fireChannelInactive();
        }

        @Override
        public void exceptionCaught(ChannelHandlerContext ctx, Throwable cause) {
            answers.failAll(cause);
            ctx.close();
        }
    }

    /** Answers {@code GET /say/x} with {@code you said: x}, anything else (the probe's HEAD /) with an empty 200. */
    private static final class Responder extends SimpleChannelInboundHandler<FullHttpRequest> {
        @Override
        protected void channelRead0(ChannelHandlerContext ctx, FullHttpRequest request) {
            FullHttpResponse response;
            if (request.method().equals(HttpMethod.GET) && request.uri().startsWith(PATH)) {
                response = new DefaultFullHttpResponse(HttpVersion.HTTP_1_1, HttpResponseStatus.OK,
                        Unpooled.copiedBuffer(Protocol.answerTo(request.uri().substring(PATH.length())),
                                StandardCharsets.UTF_8));
                response.headers().set(HttpHeaderNames.CONTENT_TYPE, "text/plain; charset=utf-8");
            } else {
                response = new DefaultFullHttpResponse(HttpVersion.HTTP_1_1, HttpResponseStatus.OK);
                response.headers().set(HttpHeaderNames.ALLOW, "GET, OPTIONS");
            }
            HttpUtil.setContentLength(response, response.content().readableBytes());
            boolean keepAlive = HttpUtil.isKeepAlive(request);
            HttpUtil.setKeepAlive(response, keepAlive);
            if (keepAlive) {
                ctx.writeAndFlush(response);
            } else {
                ctx.writeAndFlush(response).addListener(ChannelFutureListener.CLOSE);
            }
        }
    }
}
