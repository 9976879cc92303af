package dev.keepalive.testsupport;

import io.netty.channel.EventLoopGroup;
import io.netty.channel.MultiThreadIoEventLoopGroup;
import io.netty.channel.IoHandlerFactory;
import io.netty.channel.ServerChannel;
import io.netty.channel.epoll.Epoll;
import io.netty.channel.epoll.EpollIoHandler;
import io.netty.channel.epoll.EpollServerSocketChannel;
import io.netty.channel.epoll.EpollSocketChannel;
import io.netty.channel.nio.NioIoHandler;
import io.netty.channel.socket.SocketChannel;
import io.netty.channel.socket.nio.NioServerSocketChannel;
import io.netty.channel.socket.nio.NioSocketChannel;
import io.netty.channel.uring.IoUring;
import io.netty.channel.uring.IoUringIoHandler;
import io.netty.channel.uring.IoUringServerSocketChannel;
import io.netty.channel.uring.IoUringSocketChannel;

import java.util.function.BooleanSupplier;
import java.util.function.Supplier;

/** The socket transports the tests run on; a native one is skipped with its reason where it is unavailable. */
public enum Transport {
    NIO(() -> true, () -> null, NioIoHandler::newFactory, NioSocketChannel.class, NioServerSocketChannel.class),
    EPOLL(Epoll::isAvailable, Epoll::unavailabilityCause, EpollIoHandler::newFactory, EpollSocketChannel.class,
            EpollServerSocketChannel.class),
    IO_URING(IoUring::isAvailable, IoUring::unavailabilityCause, IoUringIoHandler::newFactory,
            IoUringSocketChannel.class, IoUringServerSocketChannel.class);

    private final BooleanSupplier available;
    private final Supplier<Throwable> unavailabilityCause;
    private final Supplier<IoHandlerFactory> factory;
    public final Class<? extends SocketChannel> socket;
    public final Class<? extends ServerChannel> server;

    Transport(BooleanSupplier available, Supplier<Throwable> unavailabilityCause, Supplier<IoHandlerFactory> factory,
              Class<? extends SocketChannel> socket, Class<? extends ServerChannel> server) {
        this.available = available;
        this.unavailabilityCause = unavailabilityCause;
        this.factory = factory;
        this.socket = socket;
        this.server = server;
    }

    public boolean isAvailable() {
        return available.getAsBoolean();
    }

    public String unavailableBecause() {
        Throwable t = unavailabilityCause.get();
        return name() + " is not available here: " + (t == null ? "unknown" : t);
    }

    public EventLoopGroup newGroup(int threads) {
        return new MultiThreadIoEventLoopGroup(threads, factory.get());
    }
}
