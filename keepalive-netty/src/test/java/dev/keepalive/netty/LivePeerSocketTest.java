package dev.keepalive.netty;

import dev.keepalive.DeadPeerReason;
import dev.keepalive.KeepaliveListener;
import dev.keepalive.KeepaliveSettings;
import dev.keepalive.PeerDeadException;
import dev.keepalive.netty.KeepaliveSocketTest.Death;
import dev.keepalive.testsupport.Loopback;
import dev.keepalive.testsupport.Transport;
import io.netty.bootstrap.Bootstrap;
import io.netty.bootstrap.ServerBootstrap;
import io.netty.channel.Channel;
import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.ChannelInboundHandlerAdapter;
import io.netty.channel.ChannelInitializer;
import io.netty.channel.ChannelOption;
import io.netty.channel.EventLoopGroup;
import io.netty.channel.socket.SocketChannel;
import io.netty.util.ReferenceCountUtil;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

import java.net.InetSocketAddress;
import java.net.SocketAddress;
import java.time.Duration;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicReference;
import java.util.concurrent.locks.LockSupport;

import static java.time.Duration.ofMillis;
import static java.time.Duration.ofSeconds;
import static org.awaitility.Awaitility.await;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * The second half of the detection promise, on real loopback sockets: a live peer is not declared dead while it
 * is slow to accept, while our own event loop is busy, while our application holds reads back, or when its pings
 * queued behind a stall. Each case has its other edge: the dead (or never-answering) peer is still found.
 *
 * <p>Client and server run on separate event loop groups, so that a stall injected into one side never holds up
 * the other (a fault, not a sleep used for synchronisation: the stalls are the thing under test).
 */
class LivePeerSocketTest {
    private static final Duration TOLERANCE = ofMillis(400);
    private static final Duration I = ofMillis(300);
    private static final Duration T = ofMillis(200);

    private final EventLoopGroup serverGroup = Transport.NIO.newGroup(1);
    private final EventLoopGroup clientGroup = Transport.NIO.newGroup(1);

    @AfterEach
    void shutdown() {
        serverGroup.shutdownGracefully(0, 1, TimeUnit.SECONDS).awaitUninterruptibly(5, TimeUnit.SECONDS);
        clientGroup.shutdownGracefully(0, 1, TimeUnit.SECONDS).awaitUninterruptibly(5, TimeUnit.SECONDS);
    }

    private static KeepaliveSettings.Builder fast() {
        return KeepaliveSettings.builder().pingInterval(I).pingTimeout(T).pingsMissedBeforeDead(1).pingJitter(0);
    }

    /** A server whose children answer pings with a keepalive handler (pinging every 30 s themselves). */
    private Channel answeringServer(boolean acceptAtOnce) {
        return answeringServer(acceptAtOnce, fast().pingInterval(ofSeconds(30)).build(), KeepaliveListener.NOOP);
    }

    private Channel answeringServer(boolean acceptAtOnce, KeepaliveSettings childSettings,
                                    KeepaliveListener childListener) {
        return new ServerBootstrap().group(serverGroup).channel(Transport.NIO.server())
                .option(ChannelOption.AUTO_READ, acceptAtOnce)
                .childHandler(new ChannelInitializer<SocketChannel>() {
                    @Override
                    protected void initChannel(SocketChannel ch) {
                        Loopback.framed(ch, KeepaliveHandler.builder(childSettings).listener(childListener)
                                .build());
                    }
                })
                .bind(new InetSocketAddress("127.0.0.1", 0)).syncUninterruptibly().channel();
    }

    private SocketChannel connect(Channel server, KeepaliveHandler handler, boolean autoRead) {
        return (SocketChannel) new Bootstrap().group(clientGroup).channel(Transport.NIO.socket())
                .option(ChannelOption.AUTO_READ, autoRead)
                .handler(new ChannelInitializer<SocketChannel>() {
                    @Override
                    protected void initChannel(SocketChannel ch) {
                        Loopback.framed(ch, handler, new ChannelInboundHandlerAdapter() {
                            @Override
                            public void channelRead(ChannelHandlerContext ctx, Object msg) {
                                ReferenceCountUtil.release(msg);
                            }
                        });
                    }
                })
                .connect(server.localAddress()).syncUninterruptibly().channel();
    }

