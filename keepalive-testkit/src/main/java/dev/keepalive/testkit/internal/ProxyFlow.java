package dev.keepalive.testkit.internal;

import dev.keepalive.testkit.AwaitTimeoutException;
import dev.keepalive.testkit.Direction;
import dev.keepalive.testkit.Fault;
import dev.keepalive.testkit.Flow;
import dev.keepalive.testkit.FlowCounters;
import dev.keepalive.testkit.FlowState;
import io.netty.bootstrap.Bootstrap;
import io.netty.buffer.ByteBuf;
import io.netty.channel.Channel;
import io.netty.channel.ChannelFuture;
import io.netty.channel.ChannelOption;
import io.netty.channel.EventLoop;
import io.netty.channel.socket.DuplexChannel;
import io.netty.channel.socket.nio.NioSocketChannel;
import io.netty.util.ReferenceCountUtil;
import io.netty.util.concurrent.Future;
import io.netty.util.concurrent.ScheduledFuture;
import java.net.InetSocketAddress;
import java.time.Duration;
import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.Optional;
import java.util.concurrent.RejectedExecutionException;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicLong;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * One proxied connection: the accepted client socket, the proxy's socket to the server, and a {@link Pipe} per
 * direction that applies the faults.
 *
 * <p>Threading: every field without {@code volatile} or an atomic is owned by the flow's event loop (both sockets
 * are registered on the same loop) and touched only there. Public methods hop onto the loop.
 */
public final class ProxyFlow implements Flow {
    private static final Logger LOG = LoggerFactory.getLogger(ProxyFlow.class);

    /** Bytes waiting in a pipe above which the proxy stops reading from that pipe's source. */
    static final long HIGH_WATER_BYTES = 256 * 1024;
    /** How long a control call waits for the event loop. */
    static final Duration CONTROL_TIMEOUT = Duration.ofSeconds(10);
    /** How late a bandwidth timer may fire and still keep its credit (so timer jitter does not lower the rate). */
    private static final long RATE_SLACK_NANOS = TimeUnit.MILLISECONDS.toNanos(20);

    /** Which of the flow's two sockets. */
    enum Side {
        CLIENT,
        SERVER
    }

    /** How a source ended: a FIN is passed on as a half close, anything else as a reset. */
    private enum End {
        FIN,
        RST
    }

    /** Lifecycle; {@link #state()} adds BLACK_HOLED on top of OPEN. */
    private enum Lifecycle {
        CONNECTING,
        OPEN,
        FORGOTTEN,
        RESET,
        CLOSED
    }

    private final int id;
    private final Channel client;
    private final EventLoop loop;
    /** Monotonic time; Netty 4.1 has no executor ticker. */
    private final Clock ticker = System::nanoTime;
    private final FlowTotals proxyTotals;
    private final InetSocketAddress clientAddress;
    private final Pipe c2s;
    private final Pipe s2c;
    private final Object stateMonitor = new Object();
    private final InetSocketAddress target;
    private final Duration connectTimeout;

    private Channel server;
    private boolean clientClosedByProxy;
    private boolean serverClosedByProxy;
    private boolean clientInactive;
    private boolean serverInactive;
    private long idleTimeoutNanos;
    private long lastActivity;
    private ScheduledFuture<?> idleTimer;

    private volatile Lifecycle lifecycle = Lifecycle.CONNECTING;
    private volatile InetSocketAddress upstreamLocal;
    private volatile boolean clientClosed;
    private volatile boolean serverClosed;
    private volatile List<Fault> activeFaults = List.of();

    /**
     * Creates the flow and installs its handler on the client channel. Must be called on the client channel's event
     * loop, before the channel is active.
     *
     * @param id the flow's number
     * @param client the accepted client channel (autoRead off, half closure allowed)
     * @param proxyTotals the proxy's aggregate counters
     * @param initialFaults lasting faults to apply at once
     * @param idleTimeout forget the flow after this much idle time, zero for never
     * @param target the server to connect to once the client channel is active
     * @param connectTimeout how long to try connecting to the server
     */
    public ProxyFlow(int id, Channel client, FlowTotals proxyTotals, List<Fault> initialFaults, Duration idleTimeout,
            InetSocketAddress target, Duration connectTimeout) {
        this.id = id;
        this.target = target;
        this.connectTimeout = connectTimeout;
        this.client = client;
        this.loop = client.eventLoop();
        this.proxyTotals = proxyTotals;
        this.clientAddress = (InetSocketAddress) client.remoteAddress();
        this.c2s = new Pipe(Direction.CLIENT_TO_SERVER);
        this.s2c = new Pipe(Direction.SERVER_TO_CLIENT);
        c2s.source = client;
        s2c.sink = client;
        this.lastActivity = ticker.nanoTime();
        client.pipeline().addLast(new SideHandler(this, Side.CLIENT));
        for (Fault f : initialFaults) {
            apply(f);
        }
        setIdleTimeoutOnLoop(idleTimeout.toNanos());
    }

