package dev.keepalive.testkit.http;

import io.netty.bootstrap.ServerBootstrap;
import io.netty.channel.Channel;
import io.netty.channel.ChannelInitializer;
import io.netty.channel.EventLoopGroup;
import io.netty.channel.socket.SocketChannel;
import io.netty.channel.socket.nio.NioServerSocketChannel;

import java.net.InetSocketAddress;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;

/** A {@link Protocol}'s server on 127.0.0.1 with an ephemeral port; counts the connections it accepted. */
final class LoopbackServer implements AutoCloseable {
    private final Channel channel;
    private final AtomicInteger accepted = new AtomicInteger();

    LoopbackServer(EventLoopGroup group, Protocol protocol) {
        this.channel = new ServerBootstrap().group(group).channel(NioServerSocketChannel.class)
                .childHandler(new ChannelInitializer<SocketChannel>() {
                    @Override
                    protected void initChannel(SocketChannel ch) {
                        accepted.incrementAndGet();
                        protocol.initServerChannel(ch);
                    }
                })
                .bind(new InetSocketAddress("127.0.0.1", 0)).syncUninterruptibly().channel();
    }

    InetSocketAddress address() {
        return (InetSocketAddress) channel.localAddress();
    }

    /** How many connections the server accepted so far. */
    int accepted() {
        return accepted.get();
    }

    /** Stops listening; accepted connections close with their event loop group. */
    @Override
    public void close() {
        if (channel.isOpen()) { // otherwise closed already, with its event loop group
            channel.close().awaitUninterruptibly(5, TimeUnit.SECONDS);
        }
    }
}
