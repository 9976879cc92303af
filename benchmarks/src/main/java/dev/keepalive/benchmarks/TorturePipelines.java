package dev.keepalive.benchmarks;

import dev.keepalive.PeerDeadException;
import dev.keepalive.benchmarks.IdleScaleBenchmark.Mode;
import dev.keepalive.netty.KeepaliveHandler;
import io.netty.buffer.ByteBuf;
import io.netty.channel.ChannelHandler;
import io.netty.channel.ChannelDuplexHandler;
import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.ChannelInboundHandlerAdapter;
import io.netty.channel.ChannelInitializer;
import io.netty.channel.ChannelPipeline;
import io.netty.channel.ChannelPromise;
import io.netty.channel.socket.SocketChannel;
import io.netty.handler.codec.LengthFieldBasedFrameDecoder;
import io.netty.handler.codec.LengthFieldPrepender;
import io.netty.handler.timeout.IdleState;
import io.netty.handler.timeout.IdleStateEvent;
import io.netty.handler.timeout.IdleStateHandler;
import io.netty.util.ReferenceCountUtil;

import java.net.InetSocketAddress;
import java.time.Duration;
import java.util.Queue;
import java.util.concurrent.ConcurrentLinkedQueue;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.function.Function;

/**
 * The pipelines of {@link FalseVerdictTortureBenchmark}'s processes: the framing, a {@link Record} per connection
 * (when it became active, its first inbound frame, how it ended and who decided), the pipeline under test, and an
 * application end that echoes (server) or drops (client) application frames.
 *
 * <p>The pipelines under test are those of {@link IdleScaleBenchmark} with the same bound: {@link KeepaliveHandler}
 * with {@code pingInterval = pingTimeout = interval} on both ends (bound 3 x interval), or the baseline,
 * {@code IdleStateHandler(readerIdle = 3 x interval, writerIdle = interval)} and a ping on writer idle on the client,
 * {@code IdleStateHandler(readerIdle = 3 x interval)} and a pong on the server. Frames are those of the idle-scale
 * benchmark too (4-byte length prefix, {@code BinaryProbe}'s 11-byte probe frames).
 */
final class TorturePipelines {
    /** A baseline verdict: the reader-idle time passed without a read. */
    static final String READER_IDLE = "READER_IDLE";
    /** A connection that ended without a verdict of this end: the peer closed or reset it. */
    static final String ENDED_BY_PEER = "ended-by-peer";

    private TorturePipelines() {
    }

    /** Connections of one process that ended, and the counters the driver reads; shared by its threads. */
    static final class Book {
        final Queue<Record> ended = new ConcurrentLinkedQueue<>();
        /** A client's connections. */
        final Queue<Record> all = new ConcurrentLinkedQueue<>();
        /** The connections that became active, live ones only. */
        final Queue<Record> activeLive = new ConcurrentLinkedQueue<>();
        final AtomicInteger active = new AtomicInteger();
        final AtomicInteger echoed = new AtomicInteger();
        final AtomicInteger echoedLive = new AtomicInteger();
        final AtomicInteger endedLive = new AtomicInteger();
        final AtomicInteger endedDying = new AtomicInteger();
    }

    /**
     * One connection's story, told by a handler right after the framing (it sees every inbound frame and every
     * outbound one, probes included). Its fields are written on the channel's event loop and read by the reporting
     * thread after the run (a stale read there only misses a last event).
     */
    static final class Record extends ChannelDuplexHandler {
        final boolean dying;
        private final boolean client;
        private final Book book;
        volatile String key = "-";
        volatile long activeAt;
        volatile long firstInboundAt;
        /** The last frame from the peer, probes included: the harness's own measure of the peer's silence. */
        volatile long lastInboundAt;
        /** The first frame this end wrote to the peer, probes included (a server's answer to a slow accept). */
        volatile long firstOutboundAt;
        /** When this end declared the peer dead (or saw its end): see {@link #verdict}. */
        volatile long verdictAt;
        volatile long endedAt;
        volatile String verdict;
        private boolean echoed;
        /** Run once when the connection proved itself or ended (a client's connect pacing); may be null. */
        volatile Runnable settled;