    /** Starts connecting to the server. Called on the loop. */
    private void connect() {
        Bootstrap b = new Bootstrap()
                .group(loop)
                .channel(NioSocketChannel.class)
                .option(ChannelOption.AUTO_READ, false)
                .option(ChannelOption.ALLOW_HALF_CLOSURE, true)
                .option(ChannelOption.TCP_NODELAY, true)
                .option(ChannelOption.CONNECT_TIMEOUT_MILLIS, (int) Math.min(Integer.MAX_VALUE, connectTimeout.toMillis()))
                .handler(new SideHandler(this, Side.SERVER));
        b.connect(target).addListener((ChannelFuture f) -> onConnected(f, target));
    }

    private void onConnected(ChannelFuture f, InetSocketAddress target) {
        if (!f.isSuccess()) {
            LOG.debug("flow {}: connecting to {} failed, resetting the client", id, target, f.cause());
            serverClosed = true;
            serverInactive = true;
            if (lifecycle == Lifecycle.CONNECTING || lifecycle == Lifecycle.OPEN) {
                lifecycle = Lifecycle.CLOSED;
            }
            resetChannel(client, Side.CLIENT);
            stateChanged();
            return;
        }
        server = f.channel();
        upstreamLocal = (InetSocketAddress) server.localAddress();
        c2s.sink = server;
        s2c.source = server;
        switch (lifecycle) {
            case CONNECTING:
                lifecycle = Lifecycle.OPEN;
                break;
            case RESET:
                resetChannel(server, Side.SERVER);
                return;
            case CLOSED:
                closeChannel(server, Side.SERVER);
                return;
            default:
                break;
        }
        if (clientInactive) {
            closeChannel(server, Side.SERVER);
            return;
        }
        LOG.debug("flow {}: {} -> {} via {}", id, clientAddress, target, upstreamLocal);
        stateChanged();
        c2s.updateAutoRead();
        s2c.updateAutoRead();
    }

    // ---------------------------------------------------------------- events from SideHandler (on the loop)

    void clientActive() {
        if (lifecycle == Lifecycle.CONNECTING || lifecycle == Lifecycle.FORGOTTEN) {
            connect();
        }
    }

    void onRead(Side side, Object msg) {
        if (!(msg instanceof ByteBuf)) {
            ReferenceCountUtil.release(msg);
            return;
        }
        touch();
        pipeFrom(side).accept((ByteBuf) msg);
    }

    void onInputShutdown(Side side) {
        touch();
        markClosedByPeer(side);
        pipeFrom(side).sourceEnded(End.FIN);
    }

    void onWritabilityChanged(Side side) {
        Pipe into = pipeInto(side);
        into.drain();
    }

    void onError(Side side, Throwable cause) {
        LOG.debug("flow {}: {} socket failed: {}", id, side, cause.toString());
    }

    void onInactive(Side side) {
        boolean byProxy;
        if (side == Side.CLIENT) {
            clientInactive = true;
            byProxy = clientClosedByProxy;
        } else {
            serverInactive = true;
            byProxy = serverClosedByProxy;
        }
        if (!byProxy) {
            markClosedByPeer(side);
        }
        Pipe into = pipeInto(side);
        into.sinkDead = true;
        into.discardQueue();
        if (!byProxy) {
            pipeFrom(side).sourceEnded(End.RST);
        }
        if (clientInactive && (server == null || serverInactive)) {
            finish();
        } else {
            stateChanged();
        }
    }

    private void markClosedByPeer(Side side) {
        if (side == Side.CLIENT) {
            clientClosed = true;
        } else {
            serverClosed = true;
        }
    }

    private void finish() {
        if (lifecycle != Lifecycle.RESET) {
            lifecycle = Lifecycle.CLOSED;
        }
        cancelIdleTimer();
        c2s.discardQueue();
        s2c.discardQueue();
        c2s.cancelTimer();
        s2c.cancelTimer();
        stateChanged();
    }

