package dev.keepalive.benchmarks;

import dev.keepalive.KeepaliveSettings;
import dev.keepalive.netty.EffectiveTcpOptions;
import dev.keepalive.netty.TcpKeepaliveOptions;
import io.netty.bootstrap.Bootstrap;
import io.netty.bootstrap.ServerBootstrap;
import io.netty.channel.Channel;
import io.netty.channel.ChannelInboundHandlerAdapter;
import io.netty.channel.EventLoopGroup;
import io.netty.channel.MultiThreadIoEventLoopGroup;
import io.netty.channel.epoll.EpollIoHandler;
import io.netty.channel.epoll.EpollServerSocketChannel;
import io.netty.channel.epoll.EpollSocketChannel;
import org.openjdk.jmh.annotations.Benchmark;
import org.openjdk.jmh.annotations.BenchmarkMode;
import org.openjdk.jmh.annotations.Fork;
import org.openjdk.jmh.annotations.Level;
import org.openjdk.jmh.annotations.Measurement;
import org.openjdk.jmh.annotations.Mode;
import org.openjdk.jmh.annotations.OutputTimeUnit;
import org.openjdk.jmh.annotations.Scope;
import org.openjdk.jmh.annotations.Setup;
import org.openjdk.jmh.annotations.State;
import org.openjdk.jmh.annotations.TearDown;
import org.openjdk.jmh.annotations.Warmup;

import java.time.Duration;
import java.util.concurrent.TimeUnit;

/**
 * What the kernel side of the settings costs each new connection: {@link TcpKeepaliveOptions#apply} (SO_KEEPALIVE,
 * TCP_KEEPIDLE, TCP_KEEPINTVL, TCP_KEEPCNT and TCP_USER_TIMEOUT set, then read back: ten system calls), which
 * {@code KeepaliveHandler} makes once per connection on each end, and the read-back alone
 * ({@link TcpKeepaliveOptions#read}). One epoll connection on loopback; Linux only.
 *
 * <pre>java -jar benchmarks/target/benchmarks.jar TcpOptionsBenchmark</pre>
 */
@State(Scope.Thread)
@BenchmarkMode(Mode.AverageTime)
@OutputTimeUnit(TimeUnit.NANOSECONDS)
@Warmup(iterations = 3, time = 1)
@Measurement(iterations = 5, time = 1)
@Fork(1)
public class TcpOptionsBenchmark {

    private final KeepaliveSettings settings = KeepaliveSettings.builder().pingInterval(Duration.ofSeconds(30))
            .build();
    private EventLoopGroup group;
    private Channel server;
    private Channel client;

    @Setup(Level.Trial)
    public void setUp() throws InterruptedException {
        group = new MultiThreadIoEventLoopGroup(1, EpollIoHandler.newFactory());
        server = new ServerBootstrap().group(group).channel(EpollServerSocketChannel.class)
                .childHandler(new ChannelInboundHandlerAdapter()).bind("127.0.0.1", 0).sync().channel();
        client = new Bootstrap().group(group).channel(EpollSocketChannel.class)
                .handler(new ChannelInboundHandlerAdapter()).connect(server.localAddress()).sync().channel();
    }

    @TearDown(Level.Trial)
    public void tearDown() {
        client.close().syncUninterruptibly();
        server.close().syncUninterruptibly();
        group.shutdownGracefully(0, 1, TimeUnit.SECONDS).syncUninterruptibly();
    }

    /** Set and read back, as at every connection's start. */
    @Benchmark
    public EffectiveTcpOptions applyAndReadBack() {
        return TcpKeepaliveOptions.apply(client, settings);
    }

    /** The read-back alone. */
    @Benchmark
    public EffectiveTcpOptions readBack() {
        return TcpKeepaliveOptions.read(client);
    }
}
