package dev.keepalive.netty;

import dev.keepalive.DeadPeerReason;
import dev.keepalive.KeepaliveListener;
import dev.keepalive.KeepaliveSettings;
import dev.keepalive.KeepaliveStats;
import dev.keepalive.PeerDeadException;
import dev.keepalive.PeerDiagnosis;
import dev.keepalive.Ticker;
import dev.keepalive.core.LivenessMonitor;
import dev.keepalive.core.LivenessMonitor.Action;
import dev.keepalive.core.LivenessMonitor.PingCause;
import dev.keepalive.core.LoopHealth;
import dev.keepalive.core.MonitorConfig;
import dev.keepalive.netty.internal.ConnectionEnd;
import dev.keepalive.netty.internal.DeadChannelWrites;
import dev.keepalive.netty.internal.IoErrors;
import dev.keepalive.netty.internal.KernelDiagnosis;
import dev.keepalive.netty.internal.ProbeSettingsCheck;
import dev.keepalive.netty.internal.ReadBarrier;
import io.netty.channel.Channel;
import io.netty.channel.ChannelDuplexHandler;
import io.netty.channel.ChannelFuture;
import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.ChannelOutboundBuffer;
import io.netty.channel.ChannelPromise;
import io.netty.channel.ServerChannel;
import io.netty.channel.embedded.EmbeddedChannel;
import io.netty.util.ReferenceCountUtil;
import io.netty.util.concurrent.FastThreadLocal;
import io.netty.util.concurrent.ScheduledFuture;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import java.io.IOException;
import java.net.SocketAddress;
import java.time.Duration;
import java.util.Objects;
import java.util.OptionalLong;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.RejectedExecutionException;
import java.util.concurrent.ThreadLocalRandom;
import java.util.concurrent.TimeUnit;
import java.util.function.DoubleSupplier;

