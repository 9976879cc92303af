package dev.keepalive.samples.chat;

import dev.keepalive.DeadPeerReason;
import dev.keepalive.KeepaliveListener;
import dev.keepalive.KeepaliveSettings;
import dev.keepalive.PeerDeadException;
import dev.keepalive.netty.KeepaliveProbe;
import dev.keepalive.netty.client.ReconnectingClient;
import dev.keepalive.netty.session.ClientSession;
import dev.keepalive.netty.session.SessionFraming;
import dev.keepalive.reconnect.ClientStats;
import dev.keepalive.reconnect.ConnectionEvent;
import dev.keepalive.reconnect.DisconnectedWrites;
import dev.keepalive.reconnect.ReconnectPolicy;
import dev.keepalive.samples.chat.ChatProtocol.Bye;
import dev.keepalive.samples.chat.ChatProtocol.Chat;
import dev.keepalive.samples.chat.ChatProtocol.Info;
import dev.keepalive.samples.chat.ChatProtocol.Join;
import dev.keepalive.samples.chat.ChatProtocol.Msg;
import dev.keepalive.samples.chat.ChatProtocol.Rejected;
import dev.keepalive.samples.chat.ChatProtocol.Resume;
import dev.keepalive.samples.chat.ChatProtocol.ServerMessage;
import dev.keepalive.samples.chat.ChatProtocol.Welcome;
import dev.keepalive.session.SessionExpiredException;
import dev.keepalive.session.SessionListener;
import dev.keepalive.session.SessionSettings;
import dev.keepalive.session.SessionStats;
import io.netty.bootstrap.Bootstrap;
import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.EventLoopGroup;
import io.netty.channel.MultiThreadIoEventLoopGroup;
import io.netty.channel.SimpleChannelInboundHandler;
import io.netty.util.concurrent.DefaultThreadFactory;

import java.net.InetSocketAddress;
import java.net.SocketAddress;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Objects;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ThreadLocalRandom;
import java.util.concurrent.TimeUnit;

/**
 * The chat client: one logical connection kept up by {@link ReconnectingClient}, joined under one name, sending
 * chat messages that are delivered exactly once and in order.
 *
 * <ul>
 *   <li>Each connection's pipeline: line decoders, {@code KeepaliveHandler} with {@link KeepaliveProbe#lines()},
 *       the {@link ClientSession}'s handler, the line encoder, this client's handler. The on-connected hook resumes
 *       the session (re-sending what the server did not get), then sends {@code JOIN} and waits for
 *       {@code WELCOME}, so queued messages go out only once the server knows the name.</li>
 *   <li>The session layer numbers and acknowledges every line both ways: a message's future completes when the
 *       server's session layer acknowledged it, and each line arrives once and in order across reconnects.
 *       Messages typed while disconnected wait in the client's queue.</li>
 *   <li>On rejoining, the client tells the server the last chat line it saw, and gets the lines it missed.</li>
 *   <li>{@code BYE replaced} (another client took the name over) stops the client: {@link #stopped()}.</li>
 * </ul>
 */
public final class ChatClient implements AutoCloseable {
    /** Messages a client keeps while disconnected (including those waiting for an acknowledgement). */
    static final int QUEUE_MESSAGES = 100_000;
    /** Bytes of text a client keeps while disconnected. */
    static final long QUEUE_BYTES = 64L << 20;
    /** How long a message may wait for a connection. */
    static final Duration QUEUE_TIME = Duration.ofHours(1);

    /** Receives what the client gets; called on its event loop (keep it short). */
    public interface Listener {
        /** A chat message from another client. */
        void chat(String name, String text);

        /** An announcement from the server (joins, leaves) or about this client. */
        void info(String text);

        /** A connection event ({@link ChatEvent}). */
        void event(ChatEvent event);

        /** A keepalive ping went out: nothing had arrived for the ping interval, or the last ping went unanswered. */
        default void pinged(long pingId) {
        }

        /** The server answered ping {@code pingId} after {@code rtt}. */
        default void ponged(long pingId, Duration rtt) {
        }

        /** Ping {@code pingId} went unanswered for the ping timeout; {@code missed} pings are now missed in a row. */
        default void pingMissed(long pingId, int missed) {
        }
    }

    /**
     * What the client needs.
     *
     * @param server    the server's address (resolved again on each attempt)
     * @param name      the name to join under
     * @param keepalive the keepalive settings of each connection
     * @param policy    when and how to reconnect
     */
    public record Config(InetSocketAddress server, String name, KeepaliveSettings keepalive, ReconnectPolicy policy) {
        public Config {
            Objects.requireNonNull(server, "server");
            if (!ChatProtocol.isValidName(name)) {
                throw new IllegalArgumentException(ChatProtocol.nameRule(name));
            }
            Objects.requireNonNull(keepalive, "keepalive");
            Objects.requireNonNull(policy, "policy");
        }
    }

