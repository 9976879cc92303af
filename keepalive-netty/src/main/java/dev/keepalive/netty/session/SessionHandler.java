package dev.keepalive.netty.session;

import dev.keepalive.Ticker;
import dev.keepalive.netty.session.internal.Frame;
import dev.keepalive.netty.session.internal.FrameCodec;
import dev.keepalive.session.SessionListener;
import dev.keepalive.session.SessionProtocolException;
import dev.keepalive.session.internal.SessionCore;
import io.netty.channel.ChannelDuplexHandler;
import io.netty.channel.ChannelFutureListener;
import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.ChannelOutboundBuffer;
import io.netty.channel.ChannelPromise;
import io.netty.util.ReferenceCountUtil;
import io.netty.util.concurrent.ScheduledFuture;

import java.nio.channels.ClosedChannelException;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;

/**
 * One connection's session handler, for a {@link ClientSession} or for {@link ServerSessions}: translates frames
 * into calls on the session's {@link SessionCore} and the core's answers into frames. Runs on the channel's event
 * loop; the session state it touches is guarded by the state's monitor.
 */
final class SessionHandler extends ChannelDuplexHandler {
    /** The user-defined writability bit the handler clears while the session's buffer is nearly full. */
    static final int WRITABILITY_INDEX = 17;

    private enum Phase {
        /** Not active yet. */
        IDLE,
        /** Client: HELLO sent, waiting for RESUMED or EXPIRED. Server: waiting for HELLO. */
        HANDSHAKE,
        /** The session is open on this connection. */
        OPEN,
        /** The connection ended or the handler was removed. */
        ENDED
    }

    private static final ChannelFutureListener CLOSE_ON_FAILURE = f -> {
        if (!f.isSuccess() && f.channel().isActive()) {
            f.channel().close(); // a frame was lost below us: the next resume re-sends it
        }
    };

    private final ClientSession client;
    private final ServerSessions server;
    private final FrameCodec codec;
    private final Ticker ticker;
    private final SessionListener listener;
    private final SessionCounters counters;
    final CompletableFuture<Void> open = new CompletableFuture<>();
    private ChannelHandlerContext ctx;
    private SessionState state;
    private Phase phase = Phase.IDLE;
    private ScheduledFuture<?> ackTimer;
    private long ackTimerAt;
    private boolean unwritable;

    SessionHandler(ClientSession client, ServerSessions server, FrameCodec codec, Ticker ticker,
                   SessionListener listener, SessionCounters counters) {
        this.client = client;
        this.server = server;
        this.codec = codec;
        this.ticker = ticker;
        this.listener = listener;
        this.counters = counters;
    }

    ChannelHandlerContext context() {
        return ctx;
    }

    // ---- lifecycle ---------------------------------------------------------------------------------------------

    @Override
    public void handlerAdded(ChannelHandlerContext ctx) {
        this.ctx = ctx;
        if (ctx.channel().isActive()) {
            start();
        }
    }

    @Override
    public void channelActive(ChannelHandlerContext ctx) throws Exception {
        start();
        super.channelActive(ctx);
    }

    private void start() {
        if (phase != Phase.IDLE) {
            return;
        }
        phase = Phase.HANDSHAKE;
        if (client != null) {
            sendHello();
        }
    }

    private void sendHello() {
        SessionState s = client.state();
        state = s;
        synchronized (s) {
            if (s.ended != null) {
                open.completeExceptionally(s.ended);
                ctx.close();
                return;
            }
            s.attached = this;
            ctx.writeAndFlush(codec.hello(ctx.alloc(), s.id, s.established, s.core.piggybackAck()))
                    .addListener(CLOSE_ON_FAILURE);
        }
    }

    @Override
    public void channelInactive(ChannelHandlerContext ctx) throws Exception {
        end();
        super.channelInactive(ctx);
    }

    @Override
    public void handlerRemoved(ChannelHandlerContext ctx) {
        end();
    }

    private void end() {
        if (phase == Phase.ENDED) {
            return;
        }
        Phase was = phase;
        phase = Phase.ENDED;
        if (ackTimer != null) {
            ackTimer.cancel(false);
            ackTimer = null;
        }
        open.completeExceptionally(new ClosedChannelException());
        SessionState s = state;
        if (s == null) {
            return;
        }
        boolean detached;
        synchronized (s) {
            detached = s.attached == this;
            if (detached) {
                s.attached = null;
            }
        }
        if (detached && server != null && was == Phase.OPEN) {
            server.detached(s, ctx.executor());
        }
    }

    // ---- inbound -----------------------------------------------------------------------------------------------

