package dev.keepalive.netty.session;

import dev.keepalive.Ticker;
import dev.keepalive.netty.session.internal.Frame;
import dev.keepalive.session.SessionExpiredException;
import dev.keepalive.session.SessionListener;
import dev.keepalive.session.SessionProtocolException;
import dev.keepalive.session.SessionSettings;
import dev.keepalive.session.SessionStats;
import io.netty.channel.ChannelHandler;
import io.netty.util.concurrent.EventExecutor;

import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.concurrent.TimeUnit;

/**
 * The server end of resumable sessions: one instance per server, a {@link #newHandler() handler} per accepted
 * connection (after the frame codec and the {@code KeepaliveHandler}, before the application's message codec).
 *
 * <pre>{@code
 * ServerSessions sessions = ServerSessions.builder(SessionFraming.binary())
 *         .settings(SessionSettings.builder().detachedTimeout(Duration.ofMinutes(5)).build())
 *         .store(sharedStore)                                   // optional: failover between servers
 *         .build();
 * serverBootstrap.childHandler(new ChannelInitializer<SocketChannel>() {
 *     protected void initChannel(SocketChannel ch) {
 *         ch.pipeline().addLast(new LengthFieldBasedFrameDecoder(1 << 20, 0, 4, 0, 4), new LengthFieldPrepender(4),
 *                 KeepaliveHandler.builder(settings).probe(KeepaliveProbe.binary()).build(),
 *                 sessions.newHandler(), new MyCodec(), new MyHandler());
 *     }
 * });
 * }</pre>
 *
 * <ul>
 *   <li>A connection's first frame must be the client's HELLO; the application's handlers learn the session from
 *       a {@link SessionEvent} ({@code STARTED} or {@code RESUMED}) and may write from then on. A write's future
 *       succeeds when the client acknowledged the message.</li>
 *   <li>When a connection ends, its session is detached into the {@link SessionStore} for
 *       {@link SessionSettings#detachedTimeout()}, within the store's budget; messages written to the connection
 *       after its end are kept for the resume. A client resuming it gets what it missed, in order; a client coming
 *       back later is told {@code EXPIRED}, and the writes the session held fail with
 *       {@link SessionExpiredException}.</li>
 *   <li>A HELLO for a session still attached to another connection (half-open: the client came back before this
 *       side noticed) takes it over and closes the old connection.</li>
 * </ul>
 * Thread-safe; handlers run on their channels' event loops.
 */
public final class ServerSessions implements AutoCloseable {
    private final SessionFraming framing;
    private final SessionSettings settings;
    private final SessionStore store;
    private final boolean ownsStore;
    /** Closed: sessions detached from now on expire at once. Guarded by this. */
    private boolean closed;
    private final SessionListener listener;
    private final Ticker ticker;
    private final SessionCounters counters = new SessionCounters();
    /** Sessions attached to a connection of this server. Guarded by this. */
    private final Map<String, SessionState> live = new HashMap<>();

    private ServerSessions(Builder b) {
        this.framing = b.framing;
        this.settings = b.settings;
        this.store = b.store != null ? b.store : new InMemorySessionStore();
        this.ownsStore = b.store == null;
        this.listener = b.listener;
        this.ticker = b.ticker;
    }

    /** A builder for sessions over {@code framing}. */
    public static Builder builder(SessionFraming framing) {
        return new Builder(framing);
    }

    /** A handler for one accepted connection. */
    public ChannelHandler newHandler() {
        return new ServerSessionHandler(this, framing.codec, ticker, listener, counters);
    }

    /** The store of detached sessions. */
    public SessionStore store() {
        return store;
    }

    /** Sessions attached to a connection of this server now. */
    public synchronized int attached() {
        return live.size();
    }

    /** The counters of this server's sessions; unacknowledged counts include the store's detached sessions. */
    public SessionStats stats() {
        List<SessionState> states;
        synchronized (this) {
            states = new ArrayList<>(live.values());
        }
        long messages = 0;
        long bytes = store.bytes();
        for (SessionState s : states) {
            synchronized (s) {
                messages += s.core.messages();
                bytes += s.core.bytes();
            }
        }
        return counters.snapshot(messages, bytes);
    }

    /**
     * Expires the detached sessions whose time is up now. The handlers schedule this themselves; call it to expire
     * sessions of a shared store that another (stopped) server detached.
     */
    public void expireDue() {
        for (DetachedSession d : store.expire(ticker.nanoTime())) {
            expire(d.state, "it was detached longer than detachedTimeout " + settings.detachedTimeout());
        }
    }

    /**
     * Ends this server's sessions for good: those attached to its connections, those detached later, and, when the
     * store is this server's own default one, those it keeps (a shared store keeps its sessions for the other
     * servers; {@link #expireAllStored()} ends them). Their unacknowledged writes fail with
     * {@link SessionExpiredException} and their messages are released. Call it after closing the server's channels.
     */
    @Override
    public void close() {
        List<SessionState> attachedNow;
        synchronized (this) {
            closed = true;
            attachedNow = new ArrayList<>(live.values());
            live.clear();
        }
        for (SessionState s : attachedNow) {
            expire(s, "the server closed");
        }
        if (ownsStore) {
            expireAllStored();
        }
    }

