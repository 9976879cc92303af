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

import java.io.IOException;
import java.nio.channels.ClosedChannelException;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;

/**
 * One connection's session handler: translates frames into calls on the session's {@link SessionCore} and the core's
 * answers into frames. What is common to both roles is here (data, acknowledgements and their pacing, writes,
 * writability); the handshake is the role's ({@link ClientSessionHandler}, {@link ServerSessionHandler}). Runs on
 * the channel's event loop; the session state it touches is guarded by the state's monitor.
 */
abstract class SessionHandler extends ChannelDuplexHandler {
    /** The user-defined writability bit the handler clears while the session's buffer is nearly full. */
    static final int WRITABILITY_INDEX = 17;

    enum Phase {
        /** Not active yet. */
        IDLE,
        /** Client: HELLO sent, waiting for RESUMED or EXPIRED. Server: waiting for HELLO. */
        HANDSHAKE,
        /** The session is open on this connection. */
        OPEN,
        /** The connection ended or the handler was removed. */
        ENDED
    }

    static final ChannelFutureListener CLOSE_ON_FAILURE = f -> {
        if (!f.isSuccess() && f.channel().isActive()) {
            f.channel().close(); // a frame was lost below us: the next resume re-sends it
        }
    };

    final FrameCodec codec;
    private final Ticker ticker;
    private final SessionListener listener;
    private final SessionCounters counters;
    ChannelHandlerContext ctx;
    /** The session this connection carries; the client's from the start, the server's after the HELLO. */
    SessionState state;
    Phase phase = Phase.IDLE;
    private ScheduledFuture<?> ackTimer;
    private long ackTimerAt;
    private boolean unwritable;
    /** A flush came while a delivery's replies were held: flush again once they are written. */
    private boolean flushHeld;

    SessionHandler(FrameCodec codec, Ticker ticker, SessionListener listener, SessionCounters counters) {
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
        handshakeStarted();
    }

    /** The connection is active: the client sends its HELLO; the server waits for one. */
    abstract void handshakeStarted();

    /** A HELLO, RESUMED or EXPIRED frame arrived during the handshake (or, wrongly, later). */
    abstract void control(Frame f) throws SessionProtocolException;

    /** The session a write on this connection goes into, or null when there is none yet. */
    abstract SessionState writeState();

    /** The connection ended; {@code detached} when it carried {@code s} until now, in phase {@code was}. */
    abstract void ended(SessionState s, boolean detached, Phase was);

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
        SessionState s = state;
        boolean detached = false;
        if (s != null) {
            synchronized (s) {
                detached = s.attached == this;
                if (detached) {
                    s.attached = null;
                }
            }
        }
        ended(s, detached, was);
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
                default:
                    control(f);
                    return;
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
            if (verdict == SessionCore.Verdict.DELIVER && s.journal != null) {
                s.delivering = true;
            }
        }
        if (verdict == SessionCore.Verdict.DUPLICATE) {
            ReferenceCountUtil.release(f.payload);
            counters.duplicates.increment();
            listener.onDuplicate(s.id, f.seq);
            return;
        }
        if (s.journal == null) {
            ctx.fireChannelRead(f.payload);
            return;
        }
        try {
            ctx.fireChannelRead(f.payload);
        } finally {
            commitDelivery(s);
        }
    }

    /**
     * The application's handler returned from a delivered message: record the delivery with what it wrote
     * meanwhile, in one step, then write that to the network.
     */
    private void commitDelivery(SessionState s) {
        IOException failed = null;
        synchronized (s) {
            s.delivering = false;
            List<SessionCore.Entry<ChannelPromise>> written = new ArrayList<>(s.held);
            s.held.clear();
            if (s.ended != null) {
                return; // ended meanwhile: its writes failed with the reason
            }
            try {
                s.journal.record(s.id, s.core.peerAcked(), s.core.delivered(), SessionState.messagesOf(written));
            } catch (IOException e) {
                failed = e;
            }
            if (failed == null && phase == Phase.OPEN && s.attached == this) {
                for (SessionCore.Entry<ChannelPromise> e : written) {
                    writeData(s.core, e);
                }
            }
        }
        if (failed != null) {
            journalFailed(s, failed);
        } else if (flushHeld) {
            flushHeld = false;
            ctx.flush();
        }
    }

    /**
     * The session's journal failed: it cannot be recorded, so it could not be resumed after a crash. The role ends
     * it (its writes fail with the reason) and closes the connection.
     */
    abstract void journalFailed(SessionState s, IOException cause);

    private void ack(Frame f) throws SessionProtocolException {
        if (phase != Phase.OPEN) {
            throw new SessionProtocolException("ACK before the session was open");
        }
        SessionState s = state;
        IOException failed = null;
        synchronized (s) {
            if (s.attached == this) {
                long before = s.core.peerAcked();
                s.core.onAck(f.ack);
                updateWritability(s.core);
                if (s.journal != null && s.core.peerAcked() != before) {
                    try {
                        s.journal.record(s.id, s.core.peerAcked(), s.core.delivered(), List.of());
                    } catch (IOException e) {
                        failed = e;
                    }
                }
            }
        }
        if (failed != null) {
            journalFailed(s, failed);
        }
    }

    /** The session is open here: count it, tell the listener and the application's handlers. */
    void opened(SessionState s, boolean resumed, int resent, long resentBytes) {
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
    }

    void protocolError(SessionProtocolException e, boolean close) {
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
        SessionState s = writeState();
        if (s == null) {
            ReferenceCountUtil.release(msg);
            promise.tryFailure(new IllegalStateException("no session is open on this connection yet: write after "
                    + "the SessionEvent STARTED or RESUMED"));
            return;
        }
        IOException failed = null;
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
            updateWritability(s.core);
            if (s.journal != null) {
                if (s.delivering) {
                    s.held.add(e); // a reply: recorded with the delivery, written after it
                    return;
                }
                try {
                    s.journal.record(s.id, s.core.peerAcked(), s.core.delivered(),
                            List.of(new SessionJournal.Message(e.seq(), SessionState.bytesOf(msg))));
                } catch (IOException x) {
                    failed = x;
                }
            }
            if (failed == null && phase == Phase.OPEN && s.attached == this) {
                writeData(s.core, e);
            }
        }
        if (failed != null) {
            journalFailed(s, failed);
        }
    }

    @Override
    public void flush(ChannelHandlerContext ctx) {
        SessionState s = state;
        if (s != null && s.journal != null) {
            synchronized (s) {
                if (s.delivering) {
                    flushHeld = true; // the replies held until the delivery is recorded are flushed after it
                }
            }
        }
        ctx.flush();
    }

    /** Writes {@code e} on this connection, carrying the acknowledgement of what was delivered. */
    void writeData(SessionCore<ChannelPromise> core, SessionCore.Entry<ChannelPromise> e) {
        ctx.write(codec.data(ctx.alloc(), e.seq(), core.piggybackAck(), e.message())).addListener(CLOSE_ON_FAILURE);
    }

    void updateWritability(SessionCore<ChannelPromise> core) {
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
