package dev.keepalive.netty.session;

import dev.keepalive.Ticker;
import dev.keepalive.netty.session.internal.Frame;
import dev.keepalive.session.SessionClosedException;
import dev.keepalive.session.SessionExpiredException;
import dev.keepalive.session.SessionListener;
import dev.keepalive.session.SessionProtocolException;
import dev.keepalive.session.SessionSettings;
import dev.keepalive.session.SessionStats;
import io.netty.channel.ChannelHandler;
import io.netty.util.concurrent.EventExecutor;
import java.io.IOException;
import java.io.UncheckedIOException;

import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;

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
 *   <li>With a {@link Builder#journal journal}, every session is recorded as it changes, and a server built on the
 *       same journal after a crash, a {@code SIGKILL} or a restart resumes them: see {@link SessionJournal} for
 *       what is recorded when, and what a crash can make the application handle twice.</li>
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
    private final SessionJournal journal;
    /** Sessions recovered from the journal wait in the store: the first connection schedules their expiry. */
    private final AtomicBoolean recoveredExpiryScheduled;
    private int recovered;

    private ServerSessions(Builder b) {
        this.framing = b.framing;
        this.settings = b.settings;
        this.store = b.store != null ? b.store : new InMemorySessionStore();
        this.ownsStore = b.store == null;
        this.listener = b.listener;
        this.ticker = b.ticker;
        this.journal = b.journal;
        this.recoveredExpiryScheduled = new AtomicBoolean(journal == null);
        if (journal != null) {
            recover();
        }
    }

    /** Puts the journal's sessions into the store, detached, each with a full {@code detachedTimeout} to resume. */
    private void recover() {
        List<SessionJournal.Session> sessions;
        try {
            sessions = journal.recover();
        } catch (IOException e) {
            throw new UncheckedIOException("the session journal could not be read: " + e.getMessage(), e);
        }
        long expiresAt = ticker.nanoTime() + settings.detachedTimeout().toNanos();
        for (SessionJournal.Session r : sessions) {
            SessionState s = new SessionState(r, settings, counters, journal);
            List<DetachedSession> dropped = store.put(new DetachedSession(s, s.core.messages(), s.core.bytes(),
                    expiresAt));
            for (DetachedSession d : dropped) {
                expire(d.state, "the session store dropped it to stay within its budget", true);
            }
        }
        recovered = sessions.size();
    }

    /** How many sessions {@link Builder#build()} read back from the journal (0 without one). */
    public int recovered() {
        return recovered;
    }

    /** A connection opened on {@code loop}: the first one schedules the expiry of the recovered sessions. */
    void connectionOpened(EventExecutor loop) {
        if (!recoveredExpiryScheduled.get() && recoveredExpiryScheduled.compareAndSet(false, true)) {
            try {
                loop.schedule(this::expireDue, settings.detachedTimeout().toNanos(), TimeUnit.NANOSECONDS);
            } catch (RuntimeException e) {
                // The event loop is shutting down: expireDue() runs at the next detach, or when called.
            }
        }
    }

    /** Puts {@code s} among this server's attached sessions, and tells the store. Call holding this. */
    private void attachLive(SessionState s) {
        live.put(s.id, s);
        store.attached(s.id, this);
    }

    /** Takes session {@code id} (when {@code s} is not null, only if it is {@code s}) from this server's attached
     *  sessions, and tells the store. Call holding this. @return the session taken, or null */
    private SessionState detachLive(String id, SessionState s) {
        SessionState taken = s == null ? live.remove(id) : live.remove(id, s) ? s : null;
        if (taken != null) {
            store.released(id, this);
        }
        return taken;
    }

    /** The journal could not record {@code s}: it ends here, and its writes fail with the cause. */
    void journalFailed(SessionState s, IOException cause) {
        synchronized (this) {
            detachLive(s.id, s);
        }
        expire(s, "its journal failed (" + cause.getMessage() + ")", true);
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
            expire(d.state, "it was detached longer than detachedTimeout " + settings.detachedTimeout(), true);
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
            for (String id : live.keySet()) {
                store.released(id, this);
            }
            live.clear();
        }
        if (journal != null) {
            // The sessions stay in the journal for the next server on it: only this process's writes end.
            for (SessionState s : attachedNow) {
                close(s);
            }
            if (ownsStore) {
                for (DetachedSession d : store.takeAll()) {
                    close(d.state);
                }
            }
            return;
        }
        for (SessionState s : attachedNow) {
            expire(s, "the server closed", true);
        }
        if (ownsStore) {
            expireAllStored();
        }
    }

    /** Fails this process's writes of {@code s}, which stays in the journal, resumable on the next server. */
    private void close(SessionState s) {
        synchronized (s) {
            if (s.ended != null) {
                return;
            }
            s.ended = new SessionClosedException("the server closed; session " + s.id + " stays in its journal, "
                    + "with the " + s.core.messages() + " message(s) the client did not acknowledge, and the next "
                    + "server on the journal re-sends them if the client resumes there");
            s.core.failAll(s.ended);
        }
    }

    /** Ends every session of the store, as when it expires. */
    public void expireAllStored() {
        for (DetachedSession d : store.takeAll()) {
            expire(d.state, "the servers stopped", true);
        }
    }

    void hello(ServerSessionHandler h, Frame f) throws SessionProtocolException {
        if (f.resume) {
            takeOverFromAnotherServer(f.id);
        }
        helloHere(h, f);
    }

    /**
     * A resume of a session that another server sharing the store holds attached (half-open there: the client
     * failed over before that server noticed): it moves here, and the other server's connection is closed when it
     * is attached here. Called without this server's lock, so that two servers taking sessions from each other
     * cannot deadlock.
     */
    private void takeOverFromAnotherServer(String id) {
        synchronized (this) {
            if (closed || live.containsKey(id)) {
                return;
            }
        }
        ServerSessions other = store.attachedAt(id);
        if (other == null || other == this) {
            return;
        }
        SessionState s = other.handOver(id);
        if (s == null) {
            return;
        }
        synchronized (this) {
            if (!closed && !live.containsKey(id)) {
                attachLive(s);
                return;
            }
        }
        expire(s, "it moved to a server that closed meanwhile", true);
    }

    /** Another server takes session {@code id} over: it leaves this server (its connection is closed there). */
    private synchronized SessionState handOver(String id) {
        return detachLive(id, null);
    }

    private synchronized void helloHere(ServerSessionHandler h, Frame f) throws SessionProtocolException {
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
                expire(kept.state, "a new session took its id", false);
            }
            SessionState s = new SessionState(f.id, settings, counters, journal);
            if (journal != null) {
                try {
                    journal.started(f.id);
                } catch (IOException e) {
                    h.journalFailed(s, e);
                    return;
                }
            }
            attachLive(s);
            h.attach(s, false, 0);
            return;
        }
        SessionState s = live.get(f.id);
        if (s == null) {
            DetachedSession d = store.take(f.id);
            if (d != null) {
                s = d.state;
                attachLive(s);
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
            detachLive(f.id, null);
            expire(s, "the client resumed it inconsistently (" + e.getMessage() + ")", true);
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
            detachLive(s.id, s);
            closing = closed;
            if (closed) {
                dropped = List.of(new DetachedSession(s, messages, bytes, ticker.nanoTime()));
            } else {
                dropped = store.put(new DetachedSession(s, messages, bytes, ticker.nanoTime() + timeout));
            }
        }
        for (DetachedSession d : dropped) {
            if (closing && journal != null) {
                close(d.state);
            } else {
                expire(d.state, closing ? "the server closed"
                        : "the session store dropped it to stay within its budget", true);
            }
        }
        try {
            loop.schedule(this::expireDue, timeout, TimeUnit.NANOSECONDS);
        } catch (RuntimeException e) {
            // The event loop is shutting down: expireDue() runs at the next detach, or when called.
        }
    }

    /**
     * Ends {@code s}: its kept writes fail and the listener hears of it; {@code forget}: the journal forgets it too
     * (not when a new session with its id replaced it: the journal's record of the id is the new one's).
     */
    private void expire(SessionState s, String why, boolean forget) {
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
            if (forget && journal != null) {
                try {
                    journal.ended(s.id);
                } catch (IOException e) {
                    // Left in the journal: a server that reads it back expires it again after detachedTimeout.
                    cause.addSuppressed(e);
                }
            }
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
        private SessionJournal journal;

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

        /**
         * Records every session as it changes, so that a server started again on the same journal (after a crash,
         * a {@code SIGKILL} or a restart) resumes them: see {@link SessionJournal}. The sessions it holds are read
         * back by {@link #build()}, into the store, with a full {@code detachedTimeout} each. {@link #close()}
         * leaves them in it. Default: none (sessions die with the process). The journal is not closed by the
         * servers.
         */
        public Builder journal(SessionJournal journal) {
            this.journal = Objects.requireNonNull(journal, "journal");
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

        /**
         * The server's sessions; with a {@linkplain #journal journal}, those it holds are read back.
         *
         * @throws UncheckedIOException if the journal cannot be read
         */
        public ServerSessions build() {
            return new ServerSessions(this);
        }
    }
}