    private void touch() {
        if (!dropsAll()) {
            lastActivity = ticker.nanoTime();
        }
    }

    private boolean dropsAll() {
        Lifecycle l = lifecycle;
        return l == Lifecycle.FORGOTTEN || l == Lifecycle.RESET || l == Lifecycle.CLOSED;
    }

    private Pipe pipeFrom(Side side) {
        return side == Side.CLIENT ? c2s : s2c;
    }

    private Pipe pipeInto(Side side) {
        return side == Side.CLIENT ? s2c : c2s;
    }

    // ---------------------------------------------------------------- faults (on the loop)

    private void apply(Fault fault) {
        LOG.debug("flow {}: inject {}", id, fault);
        switch (fault.kind()) {
            case BLACK_HOLE:
                for (Pipe p : pipes(fault.direction())) {
                    p.blackHoled = true;
                    p.discardQueue();
                    p.updateAutoRead();
                }
                break;
            case LATENCY:
                for (Pipe p : pipes(fault.direction())) {
                    p.latencyNanos = fault.delay().toNanos();
                }
                break;
            case BANDWIDTH:
                for (Pipe p : pipes(fault.direction())) {
                    p.bytesPerSecond = fault.bytesPerSecond();
                    p.nextSendNanos = ticker.nanoTime();
                    p.drain();
                }
                break;
            case PAUSE:
                for (Pipe p : pipes(fault.direction())) {
                    p.paused = true;
                    p.updateAutoRead();
                }
                break;
            case FORGET:
                forgetOnLoop();
                break;
            case RESET:
                resetOnLoop();
                break;
            case CLOSE:
                close0();
                break;
            default:
                throw new IllegalStateException("unknown fault " + fault);
        }
        if (fault.isLasting()) {
            List<Fault> next = new ArrayList<>(activeFaults);
            if (fault.kind() == Fault.Kind.LATENCY && fault.delay().isZero()) {
                next.removeIf(f -> f.kind() == Fault.Kind.LATENCY && fault.direction().includes(f.direction()));
            } else {
                next.add(fault);
            }
            activeFaults = List.copyOf(next);
        }
        stateChanged();
    }

    private void forgetOnLoop() {
        if (lifecycle != Lifecycle.OPEN && lifecycle != Lifecycle.CONNECTING) {
            return;
        }
        lifecycle = Lifecycle.FORGOTTEN;
        LOG.debug("flow {}: forgotten", id);
        cancelIdleTimer();
        for (Pipe p : pipes(Direction.BOTH)) {
            p.paused = false;
            p.discardQueue();
            p.updateAutoRead();
        }
    }

    private void resetOnLoop() {
        if (lifecycle == Lifecycle.RESET || lifecycle == Lifecycle.CLOSED) {
            return;
        }
        lifecycle = Lifecycle.RESET;
        cancelIdleTimer();
        c2s.discardQueue();
        s2c.discardQueue();
        resetChannel(client, Side.CLIENT);
        if (server != null) {
            resetChannel(server, Side.SERVER);
        }
    }

    private void close0() {
        if (lifecycle == Lifecycle.RESET || lifecycle == Lifecycle.CLOSED) {
            return;
        }
        lifecycle = Lifecycle.CLOSED;
        cancelIdleTimer();
        c2s.discardQueue();
        s2c.discardQueue();
        closeChannel(client, Side.CLIENT);
        if (server != null) {
            closeChannel(server, Side.SERVER);
        }
    }

    private void restoreOnLoop(boolean onlyPause) {
        for (Pipe p : pipes(Direction.BOTH)) {
            p.paused = false;
            if (!onlyPause) {
                p.blackHoled = false;
                p.latencyNanos = 0;
                p.bytesPerSecond = 0;
            }
            p.maybeQueueEnd();
            p.drain();
            p.updateAutoRead();
        }
        List<Fault> next = new ArrayList<>(activeFaults);
        if (onlyPause) {
            next.removeIf(f -> f.kind() == Fault.Kind.PAUSE);
        } else {
            next.clear();
        }
        activeFaults = List.copyOf(next);
        stateChanged();
    }

    private List<Pipe> pipes(Direction d) {
        List<Pipe> list = new ArrayList<>(2);
        if (d.includes(Direction.CLIENT_TO_SERVER)) {
            list.add(c2s);
        }
        if (d.includes(Direction.SERVER_TO_CLIENT)) {
            list.add(s2c);
        }
        return list;
    }