/**
 * Keeps one connection alive through middleboxes and declares its peer dead within a bound: application pings when
 * inbound traffic stops, TCP keepalive and TCP_USER_TIMEOUT on the socket, and answers to the peer's pings.
 *
 * <p>One handler per channel (it is not {@code @Sharable}); it works on client and server channels, added before or
 * after the channel is active. It drives a {@link LivenessMonitor} from the channel's event loop. The per-message
 * path only sets a flag; the clock is read once per read from the socket, and no timer is rescheduled and no
 * listener added on writes. Any inbound message counts as liveness, so a busy connection sends no pings; so do
 * bytes of a message still being decoded, so a peer that trickles a large message through a slow link is not
 * declared dead while its pong waits behind that message. When both ends run the handler, one of them pings: a
 * peer's ping defers ours by a full interval. Every handler built with equal settings shares their derived values
 * ({@link MonitorConfig}); timers round up to a tick of {@code pingInterval / 200} (1 to 5 ms), and the handlers of
 * an event loop share one timer: a handler's timer is a link in a list per fire time, moved without allocation, and
 * the loop wakes once per fire time for all its connections, not once per connection.
 *
 * <h2>Pipeline</h2>
 * Place it after the handlers that turn bytes into messages and back, so that probes travel as messages of the
 * protocol ({@link KeepaliveProbe} says how):
 * <pre>{@code
 * KeepaliveSettings settings = KeepaliveSettings.builder()
 *         .detectWithin(Duration.ofSeconds(30))           // dead peers are found within 30 s
 *         .middleboxIdleTimeout(Duration.ofSeconds(350))  // and the AWS NLB never forgets the flow
 *         .build();
 * KeepaliveHandler.Builder keepalive = KeepaliveHandler.builder(settings)
 *         .probe(KeepaliveProbe.binary())
 *         .listener(new KeepaliveListener() {
 *             public void onPeerDead(PeerDeadException e) {
 *                 log.warn("{} lost: {}", e.remoteAddress().orElse(null), e.reason());
 *             }
 *         });
 *
 * new Bootstrap().group(group).channel(EpollSocketChannel.class)
 *         .handler(new ChannelInitializer<SocketChannel>() {
 *             protected void initChannel(SocketChannel ch) {
 *                 ch.pipeline().addLast(
 *                         new LengthFieldBasedFrameDecoder(1 << 20, 0, 4, 0, 4),
 *                         new LengthFieldPrepender(4),
 *                         keepalive.build(),                   // one handler per channel
 *                         new MyProtocolHandler());            // sees no probe frames; gets PeerDeadException
 *             }
 *         });
 * }</pre>
 * A server adds the same handler to each child channel: it answers the clients' pings, detects dead clients and
 * closes those that ping too often ({@link DeadPeerReason#TOO_MANY_PINGS}, told first where the probe can).
 * On HTTP/1.1 pooled connections, WebSockets and HTTP/2, use the probes of {@code dev.keepalive.netty.http}; their
 * class documentation shows where the handler goes in those pipelines.
 *
 * <h2>Settings</h2>
 * <table>
 *   <caption>KeepaliveSettings as the handler uses them</caption>
 *   <tr><th>setting</th><th>default</th><th>effect</th></tr>
 *   <tr><td>pingInterval</td><td>30 s</td><td>a ping goes out after this much inbound silence, shortened by up to
 *       pingJitter (0.2)</td></tr>
 *   <tr><td>pingTimeout, pingsMissedBeforeDead</td><td>10 s, 2</td><td>dead after this many consecutive pings
 *       unanswered with nothing else arriving: {@link DeadPeerReason#PING_TIMEOUT}</td></tr>
 *   <tr><td>adaptivePingTimeout</td><td>off</td><td>the timeout follows the measured RTT within bounds</td></tr>
 *   <tr><td>readIdleTimeout</td><td>off (passive probe: the detection bound)</td><td>dead when nothing arrives:
 *       {@link DeadPeerReason#READ_IDLE}</td></tr>
 *   <tr><td>writeStallTimeout</td><td>off</td><td>dead when queued writes do not drain:
 *       {@link DeadPeerReason#WRITE_STALL}</td></tr>
 *   <tr><td>localStallThreshold</td><td>pingTimeout / 2</td><td>a timer this late re-probes instead of
 *       declaring death</td></tr>
 *   <tr><td>firstResponseTimeout</td><td>twice the bound</td><td>a new connection that has received nothing yet is
 *       judged only by this: {@link DeadPeerReason#FIRST_RESPONSE_TIMEOUT}</td></tr>
 *   <tr><td>minPeerPingInterval, peerPingStrikes</td><td>100 ms, 2</td><td>closes a peer that pings too
 *       often ({@link DeadPeerReason#PEER_PINGED_TOO_OFTEN}), at most one strike per read</td></tr>
 *   <tr><td>tcpKeepAlive, tcpKeepIdle, tcpKeepInterval, tcpKeepCount, tcpUserTimeout</td><td>on, derived from the
 *       detection bound</td><td>applied to the socket when the channel becomes active (see
 *       {@link TcpKeepaliveOptions}); a kernel {@code ETIMEDOUT} becomes {@link DeadPeerReason#TCP_TIMEOUT}</td></tr>
 * </table>
 *
 * <h2>A live peer is never declared dead</h2>
 * Every silence verdict comes at the full bound of silence after the peer's last byte, never before (see
 * {@link LivenessMonitor} for both edges of each). Before any verdict or missed ping, the handler lets the event loop
 * read what is already in the socket. Every handler on an event loop shares that loop's {@link LoopHealth}: while
 * the loop lags, verdicts wait as long again as it was stuck, at most once more the bound. With {@code autoRead}
 * off and no {@code read()} requested (backpressure), a missing pong proves nothing and no silence verdict is given;
 * silence counts again from the next {@code read()}. Whatever throws in the timer (a probe that cannot build a
 * ping) is logged once per connection and counted in {@link KeepaliveStats#probeErrors()}, and the connection stays
 * watched.
 *
 * <h2>On a dead peer</h2>
 * The handler fails every pending write with a {@link PeerDeadException} that names the reason, fires that
 * exception through the pipeline ({@code exceptionCaught}), tells the listener, and closes the channel. Later
 * writes fail with the same exception, also once the closed channel is deregistered and Netty has removed its
 * handlers: the handler leaves a small one in their place that fails every write with it. (A write another thread
 * aimed at the handler before that removal, and that runs after it, gets Netty's {@code ClosedChannelException};
 * {@link #deadCause()} still says why.) A reset or a kernel timeout reported by the transport is replaced in the pipeline by a
 * {@link PeerDeadException} whose cause is the original error, whether a read or a write met it first (a write's
 * error, which the transport reports to no handler, is fired as the {@link PeerDeadException}).
 *
 * <p>The verdicts of silence ({@link DeadPeerReason#PING_TIMEOUT}, {@link DeadPeerReason#READ_IDLE},
 * {@link DeadPeerReason#WRITE_STALL}) and kernel timeouts carry the kernel's view of the peer
 * ({@link PeerDeadException#diagnosis()}), read from {@code TCP_INFO} on epoll and io_uring: a peer host that
 * acknowledged our pings (its application is not answering) or one that did not (host or path gone); unknown on
 * NIO. A kernel timeout while the peer's host kept answering zero-window probes (Linux bounds zero-window probing
 * with TCP_USER_TIMEOUT) is a peer that stopped reading: {@link DeadPeerReason#WRITE_STALL}. (When the timeout
 * meets a write still queued in the channel, the socket is closed before its view can be read: then it stays
 * {@link DeadPeerReason#TCP_TIMEOUT}, diagnosis unknown.)
 *
 * <p>A close this handler did not start is reported to the listener, with {@link #deadCause()} set before the
 * close future's listeners added after the handler run and before queued writes are failed (they fail with it):
 * the end of the stream is {@link DeadPeerReason#CLOSED_BY_PEER}; after an I/O error that names no peer failure,
 * {@link DeadPeerReason#IO_ERROR}; a close by a handler nearer the socket, {@link DeadPeerReason#CLOSED_LOCALLY}.
 * The empty read at the end of the stream is no inbound traffic.
 *
 * <h2>On a retirement</h2>
 * A close that the peer's protocol allows with nothing in flight, as the probe reports it
 * ({@link KeepaliveProbe#peerRetirement()}: an HTTP/1.1 server closing an idle pooled connection, a GOAWAY, a
 * WebSocket close frame), is no dead peer: the listener hears
 * {@link KeepaliveListener#onPeerRetired onPeerRetired}, logged at DEBUG, and {@link #deadCause()} stays
 * {@code null}.
 *
 * <h2>Threading</h2>
 * Everything runs on the channel's event loop. {@link #stats()} and {@link #effectiveTcpOptions()} may be read from
 * other threads, which then see a recent but not necessarily current snapshot.
 */
public final class KeepaliveHandler extends ChannelDuplexHandler {
    static final Logger log = LoggerFactory.getLogger(KeepaliveHandler.class);
    /** One {@link LoopHealth} per event loop thread, shared by every handler on that loop. */
    private static final FastThreadLocal<LoopHealth> LOOP_HEALTH = new FastThreadLocal<>() {
        @Override
        protected LoopHealth initialValue() {
            // Each loop starts its sequence of first-ping phases elsewhere, so loops do not ping in step.
            return new LoopHealth(ThreadLocalRandom.current().nextDouble());
        }
    };

    final KeepaliveListener listener;
    /** The builder's probe until {@link #handlerAdded}, then the one {@link KeepaliveProbe#forConnection} returned. */
    KeepaliveProbe probe;
    final LivenessMonitor monitor;
    /**
     * The timer task, the close listener and the probe sink in one object: one small allocation per connection
     * instead of three (their methods would be public API on the handler itself).
     */
    private final HandlerEvents hooks = new HandlerEvents(this);

