package dev.keepalive.benchmarks;

import dev.keepalive.KeepaliveSettings;
import dev.keepalive.netty.KeepaliveHandler;
import dev.keepalive.netty.KeepaliveProbe;
import dev.keepalive.netty.client.ReconnectingClient;
import dev.keepalive.reconnect.ConnectionState;
import io.netty.bootstrap.Bootstrap;
import io.netty.bootstrap.ServerBootstrap;
import io.netty.channel.Channel;
import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.ChannelInitializer;
import io.netty.channel.EventLoopGroup;
import io.netty.channel.MultiThreadIoEventLoopGroup;
import io.netty.channel.SimpleChannelInboundHandler;
import io.netty.channel.nio.NioIoHandler;
import io.netty.channel.socket.nio.NioServerSocketChannel;
import io.netty.channel.socket.nio.NioSocketChannel;
import io.netty.handler.codec.LineBasedFrameDecoder;
import io.netty.handler.codec.string.StringDecoder;
import io.netty.handler.codec.string.StringEncoder;

import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.Arrays;
import java.util.List;
import java.util.Locale;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.locks.LockSupport;

/**
 * What read confirmation costs a {@code ReconnectingClient} send on loopback (NIO, line probe, a
 * {@link KeepaliveHandler} on the server with the default {@code minPeerPingInterval} of 100 ms): the latency from
 * {@code send} to the future's success, written versus confirmed as read, for one send at a time and for a steady
 * stream; and the barrier pings the stream costs.
 *
 * <pre>
 * java -cp benchmarks/target/benchmarks.jar dev.keepalive.benchmarks.ConfirmLatencyBenchmark [serial] [stream] [rate]
 * </pre>
 *
 * An isolated confirmed send (none in the previous 125 ms) costs one round trip. Back-to-back sends each wait for
 * their own barrier ping, and barrier pings are spaced 125 ms apart: a serial sender gets about eight confirmations
 * a second. A stream shares each ping among the sends of its spacing.
 */
public final class ConfirmLatencyBenchmark {
    private ConfirmLatencyBenchmark() {
    }

    public static void main(String[] args) throws Exception {
        int serial = args.length > 0 ? Integer.parseInt(args[0]) : 100;
        int sends = args.length > 1 ? Integer.parseInt(args[1]) : 20_000;
        int rate = args.length > 2 ? Integer.parseInt(args[2]) : 2_000;
        System.out.printf(Locale.ROOT, "confirm latency: %,d sends one at a time, then a stream of %,d/s for %,d "
                + "sends; loopback NIO, %d cores, %s%n", serial, rate, sends,
                Runtime.getRuntime().availableProcessors(), System.getProperty("java.vm.version"));
        for (boolean confirm : new boolean[] {false, true}) {
            Result r = run(confirm, serial, sends, rate);
            System.out.printf(Locale.ROOT, "%-9s isolated (one per 200 ms): p50 %7.1f us, p99 %7.1f us | back to back: "
                            + "p50 %7.1f us, p99 %7.1f us | stream: p50 %7.1f us, p99 %7.1f us, max %7.1f us, "
                            + "pings answered by the server %.1f/s%n",
                    confirm ? "confirmed" : "written", r.isolated[0], r.isolated[1], r.serial[0], r.serial[1],
                    r.stream[0], r.stream[1], r.stream[2], r.pingsPerSecond);
        }
    }

    /**
     * Percentiles in microseconds: isolated sends {p50, p99}, back-to-back sends {p50, p99}, stream {p50, p99, max};
     * and pings per second the server answered during the stream.
     */
    public record Result(double[] isolated, double[] serial, double[] stream, double pingsPerSecond) {
    }