        Record(boolean client, boolean dying, Book book) {
            this.client = client;
            this.dying = dying;
            this.book = book;
        }

        /** Tells {@link #settled} (once) that the connection proved itself or ended. */
        void settle() {
            Runnable r = settled;
            settled = null;
            if (r != null) {
                r.run();
            }
        }

        /** This end declared the peer dead (or saw an error): the first call counts. */
        void verdict(String reason) {
            if (verdict == null) {
                verdictAt = System.nanoTime();
                verdict = reason;
            }
        }

        /** A client's application frame came back: the connection has proven itself. */
        void echoed() {
            if (!echoed) {
                echoed = true;
                settle();
                book.echoed.incrementAndGet();
                if (!dying) {
                    book.echoedLive.incrementAndGet();
                }
            }
        }

        @Override
        public void channelActive(ChannelHandlerContext ctx) throws Exception {
            activeAt = System.nanoTime();
            InetSocketAddress local = (InetSocketAddress) ctx.channel().localAddress();
            InetSocketAddress remote = (InetSocketAddress) ctx.channel().remoteAddress();
            key = client ? key(local) + ">" + key(remote) : key(remote) + ">" + key(local);
            book.active.incrementAndGet();
            if (!dying) {
                book.activeLive.add(this);
            }
            super.channelActive(ctx);
        }

        @Override
        public void channelRead(ChannelHandlerContext ctx, Object msg) throws Exception {
            long now = System.nanoTime();
            if (firstInboundAt == 0) {
                firstInboundAt = now;
            }
            lastInboundAt = now;
            super.channelRead(ctx, msg);
        }

        @Override
        public void write(ChannelHandlerContext ctx, Object msg, ChannelPromise promise) throws Exception {
            if (firstOutboundAt == 0) {
                firstOutboundAt = System.nanoTime();
            }
            super.write(ctx, msg, promise);
        }

        @Override
        public void channelInactive(ChannelHandlerContext ctx) throws Exception {
            endedAt = System.nanoTime();
            verdict(ENDED_BY_PEER);
            book.ended.add(this);
            (dying ? book.endedDying : book.endedLive).incrementAndGet();
            settle();
            super.channelInactive(ctx);
        }

        /**
         * {@code key,dying,reason,activeAt,endedAt,silence} for the report: {@code silence} is how long before the
         * verdict the last frame from the peer came (since becoming active when none came).
         */
        String entry() {
            long silence = verdictAt - (lastInboundAt != 0 ? lastInboundAt : activeAt);
            return key + "," + (dying ? 1 : 0) + "," + verdict + "," + activeAt + "," + endedAt + "," + silence;
        }
    }

    /** An address as part of a connection's key, which both ends write as {@code client>server}. */
    static String key(InetSocketAddress address) {
        return address.getAddress().getHostAddress() + ":" + address.getPort();
    }

    /**
     * The pipeline of one end. {@code record} is a fresh {@link Record} per channel; the server's records learn
     * whether they are dying from the remote address (connections through the firewall proxy come from
     * 127.0.0.1, the clients bind other loopback addresses).
     */
    static ChannelInitializer<SocketChannel> initializer(boolean client, Mode mode, Duration interval,
                                                         Function<SocketChannel, Record> record) {
        long i = interval.toNanos();
        long readerIdle = IdleScaleProcess.BASELINE_READER_IDLE_INTERVALS * i;
        ChannelHandler tail = client ? ClientEnd.INSTANCE : ServerEnd.INSTANCE;
        return new ChannelInitializer<SocketChannel>() {
            @Override
            protected void initChannel(SocketChannel ch) {
                ChannelPipeline p = ch.pipeline();
                Record r = record.apply(ch);
                p.addLast(new LengthFieldBasedFrameDecoder(1 << 16, 0, 4, 0, 4), new LengthFieldPrepender(4), r);
                if (mode == Mode.KEEPALIVE) {
                    p.addLast(KeepaliveHandler.builder(IdleScaleProcess.settings(interval)).build());
                } else if (mode == Mode.IDLE_STATE_HANDLER) {
                    p.addLast(client ? new IdleStateHandler(readerIdle, i, 0, TimeUnit.NANOSECONDS)
                            : new IdleStateHandler(readerIdle, 0, 0, TimeUnit.NANOSECONDS), new Baseline(client));
                }
                p.addLast(tail);
            }
        };
    }

