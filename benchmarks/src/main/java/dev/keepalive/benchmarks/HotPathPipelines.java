package dev.keepalive.benchmarks;

import dev.keepalive.KeepaliveSettings;
import dev.keepalive.netty.KeepaliveHandler;
import io.netty.channel.Channel;
import io.netty.channel.ChannelDuplexHandler;
import io.netty.channel.ChannelHandler;
import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.ChannelInboundHandlerAdapter;
import io.netty.channel.ChannelInitializer;
import io.netty.channel.EventLoopGroup;
import io.netty.channel.MultiThreadIoEventLoopGroup;
import io.netty.channel.ServerChannel;
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

import java.util.concurrent.TimeUnit;
import java.util.function.Supplier;

/**
 * The pipelines the hot-path benchmarks compare ({@link HotPathBenchmark}, {@link InterleavedHotPathBenchmark}):
 * a length-prefixed frame codec, the stage under test, and the application's handler.
 */
final class HotPathPipelines {
    private HotPathPipelines() {
    }

    /** The stage under test, between the codec and the application's handler, on both ends. */
    enum Mode {
        /** None: the codec and the application's handler only. */
        BARE,
        /** None again, a second pipeline of its own: the control, whose ratio to bare shows the noise. */
        BARE_AGAIN,
        /**
         * One stage that passes on exactly the events {@link KeepaliveHandler} handles (read, read complete, read
         * request, write) and does nothing else: the floor for any handler that needs those events.
         */
        PASS_THROUGH,
        /**
         * The same stage with one clock read per read from the socket, as {@link KeepaliveHandler} takes the time of
         * the last inbound byte: the floor plus the handler's one costly call.
         */
        PASS_THROUGH_AND_A_CLOCK,
        /** What users write today: Netty's {@link IdleStateHandler} and a handler that pings on writer-idle. */
        IDLE_STATE_HANDLER,
        /** {@link KeepaliveHandler} with default settings, TCP options not applied. */
        KEEPALIVE_HANDLER
    }

    /** The transport the pipelines run on. */
    enum Transport {
        NIO, EPOLL;

        /** A new group of one event loop of this transport. */
        EventLoopGroup newLoop() {
            return new MultiThreadIoEventLoopGroup(1, this == EPOLL ? EpollIoHandler.newFactory()
                    : NioIoHandler.newFactory());
        }

        Class<? extends ServerChannel> serverChannel() {
            return this == EPOLL ? EpollServerSocketChannel.class : NioServerSocketChannel.class;
        }

        Class<? extends Channel> channel() {
            return this == EPOLL ? EpollSocketChannel.class : NioSocketChannel.class;
        }
    }

    /** A channel initializer that builds the pipeline of {@code mode} with the application's handler {@code app}. */
    static ChannelInitializer<SocketChannel> pipeline(Mode mode, Supplier<ChannelHandler> app) {
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
                    case PASS_THROUGH_AND_A_CLOCK:
                        ch.pipeline().addLast(new PassThroughAndAClock());
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

    /** {@link PipelineEventBenchmark.PassThrough} that also reads the clock once per read from the socket. */
    static final class PassThroughAndAClock extends PipelineEventBenchmark.PassThrough {
        private long lastReadAt; // stored, as the handler stores the time of the last inbound byte

        @Override
        public void channelReadComplete(ChannelHandlerContext ctx) {
            lastReadAt = System.nanoTime();
            super.channelReadComplete(ctx);
        }
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

    /** Echoes each frame; flushes once per read from the socket. */
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
}
