package dev.keepalive.netty.client;

import dev.keepalive.DeadPeerReason;
import dev.keepalive.KeepaliveListener;
import dev.keepalive.KeepaliveSettings;
import dev.keepalive.KeepaliveStats;
import dev.keepalive.PeerDeadException;
import dev.keepalive.Ticker;
import dev.keepalive.netty.KeepaliveHandler;
import dev.keepalive.netty.KeepaliveProbe;
import dev.keepalive.reconnect.Backoff;
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
import io.github.resilience4j.circuitbreaker.CallNotPermittedException;
import io.github.resilience4j.circuitbreaker.CircuitBreaker;
import io.netty.bootstrap.Bootstrap;
import io.netty.buffer.ByteBuf;
import io.netty.buffer.ByteBufHolder;
import io.netty.channel.Channel;
import io.netty.channel.ChannelFuture;
import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.ChannelInboundHandlerAdapter;
import io.netty.channel.ChannelInitializer;
import io.netty.channel.ChannelOption;
import io.netty.channel.EventLoop;
import io.netty.util.ReferenceCountUtil;
import io.netty.util.concurrent.ScheduledFuture;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import java.net.InetSocketAddress;
import java.net.SocketAddress;
import java.time.Duration;
import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.EnumMap;
import java.util.Iterator;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionStage;
import java.util.concurrent.RejectedExecutionException;
import java.util.concurrent.TimeUnit;
import java.util.function.Function;
import java.util.function.ToLongFunction;

/**
 * One logical connection to one of several endpoints, kept up with {@link KeepaliveHandler}: it reconnects after any
 * death with jittered backoff and failover, and never loses a send without completing its future.
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
 * client.send("hello\n").whenComplete((ok, error) -> ...);   // always completes
 * }</pre>
 *
 * <ul>
 *   <li>Each attempt resolves the host name again (unresolved endpoints are resolved by the bootstrap's resolver)
 *       and is bounded by {@link ReconnectPolicy#connectTimeout()}; a failed endpoint rotates to the next one, and
 *       an optional circuit breaker per endpoint skips endpoints that keep failing.</li>
 *   <li>After a close or a reset by the peer (a restart) the same endpoint is tried first; after a dead-peer
 *       verdict (ping timeout, read idle, write stall, kernel timeout) the next one. Delays come from the policy's
 *       {@link Backoff}, fresh after each successful connection.</li>
 *   <li>A peer that closed the connection for {@link DeadPeerReason#TOO_MANY_PINGS} is pinged half as often on the
 *       next connection.</li>
 *   <li>Sends while disconnected follow {@link DisconnectedWrites}; sends in flight when a peer is declared dead
 *       fail with its {@link PeerDeadException}; with {@link Builder#acknowledgements acknowledgements}, unacknowledged
 *       sends are re-sent after reconnecting, in their original order (at-least-once), and their futures complete
 *       when acknowledged. {@link #close()} fails what is still queued.</li>
 * </ul>
 * All state lives on one event loop of the bootstrap's group; public methods may be called from any thread.
 */
public final class ReconnectingClient implements AutoCloseable {
    private static final Logger log = LoggerFactory.getLogger(ReconnectingClient.class);
    private static final String TRACKER = "keepalive-client";
    private static final String TAIL = "keepalive-client-tail";

    /** Sets up a connection's pipeline; it must add the given {@link KeepaliveHandler} after its codecs. */
    @FunctionalInterface
    public interface PipelineInitializer {
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
    private final ToLongFunction<Object> messageId;
    private final ToLongFunction<Object> ackId;
    private final ToLongFunction<Object> sizer;
    private final ConnectionListener listener;
    private final Ticker ticker;

    // Event-loop state.
    private volatile ConnectionState state = ConnectionState.BACKING_OFF;
    private boolean started;
    private KeepaliveSettings settings;
    private int endpointIndex;
    private Backoff.Sequence backoff;
    private int attemptInSequence;
    private ScheduledFuture<?> reconnectTask;
    private ScheduledFuture<?> expiryTask;
    private Channel channel;
    private KeepaliveHandler keepalive;
    private InetSocketAddress connectedTo;
    private boolean reconnectAtOnce;
    private Throwable lastCause;
    private Throwable initFailure;
    private final ArrayDeque<Pending> queue = new ArrayDeque<>();
    private final LinkedHashMap<Long, Pending> unacked = new LinkedHashMap<>();
    private long queuedBytes;
    private final CompletableFuture<Void> closeFuture = new CompletableFuture<>();

