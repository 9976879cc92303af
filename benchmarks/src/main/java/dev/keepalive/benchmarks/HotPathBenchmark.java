package dev.keepalive.benchmarks;

import dev.keepalive.benchmarks.HotPathPipelines.Echo;
import dev.keepalive.benchmarks.HotPathPipelines.Mode;
import dev.keepalive.benchmarks.HotPathPipelines.Transport;
import dev.keepalive.benchmarks.support.Reports;
import dev.keepalive.netty.KeepaliveHandler;
import io.netty.bootstrap.Bootstrap;
import io.netty.bootstrap.ServerBootstrap;
import io.netty.buffer.ByteBuf;
import io.netty.channel.Channel;
import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.ChannelInboundHandlerAdapter;
import io.netty.channel.ChannelOption;
import io.netty.channel.EventLoopGroup;
import io.netty.channel.epoll.Epoll;
import io.netty.handler.timeout.IdleStateHandler;

import java.lang.management.ManagementFactory;
import java.lang.management.ThreadMXBean;
import java.net.InetSocketAddress;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Collections;
import java.util.EnumMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Random;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.LongAdder;

/**
 * The hot-path cost of keepalive: a loopback echo pair with small pipelined frames, run bare, with what users write
 * today (Netty's {@link IdleStateHandler} + a handler that pings on writer-idle, on both ends), and with
 * {@link KeepaliveHandler} on both ends, and with one empty stage on both ends (the floor for any handler); they
 * alternate in a shuffled order in every round, on NIO and on epoll. The pipelines are {@link HotPathPipelines.Mode}.
 *
 * <pre>java -cp benchmarks/target/benchmarks.jar dev.keepalive.benchmarks.HotPathBenchmark [seconds] [rounds]
 *     [--one-loop] [--connections=4] [--in-flight=32]</pre>
 *
 * <p>Each pipeline's figure is the median over the rounds of its ratio to the same round's bare run, with a
 * distribution-free 95 % confidence interval of that median. Two ratios: round trips per second, and round trips per
 * second of the event loops' own CPU time ("loop CPU"), which leaves out what this VM's other tenants take (CPU
 * steal is not the thread's time), the JIT and the garbage collector. A second bare run in every round (the
 * control) shows what two identical pipelines differ by: the resolution of the run. A target is judged met or missed
 * only when the whole interval lies on one side of it.
 *
 * <p>{@code --one-loop} runs client and server on one event loop (one thread): no cross-core hand-offs, whose
 * timing changes how many frames each read carries. On a shared VM the runs of one pipeline differ by up to +-30 %
 * however they are arranged; {@link InterleavedHotPathBenchmark} resolves differences of about 1 %.
 */
public final class HotPathBenchmark {
    private static final int FRAME = 64;
    private static final double TARGET = 0.97;

    /**
     * One measurement.
     *
     * @param roundTripsPerSecond round trips per second of wall-clock time
     * @param processCpuPerRoundTrip the process's CPU nanoseconds per round trip (JIT and GC included)
     * @param loopCpuPerRoundTrip the event loop threads' CPU nanoseconds per round trip
     */
    record Measurement(double roundTripsPerSecond, double processCpuPerRoundTrip, double loopCpuPerRoundTrip) {
    }

    /**
     * What runs: {@code connections} echo pairs, each keeping {@code inFlight} frames in flight, on two event loops
     * (clients, server) or one.
     */
    record Shape(int connections, int inFlight, boolean oneLoop) {
        /** The historic shape: 4 connections, 32 frames in flight each, two loops. */
        static final Shape PIPELINED = new Shape(4, 32, false);

        @Override
        public String toString() {
            return String.format(Locale.ROOT, "%d connections, %d-byte frames, %d in flight each, %s", connections,
                    FRAME, inFlight, oneLoop ? "client and server on one event loop"
                            : "one event loop for the clients, one for the server");
        }
    }

    private HotPathBenchmark() {
    }

