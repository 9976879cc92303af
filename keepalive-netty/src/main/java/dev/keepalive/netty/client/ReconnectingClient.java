package dev.keepalive.netty.client;

import dev.keepalive.DeadPeerReason;
import dev.keepalive.KeepaliveListener;
import dev.keepalive.KeepaliveSettings;
import dev.keepalive.PeerDeadException;
import dev.keepalive.Ticker;
import dev.keepalive.netty.KeepaliveHandler;
import dev.keepalive.netty.KeepaliveProbe;
import dev.keepalive.reconnect.ClientClosedException;
import dev.keepalive.reconnect.ClientStats;
import dev.keepalive.reconnect.ConnectionEvent;
import dev.keepalive.reconnect.ConnectionListener;
import dev.keepalive.reconnect.ConnectionState;
import dev.keepalive.reconnect.DisconnectedWrites;
import dev.keepalive.reconnect.NotConnectedException;
import dev.keepalive.reconnect.ReconnectPolicy;
import dev.keepalive.reconnect.WriteBufferFullException;
import dev.keepalive.reconnect.WriteExpiredException;
import dev.keepalive.reconnect.internal.ConnectionMachine;
import dev.keepalive.reconnect.internal.ConnectionMachine.Action;
import dev.keepalive.reconnect.internal.PingRateBackoff;
import io.github.resilience4j.circuitbreaker.CallNotPermittedException;
import io.github.resilience4j.circuitbreaker.CircuitBreaker;
import io.netty.bootstrap.Bootstrap;
import io.netty.buffer.ByteBuf;
import io.netty.buffer.ByteBufHolder;
import io.netty.channel.Channel;
import io.netty.channel.ChannelFuture;
import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.ChannelInitializer;
import io.netty.channel.ChannelOption;
import io.netty.channel.ChannelPipeline;
import io.netty.channel.socket.ChannelInputShutdownEvent;
import io.netty.channel.socket.DuplexChannel;
import io.netty.channel.EventLoop;
import io.netty.util.ReferenceCountUtil;
import io.netty.util.concurrent.ScheduledFuture;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import java.io.IOException;
import java.net.InetSocketAddress;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Objects;
import java.util.Set;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionStage;
import java.util.concurrent.RejectedExecutionException;
import java.util.concurrent.TimeUnit;
import java.util.function.Function;
import java.util.function.ToLongFunction;

/**
 * One logical connection to one of several endpoints, kept up with {@link KeepaliveHandler}: it reconnects after any
 * death with jittered backoff and failover, and completes every send's future with the truth.
 *
 * <pre>{@code
 * ReconnectingClient client = ReconnectingClient.builder(new Bootstrap().group(group).channel(NioSocketChannel.class))
 *         .endpoints(List.of(InetSocketAddress.createUnresolved("chat-1.internal", 7000),
 *                            InetSocketAddress.createUnresolved("chat-2.internal", 7000)))
 *         .pipeline((ch, keepalive) -> ch.pipeline().addLast(
 *                 new LineBasedFrameDecoder(8192), new StringDecoder(UTF_8), new StringEncoder(UTF_8),
 *                 keepalive, new ChatHandler()))
 *         .keepalive(KeepaliveSettings.builder().detectWithin(Duration.ofSeconds(20)).build(), KeepaliveProbe.lines())
 *         .onConnected(ch -> login(ch))                    // completes before any queued send is written
 *         .whileDisconnected(DisconnectedWrites.queue(10_000, 16 << 20, Duration.ofSeconds(30)))
 *         .listener(event -> log.info("{}", event))
 *         .build();
 * client.start();
 * client.send("hello\n").whenComplete((ok, error) -> ...);   // success: the server's process read it
 * }</pre>
 *
 * <h2>What a send's success means</h2>
 * <ul>
 *   <li>By default ({@link Builder#confirmReads confirmReads(true)}), a future succeeds only once the peer has
 *       provably <em>read</em> the message: its {@link KeepaliveHandler} answered a ping written after the message
 *       ({@link KeepaliveHandler#confirmRead()}). Read means handed up the peer's pipeline, past its keepalive
 *       handler, by the peer process; not processed or stored by its application (use
 *       {@link Builder#acknowledgements acknowledgements} for that). It costs up to one round trip plus one ping
 *       spacing of latency, and at most one extra ping per {@code minPeerPingInterval x 1.25} while sends flow.</li>
 *   <li>Sends not yet confirmed when the peer dies fail with its {@link PeerDeadException}, or, with
 *       {@link Builder#resendUnconfirmed resendUnconfirmed(true)}, are re-sent after reconnecting, in order (at least
 *       once: the peer may have read some of them).</li>
 *   <li>With {@code confirmReads(false)}, or a probe that sends no pings, success means written to the socket:
 *       the kernel took the bytes, and a peer that dies before reading them loses them silently.</li>
 * </ul>
 *
 * <h2>Connections</h2>
 * <ul>
 *   <li>A new connection counts as {@link ConnectionState#CONNECTED} only once proven: the on-connected hook
 *       completed and the peer answered (its first inbound message, or the pong to a ping the client sends on
 *       connecting), within {@link ReconnectPolicy#connectTimeout()}. A frozen server whose kernel still accepts
 *       connections into its backlog is therefore not "connected", and does not reset the backoff.</li>
 *   <li>The backoff starts afresh only after a connection stayed proven for
 *       {@link ReconnectPolicy#backoffResetAfter()}; a server that accepts and closes at once is redialled at the
 *       growing backoff, never faster.</li>
 *   <li>Each attempt resolves the host name again; a failed endpoint rotates to the next one, and an optional
 *       circuit breaker per endpoint skips endpoints that keep failing. After a close or a reset by the peer (a
 *       restart) the same endpoint is tried first; after a dead-peer verdict, the next one.</li>
 *   <li>A peer that closed the connection for {@link DeadPeerReason#TOO_MANY_PINGS} (it told us) is pinged half
 *       as often on the next connection, at most {@link PingRateBackoff#MAX_FACTOR} times less often than
 *       configured; each later connection that stays up for ten of the raised intervals brings the rate back by
 *       half. Closing a flooding peer ourselves ({@link DeadPeerReason#PEER_PINGED_TOO_OFTEN}) changes nothing.</li>
 * </ul>
 *
 * <h2>Bounds and lifecycle</h2>
 * Every send the client holds (queued while disconnected, written but unconfirmed or unacknowledged) counts against
 * the bounds of {@link DisconnectedWrites}; a send in flight longer than {@link Builder#ackTimeout ackTimeout} fails
 * with {@link WriteExpiredException}. {@link #close()} fails what is held with {@link ClientClosedException} and
 * returns once every channel the client opened is closed; no event follows {@code CLOSED}.
 *
 * <p>The decisions (state, attempts, backoff, what to re-send, what to fail) are made by a sans-I/O core; this
 * class runs it on one event loop of the bootstrap's group. Public methods may be called from any thread.
 */