    // Counters.
    private long disconnectedSince;
    private long disconnectedNanos;
    private long attempts;
    private long successes;
    private long pingsSentBefore;
    private long pongsReceivedBefore;
    private long lastRttNanos = -1;
    private long maxRttNanos = -1;
    private long lastSmoothedRttNanos = -1;
    private final EnumMap<DeadPeerReason, Long> deaths = new EnumMap<>(DeadPeerReason.class);

    private ReconnectingClient(Builder b) {
        this.bootstrap = b.bootstrap.clone();
        this.loop = bootstrap.config().group().next();
        this.endpoints = List.copyOf(b.endpoints);
        this.pipeline = b.pipeline;
        this.settings = b.settings;
        this.probe = b.probe;
        this.keepaliveListener = b.keepaliveListener;
        this.policy = b.policy;
        this.offline = b.offline;
        this.onConnected = b.onConnected;
        this.messageId = b.messageId;
        this.ackId = b.ackId;
        this.sizer = b.sizer;
        this.listener = b.listener;
        this.ticker = b.ticker;
        List<CircuitBreaker> cbs = new ArrayList<>();
        policy.circuitBreaker().ifPresent(config -> {
            for (InetSocketAddress ep : endpoints) {
                cbs.add(CircuitBreaker.of("keepalive-" + ep, config));
            }
        });
        this.breakers = List.copyOf(cbs);
        this.disconnectedSince = ticker.nanoTime();
    }

    public static Builder builder(Bootstrap bootstrap) {
        return new Builder(bootstrap);
    }

    // ---- public API ------------------------------------------------------------------------------------------

    /** Starts connecting. Extra calls do nothing. */
    public ReconnectingClient start() {
        onLoop(() -> {
            if (!started && state != ConnectionState.CLOSED) {
                started = true;
                connect();
            }
        });
        return this;
    }

    /** The current state. */
    public ConnectionState state() {
        return state;
    }

    /** The keepalive settings the next connection will use (they change after {@code TOO_MANY_PINGS}). */
    public KeepaliveSettings keepaliveSettings() {
        return settings;
    }

    /**
     * Sends {@code msg} (released by the client in every case). The future completes when the message is written
     * (or, with acknowledgements, acknowledged), and fails with the reason otherwise: {@link PeerDeadException},
     * {@link NotConnectedException}, {@link WriteBufferFullException}, {@link WriteExpiredException} or
     * {@link ClientClosedException}.
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

    /** Drops the current connection (if any) and connects again at once, without backoff. */
    public void reconnectNow() {
        onLoop(() -> {
            if (state == ConnectionState.CLOSED) {
                return;
            }
            reconnectAtOnce = true;
            if (channel != null) {
                channel.close();
            } else if (state == ConnectionState.BACKING_OFF) {
                cancelReconnect();
                connect();
            }
        });
    }

    /** Closes the connection and the client; queued and unacknowledged sends fail. Completes when closed. */
    @Override
    public void close() {
        closeAsync().join();
    }

    /** Like {@link #close()}, without waiting. */
    public CompletableFuture<Void> closeAsync() {
        onLoop(() -> shutDown(ConnectionEvent.Type.CLOSED, new ClientClosedException(
                "the client was closed by the application", null)));
        return closeFuture;
    }

    /** A snapshot of the counters. */
    public ClientStats stats() {
        if (loop.inEventLoop()) {
            return snapshot();
        }
        try {
            return loop.submit(this::snapshot).get(5, TimeUnit.SECONDS);
        } catch (Exception e) {
            throw new IllegalStateException("could not read the client's stats from its event loop", e);
        }
    }

    // ---- connecting ------------------------------------------------------------------------------------------