    @Override
    public void channelRead(ChannelHandlerContext ctx, Object msg) {
        Frame f;
        try {
            f = codec.decode(msg);
        } catch (SessionProtocolException e) {
            protocolError(e, false);
            return;
        } finally {
            ReferenceCountUtil.release(msg);
        }
        try {
            switch (f.type) {
                case DATA:
                    data(f);
                    return;
                case ACK:
                    ack(f);
                    return;
                case HELLO:
                    if (server == null || phase != Phase.HANDSHAKE) {
                        throw new SessionProtocolException("HELLO " + (server == null ? "sent to a client"
                                : "on a connection whose session is open already"));
                    }
                    server.hello(this, f);
                    return;
                case RESUMED:
                    if (client == null || phase != Phase.HANDSHAKE) {
                        throw new SessionProtocolException("RESUMED " + (client == null ? "sent to a server"
                                : "without a HELLO"));
                    }
                    resumed(f);
                    return;
                case EXPIRED:
                    if (client == null || phase != Phase.HANDSHAKE) {
                        throw new SessionProtocolException("EXPIRED " + (client == null ? "sent to a server"
                                : "without a HELLO"));
                    }
                    expired(f);
                    return;
                default:
                    throw new SessionProtocolException("unexpected " + f.type);
            }
        } catch (SessionProtocolException e) {
            ReferenceCountUtil.release(f.payload);
            protocolError(e, true);
        }
    }

    private void data(Frame f) throws SessionProtocolException {
        if (phase != Phase.OPEN) {
            throw new SessionProtocolException("data before the session was open");
        }
        SessionState s = state;
        SessionCore.Verdict verdict;
        synchronized (s) {
            if (s.attached != this) {
                ReferenceCountUtil.release(f.payload); // taken over by a newer connection
                return;
            }
            s.core.onAck(f.ack);
            verdict = s.core.onData(f.seq, ticker.nanoTime());
            updateWritability(s.core);
        }
        if (verdict == SessionCore.Verdict.DUPLICATE) {
            ReferenceCountUtil.release(f.payload);
            counters.duplicates.increment();
            listener.onDuplicate(s.id, f.seq);
            return;
        }
        ctx.fireChannelRead(f.payload);
    }

    private void ack(Frame f) throws SessionProtocolException {
        if (phase != Phase.OPEN) {
            throw new SessionProtocolException("ACK before the session was open");
        }
        SessionState s = state;
        synchronized (s) {
            if (s.attached == this) {
                s.core.onAck(f.ack);
                updateWritability(s.core);
            }
        }
    }

    /** Client: the server opened the session; re-send what it missed, then the connection is ready. */
    private void resumed(Frame f) throws SessionProtocolException {
        SessionState s = state;
        boolean established;
        int resent = 0;
        long resentBytes = 0;
        synchronized (s) {
            if (s.attached != this) {
                return;
            }
            established = s.established;
            if (!established && f.ack != 0) {
                throw new SessionProtocolException("a new session resumed from message " + f.ack);
            }
            List<SessionCore.Entry<ChannelPromise>> again = established ? s.core.resume(f.ack) : s.core.pending();
            s.established = true;
            phase = Phase.OPEN;
            for (SessionCore.Entry<ChannelPromise> e : again) {
                writeData(s.core, e);
                resent++;
                resentBytes += e.size();
            }
            ctx.flush();
            updateWritability(s.core);
        }
        opened(s, established, resent, resentBytes);
    }

    /** Client: the server does not know the session; fail what it held and start a new one on this connection. */
    private void expired(Frame f) {
        SessionState s = state;
        if (!s.id.equals(f.id)) {
            return; // about an older session
        }
        client.expired(s);
        sendHello();
    }

    /** Server: a HELLO found (or created) {@code s}; attach it here, tell the client, re-send what it missed. */
    void attach(SessionState s, boolean resume, long peerDelivered) throws SessionProtocolException {
        SessionHandler previous;
        int resent = 0;
        long resentBytes = 0;
        synchronized (s) {
            previous = s.attached;
            List<SessionCore.Entry<ChannelPromise>> again = resume ? s.core.resume(peerDelivered) : List.of();
            s.attached = this;
            state = s;
            phase = Phase.OPEN;
            ctx.write(codec.resumed(ctx.alloc(), s.core.piggybackAck())).addListener(CLOSE_ON_FAILURE);
            for (SessionCore.Entry<ChannelPromise> e : again) {
                writeData(s.core, e);
                resent++;
                resentBytes += e.size();
            }
            ctx.flush();
            updateWritability(s.core);
        }
        if (previous != null && previous != this) {
            previous.ctx.channel().close(); // half-open: the client came back on a new connection
        }
        opened(s, resume, resent, resentBytes);
    }

