package dev.keepalive.benchmarks;

import dev.keepalive.KeepaliveSettings;
import dev.keepalive.netty.KeepaliveHandler;
import io.netty.bootstrap.Bootstrap;
import io.netty.bootstrap.ServerBootstrap;
import io.netty.buffer.ByteBuf;
import io.netty.channel.Channel;
import io.netty.channel.ChannelDuplexHandler;
import io.netty.channel.ChannelHandler;
import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.ChannelInboundHandlerAdapter;
import io.netty.channel.ChannelInitializer;
import io.netty.channel.ChannelOption;
import io.netty.channel.EventLoopGroup;
import io.netty.channel.MultiThreadIoEventLoopGroup;
import io.netty.channel.ServerChannel;
import io.netty.channel.epoll.Epoll;
import io.netty.channel.epoll.EpollIoHandler;
import io.netty.channel.epoll.EpollServerSocketChannel;
import io.netty.channel.epoll.EpollSocketChannel;
import io.netty.channel.nio.NioIoHandler;
import io.netty.channel.socket.SocketChannel;
import io.netty.channel.socket.nio.NioServerSocketChannel;
import io.netty.channel.socket.nio.NioSocketChannel;
import io.netty.handler.codec.LengthFieldBasedFrameDecoder;
import io.netty.handler.codec.LengthFieldPrepender;
import io.netty.handler.timeout.IdleState;
import io.netty.handler.timeout.IdleStateEvent;
import io.netty.handler.timeout.IdleStateHandler;

import java.lang.management.ManagementFactory;
import java.net.InetSocketAddress;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.EnumMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.LongAdder;
import java.util.function.Supplier;

/**
 * The hot-path cost of keepalive: a loopback echo pair with small pipelined frames, run bare, with what users write
 * today (Netty's {@link IdleStateHandler} + a handler that pings on writer-idle, on both ends), and with
 * {@link KeepaliveHandler} on both ends, and with one empty stage on both ends (the floor for any handler); they
 * alternate several times in one run, on NIO and on epoll.
 *
 * <pre>java -cp benchmarks/target/benchmarks.jar dev.keepalive.benchmarks.HotPathBenchmark [seconds] [rounds]</pre>
 *
 * Prints round trips per second, process CPU per round trip and the ratios against the bare pipeline.
 */
public final class HotPathBenchmark {
    private static final int CONNECTIONS = 4;
    private static final int FRAME = 64;
    private static final int IN_FLIGHT = 32;

    public enum Mode {
        /** The codec and the application handler only. */
        BARE,
        /**
         * One more stage that passes on exactly the events {@link KeepaliveHandler} handles (read, read complete,
         * read request, write) and does nothing else: the floor for any handler in the pipeline.
         */
        PASS_THROUGH,
        IDLE_STATE_HANDLER,
        KEEPALIVE_HANDLER
    }

    public enum Transport {
        NIO, EPOLL
    }

    private HotPathBenchmark() {
    }

    public static void main(String[] args) throws Exception {
        Duration measure = Duration.ofSeconds(args.length > 0 ? Integer.parseInt(args[0]) : 4);
        int rounds = args.length > 1 ? Integer.parseInt(args[1]) : 3;
        System.out.printf(Locale.ROOT, "hot path: %d connections, %d-byte frames, %d in flight each, %d s per "
                + "measurement, %d rounds, %d cores, %s%n", CONNECTIONS, FRAME, IN_FLIGHT, measure.toSeconds(),
                rounds, Runtime.getRuntime().availableProcessors(), System.getProperty("java.vm.version"));
        for (Transport transport : Transport.values()) {
            if (transport == Transport.EPOLL && !Epoll.isAvailable()) {
                System.out.println("epoll is not available: " + Epoll.unavailabilityCause());
                continue;
            }
            Map<Mode, List<double[]>> results = new EnumMap<>(Mode.class);
            for (int round = 0; round < rounds; round++) {
                for (Mode mode : Mode.values()) {
                    double[] r = run(transport, mode, measure);
                    results.computeIfAbsent(mode, m -> new ArrayList<>()).add(r);
                    System.out.printf(Locale.ROOT, "  %-5s round %d %-18s %,12.0f round trips/s %8.0f ns CPU per "
                            + "round trip%n", transport, round + 1, mode, r[0], r[1]);
                }
            }
            double bare = median(results.get(Mode.BARE), 0);
            double bareCpu = median(results.get(Mode.BARE), 1);
            System.out.printf(Locale.ROOT, "%s medians (and the median of each round's ratio to that round's "
                    + "bare run, which cancels drift between rounds):%n", transport);
            for (Mode mode : Mode.values()) {
                double rt = median(results.get(mode), 0);
                double cpu = median(results.get(mode), 1);
                List<double[]> paired = new ArrayList<>();
                for (int round = 0; round < rounds; round++) {
                    paired.add(new double[] {results.get(mode).get(round)[0]
                            / results.get(Mode.BARE).get(round)[0]});
                }
                double pairedRatio = median(paired, 0);
                String target = mode == Mode.KEEPALIVE_HANDLER
                        ? (pairedRatio >= 0.97 ? "  target >= 0.97: met" : "  target >= 0.97: MISSED") : "";
                System.out.printf(Locale.ROOT, "  %-18s %,12.0f round trips/s (%.3f of bare; per round %.3f)  %6.0f "
                        + "ns CPU per round trip (+%.0f ns)%s%n", mode, rt, rt / bare, pairedRatio, cpu,
                        cpu - bareCpu, target);
            }
        }
    }

