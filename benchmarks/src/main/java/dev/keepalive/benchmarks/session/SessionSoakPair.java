package dev.keepalive.benchmarks.session;

import dev.keepalive.KeepaliveSettings;
import dev.keepalive.netty.KeepaliveHandler;
import dev.keepalive.netty.KeepaliveProbe;
import dev.keepalive.netty.client.ReconnectingClient;
import dev.keepalive.netty.session.ClientSession;
import dev.keepalive.netty.session.ServerSessions;
import dev.keepalive.netty.session.SessionFraming;
import dev.keepalive.reconnect.Backoff;
import dev.keepalive.reconnect.ConnectionEvent;
import dev.keepalive.reconnect.DisconnectedWrites;
import dev.keepalive.reconnect.ReconnectPolicy;
import dev.keepalive.session.SessionListener;
import dev.keepalive.session.SessionSettings;
import dev.keepalive.testkit.FirewallProxy;
import io.netty.bootstrap.Bootstrap;
import io.netty.bootstrap.ServerBootstrap;
import io.netty.buffer.ByteBuf;
import io.netty.buffer.ByteBufAllocator;
import io.netty.channel.Channel;
import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.ChannelInboundHandlerAdapter;
import io.netty.channel.ChannelInitializer;
import io.netty.channel.ChannelOption;
import io.netty.channel.EventLoopGroup;
import io.netty.channel.MultiThreadIoEventLoopGroup;
import io.netty.channel.group.ChannelGroup;
import io.netty.channel.group.DefaultChannelGroup;
import io.netty.channel.nio.NioIoHandler;
import io.netty.channel.socket.nio.NioServerSocketChannel;
import io.netty.channel.socket.nio.NioSocketChannel;
import io.netty.handler.codec.LengthFieldBasedFrameDecoder;
import io.netty.handler.codec.LengthFieldPrepender;
import io.netty.util.ReferenceCountUtil;
import io.netty.util.concurrent.GlobalEventExecutor;

import dev.keepalive.benchmarks.support.ChildJvm;
import dev.keepalive.benchmarks.support.Ports;
import java.io.BufferedInputStream;
import java.io.DataInputStream;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.net.InetSocketAddress;
import java.nio.file.Files;
import java.nio.file.Path;
import java.net.SocketAddress;
import java.time.Duration;
import java.util.ArrayList;
import java.util.BitSet;
import java.util.List;
import java.util.concurrent.Semaphore;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicLong;
import java.util.function.LongConsumer;

import static java.time.Duration.ofMillis;

/**
 * A session server answering each client message {@code n} with {@code n}, a reconnecting session client (or both
 * without the session layer), optionally a {@link FirewallProxy} between them, and what each end received.
 */
public final class SessionSoakPair implements AutoCloseable {
    /** Messages the sender keeps unanswered at most. */
    public static final int WINDOW = 2_000;
    /** Each end's session budget of unacknowledged payload. */
    public static final long BUDGET_BYTES = 4L << 20;
    static final int PAYLOAD = 64;
    static final KeepaliveSettings KEEPALIVE = KeepaliveSettings.builder().detectWithin(ofMillis(1500))
            .tcpKeepAlive(false).pingJitter(0).build();
    static final SessionSettings SESSION = SessionSettings.builder().maxUnackedBytes(BUDGET_BYTES)
            .maxUnackedMessages(10_000).build();

    /** What one end received, checked against the numbers 1, 2, 3, ... Thread-safe. */
    public static final class Order {
        private final BitSet seen = new BitSet();
        private long received;
        private long duplicated;
        private long outOfOrder;
        private long last;

        synchronized void onMessage(long seq) {
            received++;
            if (seq < 1 || seq > Integer.MAX_VALUE || seen.get((int) seq)) {
                duplicated++;
                return;
            }
            if (seq != last + 1) {
                outOfOrder++;
            }
            seen.set((int) seq);
            last = seq;
        }

        /** Messages received (duplicates included). */
        public synchronized long received() {
            return received;
        }

        /** Messages received again. */
        public synchronized long duplicated() {
            return duplicated;
        }

        /** Messages that did not follow the one before. */
        public synchronized long outOfOrder() {
            return outOfOrder;
        }

