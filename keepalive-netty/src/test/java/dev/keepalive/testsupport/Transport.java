package dev.keepalive.testsupport;

import io.netty.channel.EventLoopGroup;
import io.netty.channel.ServerChannel;
import io.netty.channel.epoll.Epoll;
import io.netty.channel.epoll.EpollEventLoopGroup;
import io.netty.channel.epoll.EpollServerSocketChannel;
import io.netty.channel.epoll.EpollSocketChannel;
import io.netty.channel.nio.NioEventLoopGroup;
import io.netty.channel.socket.SocketChannel;
import io.netty.channel.socket.nio.NioServerSocketChannel;
import io.netty.channel.socket.nio.NioSocketChannel;

/**
 * The socket transports the tests run on; a native one is skipped with its reason where it is unavailable. Groups
 * are made with the constructors that Netty 4.1 and 4.2 both have; io_uring (4.2 only) is reached by reflection.
 */
@SuppressWarnings("deprecation")
public enum Transport {
    NIO,
    EPOLL,
    IO_URING;

    private static final String URING = "io.netty.channel.uring.";

    public boolean isAvailable() {
        switch (this) {
            case NIO:
                return true;
            case EPOLL:
                return Epoll.isAvailable();
            default:
                try {
                    return (Boolean) Class.forName(URING + "IoUring").getMethod("isAvailable").invoke(null);
                } catch (ReflectiveOperationException | LinkageError e) {
                    return false;
                }
        }
    }

    public String unavailableBecause() {
        Throwable cause;
        switch (this) {
            case NIO:
                return "NIO is always available";
            case EPOLL:
                cause = Epoll.unavailabilityCause();
                break;
            default:
                try {
                    cause = (Throwable) Class.forName(URING + "IoUring").getMethod("unavailabilityCause")
                            .invoke(null);
                } catch (ReflectiveOperationException | LinkageError e) {
                    cause = new UnsupportedOperationException("this Netty has no io.netty.channel.uring (Netty 4.1)");
                }
        }
        return name() + " is not available here: " + cause;
    }

    public EventLoopGroup newGroup(int threads) {
        switch (this) {
            case NIO:
                return new NioEventLoopGroup(threads);
            case EPOLL:
                return new EpollEventLoopGroup(threads);
            default:
                try {
                    Object factory = Class.forName(URING + "IoUringIoHandler").getMethod("newFactory").invoke(null);
                    Class<?> factoryType = Class.forName("io.netty.channel.IoHandlerFactory");
                    return (EventLoopGroup) Class.forName("io.netty.channel.MultiThreadIoEventLoopGroup")
                            .getConstructor(int.class, factoryType).newInstance(threads, factory);
                } catch (ReflectiveOperationException e) {
                    throw new IllegalStateException(unavailableBecause(), e);
                }
        }
    }

    @SuppressWarnings("unchecked")
    public Class<? extends SocketChannel> socket() {
        switch (this) {
            case NIO:
                return NioSocketChannel.class;
            case EPOLL:
                return EpollSocketChannel.class;
            default:
                return (Class<? extends SocketChannel>) uringClass("IoUringSocketChannel");
        }
    }

    @SuppressWarnings("unchecked")
    public Class<? extends ServerChannel> server() {
        switch (this) {
            case NIO:
                return NioServerSocketChannel.class;
            case EPOLL:
                return EpollServerSocketChannel.class;
            default:
                return (Class<? extends ServerChannel>) uringClass("IoUringServerSocketChannel");
        }
    }

    private static Class<?> uringClass(String name) {
        try {
            return Class.forName(URING + name);
        } catch (ClassNotFoundException e) {
            throw new IllegalStateException("no io_uring transport in this Netty", e);
        }
    }
}