    private static double median(List<double[]> rs, int index) {
        double[] v = rs.stream().mapToDouble(r -> r[index]).toArray();
        Arrays.sort(v);
        return v.length % 2 == 1 ? v[v.length / 2] : (v[v.length / 2 - 1] + v[v.length / 2]) / 2;
    }

    /** Returns {round trips per second, process CPU nanoseconds per round trip}. */
    static double[] run(Transport transport, Mode mode, Duration measure) throws Exception {
        EventLoopGroup serverGroup = group(transport);
        EventLoopGroup clientGroup = group(transport);
        LongAdder roundTrips = new LongAdder();
        try {
            Channel server = new ServerBootstrap().group(serverGroup)
                    .channel(transport == Transport.EPOLL ? EpollServerSocketChannel.class
                            : NioServerSocketChannel.class)
                    .childOption(ChannelOption.TCP_NODELAY, true)
                    .childHandler(pipeline(mode, () -> new Echo()))
                    .bind(new InetSocketAddress("127.0.0.1", 0)).sync().channel();
            List<Channel> clients = new ArrayList<>();
            for (int i = 0; i < CONNECTIONS; i++) {
                clients.add(new Bootstrap().group(clientGroup)
                        .channel(transport == Transport.EPOLL ? EpollSocketChannel.class : NioSocketChannel.class)
                        .option(ChannelOption.TCP_NODELAY, true)
                        .handler(pipeline(mode, () -> new Pinger(roundTrips)))
                        .connect(server.localAddress()).sync().channel());
            }
            Thread.sleep(measure.toMillis() / 2); // warm-up, then measure (benchmark pacing, not synchronisation)
            long rt0 = roundTrips.sum();
            long cpu0 = processCpuNanos();
            long t0 = System.nanoTime();
            Thread.sleep(measure.toMillis());
            long rt = roundTrips.sum() - rt0;
            long cpu = processCpuNanos() - cpu0;
            long elapsed = System.nanoTime() - t0;
            for (Channel c : clients) {
                c.close().sync();
            }
            server.close().sync();
            return new double[] {rt * 1e9 / elapsed, (double) cpu / Math.max(1, rt)};
        } finally {
            clientGroup.shutdownGracefully(0, 1, TimeUnit.SECONDS).sync();
            serverGroup.shutdownGracefully(0, 1, TimeUnit.SECONDS).sync();
        }
    }

    private static EventLoopGroup group(Transport transport) {
        return new MultiThreadIoEventLoopGroup(1, transport == Transport.EPOLL ? EpollIoHandler.newFactory()
                : NioIoHandler.newFactory());
    }

    private static long processCpuNanos() {
        return ((com.sun.management.OperatingSystemMXBean) ManagementFactory.getOperatingSystemMXBean())
                .getProcessCpuTime();
    }

    private static ChannelInitializer<SocketChannel> pipeline(Mode mode, Supplier<ChannelHandler> app) {
        KeepaliveSettings settings = KeepaliveSettings.defaults();
        return new ChannelInitializer<SocketChannel>() {
            @Override
            protected void initChannel(SocketChannel ch) {
                ch.pipeline().addLast(new LengthFieldBasedFrameDecoder(1 << 16, 0, 4, 0, 4),
                        new LengthFieldPrepender(4));
                switch (mode) {
                    case PASS_THROUGH:
                        ch.pipeline().addLast(new PipelineEventBenchmark.PassThrough());
                        break;
                    case IDLE_STATE_HANDLER:
                        ch.pipeline().addLast(new IdleStateHandler(0, 30, 0, TimeUnit.SECONDS), new WriterIdlePing());
                        break;
                    case KEEPALIVE_HANDLER:
                        ch.pipeline().addLast(KeepaliveHandler.builder(settings).applyTcpOptions(false).build());
                        break;
                    default:
                        break;
                }
                ch.pipeline().addLast(app.get(), new CloseOnException());
            }
        };
    }

    /** Closing the pairs after a measurement resets connections with frames in flight: close quietly. */
    static final class CloseOnException extends ChannelInboundHandlerAdapter {
        @Override
        public void exceptionCaught(ChannelHandlerContext ctx, Throwable cause) {
            ctx.close();
        }
    }

    /** What users write today: ping when nothing was written for the writer-idle time. */
    static final class WriterIdlePing extends ChannelDuplexHandler {
        @Override
        public void userEventTriggered(ChannelHandlerContext ctx, Object evt) throws Exception {
            if (evt instanceof IdleStateEvent && ((IdleStateEvent) evt).state() == IdleState.WRITER_IDLE) {
                ctx.writeAndFlush(ctx.alloc().buffer(1).writeByte(0));
            } else {
                super.userEventTriggered(ctx, evt);
            }
        }
    }

    /** Echoes each frame; flushes once per read batch. */
    static final class Echo extends ChannelInboundHandlerAdapter {
        @Override
        public void channelRead(ChannelHandlerContext ctx, Object msg) {
            ctx.write(msg);
        }

        @Override
        public void channelReadComplete(ChannelHandlerContext ctx) {
            ctx.flush();
        }
    }

    /** Keeps {@link #IN_FLIGHT} frames in flight and counts the echoes. */
    static final class Pinger extends ChannelInboundHandlerAdapter {
        private final LongAdder roundTrips;
        private long count;

        Pinger(LongAdder roundTrips) {
            this.roundTrips = roundTrips;
        }

        @Override
        public void channelActive(ChannelHandlerContext ctx) {
            for (int i = 0; i < IN_FLIGHT; i++) {
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
