package dev.keepalive.netty.session;

import dev.keepalive.Ticker;
import dev.keepalive.netty.session.internal.Frame;
import dev.keepalive.netty.session.internal.FrameCodec;
import dev.keepalive.session.SessionListener;
import dev.keepalive.session.SessionProtocolException;
import dev.keepalive.session.internal.SessionCore;
import io.netty.channel.ChannelPromise;

import java.util.List;

/** The server's handler of one connection: waits for the client's HELLO and attaches the session it names. */
final class ServerSessionHandler extends SessionHandler {
    private final ServerSessions server;

    ServerSessionHandler(ServerSessions server, FrameCodec codec, Ticker ticker, SessionListener listener,
                         SessionCounters counters) {
        super(codec, ticker, listener, counters);
        this.server = server;
    }

    @Override
    void handshakeStarted() {
        // The client speaks first.
        server.connectionOpened(ctx.executor());
    }

    @Override
    void journalFailed(SessionState s, java.io.IOException cause) {
        server.journalFailed(s, cause); // the listener's onExpired and the failed writes carry the cause
        ctx.close();
    }

    @Override
    void control(Frame f) throws SessionProtocolException {
        if (f.type != Frame.Type.HELLO) {
            throw new SessionProtocolException(f.type + " sent to a server");
        }
        if (phase != Phase.HANDSHAKE) {
            throw new SessionProtocolException("HELLO on a connection whose session is open already");
        }
        server.hello(this, f);
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

    @Override
    SessionState writeState() {
        return state;
    }

    @Override
    void ended(SessionState s, boolean detached, Phase was) {
        if (detached && was == Phase.OPEN) {
            server.detached(s, ctx.executor());
        }
    }
}
