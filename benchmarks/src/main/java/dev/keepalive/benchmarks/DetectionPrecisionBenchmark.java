package dev.keepalive.benchmarks;

import dev.keepalive.KeepaliveListener;
import dev.keepalive.KeepaliveSettings;
import dev.keepalive.PeerDeadException;
import dev.keepalive.netty.KeepaliveHandler;
import dev.keepalive.testkit.Fault;
import dev.keepalive.testkit.FirewallProxy;
import io.netty.bootstrap.Bootstrap;
import io.netty.bootstrap.ServerBootstrap;
import io.netty.channel.Channel;
import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.ChannelInboundHandlerAdapter;
import io.netty.channel.ChannelInitializer;
import io.netty.channel.EventLoopGroup;
import io.netty.channel.MultiThreadIoEventLoopGroup;
import io.netty.channel.epoll.EpollIoHandler;
import io.netty.channel.epoll.EpollServerSocketChannel;
import io.netty.channel.epoll.EpollSocketChannel;
import io.netty.channel.socket.SocketChannel;
import io.netty.handler.codec.LengthFieldBasedFrameDecoder;
import io.netty.handler.codec.LengthFieldPrepender;
import io.netty.util.concurrent.ScheduledFuture;

import java.net.InetSocketAddress;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Locale;
import java.util.concurrent.ConcurrentLinkedQueue;
import java.util.concurrent.TimeUnit;

/**
 * Detection precision: N connections through the testkit's firewall proxy, all black-holed at once; the
 * distribution of the time from the black hole to each dead-peer verdict, against the configured bound, and the
 * lateness of a 10 ms timer on the clients' event loop meanwhile.
 *
 * <pre>java -cp benchmarks/target/benchmarks.jar dev.keepalive.benchmarks.DetectionPrecisionBenchmark [connections]</pre>
 */
public final class DetectionPrecisionBenchmark {
    private static final Duration LATENESS_PERIOD = Duration.ofMillis(10);

    private DetectionPrecisionBenchmark() {
    }

    public static void main(String[] args) throws Exception {
        int connections = args.length > 0 ? Integer.parseInt(args[0]) : 1000;
        KeepaliveSettings settings = KeepaliveSettings.builder().pingInterval(Duration.ofSeconds(1))
                .pingTimeout(Duration.ofMillis(500)).pingsMissedBeforeDead(1).build();
        Duration bound = settings.idleDetectionBound();
        EventLoopGroup serverGroup = new MultiThreadIoEventLoopGroup(1, EpollIoHandler.newFactory());
        EventLoopGroup clientGroup = new MultiThreadIoEventLoopGroup(1, EpollIoHandler.newFactory());
        ConcurrentLinkedQueue<long[]> deaths = new ConcurrentLinkedQueue<>();
        ConcurrentLinkedQueue<Long> lateness = new ConcurrentLinkedQueue<>();
        try {
            Channel server = new ServerBootstrap().group(serverGroup).channel(EpollServerSocketChannel.class)
                    .childHandler(framed(() -> KeepaliveHandler.builder(KeepaliveSettings.builder()
                            .pingInterval(Duration.ofMinutes(5)).build()).build()))
                    .bind(new InetSocketAddress("127.0.0.1", 0)).sync().channel();
            try (FirewallProxy proxy = FirewallProxy.builder((InetSocketAddress) server.localAddress()).start()) {
                KeepaliveListener listener = new KeepaliveListener() {
                    @Override
                    public void onPeerDead(PeerDeadException e) {
                        deaths.add(new long[] {System.nanoTime(), e.sinceLastInbound().toNanos(),
                                e.reason().ordinal()});
                    }
                };
                Bootstrap b = new Bootstrap().group(clientGroup).channel(EpollSocketChannel.class)
                        .handler(framed(() -> KeepaliveHandler.builder(settings).listener(listener).build()));
                List<Channel> clients = new ArrayList<>();
                for (int i = 0; i < connections; i++) {
                    clients.add(b.connect(proxy.address()).sync().channel());
                }
                // Let every connection go through a few ping rounds, so that the phases spread (jitter).
                Thread.sleep(4000); // benchmark pacing, not synchronisation
                long[] expected = {System.nanoTime()};
                ScheduledFuture<?> probe = clientGroup.next().scheduleAtFixedRate(() -> {
                    long now = System.nanoTime();
                    expected[0] += LATENESS_PERIOD.toNanos();
                    lateness.add(Math.max(0, now - expected[0]));
                }, LATENESS_PERIOD.toNanos(), LATENESS_PERIOD.toNanos(), TimeUnit.NANOSECONDS);
                expected[0] = System.nanoTime();
                long blackHole = System.nanoTime();
                proxy.injectAll(Fault.blackHole());
                long deadline = blackHole + bound.multipliedBy(4).toNanos();
                while (deaths.size() < connections && System.nanoTime() - deadline < 0) {
                    Thread.sleep(20); // polling a counter in a benchmark driver, bounded by the deadline
                }
                probe.cancel(false);
                long[] fromFault = deaths.stream().mapToLong(d -> d[0] - blackHole).sorted().toArray();
                long[] silence = deaths.stream().mapToLong(d -> d[1]).sorted().toArray();
                long[] late = lateness.stream().mapToLong(Long::longValue).sorted().toArray();
                System.out.printf(Locale.ROOT, "detection precision: %d connections through FirewallProxy (epoll), "
                        + "black-holed at once; bound %d ms (pingInterval 1 s + pingTimeout 500 ms, jitter 0.2)%n",
                        connections, bound.toMillis());
                System.out.printf(Locale.ROOT, "  declared dead: %d of %d%n", fromFault.length, connections);
                print("time from black hole to verdict", fromFault);
                print("silence reported by the verdict (at least)", silence);
                print("timer lateness (10 ms timer on the client loop)", late);
                long over = Arrays.stream(silence).filter(s -> s > bound.toNanos() + 50_000_000L).count();
                System.out.printf(Locale.ROOT, "  verdicts later than bound + 50 ms after the last inbound byte: %d%n",
                        over);
                for (Channel c : clients) {
                    c.close();
                }
            }
            server.close().sync();
        } finally {
            clientGroup.shutdownGracefully(0, 1, TimeUnit.SECONDS).sync();
            serverGroup.shutdownGracefully(0, 1, TimeUnit.SECONDS).sync();
        }
    }

    private static void print(String what, long[] sorted) {
        if (sorted.length == 0) {
            System.out.printf(Locale.ROOT, "  %-48s none%n", what);
            return;
        }
        System.out.printf(Locale.ROOT, "  %-48s p50 %7.1f ms  p99 %7.1f ms  max %7.1f ms%n", what,
                pct(sorted, 0.50) / 1e6, pct(sorted, 0.99) / 1e6, sorted[sorted.length - 1] / 1e6);
    }

    private static long pct(long[] sorted, double p) {
        return sorted[Math.min(sorted.length - 1, (int) Math.ceil(p * sorted.length) - 1)];
    }

    private static ChannelInitializer<SocketChannel> framed(java.util.function.Supplier<KeepaliveHandler> k) {
        return new ChannelInitializer<SocketChannel>() {
            @Override
            protected void initChannel(SocketChannel ch) {
                ch.pipeline().addLast(new LengthFieldBasedFrameDecoder(1 << 16, 0, 4, 0, 4),
                        new LengthFieldPrepender(4), k.get(), new ChannelInboundHandlerAdapter() {
                            @Override
                            public void exceptionCaught(ChannelHandlerContext ctx, Throwable cause) {
                                ctx.close();
                            }
                        });
            }
        };
    }
}