    ChannelHandlerContext ctx;
    /** Read back when applied; the same instance for every connection on which the same options are in force. */
    private volatile EffectiveTcpOptions effectiveTcpOptions;
    /** The channel's outbound buffer, kept to fail its writes with the reason when the transport closes it. */
    private ChannelOutboundBuffer outboundBuffer;
    /** What a connection needs rarely or only at its end; made on first use, on the event loop. */
    private volatile Uncommon uncommon;

    /**
     * What a connection needs rarely or only at its end, in one object made on first use: an idle connection on a
     * loop's shared timer carries none of it while it lives.
     */
    private static final class Uncommon {
        /** The connection's own Netty task, only where the loop's shared {@link LoopTimer} cannot serve. */
        ScheduledFuture<?> timer;
        /** The monitor's deadline {@link #timer} was armed for. */
        long timerDeadline;
        volatile PeerDeadException deadCause;
        volatile KeepaliveStats lastStats;
        /** Read confirmations ({@link #confirmRead()}). */
        ReadBarrier barrier;
        /** An I/O error of the transport that no reason matched, for the close that follows it. */
        IOException unclassifiedError;
    }

    /** {@link #uncommon}, made if it is not yet; on the event loop only. */
    private Uncommon uncommon() {
        Uncommon u = uncommon;
        if (u == null) {
            u = new Uncommon();
            uncommon = u;
        }
        return u;
    }

    /** The read confirmations, or {@code null} before the first {@link #confirmRead()}. */
    ReadBarrier barrier() {
        Uncommon u = uncommon;
        return u != null ? u.barrier : null;
    }

    private IOException unclassifiedError() {
        Uncommon u = uncommon;
        return u != null ? u.unclassifiedError : null;
    }

    /** The handler's yes-or-no state, a bit each (2 bytes where booleans took 14): */
    private short flags;
    /** {@link Builder#applyTcpOptions}. */
    private static final int APPLY_TCP_OPTIONS = 1;
    /** The probe intercepts writes (read once per write: stateless probes keep the write path as it is). */
    private static final int INTERCEPTS_WRITES = 1 << 1;
    private static final int INITIALIZED = 1 << 2;
    private static final int DESTROYED = 1 << 3;
    private static final int CLOSE_REQUESTED = 1 << 4;
    /**
     * With autoRead off, the application requested a read that has not completed yet. (A read requested while
     * autoRead was on belongs to the auto-read loop, which Netty cancels when autoRead goes off.)
     */
    private static final int EXPLICIT_READ_PENDING = 1 << 5;
    /** A message reached {@link #channelRead} since the last {@code channelReadComplete}. */
    private static final int READ_IN_BATCH = 1 << 6;
    /** The monitor was last told that reads are paused. */
    private static final int READS_PAUSED = 1 << 7;
    private static final int PROBE_ERROR_LOGGED = 1 << 8;
    static final int TOO_MANY_PINGS_LOGGED = 1 << 9;
    /** The loop's timer was looked up (at the first arm). */
    private static final int TIMER_RESOLVED = 1 << 10;
    private static final int TCP_OPTIONS_APPLIED = 1 << 11;
    /** The peer's close was told as a retirement (once per connection). */
    private static final int RETIRED = 1 << 12;
    /** The last read from the socket ended the stream (the peer's FIN). */
    private static final int END_OF_STREAM = 1 << 13;

    private KeepaliveHandler(Builder b) {
        this.probe = b.probe;
        this.listener = b.listener;
        flag(APPLY_TCP_OPTIONS, b.applyTcpOptions);
        this.monitor = new LivenessMonitor(b.config());
    }

    /** A handler with {@code settings} and the {@link KeepaliveProbe#binary() binary probe}. */
    public KeepaliveHandler(KeepaliveSettings settings) {
        this(builder(settings));
    }

    /** A builder of handlers with {@code settings}; it can build one handler per channel. */
    public static Builder builder(KeepaliveSettings settings) {
        return new Builder(settings);
    }

    /** Shared by every handler with equal settings ({@link Builder#config()}): settings, ticker, derived values. */
    MonitorConfig config() {
        return monitor.config();
    }

    /** The settings this handler enforces. */
    public KeepaliveSettings settings() {
        return config().settings();
    }

    /** A snapshot of this connection's keepalive counters. */
    public KeepaliveStats stats() {
        if (ctx != null && ctx.executor().inEventLoop()) {
            KeepaliveStats s = monitor.stats();
            uncommon().lastStats = s;
            return s;
        }
        Uncommon u = uncommon;
        KeepaliveStats s = u != null ? u.lastStats : null;
        return s != null ? s : monitor.stats();
    }

    /** The TCP options read back from the socket when they were applied, or {@code null} before that or for a
     *  channel that is not a TCP socket. They are applied as soon as the handler is in the pipeline of a registered
     *  channel, before a client's {@code connect()} completes: readable right after {@code connect().sync()}. */
    public EffectiveTcpOptions effectiveTcpOptions() {
        return effectiveTcpOptions;
    }

    /** Why the peer was declared dead, or {@code null} while it is not. */
    public PeerDeadException deadCause() {
        Uncommon u = uncommon;
        return u != null ? u.deadCause : null;
    }

