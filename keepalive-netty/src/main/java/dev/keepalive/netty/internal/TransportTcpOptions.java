package dev.keepalive.netty.internal;

import io.netty.channel.Channel;
import io.netty.channel.ChannelOption;
import io.netty.channel.socket.SocketChannel;
import io.netty.channel.socket.nio.NioChannelOption;
import io.netty.channel.socket.nio.NioSocketChannel;

/**
 * The channel options through which one transport sets TCP keepalive. Each transport's options live in a nested
 * class that is loaded only when a channel of that transport is seen, so the native transports stay optional.
 * Internal: not part of the API.
 */
public final class TransportTcpOptions {
    private final String name;
    private final ChannelOption<Integer> keepIdle;
    private final ChannelOption<Integer> keepInterval;
    private final ChannelOption<Integer> keepCount;
    private final ChannelOption<Integer> userTimeout;

    private TransportTcpOptions(String name, ChannelOption<Integer> keepIdle, ChannelOption<Integer> keepInterval,
                                ChannelOption<Integer> keepCount, ChannelOption<Integer> userTimeout) {
        this.name = name;
        this.keepIdle = keepIdle;
        this.keepInterval = keepInterval;
        this.keepCount = keepCount;
        this.userTimeout = userTimeout;
    }

    /** The options of {@code channel}'s transport, or {@code null} when it is not a TCP socket channel. */
    public static TransportTcpOptions of(Channel channel) {
        if (!(channel instanceof SocketChannel)) {
            return null;
        }
        String type = channel.getClass().getName();
        if (type.startsWith("io.netty.channel.epoll.")) {
            return Epoll.OPTIONS;
        }
        if (type.startsWith("io.netty.channel.uring.")) {
            return byName("io_uring", "io.netty.channel.uring.IoUringChannelOption", channel);
        }
        if (type.startsWith("io.netty.incubator.channel.uring.")) {
            return byName("io_uring", "io.netty.incubator.channel.uring.IOUringChannelOption", channel);
        }
        if (type.startsWith("io.netty.channel.kqueue.")) {
            return KQueue.OPTIONS;
        }
        if (channel instanceof NioSocketChannel) {
            return Nio.OPTIONS;
        }
        return new TransportTcpOptions(channel.getClass().getSimpleName(), null, null, null, null);
    }

    public String name() {
        return name;
    }

    public ChannelOption<Integer> keepIdle() {
        return keepIdle;
    }

    public ChannelOption<Integer> keepInterval() {
        return keepInterval;
    }

    public ChannelOption<Integer> keepCount() {
        return keepCount;
    }

    public ChannelOption<Integer> userTimeout() {
        return userTimeout;
    }

    /** Why an option is missing on this transport, for the warning. */
    public String unsupportedHint(String option) {
        if (name.equals("nio") && option.equals("TCP_USER_TIMEOUT")) {
            return "Java " + Runtime.version().feature() + " has no TCP_USER_TIMEOUT socket option; use the epoll "
                    + "or io_uring transport to have the kernel enforce it";
        }
        return "the transport has no such channel option";
    }

    private static final class Epoll {
        static final TransportTcpOptions OPTIONS = new TransportTcpOptions("epoll",
                io.netty.channel.epoll.EpollChannelOption.TCP_KEEPIDLE,
                io.netty.channel.epoll.EpollChannelOption.TCP_KEEPINTVL,
                io.netty.channel.epoll.EpollChannelOption.TCP_KEEPCNT,
                io.netty.channel.epoll.EpollChannelOption.TCP_USER_TIMEOUT);
    }

    /**
     * The options of a transport found by name in Netty's option pool, so that no class of it is needed at compile
     * time: io_uring is {@code io.netty.channel.uring} in Netty 4.2 and an incubator artifact for Netty 4.1.
     */
    private static TransportTcpOptions byName(String transport, String optionClass, Channel channel) {
        return BY_NAME.computeIfAbsent(optionClass, cls -> {
            try {
                Class.forName(cls, true, channel.getClass().getClassLoader()); // registers its options
            } catch (ClassNotFoundException | LinkageError e) {
                return new TransportTcpOptions(transport, null, null, null, null);
            }
            return new TransportTcpOptions(transport, option(cls, "TCP_KEEPIDLE"), option(cls, "TCP_KEEPINTVL"),
                    option(cls, "TCP_KEEPCNT"), option(cls, "TCP_USER_TIMEOUT"));
        });
    }

    private static ChannelOption<Integer> option(String optionClass, String field) {
        String name = optionClass + '#' + field;
        return ChannelOption.exists(name) ? ChannelOption.<Integer>valueOf(name) : null;
    }

    private static final java.util.Map<String, TransportTcpOptions> BY_NAME =
            new java.util.concurrent.ConcurrentHashMap<>();

    private static final class KQueue {
        static final TransportTcpOptions OPTIONS = new TransportTcpOptions("kqueue", null, null, null, null);
    }

    private static final class Nio {
        static final TransportTcpOptions OPTIONS = new TransportTcpOptions("nio",
                NioChannelOption.of(jdk.net.ExtendedSocketOptions.TCP_KEEPIDLE),
                NioChannelOption.of(jdk.net.ExtendedSocketOptions.TCP_KEEPINTERVAL),
                NioChannelOption.of(jdk.net.ExtendedSocketOptions.TCP_KEEPCOUNT),
                null);
    }
}