public final class ReconnectingClient implements AutoCloseable {
    private static final Logger log = LoggerFactory.getLogger(ReconnectingClient.class);
    private static final String TRACKER = "keepalive-client";
    private static final String TAIL = "keepalive-client-tail";
    private static final String FIRST_READ = "keepalive-client-first-read";
    private static final String CLOSING = "keepalive-client-closing";

    /** Sets up a connection's pipeline; it must add the given {@link KeepaliveHandler} after its codecs. */
    @FunctionalInterface
    public interface PipelineInitializer {
        /**
         * Adds the handlers of one new connection, including {@code keepalive} (after the codecs, before the
         * application's handlers).
         *
         * @throws Exception to fail the attempt; the error is reported in its {@code CONNECT_FAILED} event
         */
        void initChannel(Channel channel, KeepaliveHandler keepalive) throws Exception;
    }

    private final Bootstrap bootstrap;
    private final EventLoop loop;
    private final List<InetSocketAddress> endpoints;
    private final List<CircuitBreaker> breakers;
    private final PipelineInitializer pipeline;
    private final KeepaliveProbe probe;
    private final KeepaliveListener keepaliveListener;
    private final ReconnectPolicy policy;
    private final DisconnectedWrites offline;
    private final Function<Channel, CompletionStage<?>> onConnected;
    private final ToLongFunction<Object> ackId;
    private final ConnectionListener listener;
    private final Ticker ticker;

    // Event-loop state.
    private final ConnectionMachine machine;
    private final ClientSends sends;
    private final ClientCounters counters = new ClientCounters();
    private final Set<Channel> opened = new HashSet<>();
    private final CompletableFuture<Void> closeFuture = new CompletableFuture<>();
    private volatile KeepaliveSettings settings;
    private final PingRateBackoff pingRate;
    /** When the current connection was proven, in ticker nanoseconds; valid while {@link #provenConnection}. */
    private long provenAt;
    private boolean provenConnection;
    private Channel connecting;
    private Channel channel;
    private KeepaliveHandler keepalive;
    private ScheduledFuture<?> machineTimer;
    private final Duration closeGrace;
    private long machineTimerAt;
    private boolean initFailureLogged;
    private volatile ConnectionState state = ConnectionState.BACKING_OFF;
    private volatile ClientStats lastStats;