    /**
     * A read barrier: the returned future completes when the peer has provably read everything written on this
     * channel before the call — when it answers a ping sent after the call (TCP keeps order, and the peer's
     * {@code KeepaliveHandler} answers a ping only after reading and passing on everything before it).
     * "Read" means passed up the peer's pipeline past its {@code KeepaliveHandler}, not processed by its
     * application. Needs a peer that answers pings (a {@code KeepaliveHandler} with the same probe) and a probe that
     * carries ping ids ({@link KeepaliveProbe#binary()}, {@link KeepaliveProbe#lines()}, the WebSocket and HTTP/2
     * probes); handlers between the writer and this handler must not hold writes back.
     *
     * <p>Calls are coalesced: at most one such ping is in flight, and the next goes out after its pong and at least
     * {@code max(minPeerPingInterval, 100 ms) x 1.25} after the previous one (this handler's setting, and never below
     * the default a peer most likely runs), so the peer's flood protection is never tripped; a
     * stream of calls costs at most one ping per that spacing, and a call waits at most for the pong in flight,
     * the spacing and one round trip.
     *
     * <p>The future fails with the {@link PeerDeadException} when the peer is declared dead, with an
     * {@link IOException} when the channel closes first, and with {@link UnsupportedOperationException} for a probe
     * that does not send pings. May be called from any thread.
     */
    public CompletableFuture<Void> confirmRead() {
        CompletableFuture<Void> f = new CompletableFuture<>();
        if (!probe.sendsPings()) {
            f.completeExceptionally(new UnsupportedOperationException(probe + " sends no pings: reads cannot be "
                    + "confirmed"));
            return f;
        }
        ChannelHandlerContext c = ctx;
        if (c == null) {
            f.completeExceptionally(new IllegalStateException("the KeepaliveHandler is not in a pipeline"));
            return f;
        }
        if (c.executor().inEventLoop()) {
            requestBarrier(f);
        } else {
            try {
                c.executor().execute(() -> requestBarrier(f));
            } catch (RejectedExecutionException e) {
                f.completeExceptionally(new IOException("the channel's event loop is shut down", e));
            }
        }
        return f;
    }

    private void requestBarrier(CompletableFuture<Void> f) {
        PeerDeadException dead = deadCause();
        if (dead != null) {
            f.completeExceptionally(dead);
            return;
        }
        if (flag(DESTROYED) || !ctx.channel().isActive()) {
            f.completeExceptionally(new IOException("the connection is closed: reads cannot be confirmed"));
            return;
        }
        Uncommon u = uncommon();
        if (u.barrier == null) {
            // Above the peer's flood limit: ours, and at least the default (the peer's may be the default).
            long floor = Math.max(config().settings().minPeerPingInterval().toNanos(),
                    KeepaliveSettings.DEFAULT_MIN_PEER_PING_INTERVAL.toNanos());
            u.barrier = new ReadBarrier(config().ticker(), floor / 4 * 5);
        }
        u.barrier.add(f);
        pumpBarrier();
    }

    /** Sends the barrier ping when it may go out, or arms its timer. */
    void pumpBarrier() {
        ReadBarrier barrier = barrier();
        if (flag(DESTROYED) || barrier == null) {
            return;
        }
        long now = config().ticker().nanoTime();
        if (barrier.shouldSend(now)) {
            long id = barrier.nextId();
            Object ping = probe.newPing(ctx.alloc(), id);
            if (ping != null) {
                barrier.sent(id);
                ctx.writeAndFlush(ping);
                return;
            }
            // The protocol cannot carry a ping now: try again after a spacing.
        }
        if (barrier.mustWait() && barrier.timer() == null) {
            long delay = Math.max(barrier.sendAt() - now,
                    Math.max(1, config().settings().minPeerPingInterval().toNanos() / 4));
            barrier.timer(ctx.executor().schedule(() -> {
                barrier.timer(null);
                pumpBarrier();
            }, delay, TimeUnit.NANOSECONDS));
        }
    }

    boolean flag(int flag) {
        return (flags & flag) != 0;
    }

    void flag(int flag, boolean on) {
        flags = (short) (on ? flags | flag : flags & ~flag);
    }

    // ---- lifecycle -------------------------------------------------------------------------------------------

    @Override
    public void handlerAdded(ChannelHandlerContext ctx) {
        Channel ch = ctx.channel();
        if (ch instanceof ServerChannel) {
            throw new IllegalStateException("KeepaliveHandler belongs on each accepted channel (add it in "
                    + "ServerBootstrap.childHandler), not on the server channel " + ch);
        }
        if (this.ctx != null) {
            throw new IllegalStateException("KeepaliveHandler is one per channel: build a new one for " + ch);
        }
        this.ctx = ctx;
        KeepaliveProbe bound = probe.forConnection(ctx, config().ticker());
        if (bound == null || bound.sendsPings() != probe.sendsPings()) {
            throw new IllegalStateException(probe + ".forConnection must return a probe that sends pings as it "
                    + "does, but returned " + bound);
        }
        probe = bound;
        flag(INTERCEPTS_WRITES, bound.interceptsWrites());
        ch.closeFuture().addListener(hooks);
        if (ch.isRegistered()) {
            applyTcpOptionsOnce();
        }
        if (ch.isActive() && ch.isRegistered()) {
            initialize();
        }
    }

    @Override
    public void handlerRemoved(ChannelHandlerContext ctx) {
        if (!ctx.channel().closeFuture().isDone()) {
            ctx.channel().closeFuture().removeListener(hooks);
        }
        destroy();
        PeerDeadException dead = deadCause();
        if (dead != null && !ctx.channel().isOpen() && !ctx.channel().isRegistered()) {
            DeadChannelWrites.install(ctx.pipeline(), dead); // Netty is removing the closed channel's handlers
        }
    }

    @Override
    public void channelRegistered(ChannelHandlerContext ctx) throws Exception {
        applyTcpOptionsOnce();
        if (ctx.channel().isActive()) {
            initialize();
        }
        super.channelRegistered(ctx);
    }

    @Override
    public void channelActive(ChannelHandlerContext ctx) throws Exception {
        initialize();
        super.channelActive(ctx);
    }

    @Override
    public void channelInactive(ChannelHandlerContext ctx) throws Exception {
        // A local close after the peer announced its own (or a probe that retires the connection on that
        // announcement) is still the peer's retirement; any other local close is neither death nor retirement.
        String retirement = flag(RETIRED) || flag(DESTROYED) || deadCause() != null
                || (flag(CLOSE_REQUESTED) && !probe.closeAnnounced())
                ? null : probe.peerRetirement();
        if (retirement != null) {
            notifyPeerRetired(retirement);
        } else {
            onConnectionLost(); // normally done already, when the close completed
        }
        destroy();
        super.channelInactive(ctx);
    }

