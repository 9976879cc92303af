package dev.keepalive.netty.session;

import dev.keepalive.Ticker;
import dev.keepalive.netty.session.internal.Frame;
import dev.keepalive.netty.session.internal.FrameCodec;
import dev.keepalive.session.SessionListener;
import dev.keepalive.session.SessionProtocolException;
import dev.keepalive.session.internal.SessionCore;
import io.netty.channel.ChannelPromise;

import java.nio.channels.ClosedChannelException;
import java.util.List;
import java.util.concurrent.CompletableFuture;

/** The client's handler of one connection: sends HELLO, and opens the session on RESUMED (or starts anew). */
final class ClientSessionHandler extends SessionHandler {
    private final ClientSession client;
    /** Completes when the session is open on this connection; fails when the connection ends first. */
    final CompletableFuture<Void> open = new CompletableFuture<>();

    ClientSessionHandler(ClientSession client, FrameCodec codec, Ticker ticker, SessionListener listener,
                         SessionCounters counters) {
        super(codec, ticker, listener, counters);
        this.client = client;
    }

    @Override
    void handshakeStarted() {
        sendHello();
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
    void control(Frame f) throws SessionProtocolException {
        if (phase != Phase.HANDSHAKE) {
            throw new SessionProtocolException(f.type + " without a HELLO");
        }
        switch (f.type) {
            case RESUMED:
                resumed(f);
                return;
            case EXPIRED:
                expired(f);
                return;
            default:
                throw new SessionProtocolException(f.type + " sent to a client");
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
        open.complete(null);
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

    void fireExpired(String id) {
        ctx.fireUserEventTriggered(new SessionEvent(SessionEvent.Type.EXPIRED, id));
    }

    @Override
    SessionState writeState() {
        return client.state();
    }

    @Override
    void ended(SessionState s, boolean detached, Phase was) {
        open.completeExceptionally(new ClosedChannelException());
    }

    @Override
    void journalFailed(SessionState s, java.io.IOException cause) {
        throw new AssertionError("a client session has no journal", cause);
    }
}
