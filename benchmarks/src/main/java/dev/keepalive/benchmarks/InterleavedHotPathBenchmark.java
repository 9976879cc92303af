package dev.keepalive.benchmarks;

import dev.keepalive.benchmarks.HotPathPipelines.Echo;
import dev.keepalive.benchmarks.HotPathPipelines.Mode;
import dev.keepalive.benchmarks.HotPathPipelines.Transport;
import dev.keepalive.benchmarks.support.Reports;
import io.netty.bootstrap.Bootstrap;
import io.netty.bootstrap.ServerBootstrap;
import io.netty.buffer.ByteBuf;
import io.netty.channel.Channel;
import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.ChannelInboundHandlerAdapter;
import io.netty.channel.ChannelOption;
import io.netty.channel.EventLoop;
import io.netty.channel.EventLoopGroup;
import io.netty.channel.epoll.Epoll;
import io.netty.util.concurrent.Promise;

import java.lang.management.ManagementFactory;
import java.lang.management.ThreadMXBean;
import java.net.InetSocketAddress;
import java.time.Duration;
import java.util.ArrayList;
import java.util.ArrayDeque;
import java.util.Collections;
import java.util.List;
import java.util.Locale;
import java.util.Random;
import java.util.concurrent.TimeUnit;

/**
 * The hot path of {@link HotPathBenchmark}, measured so that this VM's drifting speed cancels out. Every pipeline's
 * connections live on one event loop at once, and the loop gives them turns: in each turn (50 ms by
 * default) one pipeline's connections play request-response (one 64-byte frame in flight each, echoed) while the
 * others stand idle. Bare takes every other turn, the others the turns between, in a shuffled order. Each
 * pipeline's cost is the loop thread's CPU time per round trip in its turn, set against the mean of the bare turns
 * just before and after it.
 *
 * <p>Why: run one after another for seconds each, the same bare pipeline's CPU per round trip moves by +-20-30 % on
 * this VM, with no CPU steal and one thread doing all the work (BENCHMARKS.md), so separate runs cannot show the
 * 3 % at stake. A second bare pipeline (the control) shows what two identical pipelines
 * differ by in this arrangement.
 *
 * <pre>java -cp benchmarks/target/benchmarks.jar dev.keepalive.benchmarks.InterleavedHotPathBenchmark
 *     [seconds, 90] [turn ms, 50] [connections per pipeline, 16]</pre>
 *
 * Per transport: a warm-up of a fifth of the time (at least 5 s), then {@code seconds} of turns. Prints, for each
 * pipeline, the median over its turns of its bare neighbours' CPU per round trip divided by its own ("of bare": the
 * throughput a loop would reach, as a share of bare's), with a distribution-free 95 % interval of that median, and
 * the same for round trips per second of the turn's wall-clock time.
 */
public final class InterleavedHotPathBenchmark {
    private static final int FRAME = 64;
    private static final double TARGET = 0.97;

    private InterleavedHotPathBenchmark() {
    }

    /** One turn: whose it was, the loop's CPU ns per round trip in it, and round trips per second of it. */
    record Turn(Mode mode, double cpuPerRoundTrip, double roundTripsPerSecond) {
    }

    /** The measured turns of one run, in the order they ran. */
    record Result(List<Turn> turns) {
        /**
         * For each turn of {@code mode} between two turns of bare: the mean of those two bare turns' CPU per round
         * trip over this turn's (above 1: cheaper than bare). The mean of the neighbours cancels a drift that is
         * steady over the three turns.
         */
        double[] cpuRatio(Mode mode) {
            return ratios(mode, true);
        }

        /** The same for round trips per second: this turn's over the mean of its two bare neighbours'. */
        double[] wallRatio(Mode mode) {
            return ratios(mode, false);
        }

        private double[] ratios(Mode mode, boolean cpu) {
            List<Double> r = new ArrayList<>();
            for (int i = 1; i + 1 < turns.size(); i++) {
                Turn before = turns.get(i - 1);
                Turn t = turns.get(i);
                Turn after = turns.get(i + 1);
                if (t.mode() == mode && before.mode() == Mode.BARE && after.mode() == Mode.BARE) {
                    r.add(cpu ? (before.cpuPerRoundTrip() + after.cpuPerRoundTrip()) / 2 / t.cpuPerRoundTrip()
                            : t.roundTripsPerSecond() * 2 / (before.roundTripsPerSecond()
                                    + after.roundTripsPerSecond()));
                }
            }
            return r.stream().mapToDouble(Double::doubleValue).toArray();
        }