    private void initialize() {
        if (flag(INITIALIZED) || flag(DESTROYED)) {
            return;
        }
        flag(INITIALIZED, true);
        monitor.useLoopHealth(LOOP_HEALTH.get());
        applyTcpOptionsOnce();
        outboundBuffer = ctx.channel().unsafe().outboundBuffer();
        if (ctx.channel().parent() != null) {
            monitor.letPeerPingFirst(); // an accepted connection: the connecting end pings first
        }
        monitor.onActive();
        arm();
    }

    /** The socket exists from registration on: options set then are in force when connect() completes (Netty
     *  completes the connect promise before it fires channelActive). */
    private void applyTcpOptionsOnce() {
        if (flag(APPLY_TCP_OPTIONS) && !flag(TCP_OPTIONS_APPLIED) && !flag(DESTROYED) && ctx.channel().isOpen()) {
            flag(TCP_OPTIONS_APPLIED, true);
            effectiveTcpOptions = TcpKeepaliveOptions.intern(
                    TcpKeepaliveOptions.apply(ctx.channel(), config().settings()));
        }
    }

    private void destroy() {
        if (!flag(DESTROYED)) {
            probe.connectionEnded(deadCause());
        }
        flag(DESTROYED, true);
        ReadBarrier barrier = barrier();
        if (barrier != null) {
            barrier.cancelTimer();
            PeerDeadException dead = deadCause();
            barrier.failAll(dead != null ? dead
                    : new IOException("the connection closed before the peer confirmed reading"));
        }
        monitor.onClosed();
        uncommon().lastStats = monitor.stats();
        cancelTimer();
    }

    // ---- inbound ---------------------------------------------------------------------------------------------

    @Override
    public void channelRead(ChannelHandlerContext ctx, Object msg) throws Exception {
        flag(READ_IN_BATCH, true);
        monitor.onInbound();
        boolean consumed;
        try {
            consumed = probe.consume(msg, hooks);
        } catch (RuntimeException e) {
            ReferenceCountUtil.release(msg);
            throw e;
        }
        if (consumed) {
            ReferenceCountUtil.release(msg);
        } else {
            ctx.fireChannelRead(msg);
        }
    }

    /**
     * Bytes came off the socket: the time of the last inbound byte is taken here, once per read. When the decoders
     * before this handler completed no message from them, they are part of a message still arriving: a peer that
     * is slowly sending a large message is alive, even while its pong waits behind that message. (Decoders pass
     * {@code channelReadComplete} on after every read from the socket, also when they produced no message.)
     */
    @Override
    public void channelReadComplete(ChannelHandlerContext ctx) throws Exception {
        flag(EXPLICIT_READ_PENDING, false);
        // The empty read at the end of the stream is no sign of life. (After messages, the same read pass may have
        // ended the stream too: the close that follows reads that again.)
        if (flag(READ_IN_BATCH) || !readEndedStream()) {
            if (monitor.onReadComplete()) {
                moveTimer(); // a pong or the peer's ping re-planned the next ping, or the first bytes came
            }
        }
        flag(READ_IN_BATCH, false);
        ctx.fireChannelReadComplete();
    }

    /**
     * Notes that a read was requested: with {@code autoRead} off, a connection on which the application requests no
     * read has its reads paused, and a missing pong proves nothing (see the class documentation).
     */
    @Override
    public void read(ChannelHandlerContext ctx) throws Exception {
        flag(EXPLICIT_READ_PENDING, !ctx.channel().config().isAutoRead());
        if (flag(READS_PAUSED)) {
            flag(READS_PAUSED, false);
            if (monitor.onReadsPaused(false)) {
                arm();
            }
        }
        ctx.read();
    }

    @Override
    public void exceptionCaught(ChannelHandlerContext ctx, Throwable cause) throws Exception {
        if (cause instanceof PeerDeadException) {
            super.exceptionCaught(ctx, cause);
            return;
        }
        DeadPeerReason reason = IoErrors.classify(cause);
        if (reason == null && cause instanceof IOException) {
            uncommon().unclassifiedError = (IOException) cause;
        }
        PeerDiagnosis diagnosis = PeerDiagnosis.UNKNOWN;
        if (reason == DeadPeerReason.TCP_TIMEOUT) {
            EffectiveTcpOptions tcp = effectiveTcpOptions;
            diagnosis = KernelDiagnosis.ofKernelTimeout(ctx.channel(), tcp == null ? 0 : tcp.userTimeoutMillis());
            if (diagnosis == PeerDiagnosis.APPLICATION_NOT_ANSWERING) {
                reason = DeadPeerReason.WRITE_STALL; // zero-window probes answered until TCP_USER_TIMEOUT
            }
        }
        if (reason != null && !flag(CLOSE_REQUESTED) && monitor.markDead(reason)) {
            PeerDeadException e = newDeadException(reason, diagnosis, cause);
            uncommon().deadCause = e;
            failPendingWrites(e);
            probe.connectionEnded(e);
            notifyPeerDead(e);
            ctx.fireExceptionCaught(e);
            ctx.close();
            return;
        }
        super.exceptionCaught(ctx, cause);
    }

    @Override
    public void channelWritabilityChanged(ChannelHandlerContext ctx) throws Exception {
        if (flag(INITIALIZED) && !flag(DESTROYED) && config().settings().writeStallTimeout().isPresent()) {
            sampleOutbound();
            arm();
        }
        super.channelWritabilityChanged(ctx);
    }

    // ---- outbound --------------------------------------------------------------------------------------------