    private void resetChannel(Channel ch, Side side) {
        markClosedByProxy(side);
        if (ch.isOpen()) {
            try {
                ch.config().setOption(ChannelOption.SO_LINGER, 0);
            } catch (RuntimeException e) {
                LOG.debug("flow {}: cannot set SO_LINGER 0 on the {} socket", id, side, e);
            }
            ch.close();
        }
    }

    private void closeChannel(Channel ch, Side side) {
        markClosedByProxy(side);
        ch.close();
    }

    private void markClosedByProxy(Side side) {
        if (side == Side.CLIENT) {
            clientClosedByProxy = true;
        } else {
            serverClosedByProxy = true;
        }
    }

    /**
     * Sets the stateful-firewall idle timeout. Called on any thread.
     *
     * @param timeout zero for never
     */
    public void setIdleTimeout(Duration timeout) {
        long nanos = timeout.toNanos();
        runOnLoop(() -> setIdleTimeoutOnLoop(nanos));
    }

    private void setIdleTimeoutOnLoop(long nanos) {
        idleTimeoutNanos = nanos;
        cancelIdleTimer();
        if (nanos > 0 && !dropsAll()) {
            scheduleIdleCheck(lastActivity + nanos - ticker.nanoTime());
        }
    }

    private void scheduleIdleCheck(long delayNanos) {
        idleTimer = loop.schedule(this::idleCheck, Math.max(0, delayNanos), TimeUnit.NANOSECONDS);
    }

    private void idleCheck() {
        idleTimer = null;
        if (idleTimeoutNanos <= 0 || dropsAll()) {
            return;
        }
        long remaining = lastActivity + idleTimeoutNanos - ticker.nanoTime();
        if (remaining > 0) {
            scheduleIdleCheck(remaining);
        } else {
            forgetOnLoop();
            stateChanged();
        }
    }

    private void cancelIdleTimer() {
        if (idleTimer != null) {
            idleTimer.cancel(false);
            idleTimer = null;
        }
    }

    // ---------------------------------------------------------------- Flow (any thread)

    @Override
    public int id() {
        return id;
    }

    @Override
    public InetSocketAddress clientAddress() {
        return clientAddress;
    }

    @Override
    public Optional<InetSocketAddress> upstreamLocalAddress() {
        return Optional.ofNullable(upstreamLocal);
    }

    @Override
    public FlowState state() {
        switch (lifecycle) {
            case CONNECTING:
                return FlowState.CONNECTING;
            case OPEN:
                return c2s.blackHoled || s2c.blackHoled ? FlowState.BLACK_HOLED : FlowState.OPEN;
            case FORGOTTEN:
                return FlowState.FORGOTTEN;
            case RESET:
                return FlowState.RESET;
            default:
                return FlowState.CLOSED;
        }
    }

    @Override
    public FlowCounters counters() {
        return new FlowCounters(c2s.forwarded.get(), s2c.forwarded.get(), c2s.dropped.get(), s2c.dropped.get());
    }

    @Override
    public List<Fault> activeFaults() {
        return activeFaults;
    }

    @Override
    public boolean clientClosed() {
        return clientClosed;
    }

    @Override
    public boolean serverClosed() {
        return serverClosed;
    }

    @Override
    public void inject(Fault fault) {
        Objects.requireNonNull(fault, "fault");
        runOnLoop(() -> apply(fault));
    }

    /** Applies {@code fault} to every flow of {@code flows} at once: one task per event loop, all awaited. */
    public static void injectTogether(List<ProxyFlow> flows, Fault fault) {
        Map<EventLoop, List<ProxyFlow>> byLoop = new LinkedHashMap<>();
        for (ProxyFlow f : flows) {
            byLoop.computeIfAbsent(f.loop, l -> new ArrayList<>()).add(f);
        }
        List<Future<?>> pending = new ArrayList<>();
        for (Map.Entry<EventLoop, List<ProxyFlow>> e : byLoop.entrySet()) {
            EventLoop loop = e.getKey();
            List<ProxyFlow> onLoop = e.getValue();
            Runnable task = () -> onLoop.forEach(f -> f.apply(fault));
            if (loop.inEventLoop()) {
                task.run();
            } else if (!loop.isShuttingDown()) {
                try {
                    pending.add(loop.submit(task));
                } catch (RejectedExecutionException ignored) {
                    // Shutting down: its flows are closing anyway.
                }
            }
        }
        for (Future<?> f : pending) {
            if (!f.awaitUninterruptibly(CONTROL_TIMEOUT.toMillis())) {
                throw new AwaitTimeoutException("the proxy's event loop did not run the fault " + fault,
                        CONTROL_TIMEOUT, flows.size() + " flows");
            }
        }
    }

