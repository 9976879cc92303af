package dev.keepalive.netty.session;

import dev.keepalive.Ticker;
import dev.keepalive.session.SessionClosedException;
import dev.keepalive.session.SessionExpiredException;
import dev.keepalive.session.SessionListener;
import dev.keepalive.session.SessionSettings;
import dev.keepalive.session.SessionStats;
import io.netty.channel.Channel;
import io.netty.channel.ChannelHandler;

import java.security.SecureRandom;
import java.util.Objects;
import java.util.concurrent.CompletableFuture;

/**
 * The client end of a resumable session: it outlives connections. Each connection gets a {@link #newHandler()
 * handler} (after the frame codec and the {@code KeepaliveHandler}, before the application's message codec) that
 * opens or resumes the session when the connection becomes active; the application then sees every message of the
 * server once and in order, and the server sees every message of this client once and in order, across any number
 * of connections, while the server keeps the session.
 *
 * <pre>{@code
 * ClientSession session = ClientSession.builder(SessionFraming.lines()).build();
 * ReconnectingClient client = ReconnectingClient.builder(bootstrap)
 *         .endpoint("chat.internal", 7000)
 *         .pipeline((ch, keepalive) -> ch.pipeline().addLast(
 *                 new LineBasedFrameDecoder(8192), new StringDecoder(UTF_8), keepalive,
 *                 session.newHandler(),                     // below the application's encoder
 *                 new StringEncoder(UTF_8), new ChatHandler()))
 *         .keepalive(KeepaliveSettings.defaults(), KeepaliveProbe.lines())
 *         .onConnected(session::resume)                     // CONNECTED only once the session is resumed
 *         .confirmReads(false)                              // a send succeeds when the server acknowledged it
 *         .whileDisconnected(DisconnectedWrites.queue(10_000, 16 << 20, Duration.ofMinutes(1)))
 *         .build().start();
 * client.send("hello\n");
 * }</pre>
 *
 * <h2>Writes</h2>
 * A write's future succeeds when the server acknowledged the message (it handed it to its application); it stays
 * pending across reconnects, and fails with {@link dev.keepalive.session.SessionBufferFullException} when the
 * buffer of unacknowledged messages is full, {@link SessionExpiredException} when the server forgot the session
 * (the message may or may not have arrived), or {@link SessionClosedException} after {@link #close()}. Use
 * {@code ReconnectingClient}'s {@code confirmReads(false)}: the session's acknowledgement is the confirmation, and
 * the session, not the client, re-sends.
 *
 * <p>When the server answers that it does not know the session any more, the writes it held fail, a
 * {@link SessionEvent} of type {@code EXPIRED} goes up the pipeline, the listener hears of it, and a new session
 * starts on the same connection. Thread-safe.
 */
public final class ClientSession implements AutoCloseable {
    private static final SecureRandom RANDOM = new SecureRandom();

    private final SessionFraming framing;
    private final SessionSettings settings;
    private final SessionListener listener;
    private final Ticker ticker;
    private final SessionCounters counters = new SessionCounters();
    private volatile SessionState state;

    private ClientSession(Builder b) {
        this.framing = b.framing;
        this.settings = b.settings;
        this.listener = b.listener;
        this.ticker = b.ticker;
        this.state = new SessionState(newId(), settings, counters);
    }

    /** A builder for a session over {@code framing}. */
    public static Builder builder(SessionFraming framing) {
        return new Builder(framing);
    }

    static String newId() {
        return String.format("%016x%016x", RANDOM.nextLong(), RANDOM.nextLong());
    }

    /** A handler for one new connection of this session. */
    public ChannelHandler newHandler() {
        return new ClientSessionHandler(this, framing.codec, ticker, listener, counters);
    }

    /**
     * Completes when the session is open on {@code channel} (resumed, and what the server missed re-sent), or
     * fails when the connection ends first; use it as {@code ReconnectingClient}'s on-connected hook.
     *
     * @throws IllegalArgumentException if the channel's pipeline has no handler of this session
     */
    public CompletableFuture<Void> resume(Channel channel) {
        for (var entry : channel.pipeline()) {
            if (entry.getValue() instanceof ClientSessionHandler) {
                return ((ClientSessionHandler) entry.getValue()).open;
            }
        }
        throw new IllegalArgumentException("the pipeline of " + channel + " has no session handler: add "
                + "session.newHandler() after the KeepaliveHandler");
    }

    /** The current session's id (a new one after the server said the old one expired). */
    public String id() {
        return state.id;
    }

    /** The counters of this session (and of those it replaced after an expiry). */
    public SessionStats stats() {
        SessionState s = state;
        synchronized (s) {
            return counters.snapshot(s.core.messages(), s.core.bytes());
        }
    }

    /**
     * Ends the session on this side: unacknowledged writes fail with {@link SessionClosedException}, and so do
     * later ones. The server keeps its end until it expires. Idempotent.
     */
    @Override
    public void close() {
        SessionState s = state;
        synchronized (s) {
            if (s.ended == null) {
                s.ended = new SessionClosedException("the session was closed by the application");
                s.core.failAll(s.ended);
            }
        }
    }

    SessionState state() {
        return state;
    }

    /** The server forgot {@code s}: fail what it held, start a new session. */
    void expired(SessionState s) {
        SessionExpiredException cause;
        int lost;
        ClientSessionHandler handler;
        synchronized (s) {
            cause = new SessionExpiredException(s.id, "the server no longer knows session " + s.id + " (it "
                    + "expired, or the server lost it): " + s.core.messages() + " message(s) not acknowledged may "
                    + "or may not have arrived");
            s.ended = cause;
            lost = s.core.failAll(cause);
            handler = (ClientSessionHandler) s.attached;
            s.attached = null;
            state = new SessionState(newId(), settings, counters);
        }
        counters.expired.increment();
        listener.onExpired(s.id, lost, cause);
        if (handler != null) {
            handler.fireExpired(s.id);
        }
    }

    /** Builds a {@link ClientSession}. */
    public static final class Builder {
        private final SessionFraming framing;
        private SessionSettings settings = SessionSettings.defaults();
        private SessionListener listener = SessionListener.NOOP;
        private Ticker ticker = Ticker.system();

        private Builder(SessionFraming framing) {
            this.framing = Objects.requireNonNull(framing, "framing");
        }

        /** The session's bounds and acknowledgement pacing. Default {@link SessionSettings#defaults()}. */
        public Builder settings(SessionSettings settings) {
            this.settings = Objects.requireNonNull(settings, "settings");
            return this;
        }

        /** Receives the session's events. Default: none. */
        public Builder listener(SessionListener listener) {
            this.listener = Objects.requireNonNull(listener, "listener");
            return this;
        }

        /** The time source for acknowledgement pacing, for tests. Default {@link Ticker#system()}. */
        public Builder ticker(Ticker ticker) {
            this.ticker = Objects.requireNonNull(ticker, "ticker");
            return this;
        }

        /** The session, with a fresh random id. */
        public ClientSession build() {
            return new ClientSession(this);
        }
    }
}