    private ReconnectingClient(Builder b) {
        this.bootstrap = b.bootstrap.clone();
        this.loop = bootstrap.config().group().next();
        this.endpoints = List.copyOf(b.endpoints);
        this.pipeline = b.pipeline;
        this.settings = b.settings;
        this.pingRate = new PingRateBackoff(b.settings.pingInterval());
        this.probe = b.probe;
        this.keepaliveListener = b.keepaliveListener;
        this.policy = b.policy;
        this.offline = b.offline;
        this.onConnected = b.onConnected;
        this.ackId = b.ackId;
        this.listener = b.listener;
        this.ticker = b.ticker;
        this.closeGrace = b.closeGrace;
        ClientSends.Tracking tracking = ackId != null ? ClientSends.Tracking.ACKNOWLEDGED
                : b.confirmReads && probe.sendsPings() ? ClientSends.Tracking.CONFIRMED : ClientSends.Tracking.WRITTEN;
        boolean resend = b.resendUnconfirmed != null ? b.resendUnconfirmed
                : tracking == ClientSends.Tracking.ACKNOWLEDGED;
        List<CircuitBreaker> cbs = new ArrayList<>();
        policy.circuitBreaker().ifPresent(config -> {
            for (InetSocketAddress ep : endpoints) {
                cbs.add(CircuitBreaker.of("keepalive-" + ep, config));
            }
        });
        this.breakers = List.copyOf(cbs);
        this.machine = new ConnectionMachine(policy, endpoints, ticker, this::emit);
        this.sends = new ClientSends(offline, b.ackTimeout, loop, ticker, tracking, resend, b.reconnectOnAckTimeout,
                b.messageId, b.sizer);
        this.lastStats = snapshot();
    }

    /**
     * A builder around {@code bootstrap}: its group, channel type and options are used for every connection; the
     * client sets the handler and the connect timeout. The bootstrap is copied; later changes to it have no effect.
     *
     * @throws NullPointerException     if {@code bootstrap} is null
     * @throws IllegalArgumentException if the bootstrap has no event loop group
     */
    public static Builder builder(Bootstrap bootstrap) {
        return new Builder(bootstrap);
    }

    // ---- public API ------------------------------------------------------------------------------------------

    /** Starts connecting. Extra calls, and calls after {@link #close()}, do nothing. @return this client */
    public ReconnectingClient start() {
        onLoop(() -> act(machine.start()));
        return this;
    }

    /** The current state (the state after the last event emitted). */
    public ConnectionState state() {
        return state;
    }

    /** The keepalive settings the next connection will use (they change after {@code TOO_MANY_PINGS}). */
    public KeepaliveSettings keepaliveSettings() {
        return settings;
    }

    /**
     * Sends {@code msg} (released by the client in every case). The future succeeds when the message was read by
     * the peer (the default), acknowledged (with acknowledgements), or written (with {@code confirmReads(false)});
     * see the class documentation. It fails with the reason otherwise: {@link PeerDeadException},
     * {@link NotConnectedException}, {@link WriteBufferFullException}, {@link WriteExpiredException} or
     * {@link ClientClosedException}.
     *
     * @throws NullPointerException if {@code msg} is null
     */
    public CompletableFuture<Void> send(Object msg) {
        Objects.requireNonNull(msg, "msg");
        CompletableFuture<Void> future = new CompletableFuture<>();
        if (loop.inEventLoop()) {
            doSend(msg, future);
        } else {
            try {
                loop.execute(() -> doSend(msg, future));
            } catch (RejectedExecutionException e) {
                ReferenceCountUtil.release(msg);
                future.completeExceptionally(new ClientClosedException("the client's event loop is shut down", e));
            }
        }
        return future;
    }

    /** Drops the current connection (if any) and connects again at once, with a fresh backoff sequence. */
    public void reconnectNow() {
        onLoop(() -> act(machine.reconnectNow()));
    }

    /**
     * Closes the client: fails what it holds with {@link ClientClosedException}, emits {@code CLOSED} (the last
     * event), and returns once every channel it opened is closed. An open connection is closed in order, the way
     * the peer expects a client to leave: the client's side first, then whatever the peer still sends is dropped
     * until it closes its own side, for at most {@link Builder#closeGrace closeGrace} (1 s by default). So the peer
     * sees an orderly close ({@link DeadPeerReason#CLOSED_BY_PEER} on its end), not a reset, even while it was
     * sending.
     */
    @Override
    public void close() {
        closeAsync().join();
    }

    /** Like {@link #close()}, without waiting. @return completes once every channel the client opened is closed */
    public CompletableFuture<Void> closeAsync() {
        try {
            onLoop(() -> {
                if (machine.close()) {
                    shutDown(new ClientClosedException("the client was closed by the application", null));
                }
            });
        } catch (RejectedExecutionException e) {
            closeFuture.complete(null); // the event loop is gone, and with it every channel
        }
        return closeFuture;
    }

    /**
     * A consistent snapshot of the counters, taken on the client's event loop (this call waits for it, up to 5 s,
     * when made from another thread; once the loop is shut down, the last snapshot taken).
     */
    public ClientStats stats() {
        if (loop.inEventLoop()) {
            return snapshot();
        }
        try {
            return loop.submit(this::snapshot).get(5, TimeUnit.SECONDS);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            return lastStats;
        } catch (Exception e) {
            return lastStats;
        }
    }

    // ---- the core's actions ----------------------------------------------------------------------------------