    private final Config config;
    private final Listener listener;
    private final EventLoopGroup group;
    private final boolean ownsGroup;
    private final String session = Long.toHexString(ThreadLocalRandom.current().nextLong() & Long.MAX_VALUE);
    private final CompletableFuture<String> stopped = new CompletableFuture<>();
    private final ClientSession sessionLayer;
    private final ReconnectingClient client;
    private long nextId; // guarded by this

    // Event-loop state.
    private String epoch;
    private long lastSeq;
    private int attempt;
    private volatile String local; // this end of the newest connection

    private ChatClient(Config config, EventLoopGroup group, Listener listener) {
        this.config = config;
        this.listener = listener;
        this.ownsGroup = group == null;
        this.group = group != null ? group : new MultiThreadIoEventLoopGroup(1,
                new DefaultThreadFactory("chat-client", true), ChatTransport.ioHandler());
        this.sessionLayer = ClientSession.builder(SessionFraming.lines())
                .settings(SessionSettings.builder().maxUnackedMessages(QUEUE_MESSAGES).maxUnackedBytes(QUEUE_BYTES)
                        .build())
                .listener(new SessionListener() {
                    @Override
                    public void onExpired(String id, int lostMessages, SessionExpiredException cause) {
                        listener.info("the server forgot this client's session: " + lostMessages
                                + " message(s) may not have arrived");
                    }
                }).build();
        this.client = ReconnectingClient.builder(new Bootstrap().group(this.group).channel(ChatTransport.socket()))
                .endpoints(List.of(config.server()))
                .pipeline((ch, keepalive) -> {
                    ChatCodec.addDecoders(ch.pipeline());
                    ch.pipeline().addLast(keepalive, sessionLayer.newHandler(), ChatCodec.encoder(false),
                            new Connection());
                })
                .keepalive(config.keepalive(), KeepaliveProbe.lines())
                .keepaliveListener(new KeepaliveListener() {
                    @Override
                    public void onPingSent(SocketAddress remote, long pingId) {
                        listener.pinged(pingId);
                    }

                    @Override
                    public void onPongReceived(SocketAddress remote, long pingId, Duration rtt) {
                        listener.ponged(pingId, rtt);
                    }

                    @Override
                    public void onPingMissed(SocketAddress remote, long pingId, int missed) {
                        listener.pingMissed(pingId, missed);
                    }

                    @Override
                    public void onPeerDead(PeerDeadException e) {
                        peerDead(e);
                    }
                })
                .policy(config.policy())
                .whileDisconnected(DisconnectedWrites.queue(QUEUE_MESSAGES, QUEUE_BYTES, QUEUE_TIME))
                .onConnected(ch -> {
                    local = ChatEvent.address(ch.localAddress());
                    Connection c = ch.pipeline().get(Connection.class);
                    return sessionLayer.resume(ch).thenCompose(resumed -> {
                        ch.writeAndFlush(new Join(config.name(), session, epoch == null ? null
                                : new Resume(epoch, lastSeq)));
                        return c.welcomed;
                    });
                })
                .confirmReads(false) // the session layer's acknowledgement completes a send
                .messageSize(m -> m instanceof Msg ? 16 + ((Msg) m).text().length() : 16)
                .listener(this::connectionEvent)
                .build();
    }

    /**
     * Starts connecting. {@code group} (of {@link ChatTransport}'s kind: epoll or NIO) is shared and not shut down by the client; {@code null} gives the
     * client a one-thread group of its own.
     */
    public static ChatClient start(Config config, EventLoopGroup group, Listener listener) {
        ChatClient c = new ChatClient(Objects.requireNonNull(config, "config"), group,
                Objects.requireNonNull(listener, "listener"));
        c.client.start();
        return c;
    }

    /** The name this client joins under. */
    public String name() {
        return config.name();
    }

    /**
     * Sends {@code text} as one chat message (or several, when it is longer than
     * {@value ChatProtocol#MAX_TEXT_CODE_POINTS} code points; CR and LF are dropped). The future completes when the
     * server has acknowledged every part, and fails only if the client closes or gives up first.
     */
    public synchronized CompletableFuture<Void> say(String text) {
        String clean = text.replace("\r", "").replace("\n", " ");
        List<CompletableFuture<Void>> parts = new ArrayList<>();
        int start = 0;
        do {
            int end = clean.length() - start <= ChatProtocol.MAX_TEXT_CODE_POINTS ? clean.length()
                    : clean.offsetByCodePoints(start, Math.min(ChatProtocol.MAX_TEXT_CODE_POINTS,
                    clean.codePointCount(start, clean.length())));
            parts.add(client.send(new Msg(++nextId, clean.substring(start, end))));
            start = end;
        } while (start < clean.length());
        return parts.size() == 1 ? parts.get(0) : CompletableFuture.allOf(parts.toArray(new CompletableFuture[0]));
    }