        /** Messages of 1..{@code n} never received. */
        public synchronized long lost(int n) {
            return n - seen.cardinality();
        }

        synchronized long distinct() {
            return seen.cardinality();
        }
    }

    /** What a soak run saw. */
    public record Run(boolean completed, Duration took, Order atServer, Order atClient, int resumes,
                      List<Long> resumeNanos, List<Long> afterRestartNanos, List<Long> restartNanos,
                      long peakClientBytes, long peakServerBytes, long sendFailures) {
    }

    private final EventLoopGroup serverGroup = new MultiThreadIoEventLoopGroup(1, NioIoHandler.newFactory());
    private final EventLoopGroup clientGroup = new MultiThreadIoEventLoopGroup(1, NioIoHandler.newFactory());
    private final ChannelGroup children = new DefaultChannelGroup(GlobalEventExecutor.INSTANCE);
    private final Order atServer = new Order();
    private final Order atClient = new Order();
    private final Semaphore window = new Semaphore(WINDOW);
    private final AtomicLong sendFailures = new AtomicLong();
    private final List<Long> resumeNanos = new ArrayList<>();
    /** Resumes after a server restart, from the new server listening; guarded by {@link #resumeNanos}. */
    private final List<Long> afterRestartNanos = new ArrayList<>();
    /** How long each server restart took, from the kill to the new process listening. */
    private final List<Long> restartNanos = new ArrayList<>();
    private volatile long serverUpAt;
    private final long started = System.nanoTime();
    private volatile long disconnectedAt;
    private ServerSessions sessions;
    private ClientSession session;
    private Channel server;
    private FirewallProxy proxy;
    private ReconnectingClient client;
    private Path journal;
    private int serverPort;
    private ChildJvm serverJvm;
    private int serverRestarts;
    private long serverPeakBytes;

    private SessionSoakPair() {
    }

    /** Starts a server and a client, with or without the session layer, through a proxy or directly. */
    public static SessionSoakPair start(boolean withSession, boolean proxied) {
        return start(withSession, proxied, null);
    }

    /**
     * Starts the session server as a child process recording its sessions in {@code journal} (to be killed with
     * {@code SIGKILL} and started again, {@link #restartServer()}), and a session client through a proxy.
     */
    public static SessionSoakPair startWithServerProcess(Path journal) {
        return start(true, true, journal);
    }

    private static SessionSoakPair start(boolean withSession, boolean proxied, Path journal) {
        SessionSoakPair p = new SessionSoakPair();
        try {
            p.startUp(withSession, proxied, journal);
            return p;
        } catch (RuntimeException e) {
            p.close();
            throw e;
        }
    }

    private void startUp(boolean withSession, boolean proxied, Path journal) {
        this.journal = journal;
        if (withSession) {
            if (journal == null) {
                sessions = ServerSessions.builder(SessionFraming.binary()).settings(SESSION).build();
            }
            session = ClientSession.builder(SessionFraming.binary()).settings(SESSION)
                    .listener(new SessionListener() {
                        @Override
                        public void onResumed(String id, SocketAddress remote, int resentMessages, long resentBytes) {
                            long at = disconnectedAt;
                            if (at != 0) {
                                long now = System.nanoTime();
                                long up = serverUpAt;
                                synchronized (resumeNanos) {
                                    if (up != 0 && up - at > 0) {
                                        // The server was killed meanwhile: from its successor listening.
                                        afterRestartNanos.add(now - up);
                                    } else {
                                        resumeNanos.add(now - at);
                                    }
                                }
                                disconnectedAt = 0;
                            }
                        }
                    }).build();
        }
        InetSocketAddress target;
        if (journal != null) {
            serverPort = Ports.fresh();
            startServerProcess();
            target = new InetSocketAddress("127.0.0.1", serverPort);
        } else {
            server = serve(serverGroup, new InetSocketAddress("127.0.0.1", 0), sessions, children, atServer::onMessage);
            target = (InetSocketAddress) server.localAddress();
        }
        if (proxied) {
            proxy = FirewallProxy.builder(target).start();
        }
        ReconnectingClient.Builder b = ReconnectingClient.builder(new Bootstrap().group(clientGroup)
                        .channel(NioSocketChannel.class))
                .endpoints(List.of(proxy != null ? proxy.address() : target))
                .pipeline((ch, keepalive) -> {
                    ch.pipeline().addLast(new LengthFieldBasedFrameDecoder(1 << 20, 0, 4, 0, 4),
                            new LengthFieldPrepender(4), keepalive);
                    if (session != null) {
                        ch.pipeline().addLast(session.newHandler());
                    }
                    ch.pipeline().addLast(new Receiving());
                })
                .keepalive(KEEPALIVE, KeepaliveProbe.binary())
                .policy(ReconnectPolicy.builder().backoff(Backoff.exponentialFullJitter(ofMillis(20), ofMillis(200)))
                        .connectTimeout(Duration.ofSeconds(2)).build())
                .confirmReads(false)
                .whileDisconnected(DisconnectedWrites.queue(WINDOW * 2, 64L << 20, Duration.ofMinutes(10)))
                .listener(e -> {
                    if (e.type() == ConnectionEvent.Type.DISCONNECTED) {
                        disconnectedAt = System.nanoTime();
                    }
                });
        if (session != null) {
            b.onConnected(session::resume);
        }
        client = b.build().start();
    }

