package dev.keepalive.samples.http;

import dev.keepalive.KeepaliveListener;
import dev.keepalive.KeepaliveSettings;
import dev.keepalive.PeerDeadException;
import dev.keepalive.netty.KeepaliveHandler;
import dev.keepalive.netty.KeepaliveProbe;
import io.netty.bootstrap.Bootstrap;
import io.netty.channel.Channel;
import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.EventLoopGroup;
import io.netty.channel.SimpleChannelInboundHandler;
import io.netty.channel.pool.AbstractChannelPoolHandler;
import io.netty.channel.pool.ChannelHealthChecker;
import io.netty.channel.pool.SimpleChannelPool;
import io.netty.channel.socket.nio.NioSocketChannel;
import io.netty.handler.codec.http.DefaultFullHttpRequest;
import io.netty.handler.codec.http.FullHttpRequest;
import io.netty.handler.codec.http.FullHttpResponse;
import io.netty.handler.codec.http.HttpClientCodec;
import io.netty.handler.codec.http.HttpHeaderNames;
import io.netty.handler.codec.http.HttpMethod;
import io.netty.handler.codec.http.HttpObjectAggregator;
import io.netty.handler.codec.http.HttpVersion;
import io.netty.util.AttributeKey;
import io.netty.util.NetUtil;

import java.net.InetSocketAddress;
import java.net.SocketAddress;
import java.nio.channels.ClosedChannelException;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;
import java.util.concurrent.atomic.AtomicInteger;

/**
 * An HTTP/1.1 client with a connection pool, as applications have one: Netty's {@link SimpleChannelPool} keeps the
 * connection after each request and hands it out again for the next one, checking only that the channel is
 * active. With a probe, each connection gets a {@link KeepaliveHandler} right after its {@link HttpClientCodec}.
 */
final class PooledClient implements AutoCloseable {
    private static final AttributeKey<CompletableFuture<String>> RESPONSE =
            AttributeKey.valueOf(PooledClient.class, "response");
    private static final AttributeKey<Integer> PORT = AttributeKey.valueOf(PooledClient.class, "port");
    private static final AttributeKey<String> CLOSE_REASON = AttributeKey.valueOf(PooledClient.class, "closeReason");

    private final String name;
    private final String host;
    private final SimpleChannelPool pool;
    private final Timeline timeline;
    private final AtomicInteger pongs = new AtomicInteger();
    private final AtomicInteger closedConnections = new AtomicInteger();
    private volatile boolean closing;

    /**
     * @param probe the probe of each connection's keepalive handler, or {@code null} for no keepalive at all
     * @param idleCloseMeans what it means when a connection closes without a request in flight
     */
    PooledClient(String name, EventLoopGroup group, InetSocketAddress server, KeepaliveSettings settings,
                 KeepaliveProbe probe, String idleCloseMeans, Timeline timeline) {
        this.name = name;
        this.host = NetUtil.toSocketAddressString(server);
        this.timeline = timeline;
        KeepaliveHandler.Builder keepalive = probe == null ? null
                : KeepaliveHandler.builder(settings).probe(probe).listener(new Events());
        Bootstrap bootstrap = new Bootstrap().group(group).channel(NioSocketChannel.class).remoteAddress(server);
        this.pool = new SimpleChannelPool(bootstrap, new AbstractChannelPoolHandler() {
            @Override
            public void channelCreated(Channel ch) {
                ch.pipeline().addLast(new HttpClientCodec());
                if (keepalive != null) {
                    ch.pipeline().addLast(keepalive.build()); // one per connection
                }
                ch.pipeline().addLast(new HttpObjectAggregator(1 << 16), new ResponseHandler());
                ch.closeFuture().addListener(f -> {
                    if (!closing) {
                        closedConnections.incrementAndGet();
                        String reason = ch.attr(CLOSE_REASON).get();
                        say("connection :%s closed %s", ch.attr(PORT).get(), reason != null ? reason : idleCloseMeans);
                    }
                });
            }
        }, ChannelHealthChecker.ACTIVE, true, true);
    }

    /** The outcome of one request: the answer, or why there is none. */
    record Result(String answer, String failure, int port, boolean reused, boolean openWhenGivenUp) {
        boolean answered() {
            return answer != null;
        }