    // ---- a server slow to accept --------------------------------------------------------------------------------

    @Test
    void aServerSlowToAcceptIsNotDeadBeforeTheFirstResponseAllowance() {
        KeepaliveSettings settings = fast().build();
        Duration bound = settings.idleDetectionBound();
        Channel server = answeringServer(false); // the kernel completes handshakes; the application accepts none
        try {
            Death death = new Death();
            KeepaliveHandler handler = KeepaliveHandler.builder(settings).listener(death).build();
            SocketChannel client = connect(server, handler, true);
            // Waiting in the accept queue for one and a half bounds: longer than any ping timeout.
            Duration wait = bound.plus(bound.dividedBy(2));
            await().during(wait).atMost(wait.plus(ofSeconds(2))).until(() -> !death.cause.isDone());
            server.config().setAutoRead(true); // accepts now; the child answers the queued pings
            Duration watch = bound.multipliedBy(3);
            await().during(watch).atMost(watch.plus(ofSeconds(2))).until(() -> !death.cause.isDone()
                    && client.isOpen());
            assertTrue(handler.stats().pongsReceived() >= 1, "answered once accepted: " + handler.stats());
        } finally {
            server.close().syncUninterruptibly();
        }
    }

    @Test
    void aServerThatNeverAcceptsIsDeclaredDeadAtTheFirstResponseAllowance() throws Exception {
        Duration allowance = ofMillis(1500);
        KeepaliveSettings settings = fast().firstResponseTimeout(allowance).build();
        Channel server = answeringServer(false);
        try {
            Death death = new Death();
            KeepaliveHandler handler = KeepaliveHandler.builder(settings).listener(death).build();
            connect(server, handler, true);
            long before = System.nanoTime();
            PeerDeadException e = death.cause.get(10, TimeUnit.SECONDS);
            assertEquals(DeadPeerReason.FIRST_RESPONSE_TIMEOUT, e.reason(), e.getMessage());
            Duration took = Duration.ofNanos(death.at - before);
            assertTrue(took.compareTo(allowance.minus(ofMillis(50))) >= 0, "not before the allowance: " + took);
            assertTrue(took.compareTo(allowance.plus(TOLERANCE)) <= 0, "at the allowance: " + took);
            assertTrue(handler.stats().pingsSent() >= 2, "it kept pinging meanwhile: " + handler.stats());
        } finally {
            server.close().syncUninterruptibly();
        }
    }

    // ---- our own event loop busy ------------------------------------------------------------------------------------

    /** Answers each binary ping {@code delay} after reading it. */
    static final class PongsAfter extends ChannelInboundHandlerAdapter {
        private final Duration delay;

        PongsAfter(Duration delay) {
            this.delay = delay;
        }

        @Override
        public void channelRead(ChannelHandlerContext ctx, Object msg) {
            io.netty.buffer.ByteBuf buf = (io.netty.buffer.ByteBuf) msg;
            if (buf.readableBytes() == BinaryProbe.FRAME_LENGTH && buf.getByte(2) == BinaryProbe.TYPE_PING) {
                long id = buf.getLong(3);
                ctx.executor().schedule(() -> ctx.writeAndFlush(KeepaliveProbe.binary().newPong(ctx.alloc(), id)),
                        delay.toNanos(), TimeUnit.NANOSECONDS);
            }
            buf.release();
        }
    }

    /** Blocks its event loop for {@code hold} when a message arrives: another connection's slow handler. */
    static final class BlocksOnRead extends ChannelInboundHandlerAdapter {
        private final Duration hold;

        BlocksOnRead(Duration hold) {
            this.hold = hold;
        }

        @Override
        public void channelRead(ChannelHandlerContext ctx, Object msg) {
            ReferenceCountUtil.release(msg);
            LockSupport.parkNanos(hold.toNanos()); // the fault: a handler that blocks the loop, as a GC pause would
        }
    }