    /**
     * The session server: answers each client message {@code n} with {@code n}, after telling {@code handled}.
     */
    static Channel serve(EventLoopGroup group, InetSocketAddress bind, ServerSessions sessions,
                         ChannelGroup children, LongConsumer handled) {
        return new ServerBootstrap().group(group).channel(NioServerSocketChannel.class)
                .option(ChannelOption.SO_REUSEADDR, true)
                .childHandler(new ChannelInitializer<Channel>() {
                    @Override
                    protected void initChannel(Channel ch) {
                        children.add(ch);
                        ch.pipeline().addLast(new LengthFieldBasedFrameDecoder(1 << 20, 0, 4, 0, 4),
                                new LengthFieldPrepender(4),
                                KeepaliveHandler.builder(KEEPALIVE).probe(KeepaliveProbe.binary()).build());
                        if (sessions != null) {
                            ch.pipeline().addLast(sessions.newHandler());
                        }
                        ch.pipeline().addLast(new Answering(handled));
                    }
                }).bind(bind).syncUninterruptibly().channel();
    }

    private void startServerProcess() {
        serverJvm = ChildJvm.start("session-server", SessionSoakServer.class,
                List.of("-Xmx512m", "-XX:+UseSerialGC"), List.of(String.valueOf(serverPort), journal.toString()));
        try {
            serverJvm.awaitLine("LISTENING", Duration.ofSeconds(30));
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new IllegalStateException(e);
        }
    }

    /** Kills the server process with {@code SIGKILL} and starts it again on its journal and port. */
    public void restartServer() throws InterruptedException {
        notePeakOfServer();
        long killedAt = System.nanoTime();
        serverJvm.kill();
        serverRestarts++;
        startServerProcess();
        serverUpAt = System.nanoTime();
        restartNanos.add(serverUpAt - killedAt);
    }

    /** Asks the server process for its buffer peak (the most unacknowledged payload its sessions held). */
    private void notePeakOfServer() throws InterruptedException {
        String answer = serverJvm.request("peak", "PEAK ", Duration.ofSeconds(10));
        serverPeakBytes = Math.max(serverPeakBytes, Long.parseLong(answer.substring("PEAK ".length()).trim()));
    }

    /** How often the server process was killed and started again. */
    public int serverRestarts() {
        return serverRestarts;
    }

    /** The proxy between the ends, or null. */
    public FirewallProxy proxy() {
        return proxy;
    }