        double medianCpu(Mode mode) {
            return Reports.median(turns.stream().filter(t -> t.mode() == mode)
                    .mapToDouble(Turn::cpuPerRoundTrip).toArray());
        }

        long count(Mode mode) {
            return turns.stream().filter(t -> t.mode() == mode).count();
        }
    }

    public static void main(String[] args) throws Exception {
        Duration measure = Duration.ofSeconds(args.length > 0 ? Integer.parseInt(args[0]) : 90);
        Duration slice = Duration.ofMillis(args.length > 1 ? Integer.parseInt(args[1]) : 50);
        int connections = args.length > 2 ? Integer.parseInt(args[2]) : 16;
        Duration warmup = Duration.ofSeconds(Math.max(5, measure.toSeconds() / 5));
        System.out.printf(Locale.ROOT, "hot path, interleaved: %d connections per pipeline, %d-byte frames, one in "
                + "flight each, all pipelines on one event loop, turns of %d ms, %d s warm-up, %d s measured per "
                + "transport, %d cores, %s%n", connections, FRAME, slice.toMillis(), warmup.toSeconds(),
                measure.toSeconds(), Runtime.getRuntime().availableProcessors(),
                System.getProperty("java.vm.version"));
        for (Transport transport : Transport.values()) {
            if (transport == Transport.EPOLL && !Epoll.isAvailable()) {
                System.out.println("epoll is not available: " + Epoll.unavailabilityCause());
                continue;
            }
            Result r = run(transport, connections, slice, warmup, measure, transport.ordinal());
            report(transport, r);
        }
    }

    static void report(Transport transport, Result r) {
        System.out.printf(Locale.ROOT, "%s, %d turns: each pipeline's turn against the mean of the bare turns just "
                + "before and after it, median [95 %% interval of the median]%n", transport, r.turns().size());
        System.out.printf(Locale.ROOT, "  %-24s %6s %14s %26s %26s%n", "pipeline", "turns", "loop CPU/rt",
                "of bare, per loop CPU", "of bare, round trips/s");
        for (Mode mode : Mode.values()) {
            if (mode == Mode.BARE) {
                System.out.printf(Locale.ROOT, "  %-24s %6d %11.0f ns%n", mode, r.count(mode), r.medianCpu(mode));
                continue;
            }
            double[] cpu = r.cpuRatio(mode);
            double[] wall = r.wallRatio(mode);
            String verdict = mode == Mode.KEEPALIVE_HANDLER ? "  target >= " + TARGET + ": per loop CPU "
                    + Reports.atLeast(cpu, TARGET) + ", by round trips/s " + Reports.atLeast(wall, TARGET) : "";
            System.out.printf(Locale.ROOT, "  %-24s %6d %11.0f ns %26s %26s%s%n", mode, r.count(mode),
                    r.medianCpu(mode), Reports.medianWithInterval(cpu), Reports.medianWithInterval(wall), verdict);
        }
    }

    /** One run: every pipeline's server and connections on one fresh event loop, turns until {@code measure} ends. */
    static Result run(Transport transport, int connections, Duration slice, Duration warmup, Duration measure,
                      long seed) throws Exception {
        EventLoopGroup group = transport.newLoop();
        List<Channel> channels = new ArrayList<>();
        try {
            EventLoop loop = group.next();
            Pipeline[] pipelines = new Pipeline[Mode.values().length];
            for (Mode mode : Mode.values()) {
                Pipeline p = new Pipeline(mode);
                pipelines[mode.ordinal()] = p;
                Channel server = new ServerBootstrap().group(group)
                        .channel(transport.serverChannel())
                        .childOption(ChannelOption.TCP_NODELAY, true)
                        .childHandler(HotPathPipelines.pipeline(mode, Echo::new))
                        .bind(new InetSocketAddress("127.0.0.1", 0)).sync().channel();
                channels.add(server);
                for (int i = 0; i < connections; i++) {
                    Channel c = new Bootstrap().group(group)
                            .channel(transport.channel())
                            .option(ChannelOption.TCP_NODELAY, true)
                            .handler(HotPathPipelines.pipeline(mode, () -> new TurnPinger(p)))
                            .connect(server.localAddress()).sync().channel();
                    p.clients.add(c);
                    channels.add(c);
                }
            }
            Promise<Result> done = loop.newPromise();
            Turns turns = new Turns(loop, pipelines, slice, warmup.toNanos(), measure.toNanos(), new Random(seed),
                    done);
            loop.execute(turns);
            return done.get(warmup.plus(measure).toSeconds() + 60, TimeUnit.SECONDS);
        } finally {
            for (Channel c : channels) {
                c.close();
            }
            group.shutdownGracefully(0, 1, TimeUnit.SECONDS).sync();
        }
    }

