package dev.keepalive.testkit;

import dev.keepalive.testkit.internal.EventLoops;
import io.netty.bootstrap.ServerBootstrap;
import io.netty.buffer.ByteBuf;
import io.netty.channel.Channel;
import io.netty.channel.ChannelFuture;
import io.netty.channel.ChannelHandler;
import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.ChannelInboundHandlerAdapter;
import io.netty.channel.ChannelInitializer;
import io.netty.channel.ChannelOption;
import io.netty.channel.EventLoopGroup;
import io.netty.channel.socket.SocketChannel;
import io.netty.channel.socket.nio.NioServerSocketChannel;
import io.netty.util.ReferenceCountUtil;
import java.io.PrintStream;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.util.Objects;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicLong;
import java.util.function.Consumer;

/**
 * A small Netty TCP echo server: every byte received is written back. Use it in the test JVM, or as the peer process
 * inside a {@link KernelFirewallLab} namespace, where it reports what happens on its standard output.
 *
 * <pre>{@code
 * // in the test JVM, on loopback
 * try (EchoServer server = EchoServer.start();
 *      FirewallProxy proxy = FirewallProxy.start(server.address())) { ... }
 *
 * // inside a lab namespace, as a separate JVM
 * PeerProcess peer = lab.startJava(EchoServer.class, lab.peerAddress().getHostAddress(), "0");
 * int port = Integer.parseInt(peer.awaitLine("LISTENING \\S+ (\\d+)", Duration.ofSeconds(20)).group(1));
 * }</pre>
 *
 * <p>As a program ({@link #main}) it prints one line per event, flushed at once:
 * {@code LISTENING <host> <port>}, {@code ACCEPTED <remote>}, {@code RECEIVED <remote> <bytes>},
 * {@code CLOSED <remote>}. Reading stops while the client does not read the echo (backpressure).
 */
public final class EchoServer implements AutoCloseable {
    private static final long SHUTDOWN_TIMEOUT_SECONDS = 5;

    private final EventLoopGroup group;
    private final Channel channel;
    private final AtomicLong bytesReceived = new AtomicLong();
    private final AtomicInteger accepted = new AtomicInteger();
    private final AtomicInteger open = new AtomicInteger();

    private EchoServer(InetSocketAddress bindAddress, Consumer<String> events) {
        this.group = EventLoops.nio(1, "echo-server");
        ChannelHandler echo = new EchoHandler(events);
        ChannelFuture f = new ServerBootstrap()
                .group(group)
                .channel(NioServerSocketChannel.class)
                .childOption(ChannelOption.TCP_NODELAY, true)
                .childHandler(new ChannelInitializer<SocketChannel>() {
                    @Override
                    protected void initChannel(SocketChannel ch) {
                        ch.pipeline().addLast(echo);
                    }
                })
                .bind(bindAddress)
                .awaitUninterruptibly();
        if (!f.isSuccess()) {
            group.shutdownGracefully(0, 1, TimeUnit.SECONDS);
            throw new TestkitException("cannot bind the echo server to " + bindAddress + ": " + f.cause(), f.cause());
        }
        this.channel = f.channel();
    }

    /**
     * Starts an echo server on {@code 127.0.0.1} and an ephemeral port.
     *
     * @return the running server
     */
    public static EchoServer start() {
        return start(new InetSocketAddress(InetAddress.getLoopbackAddress(), 0));
    }

    /**
     * Starts an echo server on the given address.
     *
     * @param bindAddress where to listen (port 0 for an ephemeral port)
     * @return the running server
     * @throws TestkitException if the address cannot be bound
     */
    public static EchoServer start(InetSocketAddress bindAddress) {
        return new EchoServer(Objects.requireNonNull(bindAddress, "bindAddress"), line -> { });
    }

    /** @return the address the server listens on */
    public InetSocketAddress address() {
        return (InetSocketAddress) channel.localAddress();
    }

    /** @return bytes received on all connections so far */
    public long bytesReceived() {
        return bytesReceived.get();
    }

    /** @return connections accepted so far */
    public int connectionsAccepted() {
        return accepted.get();
    }

    /** @return connections currently open */
    public int openConnections() {
        return open.get();
    }

    /** Stops listening, closes every connection and stops the event loop. Idempotent. */
    @Override
    public void close() {
        channel.close().awaitUninterruptibly(SHUTDOWN_TIMEOUT_SECONDS, TimeUnit.SECONDS);
        group.shutdownGracefully(0, SHUTDOWN_TIMEOUT_SECONDS, TimeUnit.SECONDS)
                .awaitUninterruptibly(2 * SHUTDOWN_TIMEOUT_SECONDS, TimeUnit.SECONDS);
    }

    /**
     * Runs an echo server until the process is killed.
     *
     * @param args {@code [host [port]]}, default {@code 0.0.0.0 0}
     */
    public static void main(String[] args) {
        String host = args.length > 0 ? args[0] : "0.0.0.0";
        int port = args.length > 1 ? Integer.parseInt(args[1]) : 0;
        PrintStream out = System.out;
        Consumer<String> events = line -> {
            synchronized (out) {
                out.println(line);
                out.flush();
            }
        };
        EchoServer server = new EchoServer(new InetSocketAddress(host, port), events);
        InetSocketAddress a = server.address();
        events.accept("LISTENING " + a.getAddress().getHostAddress() + " " + a.getPort());
        server.channel.closeFuture().syncUninterruptibly();
    }

    @ChannelHandler.Sharable
    private final class EchoHandler extends ChannelInboundHandlerAdapter {
        private final Consumer<String> events;

        EchoHandler(Consumer<String> events) {
            this.events = events;
        }

        @Override
        public void channelActive(ChannelHandlerContext ctx) {
            accepted.incrementAndGet();
            open.incrementAndGet();
            events.accept("ACCEPTED " + ctx.channel().remoteAddress());
        }

        @Override
        public void channelRead(ChannelHandlerContext ctx, Object msg) {
            if (!(msg instanceof ByteBuf)) {
                ReferenceCountUtil.release(msg);
                return;
            }
            int n = ((ByteBuf) msg).readableBytes();
            bytesReceived.addAndGet(n);
            events.accept("RECEIVED " + ctx.channel().remoteAddress() + " " + n);
            ctx.write(msg);
        }

        @Override
        public void channelReadComplete(ChannelHandlerContext ctx) {
            ctx.flush();
            if (!ctx.channel().isWritable()) {
                ctx.channel().config().setAutoRead(false);
            }
        }

        @Override
        public void channelWritabilityChanged(ChannelHandlerContext ctx) {
            if (ctx.channel().isWritable()) {
                ctx.channel().config().setAutoRead(true);
            }
        }

        @Override
        public void channelInactive(ChannelHandlerContext ctx) {
            open.decrementAndGet();
            events.accept("CLOSED " + ctx.channel().remoteAddress());
        }

        @Override
        public void exceptionCaught(ChannelHandlerContext ctx, Throwable cause) {
            events.accept("ERROR " + ctx.channel().remoteAddress() + " " + cause);
            ctx.close();
        }
    }
}