    @Test
    void aPongThatArrivesWhileTheLoopIsBusyIsReadBeforeTheVerdict() {
        KeepaliveSettings settings = fast().build();
        Duration pongDelay = ofMillis(40);
        Channel server = new ServerBootstrap().group(serverGroup).channel(Transport.NIO.server())
                .childHandler(new ChannelInitializer<SocketChannel>() {
                    @Override
                    protected void initChannel(SocketChannel ch) {
                        // One child pongs 40 ms after a ping; a busy connection's data is just swallowed.
                        Loopback.framed(ch, new PongsAfter(pongDelay));
                    }
                })
                .bind(new InetSocketAddress("127.0.0.1", 0)).syncUninterruptibly().channel();
        try {
            AtomicReference<SocketChannel> busy = new AtomicReference<>();
            AtomicReference<Channel> busyServerSide = new AtomicReference<>();
            Death death = new Death();
            AtomicBoolean triggered = new AtomicBoolean();
            KeepaliveHandler handler = KeepaliveHandler.builder(settings).listener(new KeepaliveListener() {
                @Override
                public void onPingSent(SocketAddress remote, long pingId) {
                    // The second ping: the first one's pong has proven the connection.
                    if (pingId == 2 && triggered.compareAndSet(false, true)) {
                        // The other connection's server sends at once: its read on this loop comes before our pong
                        // and holds the loop past the ping timeout (a little: no local stall is visible).
                        busyServerSide.get().writeAndFlush(busyServerSide.get().alloc().buffer(4).writeInt(1));
                    }
                }

                @Override
                public void onPeerDead(PeerDeadException e) {
                    death.onPeerDead(e);
                }
            }).build();
            Channel busyServer = new ServerBootstrap().group(serverGroup).channel(Transport.NIO.server())
                    .childHandler(new ChannelInitializer<SocketChannel>() {
                        @Override
                        protected void initChannel(SocketChannel ch) {
                            Loopback.framed(ch);
                            busyServerSide.set(ch);
                        }
                    })
                    .bind(new InetSocketAddress("127.0.0.1", 0)).syncUninterruptibly().channel();
            try {
                busy.set((SocketChannel) new Bootstrap().group(clientGroup).channel(Transport.NIO.socket())
                        .handler(new ChannelInitializer<SocketChannel>() {
                            @Override
                            protected void initChannel(SocketChannel ch) {
                                Loopback.framed(ch, new BlocksOnRead(T.plus(T.dividedBy(4))));
                            }
                        }).connect(busyServer.localAddress()).syncUninterruptibly().channel());
                await().atMost(ofSeconds(5)).until(() -> busyServerSide.get() != null);
                SocketChannel client = connect(server, handler, true); // on the busy connection's single loop
                await().atMost(ofSeconds(10)).until(() -> triggered.get() && handler.stats().pongsReceived() >= 2
                        || death.cause.isDone());
                assertFalse(death.cause.isDone(), () -> "convicted a live peer: " + death.cause.join().getMessage());
                assertEquals(0, handler.stats().pingsMissed(), handler.stats().toString());
                assertTrue(client.isOpen());
            } finally {
                busyServer.close().syncUninterruptibly();
            }
        } finally {
            server.close().syncUninterruptibly();
        }
    }

    // ---- backpressure ---------------------------------------------------------------------------------------------

    @Test
    void readsPausedByTheApplicationDoNotConvictAnAnsweringServer() {
        KeepaliveSettings settings = fast().build();
        Duration bound = settings.idleDetectionBound();
        Channel server = answeringServer(true);
        try {
            Death death = new Death();
            KeepaliveHandler handler = KeepaliveHandler.builder(settings).listener(death).build();
            SocketChannel client = connect(server, handler, true);
            await().atMost(ofSeconds(5)).until(() -> handler.stats().pongsReceived() >= 1);
            client.config().setAutoRead(false); // the application applies backpressure
            Duration paused = bound.multipliedBy(2);
            await().during(paused).atMost(paused.plus(ofSeconds(2))).until(() -> !death.cause.isDone());
            long pongsBefore = handler.stats().pongsReceived();
            client.config().setAutoRead(true);
            await().atMost(ofSeconds(5)).until(() -> handler.stats().pongsReceived() > pongsBefore);
            await().during(bound).atMost(bound.plus(ofSeconds(2))).until(() -> !death.cause.isDone());
            assertTrue(client.isOpen());
        } finally {
            server.close().syncUninterruptibly();
        }
    }