    /** Completes with the reason when the client stops by itself: {@code "replaced"} or {@code "gave up"}. */
    public CompletableFuture<String> stopped() {
        return stopped;
    }

    /** The underlying client's counters (state, pings, messages waiting to be sent or acknowledged). */
    public ClientStats stats() {
        return client.stats();
    }

    /** The session layer's counters (messages not yet acknowledged by the server, resumes, re-sent messages). */
    public SessionStats sessionStats() {
        return sessionLayer.stats();
    }

    /** Closes the connection; messages not yet acknowledged fail. */
    @Override
    public void close() {
        client.close();
        sessionLayer.close();
        if (ownsGroup) {
            group.shutdownGracefully(0, 1, TimeUnit.SECONDS).awaitUninterruptibly(5, TimeUnit.SECONDS);
        }
    }

    // ---- events ------------------------------------------------------------------------------------------------

    private void connectionEvent(ConnectionEvent e) {
        String remote = ChatEvent.address(e.remote());
        switch (e.type()) {
            case CONNECTING:
                attempt = e.attempt();
                break;
            case CONNECTED:
                listener.event(ChatEvent.of("connected").with("name", config.name()).with("remote", remote)
                        .with("attempt", attempt).with("local", local).build());
                break;
            case DISCONNECTED:
                listener.event(ChatEvent.of("disconnected").with("name", config.name()).with("remote", remote)
                        .with("reason", e.reason() == null ? null : e.reason().name()).build());
                break;
            case RECONNECTING:
                listener.event(ChatEvent.of("reconnecting").with("name", config.name()).with("remote", remote)
                        .with("attempt", e.attempt()).with("delayMs", e.delay().toMillis())
                        .with("reason", e.reason() == null ? null : e.reason().name())
                        .with("error", e.reason() == null ? describe(e.cause()) : null).build());
                break;
            case GAVE_UP:
                listener.event(ChatEvent.of("gave-up").with("name", config.name()).with("remote", remote)
                        .with("attempt", e.attempt()).with("error", describe(e.cause())).build());
                stopped.complete("gave up");
                break;
            default:
                break;
        }
    }

    private void peerDead(PeerDeadException e) {
        if (e.reason() == DeadPeerReason.CLOSED_BY_PEER) {
            return; // an orderly close is no dead peer: reported as disconnected
        }
        listener.event(ChatEvent.of("peer-dead").with("name", config.name())
                .with("remote", ChatEvent.address(config.server())) // as typed: one form in every event
                .with("reason", e.reason().name())
                .with("sinceLastInboundMs", e.sinceLastInbound().toMillis())
                .with("missedPings", e.missedPings()).build());
    }

    private static String describe(Throwable t) {
        if (t == null) {
            return null;
        }
        return t.getMessage() != null ? t.getMessage() : t.getClass().getSimpleName();
    }

    /** One connection's chat handler; lives on the client's event loop. */
    private final class Connection extends SimpleChannelInboundHandler<String> {
        final CompletableFuture<Void> welcomed = new CompletableFuture<>();

        @Override
        protected void channelRead0(ChannelHandlerContext ctx, String line) {
            ServerMessage m;
            try {
                m = ChatProtocol.parseServerLine(line);
            } catch (ChatProtocol.MalformedLineException e) {
                listener.info("ignored a line from the server: " + e.getMessage());
                return;
            }
            if (m instanceof Chat) {
                Chat c = (Chat) m;
                if (c.seq() > lastSeq) { // a line seen before (a replay overlap) is not shown twice
                    lastSeq = c.seq();
                    listener.chat(c.name(), c.text());
                }
            } else if (m instanceof Info) {
                listener.info(((Info) m).text());
            } else if (m instanceof Welcome) {
                Welcome w = (Welcome) m;
                if (epoch == null) {
                    lastSeq = w.seq(); // first join: history before it is not replayed
                } else if (!epoch.equals(w.epoch())) {
                    lastSeq = 0;       // the server restarted: it replays its new history from the start
                }
                epoch = w.epoch();
                welcomed.complete(null);
            } else if (m instanceof Bye) {
                if (Bye.REPLACED.equals(((Bye) m).reason())) {
                    listener.event(ChatEvent.of("replaced").with("name", config.name())
                            .with("remote", ChatEvent.address(ctx.channel().remoteAddress())).build());
                    stopped.complete("replaced");
                    client.closeAsync();
                } else {
                    listener.info("the server is shutting down");
                }
            } else if (m instanceof Rejected) {
                String text = ((Rejected) m).text();
                listener.info("the server refused a line: " + text);
                welcomed.completeExceptionally(new IllegalStateException("the server refused to join: " + text));
            }
        }
    }
}