    /** Sends 1..{@code n} from a new thread, keeping at most {@link #WINDOW} unanswered; stops at the deadline. */
    public Thread sendInBackground(int n, long deadline) {
        Thread t = new Thread(() -> {
            try {
                for (int i = 1; i <= n; i++) {
                    // Bounded by the deadline.
                    while (!window.tryAcquire(100, TimeUnit.MILLISECONDS)) {
                        if (System.nanoTime() - deadline >= 0) {
                            return;
                        }
                    }
                    ByteBuf m = ByteBufAllocator.DEFAULT.buffer(PAYLOAD).writeLong(i).writeZero(PAYLOAD - 8);
                    client.send(m).whenComplete((ok, error) -> {
                        if (error != null) {
                            sendFailures.incrementAndGet();
                        }
                    });
                }
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
            }
        }, "soak-sender");
        t.setDaemon(true);
        t.start();
        return t;
    }

    /** Whether every answer to 1..{@code n} arrived. */
    public boolean done(int n) {
        return atClient.distinct() >= n;
    }

    /** Waits (bounded by {@code deadline}) until {@link #done}. */
    public void awaitDone(int n, long deadline) throws InterruptedException {
        while (!done(n) && System.nanoTime() - deadline < 0) {
            Thread.sleep(1); // polling the counters of another thread, bounded by the deadline
        }
    }

    /** The figures of the run so far. */
    public Run finish(int n) {
        if (journal != null) {
            readHandled();
            try {
                notePeakOfServer();
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
            }
        }
        List<Long> resumes;
        List<Long> afterRestart;
        synchronized (resumeNanos) {
            resumes = new ArrayList<>(resumeNanos);
            afterRestart = new ArrayList<>(afterRestartNanos);
        }
        return new Run(done(n), Duration.ofNanos(System.nanoTime() - started), atServer, atClient,
                session == null ? 0 : (int) session.stats().resumed(), resumes, afterRestart,
                new ArrayList<>(restartNanos), session == null ? 0 : session.stats().peakUnackedBytes(),
                sessions == null ? serverPeakBytes : sessions.stats().peakUnackedBytes(), sendFailures.get());
    }

    /**
     * The server processes' record of what their application handled, one after another (8 bytes a message), into
     * {@link #atServer}; and the largest buffer peak any of them reported.
     */
    private void readHandled() {
        try (DataInputStream in = new DataInputStream(new BufferedInputStream(
                Files.newInputStream(Path.of(journal + ".handled"))))) {
            for (long left = Files.size(Path.of(journal + ".handled")) / 8; left > 0; left--) {
                atServer.onMessage(in.readLong());
            }
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    @Override
    public void close() {
        if (client != null) {
            client.close();
        }
        if (session != null) {
            session.close();
        }
        if (server != null) {
            server.close().syncUninterruptibly();
        }
        if (serverJvm != null) {
            try {
                serverJvm.kill();
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
            }
        }
        children.close().syncUninterruptibly();
        if (proxy != null) {
            proxy.close();
        }
        serverGroup.shutdownGracefully(0, 1, TimeUnit.SECONDS).syncUninterruptibly();
        clientGroup.shutdownGracefully(0, 1, TimeUnit.SECONDS).syncUninterruptibly();
        if (sessions != null) {
            sessions.close();
        }
    }

    /** The server's application: records each message and answers it with its number. */
    private static final class Answering extends ChannelInboundHandlerAdapter {
        private final LongConsumer handled;

        Answering(LongConsumer handled) {
            this.handled = handled;
        }

        @Override
        public void channelRead(ChannelHandlerContext ctx, Object msg) {
            ByteBuf b = (ByteBuf) msg;
            long seq = b.getLong(b.readerIndex());
            ReferenceCountUtil.release(msg);
            handled.accept(seq);
            ctx.write(ctx.alloc().buffer(PAYLOAD).writeLong(seq).writeZero(PAYLOAD - 8));
        }

        @Override
        public void channelReadComplete(ChannelHandlerContext ctx) {
            ctx.flush();
        }

        @Override
        public void exceptionCaught(ChannelHandlerContext ctx, Throwable cause) {
            ctx.close();
        }
    }

    /** The client's application: checks each answer and opens the window by one. */
    private final class Receiving extends ChannelInboundHandlerAdapter {
        @Override
        public void channelRead(ChannelHandlerContext ctx, Object msg) {
            ByteBuf b = (ByteBuf) msg;
            long seq = b.getLong(b.readerIndex());
            ReferenceCountUtil.release(msg);
            atClient.onMessage(seq);
            window.release();
        }
    }
}