    @Override
    public void write(ChannelHandlerContext ctx, Object msg, ChannelPromise promise) throws Exception {
        PeerDeadException dead = deadCause();
        if (dead != null) {
            ReferenceCountUtil.release(msg);
            promise.tryFailure(dead);
            return;
        }
        Action action = monitor.onWrite();
        forward(ctx, msg, promise);
        if (action == Action.SEND_PING) {
            sendPing(false);
            arm();
        } else if (action == Action.REARM) {
            arm();
        }
    }

    private void forward(ChannelHandlerContext ctx, Object msg, ChannelPromise promise) {
        if (flag(INTERCEPTS_WRITES)) {
            probe.write(ctx, msg, promise);
        } else {
            ctx.write(msg, promise);
        }
    }

    @Override
    public void close(ChannelHandlerContext ctx, ChannelPromise promise) throws Exception {
        flag(CLOSE_REQUESTED, true);
        super.close(ctx, promise);
    }

    // ---- timer -----------------------------------------------------------------------------------------------

    /**
     * Moves the timer to the monitor's deadline, later or earlier: one cancel and one schedule, cheaper than a
     * wake-up that finds nothing to do.
     */
    private void moveTimer() {
        LoopTimer shared = loopTimer();
        if (shared != null && !flag(DESTROYED) && monitor.hasDeadline()) {
            long now = config().ticker().nanoTime();
            shared.arm(hooks, fireAt(monitor.deadline(), now, config().timerTickNanos()), now); // a relink, or nothing
            return;
        }
        Uncommon u = uncommon;
        if (u != null && u.timer != null && (!monitor.hasDeadline() || u.timerDeadline != monitor.deadline())) {
            cancelTimer();
        }
        arm();
    }

    void arm() {
        if (flag(DESTROYED) || !monitor.hasDeadline()) {
            cancelTimer();
            return;
        }
        long deadline = monitor.deadline();
        LoopTimer shared = loopTimer();
        if (shared != null) {
            // Its fire time is the deadline it was armed for, rounded up to a tick: no later than needed if at most
            // the new deadline (an early call is a harmless check); otherwise moved, or left where it is when the
            // new deadline rounds up to the same tick.
            if (hooks.isArmed() && hooks.armedFor() - deadline <= 0) {
                return;
            }
            long now = config().ticker().nanoTime();
            shared.arm(hooks, fireAt(deadline, now, config().timerTickNanos()), now);
            return;
        }
        Uncommon u = uncommon();
        if (u.timer != null) {
            if (u.timerDeadline - deadline <= 0) {
                return; // fires no later than needed; an early call is a harmless check
            }
            cancelTimer();
        }
        u.timerDeadline = deadline;
        long now = config().ticker().nanoTime();
        long at = fireAt(deadline, now, config().timerTickNanos());
        u.timer = ctx.executor().schedule(hooks, Math.max(0, at - now), TimeUnit.NANOSECONDS);
    }

    /**
     * The event loop's shared timer, or {@code null} for a task of the connection's own: with a ticker other than
     * the system's (fake time), or where the loop is not the thread's own (embedded channels).
     */
    private LoopTimer loopTimer() {
        if (!flag(TIMER_RESOLVED)) {
            flag(TIMER_RESOLVED, true);
            if (config().timerTickNanos() > 0 && !(ctx.channel() instanceof EmbeddedChannel)) {
                hooks.loopTimer = LoopTimer.of(ctx.executor());
            }
        }
        return hooks.loopTimer;
    }

    private void cancelTimer() {
        if (hooks.loopTimer != null) {
            hooks.loopTimer.cancel(hooks);
            return;
        }
        Uncommon u = uncommon;
        if (u != null && u.timer != null) {
            u.timer.cancel(false);
            u.timer = null;
        }
    }

    /**
     * When the timer for {@code deadline} runs: the deadline rounded up to the next multiple of {@code tick}, so
     * that the timers of the connections on one event loop due within a tick share one wake-up; a deadline already
     * due (a re-check after one more I/O pass) at once. Never before the deadline.
     */
    static long fireAt(long deadline, long now, long tick) {
        return deadline - now <= 0 ? deadline : MonitorConfig.roundUpToTick(deadline, tick);
    }

    /**
     * The timer body. Whatever throws in it (a probe that cannot build a ping, a listener, a full direct memory) is
     * logged once per connection and counted, and the timer is always re-armed: a connection is never left
     * unwatched.
     */
    void onTimer() {
        Uncommon u = uncommon;
        if (u != null) {
            u.timer = null;
        }
        if (flag(DESTROYED)) {
            return;
        }
        try {
            boolean paused = !flag(EXPLICIT_READ_PENDING) && !ctx.channel().config().isAutoRead();
            if (paused != flag(READS_PAUSED)) {
                flag(READS_PAUSED, paused);
                monitor.onReadsPaused(paused);
            }
            if (config().settings().writeStallTimeout().isPresent()) {
                sampleOutbound();
            }
            Action action = monitor.onTimer(config().ticker().nanoTime());
            if (action == Action.SEND_PING) {
                sendPing(true);
            } else if (action == Action.PEER_DEAD) {
                declareDead(monitor.deadReason());
            }
        } catch (Throwable t) {
            probeError("the keepalive timer", t);
        } finally {
            arm();
        }
    }

    void probeError(String what, Throwable t) {
        monitor.onProbeError();
        if (!flag(PROBE_ERROR_LOGGED)) {
            flag(PROBE_ERROR_LOGGED, true);
            log.warn("{} failed on the connection to {} (logged once per connection; the connection stays "
                    + "watched, probe errors so far: {})", what, ctx.channel().remoteAddress(),
                    monitor.stats().probeErrors(), t);
        } else if (log.isDebugEnabled()) {
            log.debug("{} failed on the connection to {}", what, ctx.channel().remoteAddress(), t);
        }
    }