    private void connect() {
        if (state == ConnectionState.CLOSED) {
            return;
        }
        reconnectTask = null;
        InetSocketAddress endpoint = null;
        CircuitBreaker breaker = null;
        for (int tried = 0; tried < endpoints.size(); tried++) {
            int i = endpointIndex % endpoints.size();
            CircuitBreaker cb = breakers.isEmpty() ? null : breakers.get(i);
            if (cb == null || cb.tryAcquirePermission()) {
                endpoint = endpoints.get(i);
                breaker = cb;
                break;
            }
            emit(ConnectionEvent.Type.CONNECT_FAILED, endpoints.get(i), null,
                    CallNotPermittedException.createCallNotPermittedException(cb));
            endpointIndex++;
        }
        if (endpoint == null) {
            scheduleReconnect(lastCause);
            return;
        }
        attempts++;
        attemptInSequence++;
        setState(ConnectionState.CONNECTING);
        emit(ConnectionEvent.Type.CONNECTING, endpoint, null, null);
        KeepaliveHandler handler = KeepaliveHandler.builder(settings).probe(probe).listener(new Observer())
                .build();
        InetSocketAddress target = endpoint;
        CircuitBreaker cb = breaker;
        initFailure = null;
        long started = ticker.nanoTime();
        ChannelFuture f;
        try {
            f = bootstrap.clone(loop)
                    .option(ChannelOption.CONNECT_TIMEOUT_MILLIS, (int) policy.connectTimeout().toMillis())
                    .handler(new ChannelInitializer<Channel>() {
                        @Override
                        protected void initChannel(Channel ch) throws Exception {
                            try {
                                pipeline.initChannel(ch, handler);
                                ChannelHandlerContext ctx = ch.pipeline().context(handler);
                                if (ctx == null) {
                                    throw new IllegalStateException("the pipeline initializer must add the "
                                            + "KeepaliveHandler it is given");
                                }
                                ch.pipeline().addAfter(ctx.name(), TRACKER, new Tracker(handler, target));
                                ch.pipeline().addLast(TAIL, new Tail());
                            } catch (Exception | Error e) {
                                initFailure = e;
                                throw e;
                            }
                        }
                    })
                    .connect(target);
        } catch (RuntimeException e) {
            connectFailed(target, cb, started, e);
            return;
        }
        f.addListener((ChannelFuture cf) -> {
            if (!cf.isSuccess()) {
                Throwable cause = initFailure != null ? initFailure : cf.cause();
                initFailure = null;
                connectFailed(target, cb, started, cause);
                return;
            }
            if (cb != null) {
                cb.onSuccess(ticker.nanoTime() - started, TimeUnit.NANOSECONDS);
            }
            Channel ch = cf.channel();
            if (state == ConnectionState.CLOSED) {
                ch.close();
                return;
            }
            channel = ch;
            keepalive = handler;
            connectedTo = target;
            if (!ch.isActive()) {
                onChannelClosed(ch, handler, target); // it died before the listener ran
                return;
            }
            runHook(ch, target);
        });
    }

    private void connectFailed(InetSocketAddress target, CircuitBreaker cb, long started, Throwable cause) {
        if (cb != null) {
            cb.onError(ticker.nanoTime() - started, TimeUnit.NANOSECONDS, cause);
        }
        lastCause = cause;
        emit(ConnectionEvent.Type.CONNECT_FAILED, target, null, cause);
        endpointIndex++;
        scheduleReconnect(cause);
    }

    private void runHook(Channel ch, InetSocketAddress target) {
        CompletionStage<?> hook;
        try {
            hook = onConnected.apply(ch);
        } catch (RuntimeException e) {
            hook = CompletableFuture.failedFuture(e);
        }
        ScheduledFuture<?> timeout = loop.schedule(() -> {
            if (channel == ch && state == ConnectionState.CONNECTING) {
                lastCause = new java.util.concurrent.TimeoutException("the on-connected hook did not complete "
                        + "within connectTimeout " + policy.connectTimeout());
                emit(ConnectionEvent.Type.CONNECT_FAILED, target, null, lastCause);
                ch.close();
            }
        }, policy.connectTimeout().toNanos(), TimeUnit.NANOSECONDS);
        hook.whenComplete((ignored, error) -> onLoop(() -> {
            timeout.cancel(false);
            if (channel != ch || state != ConnectionState.CONNECTING) {
                return;
            }
            if (error != null) {
                lastCause = error;
                emit(ConnectionEvent.Type.CONNECT_FAILED, target, null, error);
                ch.close();
                return;
            }
            connected(ch, target);
        }));
    }