    /** Ends every session of the store, as when it expires. */
    public void expireAllStored() {
        for (DetachedSession d : store.takeAll()) {
            expire(d.state, "the servers stopped");
        }
    }

    synchronized void hello(ServerSessionHandler h, Frame f) throws SessionProtocolException {
        if (closed) {
            h.tellExpired(f.id);
            return;
        }
        if (!f.resume) {
            if (f.ack != 0) {
                throw new SessionProtocolException("a new session " + f.id + " cannot have delivered message "
                        + f.ack);
            }
            if (live.containsKey(f.id)) {
                throw new SessionProtocolException("a new session with the id of an open one: " + f.id);
            }
            DetachedSession kept = store.take(f.id);
            if (kept != null) {
                expire(kept.state, "a new session took its id");
            }
            SessionState s = new SessionState(f.id, settings, counters);
            live.put(f.id, s);
            h.attach(s, false, 0);
            return;
        }
        SessionState s = live.get(f.id);
        if (s == null) {
            DetachedSession d = store.take(f.id);
            if (d != null) {
                s = d.state;
                live.put(f.id, s);
            }
        }
        if (s == null) {
            h.tellExpired(f.id);
            return;
        }
        try {
            h.attach(s, true, f.ack);
        } catch (SessionProtocolException e) {
            // The client claims to have delivered what was never sent: this session cannot be trusted any more.
            live.remove(f.id);
            expire(s, "the client resumed it inconsistently (" + e.getMessage() + ")");
            throw e;
        }
    }

    /** A handler's connection ended while it carried {@code s}. */
    void detached(SessionState s, EventExecutor loop) {
        List<DetachedSession> dropped;
        boolean closing;
        long timeout = settings.detachedTimeout().toNanos();
        synchronized (this) {
            int messages;
            long bytes;
            synchronized (s) {
                if (s.attached != null || s.ended != null) {
                    return; // resumed elsewhere meanwhile, or ended
                }
                messages = s.core.messages();
                bytes = s.core.bytes();
            }
            live.remove(s.id, s);
            closing = closed;
            if (closed) {
                dropped = List.of(new DetachedSession(s, messages, bytes, ticker.nanoTime()));
            } else {
                dropped = store.put(new DetachedSession(s, messages, bytes, ticker.nanoTime() + timeout));
            }
        }
        for (DetachedSession d : dropped) {
            expire(d.state, closing ? "the server closed"
                    : "the session store dropped it to stay within its budget");
        }
        try {
            loop.schedule(this::expireDue, timeout, TimeUnit.NANOSECONDS);
        } catch (RuntimeException e) {
            // The event loop is shutting down: expireDue() runs at the next detach, or when called.
        }
    }

    private void expire(SessionState s, String why) {
        SessionExpiredException cause;
        int lost;
        synchronized (s) {
            if (s.ended != null) {
                return;
            }
            cause = new SessionExpiredException(s.id, "session " + s.id + " expired: " + why + "; "
                    + s.core.messages() + " message(s) the client did not acknowledge may or may not have arrived");
            s.ended = cause;
            lost = s.core.failAll(cause);
        }
        counters.expired.increment();
        listener.onExpired(s.id, lost, cause);
    }

    /** Builds {@link ServerSessions}. */
    public static final class Builder {
        private final SessionFraming framing;
        private SessionSettings settings = SessionSettings.defaults();
        private SessionStore store;
        private SessionListener listener = SessionListener.NOOP;
        private Ticker ticker = Ticker.system();

        private Builder(SessionFraming framing) {
            this.framing = Objects.requireNonNull(framing, "framing");
        }

        /** Bounds, acknowledgement pacing and how long detached sessions are kept. Default: the defaults. */
        public Builder settings(SessionSettings settings) {
            this.settings = Objects.requireNonNull(settings, "settings");
            return this;
        }

        /** Where detached sessions are kept. Default: a new {@link InMemorySessionStore} with its defaults. */
        public Builder store(SessionStore store) {
            this.store = Objects.requireNonNull(store, "store");
            return this;
        }

        /** Receives the sessions' events. Default: none. */
        public Builder listener(SessionListener listener) {
            this.listener = Objects.requireNonNull(listener, "listener");
            return this;
        }

        /** The time source for acknowledgement pacing and expiry, for tests. Default {@link Ticker#system()}. */
        public Builder ticker(Ticker ticker) {
            this.ticker = Objects.requireNonNull(ticker, "ticker");
            return this;
        }

        /** The server's sessions. */
        public ServerSessions build() {
            return new ServerSessions(this);
        }
    }
}