    private void act(Action action) {
        switch (action) {
            case DIAL:
                dial();
                break;
            case CLOSE_CHANNEL:
                Channel ch = channel != null ? channel : connecting;
                if (ch != null) {
                    ch.close();
                }
                break;
            case GAVE_UP:
                shutDown(new ClientClosedException(machine.giveUpReason(), machine.lastCause()));
                break;
            default:
                break;
        }
        armMachineTimer();
    }

    private void armMachineTimer() {
        if (!machine.hasDeadline()) {
            return;
        }
        long at = machine.deadline();
        if (machineTimer != null) {
            if (machineTimerAt - at <= 0) {
                return;
            }
            machineTimer.cancel(false);
        }
        machineTimerAt = at;
        machineTimer = loop.schedule(() -> {
            machineTimer = null;
            act(machine.onTimer(ticker.nanoTime()));
        }, Math.max(0, at - ticker.nanoTime()), TimeUnit.NANOSECONDS);
    }

    private void shutDown(ClientClosedException failure) {
        if (machineTimer != null) {
            machineTimer.cancel(false);
            machineTimer = null;
        }
        sends.failAll(failure);
        for (Channel ch : new ArrayList<>(opened)) {
            closeOrderly(ch);
        }
        lastStats = snapshot();
        maybeClosed();
    }

    /**
     * Closes {@code ch} the way a well-behaved client leaves: our FIN first, then what the peer still sends is read
     * and dropped until its own FIN (or {@link Builder#closeGrace closeGrace}), then the socket closes. Closing at
     * once while the peer's bytes sit unread makes the kernel answer with a reset, and the peer counts a dead client
     * ({@link DeadPeerReason#RESET_BY_PEER}) where an orderly close happened.
     */
    private void closeOrderly(Channel ch) {
        if (closeGrace.isZero() || !(ch instanceof DuplexChannel) || !ch.isActive()
                || ((DuplexChannel) ch).isOutputShutdown()) {
            ch.close();
            return;
        }
        ChannelPipeline p = ch.pipeline();
        KeepaliveHandler keepalive = p.get(KeepaliveHandler.class);
        if (keepalive != null) {
            p.remove(keepalive); // the client is leaving: no ping, no verdict while the peer finishes
        }
        p.addFirst(CLOSING, new DropUntilPeerCloses());
        ch.config().setAutoRead(true);
        ScheduledFuture<?> giveUp = ch.eventLoop().schedule(() -> {
            ch.close();
        }, closeGrace.toNanos(), TimeUnit.NANOSECONDS);
        ch.closeFuture().addListener(f -> giveUp.cancel(false));
        ((DuplexChannel) ch).shutdownOutput().addListener(f -> {
            if (!f.isSuccess()) {
                ch.close();
            }
        });
    }

    /** First in a leaving connection's pipeline: drops what the peer still sends, and closes on its FIN. */
    private static final class DropUntilPeerCloses extends io.netty.channel.ChannelInboundHandlerAdapter {
        @Override
        public void channelRead(ChannelHandlerContext ctx, Object msg) {
            ReferenceCountUtil.release(msg);
        }

        @Override
        public void channelReadComplete(ChannelHandlerContext ctx) {
        }

        @Override
        public void userEventTriggered(ChannelHandlerContext ctx, Object evt) {
            ReferenceCountUtil.release(evt);
            if (evt instanceof ChannelInputShutdownEvent) {
                ctx.close(); // the peer's FIN, with ALLOW_HALF_CLOSURE set
            }
        }

        @Override
        public void exceptionCaught(ChannelHandlerContext ctx, Throwable cause) {
            ctx.close();
        }
    }

    private void maybeClosed() {
        if (machine.state() == ConnectionState.CLOSED && opened.isEmpty()) {
            closeFuture.complete(null);
        }
    }

    // ---- connecting ------------------------------------------------------------------------------------------

    private void dial() {
        InetSocketAddress endpoint = null;
        CircuitBreaker breaker = null;
        for (int tried = 0; tried < endpoints.size() && machine.state() != ConnectionState.CLOSED; tried++) {
            int i = machine.endpointIndex();
            CircuitBreaker cb = breakers.isEmpty() ? null : breakers.get(i);
            if (cb == null || cb.tryAcquirePermission()) {
                endpoint = endpoints.get(i);
                breaker = cb;
                break;
            }
            machine.onEndpointSkipped(CallNotPermittedException.createCallNotPermittedException(cb));
        }
        if (machine.state() == ConnectionState.CLOSED) {
            return;
        }
        if (endpoint == null) {
            act(machine.onNoEndpoint());
            return;
        }
        machine.onDial();
        KeepaliveHandler handler = KeepaliveHandler.builder(settings).probe(probe).listener(counters.observer(
                keepaliveListener)).build();
        Tracker tracker = new Tracker(handler);
        CircuitBreaker cb = breaker;
        long started = ticker.nanoTime();
        Throwable[] initFailure = new Throwable[1];
        ChannelFuture f;
        try {
            f = bootstrap.clone(loop)
                    .option(ChannelOption.CONNECT_TIMEOUT_MILLIS,
                            (int) Math.min(Integer.MAX_VALUE, policy.connectTimeout().toMillis()))
                    .handler(new Initializer(handler, tracker, initFailure))
                    .connect(endpoint);
        } catch (RuntimeException e) {
            dialFailed(cb, started, e);
            return;
        }
        Channel ch = f.channel();
        connecting = ch;
        opened.add(ch);
        ch.closeFuture().addListener(cf -> {
            opened.remove(ch);
            maybeClosed();
        });
        f.addListener((ChannelFuture cf) -> {
            if (connecting == ch) {
                connecting = null;
            }
            if (!cf.isSuccess()) {
                dialFailed(cb, started, initFailure[0] != null ? initFailure[0] : cf.cause());
                return;
            }
            if (cb != null) {
                cb.onSuccess(ticker.nanoTime() - started, TimeUnit.NANOSECONDS);
            }
            if (machine.state() != ConnectionState.CONNECTING) {
                ch.close(); // closed (or dropped) while dialing
                return;
            }
            opened(ch, handler, tracker);
        });
    }

