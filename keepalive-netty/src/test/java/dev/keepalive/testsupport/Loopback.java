package dev.keepalive.testsupport;

import io.netty.bootstrap.Bootstrap;
import io.netty.bootstrap.ServerBootstrap;
import io.netty.channel.Channel;
import io.netty.channel.ChannelHandler;
import io.netty.channel.ChannelInitializer;
import io.netty.channel.ChannelOption;
import io.netty.channel.EventLoopGroup;
import io.netty.channel.socket.SocketChannel;
import io.netty.handler.codec.LengthFieldBasedFrameDecoder;
import io.netty.handler.codec.LengthFieldPrepender;

import java.net.InetSocketAddress;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;
import java.util.function.Consumer;

/** A server and clients on 127.0.0.1 over one transport, closed together. */
public final class Loopback implements AutoCloseable {
    private final Transport transport;
    private final EventLoopGroup group;
    private final List<Channel> channels = new ArrayList<>();

    public Loopback(Transport transport) {
        this.transport = transport;
        this.group = transport.newGroup(2);
    }

    public Transport transport() {
        return transport;
    }

    /** Length-prefixed framing (4 bytes), as most binary protocols have, followed by {@code handlers}. */
    public static void framed(SocketChannel ch, ChannelHandler... handlers) {
        ch.pipeline().addLast(new LengthFieldBasedFrameDecoder(1 << 20, 0, 4, 0, 4), new LengthFieldPrepender(4));
        ch.pipeline().addLast(handlers);
    }

    /** Starts a server on 127.0.0.1 with an ephemeral port; {@code child} sets up each accepted channel. */
    public Channel server(Consumer<SocketChannel> child) {
        Channel server = new ServerBootstrap().group(group).channel(transport.server())
                .childHandler(new ChannelInitializer<SocketChannel>() {
                    @Override
                    protected void initChannel(SocketChannel ch) {
                        child.accept(ch);
                    }
                })
                .bind(new InetSocketAddress("127.0.0.1", 0)).syncUninterruptibly().channel();
        channels.add(server);
        return server;
    }

    /** Connects a client to {@code server}; {@code init} sets up its pipeline. */
    public SocketChannel connect(Channel server, Consumer<SocketChannel> init) {
        SocketChannel ch = (SocketChannel) new Bootstrap().group(group).channel(transport.socket())
                .option(ChannelOption.CONNECT_TIMEOUT_MILLIS, 5000)
                .handler(new ChannelInitializer<SocketChannel>() {
                    @Override
                    protected void initChannel(SocketChannel c) {
                        init.accept(c);
                    }
                })
                .connect(server.localAddress()).syncUninterruptibly().channel();
        channels.add(ch);
        return ch;
    }

    @Override
    public void close() {
        for (Channel ch : channels) {
            ch.close().awaitUninterruptibly(5, TimeUnit.SECONDS);
        }
        group.shutdownGracefully(0, 2, TimeUnit.SECONDS).awaitUninterruptibly(10, TimeUnit.SECONDS);
    }
}
