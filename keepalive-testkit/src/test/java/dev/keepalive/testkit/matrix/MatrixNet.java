package dev.keepalive.testkit.matrix;

import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.keepalive.KeepaliveSettings;
import dev.keepalive.testkit.AwaitTimeoutException;
import dev.keepalive.testsupport.Transport;
import io.netty.bootstrap.Bootstrap;
import io.netty.bootstrap.ServerBootstrap;
import io.netty.channel.Channel;
import io.netty.channel.ChannelInitializer;
import io.netty.channel.ChannelOption;
import io.netty.channel.EventLoopGroup;
import io.netty.channel.socket.SocketChannel;
import java.net.InetSocketAddress;
import java.time.Duration;
import java.util.ArrayList;
import java.util.EnumMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.TimeUnit;
import java.util.function.Consumer;

/**
 * The test JVM's side of the matrix: clients and servers on NIO, epoll or io_uring, closed together. Thread-safe.
 */
final class MatrixNet implements AutoCloseable {
    private static final Duration CONNECT_TIMEOUT = Duration.ofSeconds(5);

    private final Map<Transport, EventLoopGroup> groups = new EnumMap<>(Transport.class);
    private final List<Channel> channels = new CopyOnWriteArrayList<>();

    /** Whether {@code t} can run here. NIO and epoll must (this is Linux); io_uring may be switched off. */
    static boolean available(Transport t) {
        if (t != Transport.IO_URING) {
            assertTrue(t.isAvailable(), t::unavailableBecause);
        }
        return t.isAvailable();
    }

    private synchronized EventLoopGroup group(Transport t) {
        return groups.computeIfAbsent(t, x -> x.newGroup(1));
    }

    /** A client with a keepalive handler, binary framing, connected to {@code target}. */
    Conn keepaliveClient(String name, Transport t, InetSocketAddress target, KeepaliveSettings settings) {
        return connect(Conn.keepalive(name, Framing.BINARY, settings), t, target, b -> { });
    }

    /** A control client: plain Netty, no keepalive handler, SO_KEEPALIVE off, binary framing. */
    Conn plainClient(String name, Transport t, InetSocketAddress target) {
        return plainClient(name, t, target, b -> { });
    }

    /** A control client with socket options of its own (set on {@code options} after SO_KEEPALIVE off). */
    Conn plainClient(String name, Transport t, InetSocketAddress target, Consumer<Bootstrap> options) {
        return connect(Conn.plain(name, Framing.BINARY), t, target, b -> {
            b.option(ChannelOption.SO_KEEPALIVE, false);
            options.accept(b);
        });
    }

    /** Connects {@code conn} to {@code target} over {@code t}, and waits for the connection. */
    Conn connect(Conn conn, Transport t, InetSocketAddress target, Consumer<Bootstrap> options) {
        Bootstrap b = new Bootstrap().group(group(t)).channel(t.socket())
                .option(ChannelOption.CONNECT_TIMEOUT_MILLIS, (int) CONNECT_TIMEOUT.toMillis())
                .option(ChannelOption.TCP_NODELAY, true)
                .handler(new ChannelInitializer<SocketChannel>() {
                    @Override
                    protected void initChannel(SocketChannel ch) {
                        conn.init(ch);
                    }
                });
        options.accept(b);
        Channel ch = b.connect(target).syncUninterruptibly().channel();
        channels.add(ch);
        return conn;
    }

    /**
     * A server on {@code bind} whose accepted connections speak the matrix protocol; each gets a keepalive handler
     * with {@code settings}, or none when {@code settings} is {@code null}.
     */
    Server server(String name, Transport t, InetSocketAddress bind, Framing framing, KeepaliveSettings settings) {
        Server server = new Server(name, framing, settings);
        Channel ch = new ServerBootstrap().group(group(t)).channel(t.server())
                .childOption(ChannelOption.TCP_NODELAY, true)
                .childHandler(new ChannelInitializer<SocketChannel>() {
                    @Override
                    protected void initChannel(SocketChannel ch) {
                        server.accept(ch);
                    }
                })
                .bind(bind).syncUninterruptibly().channel();
        channels.add(ch);
        server.channel = ch;
        return server;
    }

    /** A server of {@link MatrixNet#server}: its accepted connections, in accept order. */
    final class Server {
        final String name;
        private final Framing framing;
        private final KeepaliveSettings settings;
        private final List<Conn> accepted = new ArrayList<>(); // guarded by itself
        private Channel channel;

        private Server(String name, Framing framing, KeepaliveSettings settings) {
            this.name = name;
            this.framing = framing;
            this.settings = settings;
        }

        private void accept(SocketChannel ch) {
            Conn conn;
            synchronized (accepted) {
                String n = name + "#" + accepted.size();
                conn = settings == null ? Conn.plain(n, framing) : Conn.keepalive(n, framing, settings);
                accepted.add(conn);
                accepted.notifyAll();
            }
            conn.init(ch, new MatrixApp.Server(framing, line -> { }));
            channels.add(ch);
        }

        InetSocketAddress address() {
            return (InetSocketAddress) channel.localAddress();
        }

        /** Waits for the {@code index}th accepted connection (0 = the first). */
        Conn awaitConnection(int index, Duration timeout) {
            long deadline = System.nanoTime() + timeout.toNanos();
            synchronized (accepted) {
                // Bounded by the deadline.
                while (accepted.size() <= index) {
                    long left = deadline - System.nanoTime();
                    if (left <= 0) {
                        throw new AwaitTimeoutException(name + ": connection #" + index + " not accepted", timeout,
                                accepted.size() + " so far");
                    }
                    try {
                        accepted.wait(Math.max(1, TimeUnit.NANOSECONDS.toMillis(left)));
                    } catch (InterruptedException e) {
                        Thread.currentThread().interrupt();
                        throw new AwaitTimeoutException(name + ": interrupted", timeout, "");
                    }
                }
                return accepted.get(index);
            }
        }
    }

    @Override
    public void close() {
        for (Channel ch : channels) {
            ch.close().awaitUninterruptibly(5, TimeUnit.SECONDS);
        }
        List<EventLoopGroup> all;
        synchronized (this) {
            all = List.copyOf(groups.values());
        }
        for (EventLoopGroup g : all) {
            g.shutdownGracefully(0, 2, TimeUnit.SECONDS).awaitUninterruptibly(10, TimeUnit.SECONDS);
        }
    }
}