    @Override
    public void restore() {
        runOnLoop(() -> restoreOnLoop(false));
    }

    @Override
    public void resume() {
        runOnLoop(() -> restoreOnLoop(true));
    }

    @Override
    public Flow awaitState(FlowState expected, Duration timeout) {
        Objects.requireNonNull(expected, "expected");
        long deadline = System.nanoTime() + timeout.toNanos();
        synchronized (stateMonitor) {
            // Bounded: each wait is at most 20 ms and the loop ends at the deadline.
            while (state() != expected) {
                long left = deadline - System.nanoTime();
                if (left <= 0) {
                    throw new AwaitTimeoutException("flow #" + id + " did not reach " + expected, timeout,
                            "state is " + state());
                }
                try {
                    stateMonitor.wait(Math.max(1, Math.min(20, TimeUnit.NANOSECONDS.toMillis(left))));
                } catch (InterruptedException e) {
                    Thread.currentThread().interrupt();
                    throw new AwaitTimeoutException("flow #" + id + " did not reach " + expected
                            + " (interrupted)", timeout, "state is " + state());
                }
            }
        }
        return this;
    }

    private void stateChanged() {
        synchronized (stateMonitor) {
            stateMonitor.notifyAll();
        }
    }

    /**
     * Runs {@code task} on the flow's event loop and waits for it. Does nothing once the loop is shut down (the
     * proxy is closed, so every flow is closed).
     */
    void runOnLoop(Runnable task) {
        if (loop.inEventLoop()) {
            task.run();
            return;
        }
        if (loop.isShuttingDown()) {
            return;
        }
        Future<?> f;
        try {
            f = loop.submit(task);
        } catch (RejectedExecutionException e) {
            return;
        }
        if (!f.awaitUninterruptibly(CONTROL_TIMEOUT.toMillis())) {
            throw new AwaitTimeoutException("flow #" + id + ": the event loop did not run the control", CONTROL_TIMEOUT,
                    "is the loop blocked?");
        }
        if (!f.isSuccess() && !(f.cause() instanceof RejectedExecutionException) && !f.isCancelled()) {
            Throwable c = f.cause();
            if (c instanceof RuntimeException) {
                throw (RuntimeException) c;
            }
            if (c instanceof Error) {
                throw (Error) c;
            }
            throw new IllegalStateException(c);
        }
    }

    /** Closes both sockets without fuss; used when the proxy shuts down. Called on any thread. */
    public void closeQuietly() {
        runOnLoop(this::close0);
    }

    @Override
    public String toString() {
        return "Flow#" + id + "[" + clientAddress + ", " + state() + ", " + counters() + "]";
    }

    // ---------------------------------------------------------------- one direction

    /** A queued chunk of bytes, or the end of the source (FIN or RST) to pass on. */
    private static final class Item {
        final ByteBuf buf;
        final End end;
        final long due;

        Item(ByteBuf buf, End end, long due) {
            this.buf = buf;
            this.end = end;
            this.due = due;
        }
    }

    /** One direction: reads from {@code source}, applies the faults, writes to {@code sink}. Loop-owned. */
    private final class Pipe {
        final Direction direction;
        final ArrayDeque<Item> queue = new ArrayDeque<>();
        final AtomicLong forwarded = new AtomicLong();
        final AtomicLong dropped = new AtomicLong();
        Channel source;
        Channel sink;
        long queuedBytes;
        volatile boolean blackHoled;
        boolean paused;
        long latencyNanos;
        long bytesPerSecond;
        long nextSendNanos;
        ScheduledFuture<?> timer;
        long timerDeadline;
        End sourceEnd;
        boolean endQueued;
        boolean finDelivered;
        boolean sinkDead;

        Pipe(Direction direction) {
            this.direction = direction;
        }

        void accept(ByteBuf buf) {
            int n = buf.readableBytes();
            if (n == 0) {
                buf.release();
                return;
            }
            if (dropsAll() || blackHoled || sinkDead || sink == null) {
                buf.release();
                drop(n);
                return;
            }
            queue.add(new Item(buf, null, ticker.nanoTime() + latencyNanos));
            queuedBytes += n;
            drain();
        }

        void sourceEnded(End end) {
            if (sourceEnd != null) {
                return;
            }
            sourceEnd = end;
            maybeQueueEnd();
        }

