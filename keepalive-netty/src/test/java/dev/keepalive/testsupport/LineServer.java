package dev.keepalive.testsupport;

import dev.keepalive.KeepaliveSettings;
import dev.keepalive.netty.KeepaliveHandler;
import dev.keepalive.netty.KeepaliveProbe;
import io.netty.bootstrap.ServerBootstrap;
import io.netty.channel.Channel;
import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.ChannelInitializer;
import io.netty.channel.EventLoopGroup;
import io.netty.channel.SimpleChannelInboundHandler;
import io.netty.channel.group.ChannelGroup;
import io.netty.channel.group.DefaultChannelGroup;
import io.netty.channel.socket.SocketChannel;
import io.netty.handler.codec.LineBasedFrameDecoder;
import io.netty.handler.codec.string.StringDecoder;
import io.netty.handler.codec.string.StringEncoder;
import io.netty.util.concurrent.GlobalEventExecutor;

import java.net.InetSocketAddress;
import java.nio.charset.StandardCharsets;
import java.util.List;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;

/**
 * A line server on 127.0.0.1 with {@link KeepaliveHandler} (line probe) that records every line, answers
 * {@code MSG <id> ...} with {@code ACK <id>} when acking is on, and can be stopped and started on the same port.
 */
public final class LineServer implements AutoCloseable {
    public final List<String> lines = new CopyOnWriteArrayList<>();
    public final AtomicInteger accepted = new AtomicInteger();
    private final EventLoopGroup group;
    private final KeepaliveSettings settings;
    private final ChannelGroup children = new DefaultChannelGroup(GlobalEventExecutor.INSTANCE);
    private volatile boolean ack;
    private volatile int port;
    private Channel server;

    public LineServer(EventLoopGroup group, KeepaliveSettings settings) {
        this.group = group;
        this.settings = settings;
    }

    public LineServer ack(boolean on) {
        this.ack = on;
        return this;
    }

    /** Binds (again) on the same port as before, or an ephemeral one the first time. */
    public LineServer start() {
        server = new ServerBootstrap().group(group).channel(io.netty.channel.socket.nio.NioServerSocketChannel.class)
                .childHandler(new ChannelInitializer<SocketChannel>() {
                    @Override
                    protected void initChannel(SocketChannel ch) {
                        accepted.incrementAndGet();
                        children.add(ch);
                        ch.pipeline().addLast(new LineBasedFrameDecoder(1 << 16),
                                new StringDecoder(StandardCharsets.UTF_8), new StringEncoder(StandardCharsets.UTF_8),
                                KeepaliveHandler.builder(settings).probe(KeepaliveProbe.lines()).build(),
                                new SimpleChannelInboundHandler<String>() {
                                    @Override
                                    protected void channelRead0(ChannelHandlerContext ctx, String line) {
                                        lines.add(line);
                                        if (ack && line.startsWith("MSG ")) {
                                            String id = line.split(" ")[1];
                                            ctx.writeAndFlush("ACK " + id + "\n");
                                        }
                                    }

                                    @Override
                                    public void exceptionCaught(ChannelHandlerContext ctx, Throwable cause) {
                                        ctx.close();
                                    }
                                });
                    }
                })
                .bind(new InetSocketAddress("127.0.0.1", port)).syncUninterruptibly().channel();
        port = ((InetSocketAddress) server.localAddress()).getPort();
        return this;
    }

    public InetSocketAddress address() {
        return new InetSocketAddress("127.0.0.1", port);
    }

    /** Closes every accepted connection (the clients see a close by the peer). */
    public void dropConnections() {
        children.close().awaitUninterruptibly(5, TimeUnit.SECONDS);
    }

    /** Stops listening and drops every connection, as a crashed-and-restarting server process would. */
    public void stop() {
        server.close().awaitUninterruptibly(5, TimeUnit.SECONDS);
        dropConnections();
    }

    public int connections() {
        return children.size();
    }

    @Override
    public void close() {
        stop();
    }
}