    private static Record record(ChannelHandlerContext ctx) {
        return ctx.pipeline().get(Record.class);
    }

    /**
     * The baseline: on the client a ping on writer idle and pongs taken out of the stream; on the server a pong for
     * each ping; on both a close on reader idle. One per channel (a client numbers its pings).
     */
    static final class Baseline extends ChannelInboundHandlerAdapter {
        private final boolean client;
        private long lastPingId;

        Baseline(boolean client) {
            this.client = client;
        }

        @Override
        public void userEventTriggered(ChannelHandlerContext ctx, Object evt) throws Exception {
            if (evt instanceof IdleStateEvent) {
                IdleState state = ((IdleStateEvent) evt).state();
                if (state == IdleState.WRITER_IDLE && client) {
                    ctx.writeAndFlush(IdleScaleProcess.probeFrame(ctx.alloc(), IdleScaleProcess.PING, ++lastPingId));
                } else if (state == IdleState.READER_IDLE) {
                    Record r = record(ctx);
                    if (r != null) {
                        r.verdict(READER_IDLE);
                    }
                    ctx.close();
                }
                return;
            }
            super.userEventTriggered(ctx, evt);
        }

        @Override
        public void channelRead(ChannelHandlerContext ctx, Object msg) {
            byte type = IdleScaleProcess.probeType(msg);
            if (client && type == IdleScaleProcess.PONG) {
                ReferenceCountUtil.release(msg);
            } else if (!client && type == IdleScaleProcess.PING) {
                long id = ((ByteBuf) msg).getLong(((ByteBuf) msg).readerIndex() + 3);
                ReferenceCountUtil.release(msg);
                ctx.writeAndFlush(IdleScaleProcess.probeFrame(ctx.alloc(), IdleScaleProcess.PONG, id));
            } else {
                ctx.fireChannelRead(msg);
            }
        }
    }

    /** Records how a connection ended on an exception (a keepalive verdict or an I/O error) and closes it. */
    private abstract static class End extends ChannelInboundHandlerAdapter {
        @Override
        public void exceptionCaught(ChannelHandlerContext ctx, Throwable cause) {
            Record r = record(ctx);
            if (r != null) {
                r.verdict(cause instanceof PeerDeadException ? ((PeerDeadException) cause).reason().name()
                        : "error:" + cause.getClass().getSimpleName());
            }
            ctx.close();
        }
    }

    /** The client's application end: the echo of its first frame proves the connection; other frames dropped. */
    @ChannelHandler.Sharable
    static final class ClientEnd extends End {
        static final ClientEnd INSTANCE = new ClientEnd();

        @Override
        public void channelRead(ChannelHandlerContext ctx, Object msg) {
            ReferenceCountUtil.release(msg);
            Record r = record(ctx);
            if (r != null) {
                r.echoed();
            }
        }
    }

    /** The server's application end: echoes application frames. */
    @ChannelHandler.Sharable
    static final class ServerEnd extends End {
        static final ServerEnd INSTANCE = new ServerEnd();

        @Override
        public void channelRead(ChannelHandlerContext ctx, Object msg) {
            ctx.writeAndFlush(msg);
        }
    }
}