    private void connected(Channel ch, InetSocketAddress target) {
        successes++;
        backoff = null;
        attemptInSequence = 0;
        lastCause = null;
        disconnectedNanos += ticker.nanoTime() - disconnectedSince;
        setState(ConnectionState.CONNECTED);
        emit(ConnectionEvent.Type.CONNECTED, target, null, null);
        // Queued (and re-queued unacknowledged) sends go out in order, before any new send.
        while (!queue.isEmpty() && ch.isActive()) {
            Pending p = queue.poll();
            queuedBytes -= p.size;
            write(ch, p);
        }
        ch.flush();
        if (queue.isEmpty() && expiryTask != null) {
            expiryTask.cancel(false);
            expiryTask = null;
        }
    }

    private void onChannelClosed(Channel ch, KeepaliveHandler handler, InetSocketAddress target) {
        if (channel != ch) {
            return;
        }
        channel = null;
        keepalive = null;
        KeepaliveStats s = handler.stats();
        pingsSentBefore += s.pingsSent();
        pongsReceivedBefore += s.pongsReceived();
        if (s.smoothedRttNanos() >= 0) {
            lastSmoothedRttNanos = s.smoothedRttNanos();
        }
        requeueUnacked();
        if (state == ConnectionState.CLOSED) {
            return;
        }
        boolean wasConnected = state == ConnectionState.CONNECTED;
        PeerDeadException dead = handler.deadCause();
        DeadPeerReason reason = dead == null ? null : dead.reason();
        if (reason != null) {
            deaths.merge(reason, 1L, Long::sum);
        }
        if (wasConnected) {
            disconnectedSince = ticker.nanoTime();
            emit(ConnectionEvent.Type.DISCONNECTED, target, reason, dead);
        }
        if (reason == DeadPeerReason.TOO_MANY_PINGS) {
            pingLessOften();
        }
        if (reason != null && reason != DeadPeerReason.CLOSED_BY_PEER && reason != DeadPeerReason.RESET_BY_PEER) {
            // The endpoint became unreachable (not merely restarted): fail over to the next one.
            endpointIndex++;
        }
        lastCause = dead != null ? dead : lastCause;
        if (reconnectAtOnce) {
            reconnectAtOnce = false;
            backoff = null;
            connect();
        } else {
            scheduleReconnect(lastCause);
        }
    }

    private void pingLessOften() {
        Duration doubled = settings.pingInterval().multipliedBy(2);
        try {
            settings = settings.toBuilder().pingInterval(doubled).build();
            log.warn("The peer closed the connection for too many pings: pinging every {} from now on", doubled);
        } catch (IllegalArgumentException e) {
            log.warn("The peer closed the connection for too many pings, but the ping interval cannot double: {}",
                    e.getMessage());
        }
    }

    private void scheduleReconnect(Throwable cause) {
        if (state == ConnectionState.CLOSED) {
            return;
        }
        if (backoff == null) {
            backoff = policy.backoff().newSequence(policy.random());
        }
        int done = attemptInSequence;
        if (policy.maxAttempts() > 0 && done >= policy.maxAttempts()) {
            giveUp("after " + done + " attempts (maxAttempts " + policy.maxAttempts() + ")", cause);
            return;
        }
        long disconnectedFor = ticker.nanoTime() - disconnectedSince;
        if (policy.giveUpAfter().isPresent() && disconnectedFor >= policy.giveUpAfter().get().toNanos()) {
            giveUp("after " + Duration.ofNanos(disconnectedFor).toMillis() + " ms disconnected (giveUpAfter "
                    + policy.giveUpAfter().get() + ")", cause);
            return;
        }
        Duration delay = backoff.next();
        setState(ConnectionState.BACKING_OFF);
        DeadPeerReason reason = cause instanceof PeerDeadException ? ((PeerDeadException) cause).reason() : null;
        emit(new ConnectionEvent(ConnectionEvent.Type.RECONNECTING, state, currentEndpoint(), attemptInSequence + 1,
                delay, reason, cause));
        reconnectTask = loop.schedule(this::connect, delay.toNanos(), TimeUnit.NANOSECONDS);
    }

