package dev.keepalive.netty;

import dev.keepalive.DeadPeerReason;
import dev.keepalive.KeepaliveListener;
import dev.keepalive.KeepaliveSettings;
import dev.keepalive.PeerDeadException;
import dev.keepalive.testsupport.Loopback;
import dev.keepalive.testsupport.Transport;
import io.netty.buffer.ByteBuf;
import io.netty.channel.Channel;
import io.netty.channel.ChannelFuture;
import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.ChannelInboundHandlerAdapter;
import io.netty.channel.ChannelOption;
import io.netty.channel.socket.SocketChannel;
import io.netty.util.ReferenceCountUtil;
import io.netty.util.concurrent.ScheduledFuture;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.EnumSource;

import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicReference;

import static java.time.Duration.ofMillis;
import static java.time.Duration.ofSeconds;
import static org.awaitility.Awaitility.await;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

/**
 * Real sockets on loopback, on each transport. Timing assertions allow {@link #TOLERANCE} of timer lateness on a
 * loaded two-core machine, on top of the configured bound; nothing here asserts speed.
 */
class KeepaliveSocketTest {
    /** Lateness allowed on top of a configured bound. */
    static final Duration TOLERANCE = ofMillis(300);
    private static final Duration I = ofMillis(300);
    private static final Duration T = ofMillis(200);

    private static KeepaliveSettings fast() {
        return KeepaliveSettings.builder().pingInterval(I).pingTimeout(T).pingsMissedBeforeDead(1).pingJitter(0)
                .build();
    }

    private static Loopback loopback(Transport transport) {
        if (transport == Transport.IO_URING) {
            assumeTrue(transport.isAvailable(), transport::unavailableBecause);
        } else {
            assertTrue(transport.isAvailable(), transport::unavailableBecause);
        }
        return new Loopback(transport);
    }

    /** Records when and why a connection's peer was declared dead. */
    static final class Death implements KeepaliveListener {
        final CompletableFuture<PeerDeadException> cause = new CompletableFuture<>();
        volatile long at;

        @Override
        public void onPeerDead(PeerDeadException e) {
            at = System.nanoTime();
            cause.complete(e);
        }

        PeerDeadException await(Duration max) throws Exception {
            return cause.get(max.toMillis(), TimeUnit.MILLISECONDS);
        }
    }

    /**
     * A peer application that says hello once when connected, then reads and discards everything: its kernel
     * still ACKs, it never answers again (a peer that answered once and then hung).
     */
    static final class Silent extends ChannelInboundHandlerAdapter {
        @Override
        public void channelActive(ChannelHandlerContext ctx) {
            ctx.writeAndFlush(ctx.alloc().buffer(4).writeInt(0x4E11));
            ctx.fireChannelActive();
        }

        @Override
        public void channelRead(ChannelHandlerContext ctx, Object msg) {
            ReferenceCountUtil.release(msg);
        }
    }

    @ParameterizedTest
    @EnumSource(Transport.class)
    void peerThatStopsAnsweringIsDeadWithinIntervalPlusTimeout(Transport transport) throws Exception {
        try (Loopback net = loopback(transport)) {
            Channel server = net.server(ch -> Loopback.framed(ch, new Silent()));
            Death death = new Death();
            KeepaliveHandler handler = KeepaliveHandler.builder(fast()).listener(death).build();
            long before = System.nanoTime();
            SocketChannel client = net.connect(server, ch -> Loopback.framed(ch, handler));
            PeerDeadException e = death.await(ofSeconds(10));
            assertEquals(DeadPeerReason.PING_TIMEOUT, e.reason());
            Duration took = Duration.ofNanos(death.at - before);
            Duration bound = fast().idleDetectionBound();
            assertTrue(took.compareTo(bound.minus(ofMillis(20))) >= 0, "not before the bound: " + took);
            assertTrue(took.compareTo(bound.plus(TOLERANCE)) <= 0, "within " + bound + " + " + TOLERANCE + ": "
                    + took);
            assertEquals(server.localAddress(), e.remoteAddress().orElseThrow());
            await().atMost(ofSeconds(5)).until(() -> !client.isOpen());
        }
    }