    private void dialFailed(CircuitBreaker cb, long started, Throwable cause) {
        if (cb != null) {
            cb.onError(ticker.nanoTime() - started, TimeUnit.NANOSECONDS, cause);
        }
        act(machine.onDialFailed(cause));
    }

    /** The TCP connection is up: run the hook and get the peer to answer; CONNECTED once both are done. */
    private void opened(Channel ch, KeepaliveHandler handler, Tracker tracker) {
        channel = ch;
        keepalive = handler;
        machine.onChannelOpen();
        if (!ch.isActive()) {
            channelClosed(ch, handler); // it died before this listener ran
            return;
        }
        if (onConnected == null) {
            machine.onHookDone();
        } else {
            CompletionStage<?> hook;
            try {
                hook = onConnected.apply(ch);
            } catch (RuntimeException e) {
                hook = CompletableFuture.failedFuture(e);
            }
            hook.whenComplete((ignored, error) -> onLoop(() -> {
                if (channel != ch) {
                    return;
                }
                if (error != null) {
                    act(machine.onHookFailed(error));
                } else if (machine.onHookDone()) {
                    proven(ch);
                }
            }));
        }
        if (!probe.sendsPings() || tracker.answered) {
            answered(ch);
        } else {
            handler.confirmRead().whenComplete((ok, error) -> {
                if (error == null) {
                    onLoop(() -> answered(ch));
                }
            });
        }
    }

    private void answered(Channel ch) {
        if (channel == ch && machine.onPeerAnswered()) {
            proven(ch);
        }
    }

    /** CONNECTED: queued (and re-queued) sends go out in order, before any new send. */
    private void proven(Channel ch) {
        provenConnection = true;
        provenAt = ticker.nanoTime();
        sends.proven(ch, keepalive);
    }

    private void channelClosed(Channel ch, KeepaliveHandler handler) {
        if (channel != ch) {
            return;
        }
        channel = null;
        keepalive = null;
        counters.connectionEnded(handler.stats());
        PeerDeadException dead = handler.deadCause();
        DeadPeerReason reason = dead == null ? null : dead.reason();
        sends.connectionLost(dead);
        Duration upFor = provenConnection ? Duration.ofNanos(ticker.nanoTime() - provenAt) : Duration.ZERO;
        provenConnection = false;
        adjustPingRate(reason, upFor);
        act(machine.onChannelClosed(reason, dead));
    }

    /**
     * Told {@link DeadPeerReason#TOO_MANY_PINGS} by the peer: ping half as often on the next connection, up to
     * {@link PingRateBackoff#MAX_FACTOR} times the configured interval; after connections that stayed healthy, come
     * back down toward it (see {@link PingRateBackoff}). Closing a flooding peer ourselves changes nothing.
     */
    private void adjustPingRate(DeadPeerReason reason, Duration upFor) {
        Duration before = settings.pingInterval();
        Duration next = pingRate.onConnectionEnded(reason, upFor);
        if (next.equals(before)) {
            if (reason == DeadPeerReason.TOO_MANY_PINGS) {
                log.warn("The peer closed the connection for too many pings again; the ping interval stays at its "
                        + "cap of {} ({} x the configured {})", before, PingRateBackoff.MAX_FACTOR,
                        pingRate.configured());
            }
            return;
        }
        try {
            settings = settings.toBuilder().pingInterval(next).build();
            if (reason == DeadPeerReason.TOO_MANY_PINGS) {
                log.warn("The peer closed the connection for too many pings: pinging every {} from now on", next);
            } else {
                log.info("A connection stayed healthy for {} at the lower ping rate: pinging every {} again", upFor,
                        next);
            }
        } catch (IllegalArgumentException e) {
            log.warn("The ping interval cannot change from {} to {}: {}", before, next, e.getMessage());
        }
    }

    // ---- sending ---------------------------------------------------------------------------------------------