    @Test
    void aClientWhoseReadsArePausedKeepsPingingSoItsServerDoesNotConvictIt() {
        KeepaliveSettings settings = fast().build();
        Duration bound = settings.idleDetectionBound();
        Death serverDeath = new Death();
        Channel server = answeringServer(true, settings, serverDeath); // the server pings the client too
        try {
            Death death = new Death();
            KeepaliveHandler handler = KeepaliveHandler.builder(settings).listener(death).build();
            SocketChannel client = connect(server, handler, true);
            await().atMost(ofSeconds(5)).until(() -> handler.stats().pongsReceived() >= 1);
            client.config().setAutoRead(false); // the client cannot answer the server's pings now
            Duration paused = bound.multipliedBy(2);
            await().during(paused).atMost(paused.plus(ofSeconds(2)))
                    .until(() -> !death.cause.isDone() && !serverDeath.cause.isDone());
            client.config().setAutoRead(true);
            await().during(bound).atMost(bound.plus(ofSeconds(2)))
                    .until(() -> !death.cause.isDone() && !serverDeath.cause.isDone() && client.isOpen());
        } finally {
            server.close().syncUninterruptibly();
        }
    }

    // ---- a ping backlog is not a flood -----------------------------------------------------------------------------

    @Test
    void pingsQueuedBehindAServerStallAreABacklogNotAFlood() {
        // The server allows one strike: counted per ping, the three or more pings read together after the stall would
        // close the client. (One strike is left for a retry that may follow the backlog closer than 150 ms.)
        KeepaliveSettings serverSettings = fast().pingInterval(ofSeconds(30)).minPeerPingInterval(ofMillis(150))
                .peerPingStrikes(1).build();
        AtomicReference<KeepaliveHandler> serverSide = new AtomicReference<>();
        Death serverDeath = new Death();
        Channel server = new ServerBootstrap().group(serverGroup).channel(Transport.NIO.server())
                .childHandler(new ChannelInitializer<SocketChannel>() {
                    @Override
                    protected void initChannel(SocketChannel ch) {
                        KeepaliveHandler h = KeepaliveHandler.builder(serverSettings).listener(serverDeath).build();
                        serverSide.set(h);
                        Loopback.framed(ch, h);
                    }
                })
                .bind(new InetSocketAddress("127.0.0.1", 0)).syncUninterruptibly().channel();
        try {
            // The client pings every 300 ms and retries every 200 ms; it tolerates 5 misses.
            KeepaliveSettings clientSettings = fast().pingsMissedBeforeDead(5).build();
            Death clientDeath = new Death();
            KeepaliveHandler client = KeepaliveHandler.builder(clientSettings).listener(clientDeath).build();
            SocketChannel ch = connect(server, client, true);
            await().atMost(ofSeconds(5)).until(() -> client.stats().pongsReceived() >= 1);
            // The server's loop stalls for 900 ms: the client's ping and at least two retries queue up.
            serverGroup.next().execute(() -> LockSupport.parkNanos(ofMillis(900).toNanos()));
            await().atMost(ofSeconds(5)).until(() -> serverSide.get().stats().peerPingsReceived() >= 4);
            Duration watch = clientSettings.idleDetectionBound();
            await().during(watch).atMost(watch.plus(ofSeconds(2)))
                    .until(() -> !serverDeath.cause.isDone() && !clientDeath.cause.isDone() && ch.isOpen());
            assertTrue(serverSide.get().stats().peerPingStrikes() <= 1, serverSide.get().stats().toString());
        } finally {
            server.close().syncUninterruptibly();
        }
    }
}