        void maybeQueueEnd() {
            if (sourceEnd == null || endQueued || dropsAll() || blackHoled || sinkDead || sink == null) {
                return;
            }
            endQueued = true;
            queue.add(new Item(null, sourceEnd, ticker.nanoTime() + latencyNanos));
            drain();
        }

        void drain() {
            boolean wrote = false;
            // Bounded by the queue: every iteration removes an item or bytes from the head, or leaves the loop.
            while (!queue.isEmpty()) {
                if (sink == null || sinkDead) {
                    discardQueue();
                    break;
                }
                if (!sink.isWritable()) {
                    break;
                }
                Item head = queue.peek();
                long now = ticker.nanoTime();
                if (head.due - now > 0) {
                    schedule(head.due);
                    break;
                }
                if (head.end != null) {
                    queue.poll();
                    if (wrote) {
                        sink.flush();
                        wrote = false;
                    }
                    deliverEnd(head.end);
                    continue;
                }
                int readable = head.buf.readableBytes();
                int n = readable;
                if (bytesPerSecond > 0) {
                    if (nextSendNanos - now > 0) {
                        schedule(nextSendNanos);
                        break;
                    }
                    n = (int) Math.min(readable, chunkBytes());
                    long base = nextSendNanos - (now - RATE_SLACK_NANOS) < 0 ? now : nextSendNanos;
                    nextSendNanos = base + n * 1_000_000_000L / bytesPerSecond;
                }
                ByteBuf out = n == readable ? queue.poll().buf : head.buf.readRetainedSlice(n);
                queuedBytes -= n;
                write(out, n);
                wrote = true;
            }
            if (wrote) {
                sink.flush();
            }
            updateAutoRead();
        }

        private long chunkBytes() {
            return Math.max(1, Math.min(16 * 1024, bytesPerSecond / 20));
        }

        private void write(ByteBuf out, int n) {
            sink.write(out).addListener(f -> {
                if (f.isSuccess()) {
                    forwarded.addAndGet(n);
                    proxyTotals.addForwarded(direction, n);
                } else {
                    drop(n);
                }
            });
        }

        private void deliverEnd(End end) {
            Side sinkSide = direction == Direction.CLIENT_TO_SERVER ? Side.SERVER : Side.CLIENT;
            if (end == End.RST) {
                LOG.debug("flow {}: passing a reset on to the {}", id, sinkSide);
                sinkDead = true;
                resetChannel(sink, sinkSide);
                return;
            }
            LOG.debug("flow {}: passing a FIN on to the {}", id, sinkSide);
            finDelivered = true;
            if (sink instanceof DuplexChannel) {
                ((DuplexChannel) sink).shutdownOutput();
            }
            Pipe other = this == c2s ? s2c : c2s;
            if (other.finDelivered) {
                closeChannel(client, Side.CLIENT);
                if (server != null) {
                    closeChannel(server, Side.SERVER);
                }
            }
        }

        private void schedule(long deadline) {
            if (timer != null) {
                if (timerDeadline - deadline <= 0) {
                    return;
                }
                timer.cancel(false);
            }
            timerDeadline = deadline;
            timer = loop.schedule(() -> {
                timer = null;
                drain();
            }, Math.max(0, deadline - ticker.nanoTime()), TimeUnit.NANOSECONDS);
        }

        void cancelTimer() {
            if (timer != null) {
                timer.cancel(false);
                timer = null;
            }
        }

        void discardQueue() {
            Item item;
            while ((item = queue.poll()) != null) {
                if (item.buf != null) {
                    int n = item.buf.readableBytes();
                    item.buf.release();
                    drop(n);
                } else {
                    endQueued = false;
                }
            }
            queuedBytes = 0;
        }

        private void drop(long n) {
            dropped.addAndGet(n);
            proxyTotals.addDropped(direction, n);
        }

        void updateAutoRead() {
            Channel src = source;
            if (src == null || !src.isActive()) {
                return;
            }
            boolean read;
            if (lifecycle == Lifecycle.CONNECTING || paused) {
                read = false;
            } else if (dropsAll() || blackHoled || sinkDead) {
                read = true;
            } else {
                read = sink != null && sink.isWritable() && queuedBytes < HIGH_WATER_BYTES;
            }
            if (src.config().isAutoRead() != read) {
                src.config().setAutoRead(read);
            }
        }
    }

    @FunctionalInterface
    private interface Clock {
        long nanoTime();
    }
}