    private void doSend(Object msg, CompletableFuture<Void> future) {
        if (machine.state() == ConnectionState.CLOSED) {
            ReferenceCountUtil.release(msg);
            future.completeExceptionally(new ClientClosedException("the client is closed", machine.lastCause()));
            return;
        }
        if (!offline.queues() && !(machine.state() == ConnectionState.CONNECTED && sends.connected())) {
            ReferenceCountUtil.release(msg);
            future.completeExceptionally(new NotConnectedException("not connected (state " + machine.state() + ", "
                    + machine.attempt() + " attempts in this sequence); the client fails sends fast while "
                    + "disconnected", machine.lastCause()));
            return;
        }
        sends.send(msg, future);
    }

    // ---- events and stats ------------------------------------------------------------------------------------

    private void emit(ConnectionEvent e) {
        state = e.state();
        ClientEvents.log(log, e);
        try {
            listener.onEvent(e);
        } catch (RuntimeException ex) {
            log.warn("ConnectionListener threw", ex);
        }
    }

    private ClientStats snapshot() {
        ClientStats s = counters.snapshot(machine, keepalive, sends.messages(), sends.bytes(), ticker.nanoTime());
        lastStats = s;
        return s;
    }

    private void onLoop(Runnable task) {
        if (loop.inEventLoop()) {
            task.run();
        } else {
            loop.execute(task);
        }
    }

    // ---- pipeline handlers -----------------------------------------------------------------------------------

    /** Installs the application's pipeline, checks it holds the keepalive handler, and adds the client's own. */
    private final class Initializer extends ChannelInitializer<Channel> {
        private final KeepaliveHandler handler;
        private final Tracker tracker;
        private final Throwable[] failure;

        Initializer(KeepaliveHandler handler, Tracker tracker, Throwable[] failure) {
            this.handler = handler;
            this.tracker = tracker;
            this.failure = failure;
        }

        @Override
        protected void initChannel(Channel ch) throws Exception {
            pipeline.initChannel(ch, handler);
            ChannelHandlerContext ctx = ch.pipeline().context(handler);
            if (ctx == null) {
                throw new IllegalStateException("the pipeline initializer did not add the KeepaliveHandler it is "
                        + "given: add it after your codecs, e.g. ch.pipeline().addLast(decoder, encoder, keepalive, "
                        + "app)");
            }
            ch.pipeline().addAfter(ctx.name(), TRACKER, tracker);
            ch.pipeline().addBefore(ctx.name(), FIRST_READ, new FirstRead(tracker));
            ch.pipeline().addLast(TAIL, new ClientEvents.Tail());
        }

        /** Reports a failing initializer once, clearly, instead of Netty's WARN with a stack trace per attempt. */
        @Override
        public void exceptionCaught(ChannelHandlerContext ctx, Throwable cause) {
            failure[0] = cause;
            if (!initFailureLogged) {
                initFailureLogged = true;
                log.error("The pipeline initializer of the reconnecting client failed; each attempt will fail: {}",
                        String.valueOf(cause));
            }
            ctx.close();
        }
    }

    /**
     * Sits right after the KeepaliveHandler: the first inbound message proves the peer alive, acknowledgements
     * complete sends, and the connection's end is learned after the handler classified it.
     */
    private final class Tracker extends io.netty.channel.ChannelInboundHandlerAdapter {
        private final KeepaliveHandler handler;
        boolean answered;

        Tracker(KeepaliveHandler handler) {
            this.handler = handler;
        }

        @Override
        public void channelInactive(ChannelHandlerContext ctx) throws Exception {
            channelClosed(ctx.channel(), handler);
            super.channelInactive(ctx);
        }

        void firstRead(Channel ch) {
            if (!answered) {
                answered = true;
                answered(ch);
            }
        }

        @Override
        public void channelRead(ChannelHandlerContext ctx, Object msg) {
            if (ackId != null) {
                long id = ackId.applyAsLong(msg);
                if (id >= 0) {
                    sends.acknowledged(id);
                }
            }
            ctx.fireChannelRead(msg);
        }
    }

    /** Sits before the KeepaliveHandler: the first inbound message of any kind proves the peer alive. */
    private static final class FirstRead extends io.netty.channel.ChannelInboundHandlerAdapter {
        private final Tracker tracker;

        FirstRead(Tracker tracker) {
            this.tracker = tracker;
        }

        @Override
        public void channelRead(ChannelHandlerContext ctx, Object msg) {
            ctx.pipeline().remove(this);
            tracker.firstRead(ctx.channel());
            ctx.fireChannelRead(msg);
        }
    }

    /** Builds a {@link ReconnectingClient}. */
    public static final class Builder {
        /** Default {@link #ackTimeout}: 30 seconds. */
        public static final Duration DEFAULT_ACK_TIMEOUT = Duration.ofSeconds(30);
        /** Default {@link #closeGrace}: 1 second. */
        public static final Duration DEFAULT_CLOSE_GRACE = Duration.ofSeconds(1);