        @Override
        public String toString() {
            return (answered() ? answer : failure) + " on connection :" + port + (reused ? " (reused)" : " (new)");
        }
    }

    /** Sends {@code GET path} on a pooled connection and waits for the response at most {@code timeout}. */
    Result get(String path, Duration timeout) throws InterruptedException {
        Channel ch;
        try {
            ch = pool.acquire().get(timeout.toMillis(), TimeUnit.MILLISECONDS);
        } catch (ExecutionException | TimeoutException e) {
            return new Result(null, "no connection: " + e, 0, false, false);
        }
        boolean reused = ch.hasAttr(PORT);
        if (!reused) {
            ch.attr(PORT).set(((InetSocketAddress) ch.localAddress()).getPort());
        }
        int port = ch.attr(PORT).get();
        CompletableFuture<String> response = new CompletableFuture<>();
        ch.attr(RESPONSE).set(response);
        FullHttpRequest request = new DefaultFullHttpRequest(HttpVersion.HTTP_1_1, HttpMethod.GET, path);
        request.headers().set(HttpHeaderNames.HOST, host);
        ch.writeAndFlush(request).addListener(f -> {
            if (!f.isSuccess()) {
                response.completeExceptionally(f.cause());
            }
        });
        try {
            return new Result(response.get(timeout.toMillis(), TimeUnit.MILLISECONDS), null, port, reused, true);
        } catch (TimeoutException e) {
            // What a response timeout does: give up on the connection. The request may or may not have been
            // processed; only an idempotent one may be retried.
            boolean open = ch.isActive();
            ch.attr(CLOSE_REASON).set("by the client after the response timeout");
            ch.close().awaitUninterruptibly();
            return new Result(null, "no answer within " + timeout.toMillis() + " ms", port, reused, open);
        } catch (ExecutionException e) {
            return new Result(null, "failed: " + e.getCause(), port, reused, ch.isActive());
        } finally {
            ch.attr(RESPONSE).set(null);
            pool.release(ch).awaitUninterruptibly(); // a closed connection is dropped, not pooled again
        }
    }

    String name() {
        return name;
    }

    /** Probes answered so far. */
    int pongs() {
        return pongs.get();
    }

    /** Connections closed so far, by whatever cause. */
    int closedConnections() {
        return closedConnections.get();
    }

    private void say(String format, Object... args) {
        timeline.say("   %-9s %s", name, String.format(format, args));
    }

    @Override
    public void close() {
        closing = true;
        pool.close();
    }

    /** The keepalive handler's events, shown on the timeline. */
    private final class Events implements KeepaliveListener {
        @Override
        public void onPongReceived(SocketAddress remote, long pingId, Duration rtt) {
            pongs.incrementAndGet();
            say("keepalive probe HEAD / answered after %.1f ms: the firewall saw traffic", rtt.toNanos() / 1e6);
        }

        @Override
        public void onPeerDead(PeerDeadException e) {
            say("%s", e.getMessage());
        }
    }

    /** Completes the request waiting on the connection with the response's status and body. */
    private static final class ResponseHandler extends SimpleChannelInboundHandler<FullHttpResponse> {
        @Override
        protected void channelRead0(ChannelHandlerContext ctx, FullHttpResponse response) {
            CompletableFuture<String> waiting = ctx.channel().attr(RESPONSE).getAndSet(null);
            if (waiting != null) {
                waiting.complete(response.status().code() + " \"" + response.content().toString(StandardCharsets.UTF_8)
                        + '"');
            }
        }

        @Override
        public void channelInactive(ChannelHandlerContext ctx) {
            fail(ctx, new ClosedChannelException());
            ctx.fireChannelInactive();
        }

        @Override
        public void exceptionCaught(ChannelHandlerContext ctx, Throwable cause) {
            fail(ctx, cause); // a PeerDeadException from the keepalive handler, or an I/O error
            ctx.close();
        }

        private static void fail(ChannelHandlerContext ctx, Throwable cause) {
            CompletableFuture<String> waiting = ctx.channel().attr(RESPONSE).getAndSet(null);
            if (waiting != null) {
                waiting.completeExceptionally(cause);
            }
        }
    }
}