    /** One pipeline's connections: they echo frames while it is their turn, and stand idle otherwise. */
    static final class Pipeline {
        final Mode mode;
        final List<Channel> clients = new ArrayList<>();
        long roundTrips;
        boolean active;

        Pipeline(Mode mode) {
            this.mode = mode;
        }

        void start() {
            active = true;
            for (Channel c : clients) {
                c.writeAndFlush(c.alloc().buffer(FRAME).writeZero(FRAME), c.voidPromise());
            }
        }
    }

    /** Sends the next frame on each echo while its pipeline has the turn. */
    static final class TurnPinger extends ChannelInboundHandlerAdapter {
        private final Pipeline pipeline;

        TurnPinger(Pipeline pipeline) {
            this.pipeline = pipeline;
        }

        @Override
        public void channelRead(ChannelHandlerContext ctx, Object msg) {
            ((ByteBuf) msg).release();
            pipeline.roundTrips++;
            if (pipeline.active) {
                ctx.write(ctx.alloc().buffer(FRAME).writeZero(FRAME), ctx.voidPromise());
            }
        }

        @Override
        public void channelReadComplete(ChannelHandlerContext ctx) {
            ctx.flush();
        }
    }

    /**
     * Runs on the loop: at the end of each turn, takes the loop thread's CPU time and the turn's round trips, stops
     * that pipeline and starts the next. Bare takes every other turn; the others take theirs in between, in a
     * shuffled order. The frames still in flight when a turn ends finish during the next turn (a few round trips
     * against thousands) and count for neither.
     */
    static final class Turns implements Runnable {
        private final ThreadMXBean threads = ManagementFactory.getThreadMXBean();
        private final EventLoop loop;
        private final Pipeline[] pipelines;
        private final long sliceNanos;
        private final long warmupNanos;
        private final long endNanos;
        private final Random random;
        private final Promise<Result> done;
        private final long startNanos = System.nanoTime();
        private final List<Turn> measured = new ArrayList<>();
        private final ArrayDeque<Pipeline> next = new ArrayDeque<>();
        private Pipeline current;
        private long countAtStart;
        private long cpuAtStart;
        private long wallAtStart;

        Turns(EventLoop loop, Pipeline[] pipelines, Duration slice, long warmupNanos, long measureNanos,
              Random random, Promise<Result> done) {
            this.loop = loop;
            this.pipelines = pipelines;
            this.sliceNanos = slice.toNanos();
            this.warmupNanos = warmupNanos;
            this.endNanos = warmupNanos + measureNanos;
            this.random = random;
            this.done = done;
        }

        @Override
        public void run() {
            long cpuNow = threads.getCurrentThreadCpuTime();
            long wallNow = System.nanoTime();
            if (current != null) {
                current.active = false;
                long roundTrips = current.roundTrips - countAtStart;
                if (wallAtStart - startNanos >= warmupNanos) {
                    measured.add(new Turn(current.mode, (double) (cpuNow - cpuAtStart) / Math.max(1, roundTrips),
                            roundTrips * 1e9 / Math.max(1, wallNow - wallAtStart)));
                }
            }
            boolean ending = wallNow - startNanos >= endNanos;
            if (ending && (current == null || current.mode == Mode.BARE)) {
                done.trySuccess(new Result(measured)); // ends on a bare turn: the last other turn has both neighbours
                return;
            }
            if (next.isEmpty()) {
                List<Pipeline> others = new ArrayList<>();
                for (Pipeline p : pipelines) {
                    if (p.mode != Mode.BARE) {
                        others.add(p);
                    }
                }
                Collections.shuffle(others, random);
                for (Pipeline p : others) {
                    next.add(pipelines[Mode.BARE.ordinal()]);
                    next.add(p);
                }
            }
            current = ending ? pipelines[Mode.BARE.ordinal()] : next.poll();
            countAtStart = current.roundTrips;
            cpuAtStart = cpuNow;
            wallAtStart = wallNow;
            current.start();
            loop.schedule(this, sliceNanos, TimeUnit.NANOSECONDS);
        }
    }
}