        private final Bootstrap bootstrap;
        private final List<InetSocketAddress> endpoints = new ArrayList<>();
        private PipelineInitializer pipeline;
        private KeepaliveSettings settings = KeepaliveSettings.defaults();
        private KeepaliveProbe probe = KeepaliveProbe.binary();
        private KeepaliveListener keepaliveListener = KeepaliveListener.NOOP;
        private ReconnectPolicy policy = ReconnectPolicy.defaults();
        private DisconnectedWrites offline = DisconnectedWrites.failFast();
        private Function<Channel, CompletionStage<?>> onConnected;
        private ToLongFunction<Object> messageId;
        private ToLongFunction<Object> ackId;
        private ToLongFunction<Object> sizer = Builder::defaultSize;
        private ConnectionListener listener = ConnectionListener.NOOP;
        private Ticker ticker = Ticker.system();
        private boolean confirmReads = true;
        private Boolean resendUnconfirmed;
        private Duration ackTimeout = DEFAULT_ACK_TIMEOUT;
        private boolean reconnectOnAckTimeout;
        private Duration closeGrace = DEFAULT_CLOSE_GRACE;

        private Builder(Bootstrap bootstrap) {
            this.bootstrap = Objects.requireNonNull(bootstrap, "bootstrap");
            if (bootstrap.config().group() == null) {
                throw new IllegalArgumentException("bootstrap must have its event loop group set: call "
                        + "bootstrap.group(...)");
            }
        }

        /**
         * The endpoints, tried in order and rotated on failure. Unresolved addresses are resolved per attempt.
         *
         * @throws IllegalArgumentException if empty
         */
        public Builder endpoints(List<InetSocketAddress> endpoints) {
            Objects.requireNonNull(endpoints, "endpoints");
            if (endpoints.isEmpty()) {
                throw new IllegalArgumentException("endpoints must not be empty");
            }
            this.endpoints.clear();
            this.endpoints.addAll(endpoints);
            return this;
        }

        /** One endpoint, resolved again on each attempt. */
        public Builder endpoint(String host, int port) {
            return endpoints(List.of(InetSocketAddress.createUnresolved(host, port)));
        }

        /** Sets up each connection's pipeline; required. It must add the KeepaliveHandler it is given. */
        public Builder pipeline(PipelineInitializer pipeline) {
            this.pipeline = Objects.requireNonNull(pipeline, "pipeline");
            return this;
        }

        /** The keepalive settings and probe of each connection. Default: defaults and the binary probe. */
        public Builder keepalive(KeepaliveSettings settings, KeepaliveProbe probe) {
            this.settings = Objects.requireNonNull(settings, "settings");
            this.probe = Objects.requireNonNull(probe, "probe");
            return this;
        }

        /** Receives the keepalive events of every connection. Default: none. */
        public Builder keepaliveListener(KeepaliveListener listener) {
            this.keepaliveListener = Objects.requireNonNull(listener, "keepaliveListener");
            return this;
        }

        /** When and how to reconnect. Default {@link ReconnectPolicy#defaults()}. */
        public Builder policy(ReconnectPolicy policy) {
            this.policy = Objects.requireNonNull(policy, "policy");
            return this;
        }

        /**
         * What sends do while disconnected, and the bounds on every send the client holds. Default
         * {@link DisconnectedWrites#failFast()}.
         */
        public Builder whileDisconnected(DisconnectedWrites offline) {
            this.offline = Objects.requireNonNull(offline, "whileDisconnected");
            return this;
        }

        /**
         * Runs on each new connection (login, resubscribe) before any queued send is written. The connection counts
         * as connected when the returned stage has completed <em>and</em> the peer has answered, within the connect
         * timeout; a failed stage drops the connection and reconnects. Default: none.
         */
        public Builder onConnected(Function<Channel, CompletionStage<?>> hook) {
            this.onConnected = Objects.requireNonNull(hook, "onConnected");
            return this;
        }

        /**
         * Turns on application acknowledgements: {@code messageId} gives each outbound message's id, {@code ackId}
         * the id acknowledged by an inbound message (or -1 when it is no acknowledgement). A send's future completes
         * when it is acknowledged; unacknowledged messages are re-sent after reconnecting, in their original order
         * (unless {@link #resendUnconfirmed resendUnconfirmed(false)}). Takes precedence over read confirmation.
         */
        public Builder acknowledgements(ToLongFunction<Object> messageId, ToLongFunction<Object> ackId) {
            this.messageId = Objects.requireNonNull(messageId, "messageId");
            this.ackId = Objects.requireNonNull(ackId, "ackId");
            return this;
        }

        /**
         * Whether a send's future waits for the peer to confirm it read the message (the pong to a ping written
         * after it; see the class documentation). Default {@code true}: "success" should never mean "lost", and the
         * cost is small (up to one round trip plus {@code minPeerPingInterval x 1.25} of latency, at most one extra
         * ping per that spacing while sends flow). It needs a probe that sends pings and a peer running
         * {@link KeepaliveHandler} with it; with a passive probe sends complete when written.
         */
        public Builder confirmReads(boolean confirm) {
            this.confirmReads = confirm;
            return this;
        }