    private void giveUp(String why, Throwable cause) {
        shutDown(ConnectionEvent.Type.GAVE_UP, new ClientClosedException("the client gave up " + why, cause));
    }

    private void shutDown(ConnectionEvent.Type type, ClientClosedException failure) {
        if (state == ConnectionState.CLOSED) {
            return;
        }
        setState(ConnectionState.CLOSED);
        cancelReconnect();
        if (expiryTask != null) {
            expiryTask.cancel(false);
            expiryTask = null;
        }
        Channel ch = channel;
        requeueUnacked();
        failAll(failure);
        emit(new ConnectionEvent(type, state, currentEndpoint(), attemptInSequence, Duration.ZERO, null,
                failure.getCause()));
        if (ch != null) {
            ch.close().addListener(f -> closeFuture.complete(null));
        } else {
            closeFuture.complete(null);
        }
    }

    private void cancelReconnect() {
        if (reconnectTask != null) {
            reconnectTask.cancel(false);
            reconnectTask = null;
        }
    }

    // ---- sending ---------------------------------------------------------------------------------------------

    private void doSend(Object msg, CompletableFuture<Void> future) {
        if (state == ConnectionState.CLOSED) {
            ReferenceCountUtil.release(msg);
            future.completeExceptionally(new ClientClosedException("the client is closed", lastCause));
            return;
        }
        Pending p = new Pending(msg, future, Math.max(0, sizer.applyAsLong(msg)), ticker.nanoTime());
        Channel ch = channel;
        if (state == ConnectionState.CONNECTED && ch != null && ch.isActive()) {
            write(ch, p);
            ch.flush();
            return;
        }
        if (!offline.queues()) {
            ReferenceCountUtil.release(msg);
            future.completeExceptionally(new NotConnectedException("not connected (state " + state + ", "
                    + attemptInSequence + " attempts so far); the client fails sends fast while disconnected",
                    lastCause));
            return;
        }
        enqueue(p);
    }

    private void enqueue(Pending p) {
        int messages = queue.size() + unacked.size();
        if (messages + 1 > offline.maxMessages()) {
            fail(p, new WriteBufferFullException(WriteBufferFullException.Bound.MESSAGES, "the send queue holds "
                    + messages + " messages, the maximum (maxMessages " + offline.maxMessages() + ")"));
            return;
        }
        long bytes = queuedBytes + unackedBytes();
        if (bytes + p.size > offline.maxBytes()) {
            fail(p, new WriteBufferFullException(WriteBufferFullException.Bound.BYTES, "the send queue holds "
                    + bytes + " bytes and this message has " + p.size + " (maxBytes " + offline.maxBytes() + ")"));
            return;
        }
        queue.add(p);
        queuedBytes += p.size;
        armExpiry();
    }

    private long unackedBytes() {
        long sum = 0;
        for (Pending p : unacked.values()) {
            sum += p.size;
        }
        return sum;
    }

    private void write(Channel ch, Pending p) {
        if (ackId == null) {
            ch.write(p.msg).addListener(f -> {
                if (f.isSuccess()) {
                    p.future.complete(null);
                } else {
                    p.future.completeExceptionally(f.cause());
                }
            });
            return;
        }
        long id = messageId.applyAsLong(p.msg);
        if (id < 0) {
            fail(p, new IllegalArgumentException("acknowledgements are on, but the message has no id: " + p.msg));
            return;
        }
        p.id = id;
        Pending previous = unacked.put(id, p);
        if (previous != null && previous != p) {
            fail(previous, new IllegalStateException("a newer message was sent with the same id " + id));
        }
        // Keep the original for a re-send; write a duplicate that the pipeline may consume and release.
        ch.write(duplicateForWrite(p.msg));
    }