    @ParameterizedTest
    @EnumSource(Transport.class)
    void twoHandlersKeepAnIdleConnectionAlive(Transport transport) {
        try (Loopback net = loopback(transport)) {
            Death serverDeath = new Death();
            List<KeepaliveHandler> serverHandlers = new java.util.concurrent.CopyOnWriteArrayList<>();
            Channel server = net.server(ch -> {
                KeepaliveHandler h = KeepaliveHandler.builder(fast()).listener(serverDeath).build();
                serverHandlers.add(h);
                Loopback.framed(ch, h);
            });
            Death clientDeath = new Death();
            KeepaliveHandler client = KeepaliveHandler.builder(fast()).listener(clientDeath).build();
            SocketChannel ch = net.connect(server, c -> Loopback.framed(c, client));
            // Whichever side pings first keeps the other side's inbound busy, so usually only one side pings.
            await().atMost(ofSeconds(10)).until(() -> serverHandlers.size() == 1
                    && client.stats().pongsReceived() + serverHandlers.get(0).stats().pongsReceived() >= 5);
            KeepaliveHandler serverSide = serverHandlers.get(0);
            assertTrue(ch.isOpen());
            assertFalse(clientDeath.cause.isDone());
            assertFalse(serverDeath.cause.isDone());
            assertEquals(0, client.stats().pingsMissed() + serverSide.stats().pingsMissed());
            long sent = client.stats().pingsSent() + serverSide.stats().pingsSent();
            long arrived = client.stats().peerPingsReceived() + serverSide.stats().peerPingsReceived();
            assertTrue(sent - arrived <= 2, "every ping arrived but those in flight: " + sent + " / " + arrived);
        }
    }

    /** Sends a frame every {@code every}, and answers pings only after {@code pongDelay}. */
    static final class TalkativeButSlowToPong extends ChannelInboundHandlerAdapter {
        private final Duration every;
        private final Duration pongDelay;
        private ScheduledFuture<?> ticker;

        TalkativeButSlowToPong(Duration every, Duration pongDelay) {
            this.every = every;
            this.pongDelay = pongDelay;
        }

        @Override
        public void channelActive(ChannelHandlerContext ctx) {
            ticker = ctx.executor().scheduleAtFixedRate(
                    () -> ctx.writeAndFlush(ctx.alloc().buffer(4).writeInt(0xDA7A)),
                    every.toNanos(), every.toNanos(), TimeUnit.NANOSECONDS);
        }

        @Override
        public void channelInactive(ChannelHandlerContext ctx) {
            ticker.cancel(false);
        }

        @Override
        public void channelRead(ChannelHandlerContext ctx, Object msg) {
            ByteBuf buf = (ByteBuf) msg;
            if (buf.readableBytes() == BinaryProbe.FRAME_LENGTH && buf.getByte(2) == BinaryProbe.TYPE_PING) {
                long id = buf.getLong(3);
                ctx.executor().schedule(() -> ctx.writeAndFlush(
                                KeepaliveProbe.binary().newPong(ctx.alloc(), id)),
                        pongDelay.toNanos(), TimeUnit.NANOSECONDS);
            }
            buf.release();
        }
    }

    @ParameterizedTest
    @EnumSource(Transport.class)
    void peerThatKeepsSendingWhileItsPongsAreLateIsNotDead(Transport transport) {
        try (Loopback net = loopback(transport)) {
            // Data every 400 ms (longer than the interval, so the client pings); pongs 1 s late (5 x timeout).
            Channel server = net.server(ch -> Loopback.framed(ch, new TalkativeButSlowToPong(ofMillis(400),
                    ofSeconds(1))));
            Death death = new Death();
            KeepaliveHandler handler = KeepaliveHandler.builder(fast()).listener(death).build();
            List<Object> received = new ArrayList<>();
            SocketChannel ch = net.connect(server, c -> Loopback.framed(c, handler, new ChannelInboundHandlerAdapter() {
                @Override
                public void channelRead(ChannelHandlerContext ctx, Object msg) {
                    synchronized (received) {
                        received.add(msg);
                    }
                    ReferenceCountUtil.release(msg);
                }
            }));
            Duration watch = fast().idleDetectionBound().multipliedBy(6);
            await().during(watch).atMost(watch.plus(ofSeconds(2))).until(() -> ch.isOpen() && !death.cause.isDone());
            assertTrue(handler.stats().pingsSent() >= 2, "the client did ping: " + handler.stats());
            assertTrue(handler.stats().pongsReceived() + handler.stats().stalePongs() >= 1,
                    "late pongs arrived and were handled: " + handler.stats());
            synchronized (received) {
                assertTrue(received.size() >= 5, "application data flowed: " + received.size());
            }
        }
    }

