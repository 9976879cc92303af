package dev.keepalive.benchmarks;

import dev.keepalive.DeadPeerReason;
import dev.keepalive.KeepaliveListener;
import dev.keepalive.KeepaliveSettings;
import dev.keepalive.PeerDeadException;
import dev.keepalive.benchmarks.support.Chart;
import dev.keepalive.benchmarks.support.Reports;
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
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.TreeMap;
import java.util.concurrent.ConcurrentLinkedQueue;
import java.util.concurrent.TimeUnit;

/**
 * Detection precision: N connections through the testkit's firewall proxy, all black-holed at once; the
 * distribution of the time from the black hole to each dead-peer verdict, against the configured bound, and the
 * lateness of a 10 ms timer on the clients' event loop meanwhile. Writes the CDF of the detection times to
 * {@code benchmarks/results/detection-cdf-<connections>.png}.
 *
 * <pre>java -cp benchmarks/target/benchmarks.jar dev.keepalive.benchmarks.DetectionPrecisionBenchmark [connections]</pre>
 */
public final class DetectionPrecisionBenchmark {
    private static final Duration LATENESS_PERIOD = Duration.ofMillis(10);

    private DetectionPrecisionBenchmark() {
    }

    /**
     * What one run measured.
     *
     * @param connections        connections black-holed
     * @param bound              the configured detection bound
     * @param fromFaultNanos     per verdict: time from the black hole to the verdict
     * @param silenceNanos       per verdict: the silence it reported ({@code sinceLastInbound}, a lower bound)
     * @param latenessNanos      lateness of each firing of a 10 ms timer on the clients' event loop meanwhile
     * @param reasons            the verdicts' reasons, by name
     */
    public record Result(int connections, Duration bound, long[] fromFaultNanos, long[] silenceNanos,
                         long[] latenessNanos, Map<String, Long> reasons) {
        /** Verdicts that came later than {@code bound + slack} after the black hole. */
        public long laterThan(Duration slack) {
            long limit = bound.plus(slack).toNanos();
            return Arrays.stream(fromFaultNanos).filter(t -> t > limit).count();
        }
    }

    public static void main(String[] args) throws Exception {
        int connections = args.length > 0 ? Integer.parseInt(args[0]) : 1000;
        Result r = run(connections, Duration.ofSeconds(4));
        print(r);
        Path png = plot(r);
        System.out.println("  plot: " + png);
    }

    /** Prints the figures of {@code r}. */
    public static void print(Result r) {
        System.out.printf(Locale.ROOT, "detection precision: %d connections through FirewallProxy (epoll), "
                + "black-holed at once; bound %d ms (pingInterval 1 s + pingTimeout 500 ms, jitter 0.2)%n",
                r.connections(), r.bound().toMillis());
        System.out.printf(Locale.ROOT, "  declared dead: %d of %d %s%n", r.fromFaultNanos().length, r.connections(),
                r.reasons());
        System.out.printf(Locale.ROOT, "  %-48s %s%n", "time from black hole to verdict",
                Reports.millisSummary(r.fromFaultNanos()));
        System.out.printf(Locale.ROOT, "  %-48s %s%n", "silence reported by the verdict (at least)",
                Reports.millisSummary(r.silenceNanos()));
        System.out.printf(Locale.ROOT, "  %-48s %s%n", "timer lateness (10 ms timer on the client loop)",
                Reports.millisSummary(r.latenessNanos()));
        long late = r.laterThan(Duration.ofMillis(50));
        System.out.printf(Locale.ROOT, "  target max <= bound + 50 ms: %s (%d verdicts later)%n",
                late == 0 && r.fromFaultNanos().length == r.connections() ? "met" : "MISSED", late);
    }

    /** Writes the CDF of the detection times (and of the reported silences) against the bound. */
    public static Path plot(Result r) {
        double[] fromFault = Arrays.stream(r.fromFaultNanos()).mapToDouble(t -> t / 1e6).toArray();
        double[] silence = Arrays.stream(r.silenceNanos()).mapToDouble(t -> t / 1e6).toArray();
        return Chart.titled("Detection time, " + r.connections() + " connections black-holed at once",
                        "milliseconds", "fraction of connections declared dead")
                .cdf("time from the black hole to the verdict", fromFault)
                .cdf("silence reported by the verdict", silence)
                .yTop(1).includeX(0)
                .verticalLine("bound " + r.bound().toMillis() + " ms", r.bound().toMillis())
                .verticalLine("+50 ms", r.bound().toMillis() + 50)
                .write(Reports.file("detection-cdf-" + r.connections() + ".png"));
    }

    /**
     * Connects {@code connections} clients through a firewall proxy, lets them ping for {@code warmUp}, black-holes
     * every flow at once and waits (at most four bounds) for the verdicts.
     */
    public static Result run(int connections, Duration warmUp) throws Exception {
        KeepaliveSettings settings = KeepaliveSettings.builder().pingInterval(Duration.ofSeconds(1))
                .pingTimeout(Duration.ofMillis(500)).pingsMissedBeforeDead(1).build();
        Duration bound = settings.idleDetectionBound();
        EventLoopGroup serverGroup = new MultiThreadIoEventLoopGroup(1, EpollIoHandler.newFactory());
        EventLoopGroup clientGroup = new MultiThreadIoEventLoopGroup(1, EpollIoHandler.newFactory());
        ConcurrentLinkedQueue<long[]> deaths = new ConcurrentLinkedQueue<>();
        ConcurrentLinkedQueue<Long> lateness = new ConcurrentLinkedQueue<>();
        List<Channel> clients = new ArrayList<>();
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
                for (int i = 0; i < connections; i++) {
                    clients.add(b.connect(proxy.address()).sync().channel());
                }
                // Let every connection go through a few ping rounds, so that the phases spread (jitter).
                Thread.sleep(warmUp.toMillis()); // benchmark pacing, not synchronisation
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
                Map<String, Long> reasons = new TreeMap<>();
                for (long[] d : deaths) {
                    reasons.merge(DeadPeerReason.values()[(int) d[2]].name(), 1L, Long::sum);
                }
                return new Result(connections, bound,
                        deaths.stream().mapToLong(d -> d[0] - blackHole).sorted().toArray(),
                        deaths.stream().mapToLong(d -> d[1]).sorted().toArray(),
                        lateness.stream().mapToLong(Long::longValue).sorted().toArray(), reasons);
            } finally {
                for (Channel c : clients) {
                    c.close();
                }
                server.close().sync();
            }
        } finally {
            clientGroup.shutdownGracefully(0, 1, TimeUnit.SECONDS).sync();
            serverGroup.shutdownGracefully(0, 1, TimeUnit.SECONDS).sync();
        }
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