    private static Object duplicateForWrite(Object msg) {
        if (msg instanceof ByteBuf) {
            return ((ByteBuf) msg).retainedDuplicate();
        }
        if (msg instanceof ByteBufHolder) {
            return ((ByteBufHolder) msg).retainedDuplicate();
        }
        return ReferenceCountUtil.retain(msg);
    }

    private void onAck(long id) {
        Pending p = unacked.remove(id);
        if (p != null) {
            ReferenceCountUtil.release(p.msg);
            p.future.complete(null);
        }
    }

    private void requeueUnacked() {
        if (unacked.isEmpty()) {
            return;
        }
        List<Pending> inOrder = new ArrayList<>(unacked.values());
        unacked.clear();
        long now = ticker.nanoTime();
        for (int i = inOrder.size() - 1; i >= 0; i--) {
            Pending p = inOrder.get(i);
            p.enqueuedAt = now;
            queue.addFirst(p);
            queuedBytes += p.size;
        }
        armExpiry();
    }

    private void armExpiry() {
        if (expiryTask != null || queue.isEmpty() || !offline.queues()) {
            return;
        }
        long due = queue.peek().enqueuedAt + offline.maxQueueTime().toNanos() - ticker.nanoTime();
        expiryTask = loop.schedule(this::expire, Math.max(0, due), TimeUnit.NANOSECONDS);
    }

    private void expire() {
        expiryTask = null;
        if (state == ConnectionState.CONNECTED) {
            return;
        }
        long now = ticker.nanoTime();
        long max = offline.maxQueueTime().toNanos();
        for (int i = queue.size(); i > 0 && !queue.isEmpty() && now - queue.peek().enqueuedAt >= max; i--) {
            Pending p = queue.poll();
            queuedBytes -= p.size;
            fail(p, new WriteExpiredException("the message waited " + Duration.ofNanos(now - p.enqueuedAt).toMillis()
                    + " ms for a connection, longer than maxQueueTime " + offline.maxQueueTime()));
        }
        armExpiry();
    }

    private void failAll(Throwable cause) {
        for (Pending p = queue.poll(); p != null; p = queue.poll()) {
            fail(p, cause);
        }
        queuedBytes = 0;
        for (Iterator<Pending> it = unacked.values().iterator(); it.hasNext(); ) {
            Pending p = it.next();
            it.remove();
            fail(p, cause);
        }
    }

    private static void fail(Pending p, Throwable cause) {
        ReferenceCountUtil.release(p.msg);
        p.future.completeExceptionally(cause);
    }

    // ---- events and stats ------------------------------------------------------------------------------------

    private void setState(ConnectionState next) {
        state = next;
    }

    private InetSocketAddress currentEndpoint() {
        return connectedTo != null ? connectedTo : endpoints.get(endpointIndex % endpoints.size());
    }

    private void emit(ConnectionEvent.Type type, SocketAddress remote, DeadPeerReason reason, Throwable cause) {
        emit(new ConnectionEvent(type, state, remote, attemptInSequence, Duration.ZERO, reason, cause));
    }

    /**
     * Logs {@code e}: a lost connection, a connection made, giving up and closing at INFO (a few lines per outage);
     * each attempt and its failure at DEBUG, so a storm of thousands of clients retrying does not flood the log.
     */
    private void emit(ConnectionEvent e) {
        switch (e.type()) {
            case CONNECT_FAILED:
                if (log.isDebugEnabled()) {
                    log.debug("Connecting to {} failed: {}", e.remote(), String.valueOf(e.cause()));
                }
                break;
            case RECONNECTING:
                if (log.isDebugEnabled()) {
                    log.debug("{}: reconnecting in {} ms (attempt {}){}", e.remote(), e.delay().toMillis(),
                            e.attempt(), e.cause() == null ? "" : " after " + e.cause());
                }
                break;
            case CONNECTING:
                log.debug("{}: {}", e.remote(), e.type());
                break;
            case DISCONNECTED:
                log.info("{}: connection lost: {}", e.remote(), e.reason() == null ? "closed locally" : e.reason());
                break;
            default:
                log.info("{}: {}", e.remote(), e.type());
        }
        try {
            listener.onEvent(e);
        } catch (RuntimeException ex) {
            log.warn("ConnectionListener threw", ex);
        }
    }