    public static void main(String[] args) throws Exception {
        List<String> positional = new ArrayList<>();
        Shape shape = Shape.PIPELINED;
        for (String a : args) {
            if (a.equals("--one-loop")) {
                shape = new Shape(shape.connections(), shape.inFlight(), true);
            } else if (a.startsWith("--connections=")) {
                shape = new Shape(Integer.parseInt(a.substring(a.indexOf('=') + 1)), shape.inFlight(),
                        shape.oneLoop());
            } else if (a.startsWith("--in-flight=")) {
                shape = new Shape(shape.connections(), Integer.parseInt(a.substring(a.indexOf('=') + 1)),
                        shape.oneLoop());
            } else {
                positional.add(a);
            }
        }
        Duration measure = Duration.ofSeconds(positional.size() > 0 ? Integer.parseInt(positional.get(0)) : 4);
        int rounds = positional.size() > 1 ? Integer.parseInt(positional.get(1)) : 3;
        System.out.printf(Locale.ROOT, "hot path: %s, %d s per measurement, %d rounds after one warm-up round, %d "
                + "cores, %s%n", shape, measure.toSeconds(), rounds, Runtime.getRuntime().availableProcessors(),
                System.getProperty("java.vm.version"));
        for (Transport transport : Transport.values()) {
            if (transport == Transport.EPOLL && !Epoll.isAvailable()) {
                System.out.println("epoll is not available: " + Epoll.unavailabilityCause());
                continue;
            }
            for (Mode mode : Mode.values()) {
                run(transport, mode, Duration.ofSeconds(1), shape); // warm-up round, not counted
            }
            Map<Mode, List<Measurement>> results = new EnumMap<>(Mode.class);
            Random order = new Random(transport.ordinal());
            for (int round = 0; round < rounds; round++) {
                List<Mode> modes = new ArrayList<>(List.of(Mode.values()));
                Collections.shuffle(modes, order);
                for (Mode mode : modes) {
                    Measurement m = run(transport, mode, measure, shape);
                    results.computeIfAbsent(mode, k -> new ArrayList<>()).add(m);
                    System.out.printf(Locale.ROOT, "  %-5s round %2d %-24s %,12.0f round trips/s %6.0f ns loop CPU "
                            + "%6.0f ns process CPU per round trip%n", transport, round + 1, mode,
                            m.roundTripsPerSecond(), m.loopCpuPerRoundTrip(), m.processCpuPerRoundTrip());
                }
            }
            report(transport, results, rounds);
        }
    }

    private static void report(Transport transport, Map<Mode, List<Measurement>> results, int rounds) {
        List<Measurement> bare = results.get(Mode.BARE);
        System.out.printf(Locale.ROOT, "%s, each pipeline against the same round's bare run: median of the %d rounds "
                + "[95 %% interval of the median]%n", transport, rounds);
        System.out.printf(Locale.ROOT, "  %-24s %14s %24s %24s %12s%n", "pipeline", "round trips/s", "of bare, round "
                + "trips/s", "of bare, per loop CPU", "loop CPU/rt");
        for (Mode mode : Mode.values()) {
            List<Measurement> ms = results.get(mode);
            double[] wall = new double[rounds];
            double[] cpu = new double[rounds];
            for (int i = 0; i < rounds; i++) {
                wall[i] = ms.get(i).roundTripsPerSecond() / bare.get(i).roundTripsPerSecond();
                cpu[i] = bare.get(i).loopCpuPerRoundTrip() / ms.get(i).loopCpuPerRoundTrip();
            }
            String verdict = "";
            if (mode == Mode.KEEPALIVE_HANDLER) {
                verdict = "  target >= " + TARGET + ": by round trips/s " + Reports.atLeast(wall, TARGET)
                        + ", per loop CPU " + Reports.atLeast(cpu, TARGET);
            }
            System.out.printf(Locale.ROOT, "  %-24s %,14.0f %24s %24s %9.0f ns%s%n", mode,
                    Reports.median(ms.stream().mapToDouble(Measurement::roundTripsPerSecond).toArray()),
                    Reports.medianWithInterval(wall), Reports.medianWithInterval(cpu),
                    Reports.median(ms.stream().mapToDouble(Measurement::loopCpuPerRoundTrip).toArray()), verdict);
        }
    }

