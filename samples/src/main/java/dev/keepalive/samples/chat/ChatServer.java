package dev.keepalive.samples.chat;

import dev.keepalive.DeadPeerReason;
import dev.keepalive.KeepaliveListener;
import dev.keepalive.KeepaliveSettings;
import dev.keepalive.PeerDeadException;
import dev.keepalive.netty.KeepaliveHandler;
import dev.keepalive.netty.KeepaliveProbe;
import dev.keepalive.netty.session.ServerSessions;
import dev.keepalive.netty.session.SessionEvent;
import dev.keepalive.netty.session.SessionFraming;
import dev.keepalive.samples.chat.ChatProtocol.Bye;
import dev.keepalive.samples.chat.ChatProtocol.ClientMessage;
import dev.keepalive.samples.chat.ChatProtocol.Info;
import dev.keepalive.samples.chat.ChatProtocol.Join;
import dev.keepalive.samples.chat.ChatProtocol.Msg;
import dev.keepalive.samples.chat.ChatProtocol.Rejected;
import dev.keepalive.session.SessionExpiredException;
import dev.keepalive.session.SessionListener;
import dev.keepalive.session.SessionSettings;
import io.netty.bootstrap.ServerBootstrap;
import io.netty.channel.Channel;
import io.netty.channel.ChannelFutureListener;
import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.ChannelInitializer;
import io.netty.channel.EventLoop;
import io.netty.channel.EventLoopGroup;
import io.netty.channel.MultiThreadIoEventLoopGroup;
import io.netty.channel.SimpleChannelInboundHandler;
import io.netty.channel.socket.SocketChannel;
import io.netty.handler.codec.TooLongFrameException;
import io.netty.util.concurrent.DefaultThreadFactory;
import io.netty.util.concurrent.ScheduledFuture;

import java.net.InetSocketAddress;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.HashSet;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.Set;
import java.util.concurrent.ThreadLocalRandom;
import java.util.concurrent.TimeUnit;

/**
 * The chat server: accepts clients, broadcasts each accepted message to the others, announces joins and leaves,
 * and evicts the clients its {@link KeepaliveHandler} declares dead.
 *
 * <ul>
 *   <li>Each connection has a {@code KeepaliveHandler} with {@link KeepaliveProbe#lines()}: it answers the clients'
 *       pings, pings idle clients itself, and declares a client dead within its bound; the eviction is announced as
 *       a leave with the reason.</li>
 *   <li>Every line travels in a resumable session ({@link ServerSessions}): each arrives once and in order, and is
 *       acknowledged by the session layer, across reconnects. A client that resumes its session on a new connection
 *       is the same member at once (its re-sent messages may come before its {@code JOIN}); the session takes the
 *       old connection over.</li>
 *   <li>A {@code JOIN} under a name whose connection is still open (half-open: its client is gone, or came back on
 *       a new connection before the server noticed) takes the name over: the old connection gets {@code BYE
 *       replaced} and is closed, and lines still arriving on it are ignored.</li>
 *   <li>A rejoining client gets the chat lines it missed ({@link ChatHistory}), after its {@code WELCOME}.</li>
 * </ul>
 * All chat state lives on the server's one event loop, in plain fields.
 */
public final class ChatServer implements AutoCloseable {
    /** Chat lines kept for clients that rejoin. */
    static final int HISTORY = 1000;
    /** How long a client's session is kept after its connection is gone. */
    static final Duration SESSION_KEPT = Duration.ofMinutes(10);
    /** How long a join must stay open before it is announced: long enough for a FIN queued behind its JOIN. */
    static final Duration JOIN_SETTLE = Duration.ofMillis(20);

    /** Receives what the server does; called on its event loop (keep it short). */
    public interface Listener {
        /** A chat message was accepted (the CLI prints it on stdout). */
        void accepted(String name, String text);

        /** A connection event ({@link ChatEvent}). */
        void event(ChatEvent event);

        /** The session layer dropped a message of {@code name} it had delivered before (its number {@code seq}). */
        default void duplicate(String name, long seq) {
        }
    }

    /**
     * What the server needs.
     *
     * @param bind        where to listen
     * @param keepalive   the keepalive settings of each client connection
     * @param joinTimeout how long a new connection may take to send its JOIN
     */
    public record Config(InetSocketAddress bind, KeepaliveSettings keepalive, Duration joinTimeout) {
        public Config {
            Objects.requireNonNull(bind, "bind");
            Objects.requireNonNull(keepalive, "keepalive");
            Objects.requireNonNull(joinTimeout, "joinTimeout");
        }
    }