    /** Samples the flushed bytes still waiting for the kernel; bytes the application never flushed do not count. */
    private void sampleOutbound() {
        ChannelOutboundBuffer buf = ctx.channel().unsafe().outboundBuffer();
        if (buf == null) {
            return;
        }
        Object current = buf.current();
        long token = current == null ? 0 : 31L * System.identityHashCode(current) + buf.currentProgress();
        monitor.onOutboundSample(current == null ? 0 : buf.totalPendingWriteBytes(), token);
    }

    private void sendPing(boolean flush) {
        long id = monitor.pingId();
        SocketAddress remote = ctx.channel().remoteAddress();
        PingCause cause = monitor.pingCause();
        try {
            if (cause == PingCause.RETRY_AFTER_MISS) {
                listener.onPingMissed(remote, id - 1, monitor.missedPings());
            } else if (cause == PingCause.LOCAL_STALL) {
                listener.onLocalStall(remote, Duration.ofNanos(monitor.lastTimerLatenessNanos()));
            }
        } catch (RuntimeException e) {
            log.warn("KeepaliveListener threw", e);
        }
        if (log.isDebugEnabled()) {
            log.debug("ping {} to {} ({})", id, remote, cause);
        }
        Object ping;
        try {
            ping = probe.newPing(ctx.alloc(), id);
        } catch (Throwable t) {
            monitor.onPingNotSent(); // as if the protocol could not carry it: whatever arrives next answers it
            probeError(probe + " building ping " + id, t);
            return;
        }
        if (ping == null) {
            deferUnsentPing(); // the protocol cannot carry a ping now; whatever arrives next answers it
            return;
        }
        if (flush) {
            ctx.writeAndFlush(ping);
        } else {
            ctx.write(ping);
        }
        try {
            listener.onPingSent(remote, id);
        } catch (RuntimeException e) {
            log.warn("KeepaliveListener threw", e);
        }
    }

    /**
     * The probe could not send the ping: it stays outstanding, and its timeout runs from now, or later when the peer
     * owes an answer still within its allowance (the idle detection bound from the request), or never when the
     * connection can no longer carry pings.
     */
    private void deferUnsentPing() {
        long delay = 0;
        if (!probe.canCarryPings()) {
            delay = Long.MAX_VALUE;
        } else {
            OptionalLong since = probe.awaitedSince();
            if (since.isPresent()) {
                delay = Math.max(0, since.getAsLong() + config().settings().pingInterval().toNanos()
                        - config().ticker().nanoTime());
            }
        }
        monitor.onPingDeferred(delay);
    }

    // ---- death -----------------------------------------------------------------------------------------------

    void declareDead(DeadPeerReason reason) {
        if (reason == DeadPeerReason.PING_TIMEOUT) {
            reportFinalMiss();
        }
        PeerDeadException e = newDeadException(reason, diagnoseSilence(reason), null);
        uncommon().deadCause = e;
        failPendingWrites(e);
        probe.connectionEnded(e);
        notifyPeerDead(e);
        ctx.fireExceptionCaught(e);
        ctx.close();
    }

    private PeerDeadException newDeadException(DeadPeerReason reason, PeerDiagnosis diagnosis, Throwable cause) {
        long rtt = monitor.lastRttNanos();
        return new PeerDeadException(reason, diagnosis, ctx.channel().remoteAddress(),
                Duration.ofNanos(monitor.sinceLastInboundNanos(config().ticker().nanoTime())), monitor.missedPings(),
                rtt < 0 ? null : Duration.ofNanos(rtt), cause);
    }

    /**
     * The kernel's view after a verdict of silence, read while the socket is still open; {@link PeerDiagnosis#UNKNOWN}
     * for other verdicts and on transports that cannot read it.
     */
    private PeerDiagnosis diagnoseSilence(DeadPeerReason reason) {
        return KernelDiagnosis.ofVerdict(ctx.channel(), reason,
                TimeUnit.NANOSECONDS.toMillis(monitor.sinceLastInboundNanos(config().ticker().nanoTime())));
    }

    /** The ping that ends the connection was missed too: the listener hears of it as of every other miss. */
    private void reportFinalMiss() {
        try {
            listener.onPingMissed(ctx.channel().remoteAddress(), monitor.pingId(), monitor.missedPings());
        } catch (RuntimeException e) {
            log.warn("KeepaliveListener threw", e);
        }
    }

    /**
     * Whether the last read from the socket found the end of the stream: such a read brings no byte, so it is no
     * sign of life, and it means that the peer closed. Netty passes {@code channelReadComplete} on for it before it
     * closes the channel (or shuts its input down).
     */
    private boolean readEndedStream() {
        if (ConnectionEnd.lastReadEndedStream(ctx.channel())) {
            flag(END_OF_STREAM, true);
            return true;
        }
        return false;
    }

    // ---- a close this handler did not ask for -------------------------------------------------------------

    /**
     * The channel's close completed. Runs before {@code channelInactive} and, since the listener is added when the
     * handler is, before the close future's listeners added after that, and before the transport fails the writes
     * still queued: so {@link #deadCause()} is set, and those writes fail with it.
     */
    void onChannelClosed(ChannelFuture future) {
        if (ctx != null) {
            onConnectionLost();
        }
    }