    /** One measurement on fresh event loops and connections. */
    static Measurement run(Transport transport, Mode mode, Duration measure, Shape shape) throws Exception {
        boolean oneLoop = shape.oneLoop();
        EventLoopGroup serverGroup = transport.newLoop();
        EventLoopGroup clientGroup = oneLoop ? serverGroup : transport.newLoop();
        LongAdder roundTrips = new LongAdder();
        try {
            long[] loopThreads = oneLoop ? new long[] {threadId(serverGroup)}
                    : new long[] {threadId(serverGroup), threadId(clientGroup)};
            Channel server = new ServerBootstrap().group(serverGroup)
                    .channel(transport.serverChannel())
                    .childOption(ChannelOption.TCP_NODELAY, true)
                    .childHandler(HotPathPipelines.pipeline(mode, Echo::new))
                    .bind(new InetSocketAddress("127.0.0.1", 0)).sync().channel();
            List<Channel> clients = new ArrayList<>();
            for (int i = 0; i < shape.connections(); i++) {
                clients.add(new Bootstrap().group(clientGroup)
                        .channel(transport.channel())
                        .option(ChannelOption.TCP_NODELAY, true)
                        .handler(HotPathPipelines.pipeline(mode, () -> new Pinger(roundTrips, shape.inFlight())))
                        .connect(server.localAddress()).sync().channel());
            }
            Thread.sleep(measure.toMillis() / 2); // warm-up, then measure (benchmark pacing, not synchronisation)
            long rt0 = roundTrips.sum();
            long cpu0 = processCpuNanos();
            long loop0 = threadCpuNanos(loopThreads);
            long t0 = System.nanoTime();
            Thread.sleep(measure.toMillis());
            long rt = Math.max(1, roundTrips.sum() - rt0);
            long cpu = processCpuNanos() - cpu0;
            long loop = threadCpuNanos(loopThreads) - loop0;
            long elapsed = System.nanoTime() - t0;
            for (Channel c : clients) {
                c.close().sync();
            }
            server.close().sync();
            return new Measurement(rt * 1e9 / elapsed, (double) cpu / rt, (double) loop / rt);
        } finally {
            clientGroup.shutdownGracefully(0, 1, TimeUnit.SECONDS).sync();
            if (!oneLoop) {
                serverGroup.shutdownGracefully(0, 1, TimeUnit.SECONDS).sync();
            }
        }
    }

    private static long threadId(EventLoopGroup group) throws Exception {
        return group.next().submit(() -> Thread.currentThread().getId()).get(10, TimeUnit.SECONDS);
    }

    private static long threadCpuNanos(long[] threads) {
        ThreadMXBean mx = ManagementFactory.getThreadMXBean();
        long sum = 0;
        for (long id : threads) {
            sum += mx.getThreadCpuTime(id);
        }
        return sum;
    }

    private static long processCpuNanos() {
        return ((com.sun.management.OperatingSystemMXBean) ManagementFactory.getOperatingSystemMXBean())
                .getProcessCpuTime();
    }

    /** Keeps a number of frames in flight on its connection and counts the echoes. */
    static final class Pinger extends ChannelInboundHandlerAdapter {
        private final LongAdder roundTrips;
        private final int inFlight;
        private long count;

        Pinger(LongAdder roundTrips, int inFlight) {
            this.roundTrips = roundTrips;
            this.inFlight = inFlight;
        }

        @Override
        public void channelActive(ChannelHandlerContext ctx) {
            for (int i = 0; i < inFlight; i++) {
                ctx.write(frame(ctx));
            }
            ctx.flush();
        }

        private static ByteBuf frame(ChannelHandlerContext ctx) {
            return ctx.alloc().buffer(FRAME).writeZero(FRAME);
        }

        @Override
        public void channelRead(ChannelHandlerContext ctx, Object msg) {
            ((ByteBuf) msg).release();
            count++;
            ctx.write(frame(ctx));
        }

        @Override
        public void channelReadComplete(ChannelHandlerContext ctx) {
            roundTrips.add(count);
            count = 0;
            ctx.flush();
        }
    }
}