    private final Config config;
    private final Listener listener;
    private final EventLoopGroup group;
    private final EventLoop loop;
    private final String epoch = Long.toHexString(ThreadLocalRandom.current().nextLong() & Long.MAX_VALUE);

    // Event-loop state.
    private final Map<String, Member> members = new LinkedHashMap<>();
    /** Names whose connection left unannounced after taking the name over: their next join is a return. */
    private final Set<String> returning = new HashSet<>();
    /** The name each session joined under. */
    private final Map<String, String> sessionNames = new HashMap<>();
    private final ServerSessions sessions;
    private final ChatHistory history = new ChatHistory(HISTORY);
    private Channel serverChannel;
    private boolean closing;

    private ChatServer(Config config, Listener listener) {
        this.config = config;
        this.listener = listener;
        this.group = new MultiThreadIoEventLoopGroup(1, new DefaultThreadFactory("chat-server", true),
                ChatTransport.ioHandler());
        this.loop = group.next();
        this.sessions = ServerSessions.builder(SessionFraming.lines())
                .settings(SessionSettings.builder().detachedTimeout(SESSION_KEPT).build())
                .listener(new SessionListener() {
                    @Override
                    public void onDuplicate(String id, long seq) {
                        String name = sessionNames.get(id);
                        if (name != null) {
                            listener.duplicate(name, seq);
                        }
                    }

                    @Override
                    public void onExpired(String id, int lostMessages, SessionExpiredException cause) {
                        if (!loop.isShuttingDown()) {
                            loop.execute(() -> sessionExpired(id));
                        }
                    }
                }).build();
    }

    /**
     * Binds and starts serving.
     *
     * @throws IllegalStateException when the address cannot be bound (the message says why)
     */
    public static ChatServer start(Config config, Listener listener) {
        ChatServer server = new ChatServer(Objects.requireNonNull(config, "config"),
                Objects.requireNonNull(listener, "listener"));
        server.bind();
        return server;
    }

    private void bind() {
        var f = new ServerBootstrap().group(group).channel(ChatTransport.server())
                .childHandler(new ChannelInitializer<SocketChannel>() {
                    @Override
                    protected void initChannel(SocketChannel ch) {
                        Connection connection = new Connection();
                        ChatCodec.addDecoders(ch.pipeline());
                        connection.keepalive = KeepaliveHandler.builder(config.keepalive())
                                .probe(KeepaliveProbe.lines()).listener(connection).build();
                        ch.pipeline().addLast(connection.keepalive, sessions.newHandler(), ChatCodec.encoder(true),
                                connection);
                    }
                })
                .bind(config.bind()).awaitUninterruptibly();
        if (!f.isSuccess()) {
            group.shutdownGracefully(0, 1, TimeUnit.SECONDS);
            throw new IllegalStateException("cannot listen on " + ChatEvent.address(config.bind()) + ": "
                    + f.cause().getMessage(), f.cause());
        }
        serverChannel = f.channel();
        listener.event(ChatEvent.of("listening").with("remote", ChatEvent.address(address())).build());
    }

    /** The address the server listens on (with the real port when it was 0). */
    public InetSocketAddress address() {
        return (InetSocketAddress) serverChannel.localAddress();
    }

    /** The names joined now, in join order. */
    public List<String> members() {
        return onLoop(() -> new ArrayList<>(members.keySet()));
    }

    /** Tells every client {@code BYE shutdown}, closes every connection and stops. Idempotent. */
    @Override
    public void close() {
        if (!group.isShuttingDown()) {
            onLoop(() -> {
                closing = true;
                serverChannel.close();
                List<Channel> open = new ArrayList<>();
                for (Member m : members.values()) {
                    open.add(m.channel);
                }
                for (Channel ch : open) {
                    ch.writeAndFlush(new Bye(Bye.SHUTDOWN)).addListener(ChannelFutureListener.CLOSE);
                }
                return null;
            });
            group.shutdownGracefully(0, 2, TimeUnit.SECONDS).awaitUninterruptibly(5, TimeUnit.SECONDS);
            sessions.close(); // releases what the sessions kept for their clients
        }
    }

    private <T> T onLoop(java.util.concurrent.Callable<T> task) {
        if (loop.inEventLoop()) {
            try {
                return task.call();
            } catch (Exception e) {
                throw new IllegalStateException(e);
            }
        }
        return loop.submit(task).syncUninterruptibly().getNow();
    }

    // ---- chat --------------------------------------------------------------------------------------------------