    private ClientStats snapshot() {
        long pings = pingsSentBefore;
        long pongs = pongsReceivedBefore;
        long smoothed = lastSmoothedRttNanos;
        if (keepalive != null) {
            KeepaliveStats s = keepalive.stats();
            pings += s.pingsSent();
            pongs += s.pongsReceived();
            if (s.smoothedRttNanos() >= 0) {
                smoothed = s.smoothedRttNanos();
            }
        }
        long disconnected = disconnectedNanos + (state == ConnectionState.CONNECTED
                ? 0 : ticker.nanoTime() - disconnectedSince);
        return new ClientStats(state, pings, pongs, nanos(lastRttNanos), nanos(smoothed), nanos(maxRttNanos),
                new EnumMap<>(deaths), attempts, successes, Duration.ofNanos(disconnected),
                queue.size() + unacked.size(), queuedBytes + unackedBytes());
    }

    private static Duration nanos(long n) {
        return n < 0 ? null : Duration.ofNanos(n);
    }

    private void onLoop(Runnable task) {
        if (loop.inEventLoop()) {
            task.run();
        } else {
            loop.execute(task);
        }
    }

    // ---- pipeline handlers -----------------------------------------------------------------------------------

    /**
     * Sits right after the KeepaliveHandler: watches inbound messages for acknowledgements, and learns of the
     * connection's end after the handler has classified it.
     */
    private final class Tracker extends ChannelInboundHandlerAdapter {
        private final KeepaliveHandler handler;
        private final InetSocketAddress target;

        Tracker(KeepaliveHandler handler, InetSocketAddress target) {
            this.handler = handler;
            this.target = target;
        }

        @Override
        public void channelInactive(ChannelHandlerContext ctx) throws Exception {
            onChannelClosed(ctx.channel(), handler, target);
            super.channelInactive(ctx);
        }

        @Override
        public void channelRead(ChannelHandlerContext ctx, Object msg) {
            if (ackId != null) {
                long id = ackId.applyAsLong(msg);
                if (id >= 0) {
                    onAck(id);
                }
            }
            ctx.fireChannelRead(msg);
        }
    }

    /** Ends the pipeline: dead-peer exceptions were handled by the client; others close the connection. */
    private static final class Tail extends ChannelInboundHandlerAdapter {
        @Override
        public void exceptionCaught(ChannelHandlerContext ctx, Throwable cause) {
            if (cause instanceof PeerDeadException) {
                log.debug("{}", cause.getMessage());
            } else {
                log.warn("Closing the connection to {} after an unhandled exception", ctx.channel().remoteAddress(),
                        cause);
                ctx.close();
            }
        }

        @Override
        public void channelRead(ChannelHandlerContext ctx, Object msg) {
            ReferenceCountUtil.release(msg);
        }
    }

    /** Collects round trips across connections, and passes keepalive events on to the application. */
    private final class Observer implements KeepaliveListener {
        @Override
        public void onPingSent(SocketAddress remote, long pingId) {
            keepaliveListener.onPingSent(remote, pingId);
        }

        @Override
        public void onPongReceived(SocketAddress remote, long pingId, Duration rtt) {
            long n = rtt.toNanos();
            lastRttNanos = n;
            maxRttNanos = Math.max(maxRttNanos, n);
            keepaliveListener.onPongReceived(remote, pingId, rtt);
        }

        @Override
        public void onPingMissed(SocketAddress remote, long pingId, int missed) {
            keepaliveListener.onPingMissed(remote, pingId, missed);
        }

        @Override
        public void onLocalStall(SocketAddress remote, Duration lateness) {
            keepaliveListener.onLocalStall(remote, lateness);
        }

        @Override
        public void onPeerDead(PeerDeadException cause) {
            keepaliveListener.onPeerDead(cause);
        }

        @Override
        public void onPeerRetired(SocketAddress remote, String how) {
            keepaliveListener.onPeerRetired(remote, how);
        }
    }

    private static final class Pending {
        final Object msg;
        final CompletableFuture<Void> future;
        final long size;
        long enqueuedAt;
        long id = -1;