    /**
     * The connection ended without this handler or the application (through it) asking: says why, as far as it can
     * be known. An error the transport met on a write (a reset, a kernel timeout) is classified as on a read; a FIN
     * is {@link DeadPeerReason#CLOSED_BY_PEER}; an unclassified error is {@link DeadPeerReason#IO_ERROR}; a close
     * started elsewhere on this side is {@link DeadPeerReason#CLOSED_LOCALLY}.
     */
    private void onConnectionLost() {
        if (flag(CLOSE_REQUESTED) || deadCause() != null || flag(RETIRED) || !flag(INITIALIZED)) {
            return; // asked for, told already, or never connected (a failed connect is no lost connection)
        }
        Throwable writeError = ConnectionEnd.transportCloseCause(ctx.channel());
        boolean ended = flag(END_OF_STREAM) || readEndedStream(); // io_uring closes before its read completes
        DeadPeerReason reason = ConnectionEnd.reason(writeError, ended, unclassifiedError());
        if (reason == DeadPeerReason.CLOSED_BY_PEER || probe.closeAnnounced()) {
            // A close its protocol allows with nothing in flight (or one the peer announced) is a retirement.
            String retirement = probe.peerRetirement();
            if (retirement != null) {
                notifyPeerRetired(retirement);
                return;
            }
            if (probe.closeAnnounced()) {
                return;
            }
        }
        Throwable cause = writeError != null ? writeError
                : reason == DeadPeerReason.IO_ERROR ? unclassifiedError() : null;
        if (!monitor.markDead(reason)) {
            return;
        }
        PeerDeadException e = newDeadException(reason, PeerDiagnosis.UNKNOWN, cause);
        uncommon().deadCause = e;
        failPendingWrites(e);
        notifyPeerDead(e);
        if (writeError != null) {
            ctx.fireExceptionCaught(e); // the transport fails the write only: the pipeline has not heard of it
        }
    }

    /** Fails what is queued in the channel with the dead-peer cause, so that no write ends in a bare close. */
    private void failPendingWrites(IOException cause) {
        ChannelOutboundBuffer buf = ctx.channel().unsafe().outboundBuffer();
        if (buf == null) {
            buf = outboundBuffer; // closed by the transport: its writes are still queued while the close completes
        }
        if (buf == null) {
            return;
        }
        buf.addFlush();
        for (int i = buf.size(); i >= 0 && buf.remove(cause); i--) {
            // one entry per iteration, bounded by the queue's size
        }
    }

    /** The peer closed the connection as its protocol allows, with nothing in flight: a quiet event, no death. */
    private void notifyPeerRetired(String how) {
        if (flag(RETIRED)) {
            return;
        }
        flag(RETIRED, true);
        monitor.onClosed();
        uncommon().lastStats = monitor.stats();
        SocketAddress remote = ctx.channel().remoteAddress();
        log.debug("{} retired the connection: {}", remote, how);
        try {
            listener.onPeerRetired(remote, how);
        } catch (RuntimeException ex) {
            log.warn("KeepaliveListener threw", ex);
        }
    }

    private void notifyPeerDead(PeerDeadException e) {
        log.debug("{}", e.getMessage());
        uncommon().lastStats = monitor.stats();
        try {
            listener.onPeerDead(e);
        } catch (RuntimeException ex) {
            log.warn("KeepaliveListener threw", ex);
        }
    }

    /**
     * Builds {@link KeepaliveHandler}s. The builder is reusable: call {@link #build()} once per channel, for
     * example in a {@code ChannelInitializer}.
     */
    public static final class Builder {
        private final KeepaliveSettings settings;
        private KeepaliveProbe probe = KeepaliveProbe.binary();
        private KeepaliveListener listener = KeepaliveListener.NOOP;
        private Ticker ticker = Ticker.system();
        /** {@code null}: the default, and first pings spread by the event loop's phases. */
        private DoubleSupplier random;
        private boolean applyTcpOptions = true;
        private MonitorConfig config;

        private Builder(KeepaliveSettings settings) {
            this.settings = Objects.requireNonNull(settings, "settings");
        }

        /** How to ping on this protocol. Default: {@link KeepaliveProbe#binary()}. */
        public Builder probe(KeepaliveProbe probe) {
            this.probe = Objects.requireNonNull(probe, "probe");
            this.config = null;
            return this;
        }

        /** Receives this connection's events; may be shared by many connections. Default: none. */
        public Builder listener(KeepaliveListener listener) {
            this.listener = Objects.requireNonNull(listener, "listener");
            this.config = null;
            return this;
        }

        /** The time source, for tests. Default: {@link Ticker#system()}. */
        public Builder ticker(Ticker ticker) {
            this.ticker = Objects.requireNonNull(ticker, "ticker");
            this.config = null;
            return this;
        }

        /**
         * Uniform values in [0, 1) for ping jitter and for where a connection's first ping falls, for tests.
         * Default: {@link ThreadLocalRandom} for jitter, and first pings spread evenly by the event loop (see
         * {@link MonitorConfig#spreadingFirstPings}).
         */
        public Builder random(DoubleSupplier random) {
            this.random = Objects.requireNonNull(random, "random");
            this.config = null;
            return this;
        }

        /**
         * Whether to apply the TCP settings to the socket when the channel becomes active. Default: {@code true}.
         * Turn it off when the application sets the socket options itself.
         */
        public Builder applyTcpOptions(boolean apply) {
            this.applyTcpOptions = apply;
            this.config = null;
            return this;
        }

        /**
         * A new handler, for one channel.
         *
         * @throws IllegalArgumentException if the settings cannot work with the probe: a {@code readIdleTimeout}
         *         shorter than {@code pingInterval + pingTimeout} with a probe that pings
         */
        public KeepaliveHandler build() {
            return new KeepaliveHandler(this);
        }

        /**
         * What the handlers built with this builder's current values share: the monitor's configuration, the same
         * instance for builders with equal settings and the same ticker and random source
         * ({@link MonitorConfig#shared}); the probe checked against the settings once.
         */
        MonitorConfig config() {
            MonitorConfig c = config;
            if (c == null) {
                ProbeSettingsCheck.check(settings, probe);
                // With the default random source, first pings are spread by the event loop's phases; with one
                // given (tests), by it.
                c = MonitorConfig.shared(settings, ticker, probe.sendsPings(), random != null ? random : DEFAULT_RANDOM,
                        true, random);
                config = c;
            }
            return c;
        }
    }

    private static final DoubleSupplier DEFAULT_RANDOM = () -> ThreadLocalRandom.current().nextDouble();
}