    /** Server: tell the client its session is gone; it may send a new HELLO. */
    void tellExpired(String id) {
        ctx.writeAndFlush(codec.expired(ctx.alloc(), id)).addListener(CLOSE_ON_FAILURE);
    }

    private void opened(SessionState s, boolean resumed, int resent, long resentBytes) {
        if (resumed) {
            counters.resumed.increment();
            counters.resentMessages.add(resent);
            counters.resentBytes.add(resentBytes);
            listener.onResumed(s.id, ctx.channel().remoteAddress(), resent, resentBytes);
        } else {
            counters.started.increment();
            listener.onStarted(s.id, ctx.channel().remoteAddress());
        }
        ctx.fireUserEventTriggered(new SessionEvent(resumed ? SessionEvent.Type.RESUMED : SessionEvent.Type.STARTED,
                s.id));
        open.complete(null);
    }

    void fireExpired(String id) {
        ctx.fireUserEventTriggered(new SessionEvent(SessionEvent.Type.EXPIRED, id));
    }

    private void protocolError(SessionProtocolException e, boolean close) {
        counters.protocolErrors.increment();
        SessionState s = state;
        listener.onProtocolError(s == null ? null : s.id, e);
        if (close) {
            ctx.close(); // a lost or repeated message must not slip through: the next resume puts it right
        }
    }

    @Override
    public void channelReadComplete(ChannelHandlerContext ctx) {
        maybeAck();
        ctx.fireChannelReadComplete();
    }

    private void maybeAck() {
        SessionState s = state;
        if (phase != Phase.OPEN || s == null) {
            return;
        }
        long now = ticker.nanoTime();
        synchronized (s) {
            if (s.attached != this || !s.core.hasAckDeadline()) {
                return;
            }
            if (s.core.ackDue(now)) {
                ctx.writeAndFlush(codec.ack(ctx.alloc(), s.core.standaloneAck(now))).addListener(CLOSE_ON_FAILURE);
                return;
            }
            long at = s.core.ackDeadline();
            if (ackTimer != null && ackTimerAt - at <= 0) {
                return;
            }
            if (ackTimer != null) {
                ackTimer.cancel(false);
            }
            ackTimerAt = at;
            ackTimer = ctx.executor().schedule(() -> {
                ackTimer = null;
                maybeAck();
            }, Math.max(0, at - now), TimeUnit.NANOSECONDS);
        }
    }

    // ---- outbound ----------------------------------------------------------------------------------------------

    @Override
    public void write(ChannelHandlerContext ctx, Object msg, ChannelPromise promise) {
        if (!codec.accepts(msg)) {
            ReferenceCountUtil.release(msg);
            promise.tryFailure(new IllegalArgumentException("the session handler carries encoded payloads ("
                    + codec.getClass().getSimpleName() + "), but got a " + msg.getClass().getName()
                    + ": place the application's encoder after the session handler"));
            return;
        }
        SessionState s = client != null ? client.state() : state;
        if (s == null) {
            ReferenceCountUtil.release(msg);
            promise.tryFailure(new IllegalStateException("no session is open on this connection yet: write after "
                    + "the SessionEvent STARTED or RESUMED"));
            return;
        }
        synchronized (s) {
            if (s.ended != null) {
                ReferenceCountUtil.release(msg);
                promise.tryFailure(s.ended);
                return;
            }
            if (s.attached != null && s.attached != this) {
                // The session moved to a newer connection: a message kept here would never be written there.
                ReferenceCountUtil.release(msg);
                promise.tryFailure(new ClosedChannelException());
                return;
            }
            long size = codec.size(msg);
            Exception full = s.core.checkRoom(size);
            if (full != null) {
                ReferenceCountUtil.release(msg);
                promise.tryFailure(full);
                return;
            }
            SessionCore.Entry<ChannelPromise> e = s.core.append(msg, size, promise);
            s.notePeak();
            if (phase == Phase.OPEN && s.attached == this) {
                writeData(s.core, e);
            }
            updateWritability(s.core);
        }
    }

    private void writeData(SessionCore<ChannelPromise> core, SessionCore.Entry<ChannelPromise> e) {
        ctx.write(codec.data(ctx.alloc(), e.seq(), core.piggybackAck(), e.message())).addListener(CLOSE_ON_FAILURE);
    }

    private void updateWritability(SessionCore<ChannelPromise> core) {
        if (!ctx.executor().inEventLoop()) {
            return;
        }
        boolean change = unwritable ? core.belowLowWater() : core.aboveHighWater();
        if (!change) {
            return;
        }
        ChannelOutboundBuffer out = ctx.channel().unsafe().outboundBuffer();
        if (out != null) {
            unwritable = !unwritable;
            out.setUserDefinedWritability(WRITABILITY_INDEX, !unwritable);
        }
    }
}