        Pending(Object msg, CompletableFuture<Void> future, long size, long enqueuedAt) {
            this.msg = msg;
            this.future = future;
            this.size = size;
            this.enqueuedAt = enqueuedAt;
        }
    }

    /** Builds a {@link ReconnectingClient}. */
    public static final class Builder {
        private final Bootstrap bootstrap;
        private final List<InetSocketAddress> endpoints = new ArrayList<>();
        private PipelineInitializer pipeline;
        private KeepaliveSettings settings = KeepaliveSettings.defaults();
        private KeepaliveProbe probe = KeepaliveProbe.binary();
        private KeepaliveListener keepaliveListener = KeepaliveListener.NOOP;
        private ReconnectPolicy policy = ReconnectPolicy.defaults();
        private DisconnectedWrites offline = DisconnectedWrites.failFast();
        private Function<Channel, CompletionStage<?>> onConnected = ch -> CompletableFuture.completedFuture(null);
        private ToLongFunction<Object> messageId;
        private ToLongFunction<Object> ackId;
        private ToLongFunction<Object> sizer = Builder::defaultSize;
        private ConnectionListener listener = ConnectionListener.NOOP;
        private Ticker ticker = Ticker.system();

        private Builder(Bootstrap bootstrap) {
            this.bootstrap = Objects.requireNonNull(bootstrap, "bootstrap");
            if (bootstrap.config().group() == null) {
                throw new IllegalArgumentException("bootstrap must have its event loop group set");
            }
        }

        /** The endpoints, tried in order and rotated on failure. Unresolved addresses are resolved per attempt. */
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

        /** Receives the keepalive events of every connection. */
        public Builder keepaliveListener(KeepaliveListener listener) {
            this.keepaliveListener = Objects.requireNonNull(listener, "keepaliveListener");
            return this;
        }

        /** When and how to reconnect. Default {@link ReconnectPolicy#defaults()}. */
        public Builder policy(ReconnectPolicy policy) {
            this.policy = Objects.requireNonNull(policy, "policy");
            return this;
        }

        /** What sends do while disconnected. Default {@link DisconnectedWrites#failFast()}. */
        public Builder whileDisconnected(DisconnectedWrites offline) {
            this.offline = Objects.requireNonNull(offline, "whileDisconnected");
            return this;
        }

        /**
         * Runs on each new connection (login, resubscribe) before any queued send is written; the connection
         * counts as connected when the returned stage completes. A failed stage, or one that takes longer than the
         * connect timeout, drops the connection and reconnects.
         */
        public Builder onConnected(Function<Channel, CompletionStage<?>> hook) {
            this.onConnected = Objects.requireNonNull(hook, "onConnected");
            return this;
        }

        /**
         * Turns on at-least-once delivery: {@code messageId} gives each outbound message's id, {@code ackId} the
         * id acknowledged by an inbound message (or -1 when it is no acknowledgement). Unacknowledged messages are
         * re-sent after reconnecting, in their original order; a send's future completes when it is acknowledged.
         */
        public Builder acknowledgements(ToLongFunction<Object> messageId, ToLongFunction<Object> ackId) {
            this.messageId = Objects.requireNonNull(messageId, "messageId");
            this.ackId = Objects.requireNonNull(ackId, "ackId");
            return this;
        }

        /** The size of a message in bytes, for the queue's byte bound. Default: buffers' readable bytes, text length. */
        public Builder messageSize(ToLongFunction<Object> sizer) {
            this.sizer = Objects.requireNonNull(sizer, "messageSize");
            return this;
        }

        /** Receives state changes and attempts. */
        public Builder listener(ConnectionListener listener) {
            this.listener = Objects.requireNonNull(listener, "listener");
            return this;
        }

        /** The time source for queue deadlines and disconnected time. */
        public Builder ticker(Ticker ticker) {
            this.ticker = Objects.requireNonNull(ticker, "ticker");
            return this;
        }

        public ReconnectingClient build() {
            if (endpoints.isEmpty()) {
                throw new IllegalStateException("endpoints are required");
            }
            if (pipeline == null) {
                throw new IllegalStateException("a pipeline initializer is required");
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