    @ParameterizedTest
    @EnumSource(Transport.class)
    void serverClosesAClientWhoseApplicationStoppedAnswering(Transport transport) throws Exception {
        try (Loopback net = loopback(transport)) {
            Death death = new Death();
            AtomicReference<KeepaliveHandler> serverHandler = new AtomicReference<>();
            Channel server = net.server(ch -> {
                KeepaliveHandler h = KeepaliveHandler.builder(fast()).listener(death).build();
                serverHandler.set(h);
                Loopback.framed(ch, h);
            });
            SocketChannel client = net.connect(server, c -> Loopback.framed(c, new Silent()));
            long before = System.nanoTime(); // the client's hello, its last word, leaves now
            PeerDeadException e = death.await(ofSeconds(10));
            assertEquals(DeadPeerReason.PING_TIMEOUT, e.reason());
            // Both edges, from the server's own view of the client's last byte (the hello).
            Duration bound = fast().idleDetectionBound();
            assertTrue(e.sinceLastInbound().compareTo(bound) >= 0, "never before the bound: " + e.getMessage());
            assertTrue(e.sinceLastInbound().compareTo(bound.plus(TOLERANCE)) <= 0,
                    "within " + bound + " + " + TOLERANCE + ": " + e.getMessage());
            // The hello may wait in a loaded machine's queues before the server reads it: the wall clock gets more.
            Duration took = Duration.ofNanos(death.at - before);
            assertTrue(took.compareTo(bound.plus(TOLERANCE).plus(ofMillis(700))) <= 0, "took " + took);
            await().atMost(ofSeconds(5)).until(() -> !client.isOpen());
        }
    }

    @ParameterizedTest
    @EnumSource(Transport.class)
    void pendingWritesFailWithTheDeadPeerReason(Transport transport) throws Exception {
        try (Loopback net = loopback(transport)) {
            // The peer's application never reads: its buffers fill up and the client's writes queue.
            Channel server = net.server(ch -> {
                ch.config().setAutoRead(false);
                ch.config().setOption(ChannelOption.SO_RCVBUF, 16 * 1024);
                Loopback.framed(ch, new Silent()); // says hello, then never reads
            });
            Death death = new Death();
            KeepaliveHandler handler = KeepaliveHandler.builder(fast()).listener(death).build();
            SocketChannel client = net.connect(server, c -> {
                c.config().setOption(ChannelOption.SO_SNDBUF, 16 * 1024);
                Loopback.framed(c, handler);
            });
            List<ChannelFuture> writes = client.eventLoop().submit(() -> {
                List<ChannelFuture> fs = new ArrayList<>();
                for (int i = 0; i < 200 && fs.size() < 200; i++) {
                    ByteBuf payload = client.alloc().buffer(64 * 1024).writeZero(64 * 1024);
                    fs.add(client.writeAndFlush(payload));
                }
                return fs;
            }).get(5, TimeUnit.SECONDS);
            assertFalse(client.isWritable(), "the writes are queued");
            PeerDeadException e = death.await(ofSeconds(10));
            assertEquals(DeadPeerReason.PING_TIMEOUT, e.reason());
            await().atMost(ofSeconds(5)).until(() -> writes.stream().allMatch(ChannelFuture::isDone));
            long failed = writes.stream().filter(f -> !f.isSuccess()).count();
            assertTrue(failed > 0, "some writes were still pending");
            for (ChannelFuture f : writes) {
                if (!f.isSuccess()) {
                    PeerDeadException cause = assertInstanceOf(PeerDeadException.class, f.cause(),
                            "a pending write fails with the reason, not a bare close");
                    assertEquals(DeadPeerReason.PING_TIMEOUT, cause.reason());
                }
            }
        }
    }

    @ParameterizedTest
    @EnumSource(Transport.class)
    void writeStallIsDetectedWhenThePeerStopsTakingData(Transport transport) throws Exception {
        try (Loopback net = loopback(transport)) {
            // The peer keeps the line alive (it sends data) but its application stopped reading.
            Channel server = net.server(ch -> {
                ch.config().setAutoRead(false);
                ch.config().setOption(ChannelOption.SO_RCVBUF, 16 * 1024);
                Loopback.framed(ch, new TalkativeButSlowToPong(ofMillis(50), ofSeconds(60)));
            });
            Duration stall = ofMillis(400);
            KeepaliveSettings settings = KeepaliveSettings.builder().pingInterval(ofSeconds(30))
                    .writeStallTimeout(stall).build();
            Death death = new Death();
            KeepaliveHandler handler = KeepaliveHandler.builder(settings).listener(death).build();
            SocketChannel client = net.connect(server, c -> {
                c.config().setOption(ChannelOption.SO_SNDBUF, 16 * 1024);
                Loopback.framed(c, handler, new Silent());
            });
            client.eventLoop().submit(() -> {
                for (int i = 0; i < 100; i++) {
                    client.writeAndFlush(client.alloc().buffer(64 * 1024).writeZero(64 * 1024));
                }
            }).get(5, TimeUnit.SECONDS);
            PeerDeadException e = death.await(ofSeconds(10));
            assertEquals(DeadPeerReason.WRITE_STALL, e.reason());
        }
    }
}