        /**
         * What happens to sends written but not confirmed (or acknowledged) when their connection is lost:
         * {@code true} re-sends them after reconnecting, before newer sends, in order (at least once: the peer may
         * have read some); {@code false} fails them with the {@link PeerDeadException} (or an {@link IOException}
         * for a local close). Default: {@code true} with acknowledgements, {@code false} with read confirmation.
         */
        public Builder resendUnconfirmed(boolean resend) {
            this.resendUnconfirmed = resend;
            return this;
        }

        /**
         * How long a written send may wait for its confirmation or acknowledgement before it fails with
         * {@link WriteExpiredException}. Default {@link #DEFAULT_ACK_TIMEOUT}.
         *
         * @throws IllegalArgumentException if not in 1 ms .. 1 h
         */
        public Builder ackTimeout(Duration timeout) {
            Objects.requireNonNull(timeout, "ackTimeout");
            if (timeout.toMillis() < 1 || timeout.compareTo(Duration.ofHours(1)) > 0) {
                throw new IllegalArgumentException("ackTimeout must be in 1 ms .. 1 h, but was " + timeout);
            }
            this.ackTimeout = timeout;
            return this;
        }

        /**
         * How long {@link ReconnectingClient#close()} waits, after sending the client's FIN, for the peer to close its
         * side, dropping what it still sends; then the socket closes anyway. Default {@link #DEFAULT_CLOSE_GRACE}.
         * {@link Duration#ZERO} closes at once: if the peer's bytes are unread then, the kernel resets the connection
         * and the peer sees {@link DeadPeerReason#RESET_BY_PEER}.
         *
         * @throws IllegalArgumentException if not in 0 .. 1 min
         */
        public Builder closeGrace(Duration grace) {
            Objects.requireNonNull(grace, "closeGrace");
            if (grace.isNegative() || grace.compareTo(Duration.ofMinutes(1)) > 0) {
                throw new IllegalArgumentException("closeGrace must be in 0 .. 1 min, but was " + grace);
            }
            this.closeGrace = grace;
            return this;
        }

        /**
         * What a send in flight past {@link #ackTimeout} does: {@code false} (the default) fails it with
         * {@link WriteExpiredException}; {@code true} drops the connection as broken and reconnects, so that what it
         * held is re-sent in order (with {@link #resendUnconfirmed resendUnconfirmed}, the default with
         * acknowledgements) or failed; a re-sent message's timeout starts again when it is written again.
         */
        public Builder reconnectOnAckTimeout(boolean reconnect) {
            this.reconnectOnAckTimeout = reconnect;
            return this;
        }

        /** The size of a message in bytes, for the byte bound. Default: buffers' readable bytes, text length. */
        public Builder messageSize(ToLongFunction<Object> sizer) {
            this.sizer = Objects.requireNonNull(sizer, "messageSize");
            return this;
        }

        /** Receives state changes and attempts, on the client's event loop. Default: none. */
        public Builder listener(ConnectionListener listener) {
            this.listener = Objects.requireNonNull(listener, "listener");
            return this;
        }

        /** The time source for deadlines and disconnected time, for tests. Default {@link Ticker#system()}. */
        public Builder ticker(Ticker ticker) {
            this.ticker = Objects.requireNonNull(ticker, "ticker");
            return this;
        }

        /**
         * The client, not started.
         *
         * @throws IllegalStateException if endpoints or the pipeline initializer are missing, or the bootstrap is
         *                               unusable (no {@code channel()}, or a {@code handler()} already set)
         */
        public ReconnectingClient build() {
            if (endpoints.isEmpty()) {
                throw new IllegalStateException("endpoints are required: call endpoints(...) or endpoint(host, port)");
            }
            if (pipeline == null) {
                throw new IllegalStateException("a pipeline initializer is required: call pipeline((ch, keepalive) "
                        + "-> ...)");
            }
            if (bootstrap.config().channelFactory() == null) {
                throw new IllegalStateException("the bootstrap has no channel type: call bootstrap.channel("
                        + "NioSocketChannel.class) (or channelFactory(...)) before builder(bootstrap)");
            }
            if (bootstrap.config().handler() != null) {
                throw new IllegalStateException("the bootstrap already has a handler (" + bootstrap.config().handler()
                        + "): the client installs each connection's handlers through pipeline(...); remove "
                        + "bootstrap.handler(...)");
            }
            return new ReconnectingClient(this);
        }

        private static long defaultSize(Object msg) {
            if (msg instanceof ByteBuf) {
                return ((ByteBuf) msg).readableBytes();
            }
            if (msg instanceof ByteBufHolder) {
                return ((ByteBufHolder) msg).content().readableBytes();
            }
            if (msg instanceof CharSequence) {
                return ((CharSequence) msg).length();
            }
            if (msg instanceof byte[]) {
                return ((byte[]) msg).length;
            }
            return 1;
        }
    }
}