    /**
     * A client resumed its session on connection {@code c}: it is the member it joined as, at once (messages it
     * re-sends may come before its JOIN), and its old connection, which the session layer closes, is not a leave.
     */
    private void resumed(Connection c, String sessionId) {
        String name = sessionNames.get(sessionId);

        if (name == null) {
            return;
        }
        c.name = name;
        c.resumed = true;
        Member m = members.get(name);
        if (m != null && m.connection != c) {
            m.connection.takenOver = true;
        }
    }

    /** A session is gone for good: its member, if its connection is gone too, leaves. */
    private void sessionExpired(String sessionId) {
        String name = sessionNames.remove(sessionId);
        Member m = name == null ? null : members.get(name);
        if (m != null && !m.channel.isActive() && sessionId.equals(m.connection.session)) {
            members.remove(name);
            listener.event(ChatEvent.of("client-left").with("name", name).with("remote", m.connection.remote)
                    .with("reason", "SESSION_EXPIRED").build());
            broadcast(m.channel, new Info(name + " left (its session expired)"));
        }
    }

    private void join(Connection c, Join join) {
        if (c.name != null && !(c.resumed && c.name.equals(join.name()))) {
            c.reject("already joined as " + c.name, false);
            return;
        }
        c.cancelJoinTimer();
        String name = join.name();
        Member old = members.get(name);
        boolean replaced = old != null && old.channel != c.channel;
        List<ChatEvent> announcements = new ArrayList<>();
        if (replaced) {
            // Half-open: the client came back before this side noticed its old connection was gone.
            old.connection.replaced = true;
            if (old.connection.announced) {
                announcements.add(ChatEvent.of("client-left").with("name", name)
                        .with("remote", old.connection.remote).with("replacedBy", c.remote).build());
            }
            old.channel.writeAndFlush(new Bye(Bye.REPLACED)).addListener(ChannelFutureListener.CLOSE);
        }
        boolean back = replaced || returning.remove(name);
        c.back = back;
        c.name = name;
        boolean resumedSession = c.resumed;
        c.resumed = false;
        c.session = c.sessionId;
        sessionNames.put(c.sessionId, name);
        members.put(name, new Member(c.channel, c));
        c.channel.write(new ChatProtocol.Welcome(name, epoch, history.lastSeq()));
        if (join.resume() != null) {
            long from = join.resume().epoch().equals(epoch) ? join.resume().seq() : 0;
            long forgotten = history.forgottenAfter(from);
            if (forgotten > 0) {
                c.channel.write(new Info(forgotten + " earlier message(s) are no longer kept"));
            }
            for (ChatProtocol.Chat chat : history.after(from)) {
                if (!chat.name().equals(name)) {
                    c.channel.write(chat);
                }
            }
        }
        List<String> others = new ArrayList<>(members.keySet());
        others.remove(name);
        c.channel.writeAndFlush(new Info(others.isEmpty() ? "nobody else is here"
                : "also here: " + String.join(", ", others)));
        announcements.add(ChatEvent.of("client-joined").with("name", name).with("remote", c.remote)
                .with("replaced", back ? Boolean.TRUE : null).build());
        // Announced a moment later, and only if the connection is still open then: after a freeze (SIGSTOP) the
        // backlog holds every attempt a client gave up on meanwhile, each a JOIN followed by a FIN, and replaying
        // those as joins and leaves would only be noise.
        // A message before then proves the connection live: it is announced at once (see message()).
        c.announce = () -> {
            if (c.announcement != null) {
                c.announcement.cancel(false);
                c.announcement = null;
            }
            if (c.announced || !c.channel.isActive() || c.replaced) {
                return;
            }
            c.announced = true;
            announcements.forEach(listener::event);
            broadcast(c.channel, new Info(name + (back ? " is back" : " joined")));
        };
        c.announcement = c.channel.eventLoop().schedule(c.announce, JOIN_SETTLE.toMillis(), TimeUnit.MILLISECONDS);
        if (resumedSession) {
            c.announce.run(); // a resumed session answered a handshake first: a live client, no stale attempt
        }
    }

    private void message(Connection c, Msg msg) {
        if (c.name == null) {
            c.reject("JOIN <name> <session> first", true);
            return;
        }
        if (c.replaced) {
            return; // the name moved to a newer connection, where the client re-sends what it did not get acked
        }
        if (!c.announced && c.announce != null) {
            c.announce.run(); // it talks: a live client, not an attempt given up on
        }
        ChatProtocol.Chat chat = history.append(c.name, msg.text());
        listener.accepted(c.name, msg.text());
        broadcast(c.channel, chat);
    }