    /** One measurement. */
    public static Result run(boolean confirm, int serialSends, int sends, int rate) throws Exception {
        EventLoopGroup group = new MultiThreadIoEventLoopGroup(2, NioIoHandler.newFactory());
        List<KeepaliveHandler> serverHandlers = new CopyOnWriteArrayList<>();
        try {
            Channel server = new ServerBootstrap().group(group).channel(NioServerSocketChannel.class)
                    .childHandler(new ChannelInitializer<Channel>() {
                        @Override
                        protected void initChannel(Channel ch) {
                            KeepaliveHandler k = KeepaliveHandler.builder(KeepaliveSettings.defaults())
                                    .probe(KeepaliveProbe.lines()).build();
                            serverHandlers.add(k);
                            ch.pipeline().addLast(new LineBasedFrameDecoder(1 << 16),
                                    new StringDecoder(StandardCharsets.UTF_8),
                                    new StringEncoder(StandardCharsets.UTF_8), k,
                                    new SimpleChannelInboundHandler<String>() {
                                        @Override
                                        protected void channelRead0(ChannelHandlerContext ctx, String line) {
                                            // read, and dropped
                                        }
                                    });
                        }
                    }).bind(new InetSocketAddress(InetAddress.getLoopbackAddress(), 0)).sync().channel();
            ReconnectingClient client = ReconnectingClient.builder(new Bootstrap().group(group)
                            .channel(NioSocketChannel.class))
                    .endpoints(List.of((InetSocketAddress) server.localAddress()))
                    .pipeline((ch, keepalive) -> ch.pipeline().addLast(new LineBasedFrameDecoder(1 << 16),
                            new StringDecoder(StandardCharsets.UTF_8), new StringEncoder(StandardCharsets.UTF_8),
                            keepalive))
                    .keepalive(KeepaliveSettings.defaults(), KeepaliveProbe.lines())
                    .confirmReads(confirm)
                    .build().start();
            try {
                long until = System.nanoTime() + TimeUnit.SECONDS.toNanos(10);
                while (client.state() != ConnectionState.CONNECTED && System.nanoTime() - until < 0) {
                    LockSupport.parkNanos(1_000_000);
                }
                // Warm-up, then one at a time.
                CompletableFuture<?>[] warm = new CompletableFuture<?>[sends / 4];
                for (int i = 0; i < warm.length; i++) {
                    warm[i] = client.send("warm " + i + "\n");
                }
                CompletableFuture.allOf(warm).get(30, TimeUnit.SECONDS);
                // Isolated: one send every 200 ms, longer than the barrier ping spacing.
                long[] isolated = new long[Math.max(1, serialSends / 5)];
                for (int i = 0; i < isolated.length; i++) {
                    LockSupport.parkNanos(TimeUnit.MILLISECONDS.toNanos(200));
                    long t = System.nanoTime();
                    client.send("isolated " + i + "\n").get(5, TimeUnit.SECONDS);
                    isolated[i] = System.nanoTime() - t;
                }
                long[] serial = new long[serialSends];
                for (int i = 0; i < serialSends; i++) {
                    long t = System.nanoTime();
                    client.send("one " + i + "\n").get(5, TimeUnit.SECONDS);
                    serial[i] = System.nanoTime() - t;
                }
                // A steady stream at `rate` per second.
                long pingsBefore = peerPings(serverHandlers);
                long[] stream = new long[sends];
                CompletableFuture<?>[] done = new CompletableFuture<?>[sends];
                long period = 1_000_000_000L / rate;
                long start = System.nanoTime();
                for (int i = 0; i < sends; i++) {
                    long due = start + i * period;
                    for (long wait = due - System.nanoTime(); wait > 0; wait = due - System.nanoTime()) {
                        LockSupport.parkNanos(wait);
                    }
                    int n = i;
                    long t = System.nanoTime();
                    done[i] = client.send("stream " + i + "\n").thenRun(() -> stream[n] = System.nanoTime() - t);
                }
                CompletableFuture.allOf(done).get(30, TimeUnit.SECONDS);
                double seconds = (System.nanoTime() - start) / 1e9;
                double pings = (peerPings(serverHandlers) - pingsBefore) / seconds;
                return new Result(percentiles(isolated, false), percentiles(serial, false), percentiles(stream, true),
                        pings);
            } finally {
                client.close();
                server.close().sync();
            }
        } finally {
            group.shutdownGracefully(0, 1, TimeUnit.SECONDS).sync();
        }
    }

    private static long peerPings(List<KeepaliveHandler> handlers) {
        long n = 0;
        for (KeepaliveHandler h : handlers) {
            n += h.stats().peerPingsReceived();
        }
        return n;
    }

    private static double[] percentiles(long[] nanos, boolean withMax) {
        long[] s = nanos.clone();
        Arrays.sort(s);
        double p50 = s[s.length / 2] / 1e3;
        double p99 = s[Math.min(s.length - 1, (int) (s.length * 0.99))] / 1e3;
        return withMax ? new double[] {p50, p99, s[s.length - 1] / 1e3} : new double[] {p50, p99};
    }
}
