package dev.keepalive.benchmarks;

import dev.keepalive.KeepaliveSettings;
import dev.keepalive.netty.KeepaliveHandler;
import io.netty.buffer.ByteBuf;
import io.netty.channel.ChannelDuplexHandler;
import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.ChannelPromise;
import io.netty.buffer.Unpooled;
import io.netty.channel.embedded.EmbeddedChannel;
import io.netty.handler.timeout.IdleStateHandler;
import org.openjdk.jmh.annotations.Benchmark;
import org.openjdk.jmh.annotations.BenchmarkMode;
import org.openjdk.jmh.annotations.Fork;
import org.openjdk.jmh.annotations.Level;
import org.openjdk.jmh.annotations.Measurement;
import org.openjdk.jmh.annotations.Mode;
import org.openjdk.jmh.annotations.OutputTimeUnit;
import org.openjdk.jmh.annotations.Param;
import org.openjdk.jmh.annotations.Scope;
import org.openjdk.jmh.annotations.Setup;
import org.openjdk.jmh.annotations.State;
import org.openjdk.jmh.annotations.TearDown;
import org.openjdk.jmh.annotations.Warmup;

import java.util.concurrent.TimeUnit;

/**
 * The per-message cost of each pipeline on one channel, without sockets: a write (with its promise) and an inbound
 * message, through a pipeline that is bare, holds what users write today ({@link IdleStateHandler} + a writer-idle
 * ping handler), or holds {@link KeepaliveHandler}. The difference to {@code BARE} is what the handler adds to every
 * message; the socket benchmark ({@link HotPathBenchmark}) shows the same in round trips per second.
 *
 * <pre>java -jar benchmarks/target/benchmarks.jar PipelineEventBenchmark</pre>
 */
@State(Scope.Thread)
@BenchmarkMode(Mode.AverageTime)
@OutputTimeUnit(TimeUnit.NANOSECONDS)
@Warmup(iterations = 3, time = 1)
@Measurement(iterations = 5, time = 1)
@Fork(1)
public class PipelineEventBenchmark {

    /** The pipeline under test. */
    @Param({"BARE", "PASS_THROUGH", "PASS_THROUGH_AND_A_TIMER", "IDLE_STATE_HANDLER", "KEEPALIVE_HANDLER"})
    public String pipeline;

    private EmbeddedChannel channel;
    private ByteBuf frame;

    @Setup(Level.Trial)
    public void setUp() {
        frame = Unpooled.unreleasableBuffer(Unpooled.wrappedBuffer(new byte[64]));
        channel = new EmbeddedChannel();
        switch (pipeline) {
            case "IDLE_STATE_HANDLER":
                channel.pipeline().addLast(new IdleStateHandler(0, 30, 0, TimeUnit.SECONDS),
                        new HotPathPipelines.WriterIdlePing());
                break;
            case "PASS_THROUGH":
                channel.pipeline().addLast(new PassThrough());
                break;
            case "PASS_THROUGH_AND_A_TIMER":
                // EmbeddedChannel runs its due scheduled tasks after every flush: a pending one costs a clock read
                channel.pipeline().addLast(new PassThrough());
                channel.eventLoop().schedule(() -> { }, 30, TimeUnit.SECONDS);
                break;
            case "KEEPALIVE_HANDLER":
                channel.pipeline().addLast(KeepaliveHandler.builder(KeepaliveSettings.defaults())
                        .applyTcpOptions(false).build());
                break;
            default:
                break; // nothing: the difference to BARE is the whole cost of adding the handler
        }
    }

    @TearDown(Level.Trial)
    public void tearDown() {
        channel.finishAndReleaseAll();
    }

    /** One more duplex stage that passes reads, read completions, read requests and writes on: what a stage costs. */
    static class PassThrough extends ChannelDuplexHandler {
        @Override
        public void channelRead(ChannelHandlerContext ctx, Object msg) {
            ctx.fireChannelRead(msg);
        }

        @Override
        public void channelReadComplete(ChannelHandlerContext ctx) {
            ctx.fireChannelReadComplete();
        }

        @Override
        public void read(ChannelHandlerContext ctx) {
            ctx.read();
        }

        @Override
        public void write(ChannelHandlerContext ctx, Object msg, ChannelPromise promise) {
            ctx.write(msg, promise);
        }
    }

    /** One write and flush with a new promise, then taking the message off the channel's outbound queue. */
    @Benchmark
    public Object write() {
        channel.writeAndFlush(frame.resetReaderIndex());
        return channel.readOutbound();
    }

    /** One inbound message reaching the end of the pipeline. */
    @Benchmark
    public Object read() {
        channel.pipeline().fireChannelRead(frame.resetReaderIndex());
        return channel.readInbound();
    }
}