    private void left(Connection c) {
        if (c.name == null || c.replaced || c.takenOver) {
            return;
        }
        Member m = members.get(c.name);
        if (m == null || m.connection != c) {
            return;
        }
        members.remove(c.name);
        if (!c.announced) {
            // A stale attempt: it never showed up, so it does not leave either.
            if (c.announcement != null) {
                c.announcement.cancel(false);
            }
            if (c.back) {
                returning.add(c.name); // whoever joins under this name next is the same client coming back
            }
            return;
        }
        PeerDeadException dead = c.keepalive.deadCause();
        DeadPeerReason reason = dead == null ? null : dead.reason();
        listener.event(ChatEvent.of("client-left").with("name", c.name).with("remote", c.remote)
                .with("reason", reason == null ? null : reason.name()).build());
        if (!closing) {
            broadcast(c.channel, new Info(c.name + " left" + (reason == null ? "" : " (" + reason + ")")));
        }
    }

    private void broadcast(Channel from, Object line) {
        for (Member m : members.values()) {
            if (m.channel != from) {
                m.channel.writeAndFlush(line);
            }
        }
    }

    private record Member(Channel channel, Connection connection) {
    }

    /** One client connection: the chat protocol's server side. Lives on the server's event loop. */
    private final class Connection extends SimpleChannelInboundHandler<String> implements KeepaliveListener {
        Channel channel;
        KeepaliveHandler keepalive;
        String remote;
        String name;
        String session;
        /** The session this connection carries (from the session layer's event). */
        String sessionId;
        /** Its session was resumed: {@link #name} is known before the JOIN. */
        boolean resumed;
        /** A newer connection resumed this one's session: its close is no leave. */
        boolean takenOver;
        boolean replaced;
        /** Its join is a return: it took its name over from a connection still open, or from an unannounced one
         *  that had. */
        boolean back;
        /** Its join was announced (it stayed open past {@link #JOIN_SETTLE}). */
        boolean announced;
        ScheduledFuture<?> announcement;
        Runnable announce;
        ScheduledFuture<?> joinTimer;

        @Override
        public void channelActive(ChannelHandlerContext ctx) throws Exception {
            channel = ctx.channel();
            remote = ChatEvent.address(channel.remoteAddress());
            long ms = config.joinTimeout().toMillis();
            joinTimer = ctx.executor().schedule(() -> reject("no JOIN within " + ms + " ms", true), ms,
                    TimeUnit.MILLISECONDS);
            super.channelActive(ctx);
        }

        void cancelJoinTimer() {
            if (joinTimer != null) {
                joinTimer.cancel(false);
                joinTimer = null;
            }
        }

        void reject(String why, boolean close) {
            var f = channel.writeAndFlush(new Rejected(why));
            if (close) {
                f.addListener(ChannelFutureListener.CLOSE);
            }
        }

        @Override
        public void userEventTriggered(ChannelHandlerContext ctx, Object evt) throws Exception {
            if (evt instanceof SessionEvent) {
                SessionEvent e = (SessionEvent) evt;
                sessionId = e.sessionId();
                if (e.type() == SessionEvent.Type.RESUMED) {
                    resumed(this, sessionId);
                }
            }
            super.userEventTriggered(ctx, evt);
        }

        @Override
        protected void channelRead0(ChannelHandlerContext ctx, String line) {
            ClientMessage m;
            try {
                m = ChatProtocol.parseClientLine(line);
            } catch (ChatProtocol.MalformedLineException e) {
                reject(e.getMessage(), false);
                return;
            }
            if (m instanceof Join) {
                join(this, (Join) m);
            } else {
                message(this, (Msg) m);
            }
        }

        @Override
        public void channelInactive(ChannelHandlerContext ctx) throws Exception {
            cancelJoinTimer();
            left(this);
            super.channelInactive(ctx);
        }

        @Override
        public void exceptionCaught(ChannelHandlerContext ctx, Throwable cause) {
            if (cause instanceof PeerDeadException) {
                return; // reported through onPeerDead; the handler closes the connection
            }
            if (cause instanceof TooLongFrameException) {
                reject("line longer than " + ChatProtocol.MAX_LINE_BYTES + " bytes", true);
                return;
            }
            ctx.close();
        }

        @Override
        public void onPeerDead(PeerDeadException e) {
            if (e.reason() == DeadPeerReason.CLOSED_BY_PEER) {
                return; // an orderly close, not a dead peer; reported as client-left
            }
            listener.event(ChatEvent.of("client-dead").with("name", name)
                    .with("remote", ChatEvent.address(e.remoteAddress().orElse(null)))
                    .with("reason", e.reason().name())
                    .with("sinceLastInboundMs", e.sinceLastInbound().toMillis())
                    .with("missedPings", e.missedPings()).build());
        }
    }
}
