package dev.keepalive.benchmarks.storm;

import dev.keepalive.KeepaliveSettings;
import dev.keepalive.netty.KeepaliveHandler;
import dev.keepalive.netty.KeepaliveProbe;
import io.netty.bootstrap.ServerBootstrap;
import io.netty.channel.Channel;
import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.ChannelInboundHandlerAdapter;
import io.netty.channel.ChannelInitializer;
import io.netty.channel.ChannelOption;
import io.netty.channel.EventLoopGroup;
import io.netty.channel.MultiThreadIoEventLoopGroup;
import io.netty.channel.epoll.EpollIoHandler;
import io.netty.channel.epoll.EpollServerSocketChannel;
import io.netty.channel.group.ChannelGroup;
import io.netty.channel.socket.SocketChannel;
import io.netty.handler.codec.LineBasedFrameDecoder;
import io.netty.handler.codec.string.StringDecoder;
import io.netty.handler.codec.string.StringEncoder;
import io.netty.util.ReferenceCountUtil;

import java.io.BufferedReader;
import java.io.InputStreamReader;
import java.net.InetSocketAddress;
import java.net.Socket;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;

/**
 * The storm's server, a child process: an epoll line server on 127.0.0.1 with a {@link KeepaliveHandler} (line
 * probe, default settings) on each connection, as the storm's clients expect. It binds with {@code SO_REUSEADDR},
 * so that a restarted server takes the port while the dead one's connections linger in TIME_WAIT.
 *
 * <p>Arguments: {@code port threads now|wait}. With {@code wait} it binds only when told {@code LISTEN} (so that
 * the JVM's start-up is not part of the downtime). Commands on stdin, one a line:
 * <ul>
 *   <li>{@code LISTEN}: binds; answers {@code LISTENING <System.nanoTime() when bound>};</li>
 *   <li>{@code STATUS}: answers {@code STATUS <open connections> <accepted in all> <CPU time of this process,
 *       nanos>};</li>
 *   <li>end of input: closes and exits.</li>
 * </ul>
 * A restart is the driver's SIGKILL of one such process and {@code LISTEN} to another.
 */
public final class StormServer {
    private StormServer() {
    }

    public static void main(String[] args) throws Exception {
        int port = Integer.parseInt(args[0]);
        int threads = Integer.parseInt(args[1]);
        boolean now = args[2].equals("now");
        AtomicInteger open = new AtomicInteger();
        AtomicInteger accepted = new AtomicInteger();
        EventLoopGroup group = new MultiThreadIoEventLoopGroup(threads, EpollIoHandler.newFactory());
        Channel server = null;
        try {
            ServerBootstrap bootstrap = bootstrap(group, open, accepted, null);
            InetSocketAddress address = new InetSocketAddress("127.0.0.1", port);
            if (now) {
                server = listen(bootstrap, address);
            } else {
                warmUp(bootstrap, accepted, open);
                accepted.set(0);
                System.out.println("READY");
            }
            BufferedReader in = new BufferedReader(new InputStreamReader(System.in, StandardCharsets.UTF_8));
            for (String line = in.readLine(); line != null; line = in.readLine()) {
                if (line.equals("LISTEN") && server == null) {
                    server = listen(bootstrap, address);
                } else if (line.equals("STATUS")) {
                    System.out.println("STATUS " + open.get() + " " + accepted.get() + " " + ProcessHandle.current()
                            .info().totalCpuDuration().map(Duration::toNanos).orElse(-1L));
                }
            }
        } finally {
            if (server != null) {
                server.close().await(2, TimeUnit.SECONDS);
            }
            group.shutdownGracefully(0, 1, TimeUnit.SECONDS).await(5, TimeUnit.SECONDS);
        }
    }

    /**
     * The server's bootstrap on {@code group}: {@code SO_REUSEADDR}, and on each accepted connection a line codec
     * and a {@link KeepaliveHandler} (line probe, default settings); {@code open} counts the connections open,
     * {@code accepted} all accepted, {@code children} (if not {@code null}) receives them.
     */
    public static ServerBootstrap bootstrap(EventLoopGroup group, AtomicInteger open, AtomicInteger accepted,
                                            ChannelGroup children) {
        return new ServerBootstrap().group(group).channel(EpollServerSocketChannel.class)
                .option(ChannelOption.SO_REUSEADDR, true)
                .childHandler(new ChannelInitializer<SocketChannel>() {
                    @Override
                    protected void initChannel(SocketChannel ch) {
                        accepted.incrementAndGet();
                        if (children != null) {
                            children.add(ch);
                        }
                        ch.pipeline().addLast(new LineBasedFrameDecoder(1024),
                                new StringDecoder(StandardCharsets.UTF_8),
                                new StringEncoder(StandardCharsets.UTF_8),
                                KeepaliveHandler.builder(KeepaliveSettings.defaults())
                                        .probe(KeepaliveProbe.lines()).build(),
                                new ChannelInboundHandlerAdapter() {
                                    @Override
                                    public void channelActive(ChannelHandlerContext ctx) {
                                        open.incrementAndGet();
                                        ctx.fireChannelActive();
                                    }

                                    @Override
                                    public void channelInactive(ChannelHandlerContext ctx) {
                                        open.decrementAndGet();
                                        ctx.fireChannelInactive();
                                    }

                                    @Override
                                    public void channelRead(ChannelHandlerContext ctx, Object msg) {
                                        ReferenceCountUtil.release(msg);
                                    }

                                    @Override
                                    public void exceptionCaught(ChannelHandlerContext ctx, Throwable cause) {
                                        ctx.close();
                                    }
                                });
                    }
                });
    }

    /**
     * Binds an ephemeral port and accepts one connection there, then closes both: the classes of binding and
     * accepting are loaded before {@code LISTEN}, so that a cold JVM does not lengthen the downtime.
     */
    private static void warmUp(ServerBootstrap bootstrap, AtomicInteger accepted, AtomicInteger open)
            throws Exception {
        Channel probe = bootstrap.bind(new InetSocketAddress("127.0.0.1", 0)).sync().channel();
        long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(5);
        try {
            try (Socket s = new Socket()) {
                s.connect(probe.localAddress(), 5000);
                while (open.get() == 0 && System.nanoTime() - deadline < 0) {
                    Thread.sleep(1); // waiting for the accept, bounded
                }
            }
            while ((accepted.get() == 0 || open.get() != 0) && System.nanoTime() - deadline < 0) {
                Thread.sleep(1); // waiting for the close, bounded
            }
        } finally {
            probe.close().await(2, TimeUnit.SECONDS);
        }
    }

    private static Channel listen(ServerBootstrap bootstrap, InetSocketAddress address) throws InterruptedException {
        // Taken before the bind: a lower bound of the instant the kernel starts accepting. A time taken after the bind
        // can come after a client already connected (the event loop may be preempted between listen() and any
        // listener), and that client would then look connected before the server listened.
        long listening = System.nanoTime();
        Channel channel = bootstrap.bind(address).sync().channel();
        System.out.println("LISTENING " + listening);
        return channel;
    }
}
