package dev.keepalive.netty;

import dev.keepalive.DeadPeerReason;
import dev.keepalive.KeepaliveListener;
import dev.keepalive.KeepaliveSettings;
import dev.keepalive.LivenessState;
import dev.keepalive.ManualTicker;
import dev.keepalive.PeerDeadException;
import dev.keepalive.testsupport.EmbeddedTime;
import io.netty.buffer.ByteBuf;
import io.netty.buffer.Unpooled;
import io.netty.channel.ChannelFuture;
import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.ChannelInboundHandlerAdapter;
import io.netty.channel.embedded.EmbeddedChannel;
import io.netty.handler.codec.LengthFieldBasedFrameDecoder;
import io.netty.util.ReferenceCountUtil;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

import java.io.IOException;
import java.net.SocketAddress;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;

import static java.time.Duration.ofMillis;
import static java.time.Duration.ofSeconds;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertSame;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

class KeepaliveHandlerTest {
    private static final Duration I = ofSeconds(10);
    private static final Duration T = ofSeconds(2);

    private final ManualTicker ticker = new ManualTicker(Long.MAX_VALUE - ofSeconds(5).toNanos());
    private final RecordingListener events = new RecordingListener();
    private EmbeddedChannel ch;
    private EmbeddedTime time;
    private KeepaliveHandler handler;

    @AfterEach
    void releaseEverything() {
        if (ch != null) {
            ch.finishAndReleaseAll();
        }
    }

    private static KeepaliveSettings.Builder settings() {
        return KeepaliveSettings.builder().pingInterval(I).pingTimeout(T).pingsMissedBeforeDead(1).pingJitter(0);
    }

    private void start(KeepaliveSettings settings, KeepaliveProbe probe) {
        handler = KeepaliveHandler.builder(settings).probe(probe).listener(events).ticker(ticker)
                .random(() -> 0.0).build();
        ch = new EmbeddedChannel();
        time = new EmbeddedTime(ticker, ch);
        ch.pipeline().addLast(handler);
        // The peer's first bytes arrive at once: the connection has proven itself (see firstResponseTimeout).
        ch.pipeline().fireChannelReadComplete();
    }

    /** As {@link #start}, but nothing has arrived from the peer yet. */
    private void startUnproven(KeepaliveSettings settings, KeepaliveProbe probe) {
        handler = KeepaliveHandler.builder(settings).probe(probe).listener(events).ticker(ticker)
                .random(() -> 0.0).build();
        ch = new EmbeddedChannel();
        time = new EmbeddedTime(ticker, ch);
        ch.pipeline().addLast(handler);
    }

    private static ByteBuf binary(byte type, long id) {
        return Unpooled.buffer(11).writeShort(BinaryProbe.DEFAULT_MARKER).writeByte(type).writeLong(id);
    }

    /** Reads the next outbound message as a binary probe frame: {type, id}. */
    private long[] readProbe() {
        ByteBuf buf = ch.readOutbound();
        assertNotNull(buf, "a probe frame was written");
        try {
            assertEquals(11, buf.readableBytes());
            assertEquals(BinaryProbe.DEFAULT_MARKER, buf.readUnsignedShort());
            return new long[] {buf.readByte(), buf.readLong()};
        } finally {
            buf.release();
        }
    }

    @Test
    void pingsAfterTheIntervalAndSwallowsThePong() {
        start(settings().build(), KeepaliveProbe.binary());
        time.advance(I.minusNanos(1));
        assertNull(ch.readOutbound(), "no ping before the interval");
        time.advance(Duration.ofNanos(1));
        long[] ping = readProbe();
        assertEquals(BinaryProbe.TYPE_PING, ping[0]);
        assertEquals(1, ping[1]);
        time.advance(ofMillis(3));
        ch.writeInbound(binary(BinaryProbe.TYPE_PONG, 1));
        assertNull(ch.readInbound(), "the pong never reaches the application");
        assertEquals(ofMillis(3), events.rtts.get(0));
        assertEquals(1, handler.stats().pongsReceived());
        assertEquals(LivenessState.WATCHING, handler.stats().state());
        assertTrue(ch.isOpen());
    }

    @Test
    void applicationMessagesPassThroughUntouched() {
        start(settings().build(), KeepaliveProbe.binary());
        ByteBuf app = Unpooled.copiedBuffer("hello", StandardCharsets.US_ASCII);
        ch.writeInbound(app);
        ByteBuf read = ch.readInbound();
        assertSame(app, read);
        read.release();
        ByteBuf lookalike = Unpooled.buffer(12).writeShort(BinaryProbe.DEFAULT_MARKER).writeByte(1).writeLong(1)
                .writeByte(0);
        ch.writeInbound(lookalike);
        ByteBuf read2 = ch.readInbound();
        assertSame(lookalike, read2, "12 bytes with the marker is an application frame");
        read2.release();
    }

    @Test
    void unansweredPingDeclaresDeadAtIntervalPlusTimeoutAndFailsPendingWrites() {
        start(settings().build(), KeepaliveProbe.binary());
        long start = time.now();
        time.advance(I);
        readProbe();
        ch.config().setAutoRead(true);
        // A write that is queued but not flushed when the peer is declared dead.
        ChannelFuture pending = ch.write(Unpooled.copiedBuffer("queued", StandardCharsets.US_ASCII));
        time.advance(T.minusNanos(1));
        assertTrue(ch.isOpen());
        time.advance(Duration.ofNanos(1));
        assertFalse(ch.isOpen(), "closed at exactly interval + timeout");
        assertEquals(I.plus(T).toNanos(), time.now() - start);
        PeerDeadException fired = assertThrows(PeerDeadException.class, ch::checkException);
        assertEquals(DeadPeerReason.PING_TIMEOUT, fired.reason());
        assertEquals(I.plus(T), fired.sinceLastInbound());
        assertEquals(1, fired.missedPings());
        assertTrue(pending.isDone());
        PeerDeadException writeCause = assertInstanceOf(PeerDeadException.class, pending.cause());
        assertEquals(DeadPeerReason.PING_TIMEOUT, writeCause.reason());
        assertEquals(List.of(DeadPeerReason.PING_TIMEOUT), events.deaths);
        ChannelFuture late = ch.writeAndFlush(Unpooled.copiedBuffer("late", StandardCharsets.US_ASCII));
        assertFalse(late.isSuccess());
    }

    @Test
    void writesThroughTheHandlerAfterDeathFailWithTheReason() {
        start(settings().build(), KeepaliveProbe.binary());
        List<ChannelFuture> writesFromExceptionCaught = new ArrayList<>();
        ByteBuf msg = Unpooled.copiedBuffer("x", StandardCharsets.US_ASCII);
        ch.pipeline().addLast(new io.netty.channel.ChannelInboundHandlerAdapter() {
            @Override
            public void exceptionCaught(io.netty.channel.ChannelHandlerContext ctx, Throwable cause) {
                writesFromExceptionCaught.add(ctx.writeAndFlush(msg));
            }
        });
        time.advance(I.plus(T));
        assertEquals(1, writesFromExceptionCaught.size());
        assertInstanceOf(PeerDeadException.class, writesFromExceptionCaught.get(0).cause());
        assertEquals(0, msg.refCnt(), "the message was released");
    }

    @Test
    void inboundDataKeepsTheConnectionAliveWithoutPings() {
        start(settings().build(), KeepaliveProbe.binary());
        for (int i = 0; i < 30; i++) {
            time.advance(I.dividedBy(3));
            ch.writeInbound(Unpooled.copiedBuffer("data", StandardCharsets.US_ASCII));
            ReferenceCountUtil.release(ch.readInbound());
        }
        assertNull(ch.readOutbound(), "a busy connection sends no pings");
        assertEquals(0, handler.stats().pingsSent());
        assertTrue(ch.isOpen());
    }

    @Test
    void bytesOfAMessageStillBeingDecodedKeepThePeerAlive() {
        // A slow link: one large message trickles in for more than three detection bounds (I + T = 12 s). The
        // decoder before the handler completes no message until the end, but bytes keep arriving.
        handler = KeepaliveHandler.builder(settings().build()).listener(events).ticker(ticker).random(() -> 0.0)
                .build();
        ch = new EmbeddedChannel();
        time = new EmbeddedTime(ticker, ch);
        ch.pipeline().addLast(new LengthFieldBasedFrameDecoder(1 << 20, 0, 4, 0, 4), handler);
        int chunks = 40;
        ch.writeInbound(Unpooled.buffer(4).writeInt(chunks * 10));
        for (int i = 0; i < chunks; i++) {
            time.advance(ofSeconds(1));
            assertTrue(ch.isOpen(), "alive after " + (i + 1) + " s");
            ch.writeInbound(Unpooled.buffer(10).writeZero(10));
        }
        ByteBuf message = ch.readInbound();
        assertEquals(chunks * 10, message.readableBytes());
        message.release();
        assertTrue(events.deaths.isEmpty(), "not declared dead: " + events.deaths);
        assertEquals(0, handler.stats().pingsMissed());
    }

    @Test
    void severalMissedPingsAreToldToTheListener() {
        start(settings().pingsMissedBeforeDead(3).build(), KeepaliveProbe.binary());
        time.advance(I.plus(T).plus(T));
        assertEquals(1, readProbe()[1]);
        assertEquals(2, readProbe()[1]);
        assertEquals(3, readProbe()[1]);
        assertEquals(List.of("1:1", "2:2"), events.missed);
        assertTrue(ch.isOpen());
        time.advance(T);
        assertFalse(ch.isOpen());
        assertThrows(PeerDeadException.class, ch::checkException);
        assertEquals(List.of("1:1", "2:2", "3:3"), events.missed, "the final miss is told too");
        assertEquals(3, handler.stats().pingsMissed());
    }

    @Test
    void answersThePeersPingsWithTheirId() {
        start(settings().build(), KeepaliveProbe.binary());
        ch.writeInbound(binary(BinaryProbe.TYPE_PING, 42));
        long[] pong = readProbe();
        assertEquals(BinaryProbe.TYPE_PONG, pong[0]);
        assertEquals(42, pong[1]);
        assertNull(ch.readInbound());
        assertEquals(1, handler.stats().peerPingsReceived());
    }

    @Test
    void peerThatPingsTooOftenIsToldAndClosed() {
        start(settings().minPeerPingInterval(ofSeconds(1)).peerPingStrikes(2).build(), KeepaliveProbe.binary());
        for (int i = 1; i <= 3; i++) {
            ch.writeInbound(binary(BinaryProbe.TYPE_PING, i));
            assertEquals(BinaryProbe.TYPE_PONG, readProbe()[0]);
            time.advance(ofMillis(100));
        }
        PeerDeadException e = assertThrows(PeerDeadException.class,
                () -> ch.writeInbound(binary(BinaryProbe.TYPE_PING, 4)));
        long[] goAway = readProbe();
        assertEquals(BinaryProbe.TYPE_GOAWAY, goAway[0]);
        assertEquals(BinaryProbe.GOAWAY_TOO_MANY_PINGS, goAway[1]);
        assertFalse(ch.isOpen());
        assertEquals(DeadPeerReason.PEER_PINGED_TOO_OFTEN, e.reason());
        assertEquals(3, handler.stats().peerPingStrikes());
    }

    @Test
    void clientToldToGoAwayReportsTooManyPings() {
        start(settings().build(), KeepaliveProbe.binary());
        PeerDeadException e = assertThrows(PeerDeadException.class,
                () -> ch.writeInbound(binary(BinaryProbe.TYPE_GOAWAY, BinaryProbe.GOAWAY_TOO_MANY_PINGS)));
        assertFalse(ch.isOpen());
        assertEquals(DeadPeerReason.TOO_MANY_PINGS, e.reason());
    }

    @Test
    void malformedProbeFramesAreCountedAndDropped() {
        start(settings().build(), KeepaliveProbe.binary());
        ch.writeInbound(binary((byte) 9, 1));
        ch.writeInbound(binary(BinaryProbe.TYPE_GOAWAY, 77));
        assertNull(ch.readInbound());
        assertEquals(2, handler.stats().malformedProbeFrames());
        assertTrue(ch.isOpen());
    }

    @Test
    void staleAndDuplicatePongsDoNotAnswerTheCurrentPing() {
        start(settings().pingsMissedBeforeDead(2).build(), KeepaliveProbe.binary());
        time.advance(I.plus(T));
        readProbe();
        readProbe();
        ch.writeInbound(binary(BinaryProbe.TYPE_PONG, 99));
        assertEquals(1, handler.stats().unsolicitedPongs());
        ch.writeInbound(binary(BinaryProbe.TYPE_PONG, 1));
        assertEquals(1, handler.stats().stalePongs());
        ch.writeInbound(binary(BinaryProbe.TYPE_PONG, 2));
        ch.writeInbound(binary(BinaryProbe.TYPE_PONG, 2));
        assertEquals(1, handler.stats().duplicatePongs());
        assertEquals(1, handler.stats().pongsReceived());
    }

    @Test
    void writeOnAQuietConnectionProbesAtOnce() {
        start(settings().build(), KeepaliveProbe.binary());
        time.advance(I.minus(ofMillis(1)));
        // The event loop is busy elsewhere: time passes the interval before the timer can run.
        ticker.advance(ofMillis(2));
        ch.advanceTimeBy(2, java.util.concurrent.TimeUnit.MILLISECONDS);
        ch.writeAndFlush(Unpooled.copiedBuffer("request", StandardCharsets.US_ASCII));
        ByteBuf request = ch.readOutbound();
        assertEquals("request", request.toString(StandardCharsets.US_ASCII));
        request.release();
        long[] ping = readProbe();
        assertEquals(BinaryProbe.TYPE_PING, ping[0], "the write carried a probe right behind it");
        ch.writeAndFlush(Unpooled.copiedBuffer("second", StandardCharsets.US_ASCII));
        ReferenceCountUtil.release(ch.readOutbound());
        assertNull(ch.readOutbound(), "one probe, not one per write");
        time.advance(T);
        assertFalse(ch.isOpen(), "dead one ping timeout after the write");
        assertThrows(PeerDeadException.class, ch::checkException);
    }

    @Test
    void lineProbeUsesTextAndAcceptsStringsAndBuffers() {
        start(settings().build(), KeepaliveProbe.lines());
        time.advance(I);
        ByteBuf ping = ch.readOutbound();
        assertEquals("PING 1\n", ping.toString(StandardCharsets.US_ASCII));
        ping.release();
        ch.writeInbound("PONG 1");
        assertEquals(1, handler.stats().pongsReceived());
        ch.writeInbound(Unpooled.copiedBuffer("PING 7\r\n", StandardCharsets.US_ASCII));
        ByteBuf pong = ch.readOutbound();
        assertEquals("PONG 7\n", pong.toString(StandardCharsets.US_ASCII));
        pong.release();
        ch.writeInbound("PING seven");
        assertEquals(1, handler.stats().malformedProbeFrames());
        ch.writeInbound("PINGS are fun");
        assertEquals("PINGS are fun", ch.readInbound());
        assertEquals(DeadPeerReason.TOO_MANY_PINGS,
                assertThrows(PeerDeadException.class, () -> ch.writeInbound("GOAWAY too_many_pings")).reason());
    }

    @Test
    void lineProbeWordsAreConfigurableAndValidated() {
        LineProbe probe = KeepaliveProbe.lines().withWords("HB", "HB_ACK", "BYE").withLineSeparator("\r\n");
        start(settings().build(), probe);
        time.advance(I);
        ByteBuf ping = ch.readOutbound();
        assertEquals("HB 1\r\n", ping.toString(StandardCharsets.US_ASCII));
        ping.release();
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
                () -> KeepaliveProbe.lines().withWords("PING", "PING", "BYE"));
        assertEquals("pingWord, pongWord and goAwayWord must differ, but were PING, PING, BYE", e.getMessage());
        e = assertThrows(IllegalArgumentException.class, () -> KeepaliveProbe.lines().withWords("P NG", "A", "B"));
        assertEquals("pingWord must be 1..16 ASCII letters, digits or _ (not starting with a digit), but was "
                + "\"P NG\"", e.getMessage());
        e = assertThrows(IllegalArgumentException.class, () -> BinaryProbe.withMarker(0x10000));
        assertEquals("marker must be in 0..0xFFFF, but was 65536", e.getMessage());
    }

    @Test
    void passiveProbeNeverPingsAndDeclaresReadIdle() {
        start(settings().readIdleTimeout(ofSeconds(4)).build(), KeepaliveProbe.passive());
        time.advance(ofSeconds(3));
        ch.writeInbound(Unpooled.copiedBuffer("heartbeat", StandardCharsets.US_ASCII));
        ReferenceCountUtil.release(ch.readInbound());
        long lastByte = time.now();
        time.advance(ofSeconds(6));
        assertFalse(ch.isOpen());
        PeerDeadException e = assertThrows(PeerDeadException.class, ch::checkException);
        assertEquals(DeadPeerReason.READ_IDLE, e.reason());
        assertNull(ch.readOutbound(), "never pings");
        assertTrue(events.deathTimes.get(0) - lastByte <= ofSeconds(4).toNanos() * 9 / 8);
        assertTrue(events.deathTimes.get(0) - lastByte >= ofSeconds(4).toNanos());
    }

    @Test
    void worksWhenAddedToAnActiveChannelAndStopsWhenRemoved() {
        handler = KeepaliveHandler.builder(settings().build()).ticker(ticker).random(() -> 0).build();
        ch = new EmbeddedChannel();
        time = new EmbeddedTime(ticker, ch);
        assertTrue(ch.isActive());
        ch.pipeline().addLast(handler);
        time.advance(I);
        readProbe();
        ch.pipeline().remove(handler);
        time.advance(T.multipliedBy(10));
        assertTrue(ch.isOpen(), "a removed handler does nothing");
        assertNull(ch.readOutbound());
    }

    @Test
    void refusesReuseOnASecondChannel() {
        handler = KeepaliveHandler.builder(settings().build()).build();
        ch = new EmbeddedChannel(handler);
        EmbeddedChannel second = new EmbeddedChannel();
        Throwable e = assertThrows(io.netty.channel.ChannelPipelineException.class,
                () -> second.pipeline().addLast(handler));
        assertTrue(e.getMessage().contains("not a @Sharable handler"), e.toString());
        second.finishAndReleaseAll();
    }

    @Test
    void refusesTheServerChannel() throws Exception {
        io.netty.channel.DefaultEventLoopGroup group = new io.netty.channel.DefaultEventLoopGroup(1);
        try {
            io.netty.channel.local.LocalServerChannel server = new io.netty.channel.local.LocalServerChannel();
            group.register(server).sync();
            java.util.concurrent.CompletableFuture<Throwable> caught = new java.util.concurrent.CompletableFuture<>();
            server.pipeline().addLast(new io.netty.channel.ChannelInboundHandlerAdapter() {
                @Override
                public void exceptionCaught(io.netty.channel.ChannelHandlerContext ctx, Throwable cause) {
                    caught.complete(cause);
                }
            });
            server.pipeline().addLast(KeepaliveHandler.builder(settings().build()).build());
            Throwable e = caught.get(5, java.util.concurrent.TimeUnit.SECONDS);
            assertTrue(e.getCause().getMessage().contains("childHandler"), e.toString());
            server.close().sync();
        } finally {
            group.shutdownGracefully(0, 1, java.util.concurrent.TimeUnit.SECONDS).sync();
        }
    }

    /** What the transport does when a read finds the end of the stream: read complete, then close. */
    private void endOfStreamFromThePeer() {
        ch.unsafe().recvBufAllocHandle().lastBytesRead(-1);
        ch.pipeline().fireChannelReadComplete();
        ch.unsafe().close(ch.voidPromise());
    }

    @Test
    void closeByThePeerIsReportedAndALocalCloseIsNot() {
        start(settings().build(), KeepaliveProbe.binary());
        endOfStreamFromThePeer();
        assertEquals(List.of(DeadPeerReason.CLOSED_BY_PEER), events.deaths);
        ch.close();

        EmbeddedChannel other = new EmbeddedChannel(KeepaliveHandler.builder(settings().build()).listener(events)
                .build());
        other.close();
        assertEquals(1, events.deaths.size(), "a local close is not a dead peer");
        other.finishAndReleaseAll();
    }

    @Test
    void theEmptyReadAtEndOfStreamIsNoInbound() {
        start(settings().build(), KeepaliveProbe.binary());
        ch.writeInbound(Unpooled.copiedBuffer("last words", StandardCharsets.US_ASCII));
        ((ByteBuf) ch.readInbound()).release();
        time.advance(ofSeconds(3));
        endOfStreamFromThePeer();
        assertEquals(List.of(DeadPeerReason.CLOSED_BY_PEER), events.deaths);
        // The FIN carried no byte: the last inbound byte is exactly 3 s old; counted as inbound, the empty read made
        // it 0.
        assertEquals(ofSeconds(3), handler.deadCause().sinceLastInbound());
    }

    @Test
    void deadCauseIsSetWhenTheCloseCompletes() {
        start(settings().build(), KeepaliveProbe.binary());
        java.util.concurrent.atomic.AtomicReference<PeerDeadException> seen =
                new java.util.concurrent.atomic.AtomicReference<>();
        ch.closeFuture().addListener(f -> seen.set(handler.deadCause()));
        endOfStreamFromThePeer();
        assertNotNull(seen.get(), "deadCause() was set before the close future's listeners ran");
        assertEquals(DeadPeerReason.CLOSED_BY_PEER, seen.get().reason());
    }

    @Test
    void aCloseStartedByAHandlerNearerTheSocketIsNotBlamedOnThePeer() {
        start(settings().build(), KeepaliveProbe.binary());
        ChannelHandlerContext nearer = ch.pipeline().addFirst("nearer", new ChannelInboundHandlerAdapter())
                .context("nearer");
        nearer.close(); // goes toward the socket, not through the keepalive handler
        assertEquals(List.of(DeadPeerReason.CLOSED_LOCALLY), events.deaths);
        assertNull(handler.deadCause().getCause());
    }

    @Test
    void anUnclassifiedErrorBeforeTheCloseIsAnIoError() {
        start(settings().build(), KeepaliveProbe.binary());
        List<Throwable> caught = new ArrayList<>();
        ch.pipeline().addLast(new ChannelInboundHandlerAdapter() {
            @Override
            public void exceptionCaught(ChannelHandlerContext ctx, Throwable cause) {
                caught.add(cause);
            }
        });
        javax.net.ssl.SSLException handshake = new javax.net.ssl.SSLException("handshake timed out after 10000ms");
        ch.pipeline().fireExceptionCaught(handshake);
        assertEquals(List.of(handshake), caught, "passed on untouched: it is no kernel timeout");
        assertTrue(events.deaths.isEmpty());
        ch.unsafe().close(ch.voidPromise()); // as the TLS handler nearer the socket closes
        assertEquals(List.of(DeadPeerReason.IO_ERROR), events.deaths);
        assertSame(handshake, handler.deadCause().getCause());
    }

    @Test
    void resetAndKernelTimeoutBecomeTypedExceptions() {
        start(settings().build(), KeepaliveProbe.binary());
        IOException reset = new IOException("recvAddress(..) failed: Connection reset by peer");
        ch.pipeline().fireExceptionCaught(reset);
        PeerDeadException e = assertThrows(PeerDeadException.class, ch::checkException);
        assertEquals(DeadPeerReason.RESET_BY_PEER, e.reason());
        assertSame(reset, e.getCause());
        assertFalse(ch.isOpen());
        ch.finishAndReleaseAll();

        start(settings().build(), KeepaliveProbe.binary());
        ch.pipeline().fireExceptionCaught(new IOException("Connection timed out"));
        assertEquals(DeadPeerReason.TCP_TIMEOUT, assertThrows(PeerDeadException.class, ch::checkException).reason());
        ch.finishAndReleaseAll();

        start(settings().build(), KeepaliveProbe.binary());
        IllegalStateException other = new IllegalStateException("application bug");
        ch.pipeline().fireExceptionCaught(other);
        assertSame(other, assertThrows(IllegalStateException.class, ch::checkException));
        assertTrue(ch.isOpen(), "other exceptions pass through untouched");
    }

    @Test
    void localStallReprobesInsteadOfDying() {
        start(settings().build(), KeepaliveProbe.binary());
        time.advance(I);
        readProbe();
        // The event loop stalls: time jumps past the ping deadline before the timer can run.
        ticker.advance(T.plus(ofSeconds(1)));
        ch.advanceTimeBy(T.plus(ofSeconds(1)).toNanos(), java.util.concurrent.TimeUnit.NANOSECONDS);
        ch.runScheduledPendingTasks();
        assertTrue(ch.isOpen());
        assertEquals(2, readProbe()[1], "a fresh probe");
        assertEquals(1, events.stalls.size());
        assertEquals(1, handler.stats().localStalls());
    }

    @Test
    void listenerExceptionsDoNotBreakTheHandler() {
        handler = KeepaliveHandler.builder(settings().build()).ticker(ticker).random(() -> 0)
                .listener(new KeepaliveListener() {
                    @Override
                    public void onPingSent(SocketAddress remote, long pingId) {
                        throw new IllegalStateException("listener bug");
                    }
                }).build();
        ch = new EmbeddedChannel();
        time = new EmbeddedTime(ticker, ch);
        ch.pipeline().addLast(handler);
        ch.pipeline().fireChannelReadComplete();
        time.advance(I);
        readProbe();
        time.advance(T);
        assertFalse(ch.isOpen(), "still declared dead");
        assertThrows(PeerDeadException.class, ch::checkException);
    }

    // ---- issue 12: the timer cannot die, writes stall on time, the final miss is told --------------------------

    /** The binary probe, but building ping {@code failingId} throws. */
    private static KeepaliveProbe throwingOnPing(long failingId, RuntimeException error) {
        KeepaliveProbe binary = KeepaliveProbe.binary();
        return new KeepaliveProbe() {
            @Override
            public Object newPing(io.netty.buffer.ByteBufAllocator alloc, long pingId) {
                if (pingId == failingId) {
                    throw error;
                }
                return binary.newPing(alloc, pingId);
            }

            @Override
            public Object newPong(io.netty.buffer.ByteBufAllocator alloc, long pingId) {
                return binary.newPong(alloc, pingId);
            }

            @Override
            public boolean consume(Object msg, Sink sink) {
                return binary.consume(msg, sink);
            }
        };
    }

    @Test
    void aProbeThatThrowsIsCountedAndTheConnectionStaysWatched() {
        start(settings().pingsMissedBeforeDead(2).build(),
                throwingOnPing(1, new IllegalStateException("probe bug")));
        time.advance(I);
        assertNull(ch.readOutbound(), "ping 1 could not be built");
        assertEquals(1, handler.stats().probeErrors());
        assertTrue(ch.isOpen());
        time.advance(T);
        assertEquals(2, readProbe()[1], "the timer lived on: the retry went out");
        ch.writeInbound(binary(BinaryProbe.TYPE_PONG, 2));
        assertEquals(LivenessState.WATCHING, handler.stats().state());
        // And a silent peer is still found at the bound.
        long lastByte = ticker.nanoTime();
        time.advance(I);
        readProbe();
        time.advance(T.multipliedBy(2));
        readProbe();
        assertFalse(ch.isOpen());
        assertEquals(List.of(DeadPeerReason.PING_TIMEOUT), events.deaths);
        assertEquals(settings().pingsMissedBeforeDead(2).build().idleDetectionBound().toNanos(),
                events.deathTimes.get(0) - lastByte);
        assertThrows(PeerDeadException.class, ch::checkException);
    }

    @Test
    void theFinalMissedPingIsToldToo() {
        start(settings().pingsMissedBeforeDead(2).build(), KeepaliveProbe.binary());
        time.advance(I.plus(T).plus(T));
        assertEquals(List.of("1:1", "2:2"), events.missed, "every miss, the last one included");
        assertEquals(2, handler.stats().pingsMissed());
        assertThrows(PeerDeadException.class, ch::checkException);
    }

    @Test
    void theFirstWriteBringsTheWriteStallCheckForward() {
        Duration stall = ofMillis(400);
        start(settings().pingInterval(ofSeconds(60)).writeStallTimeout(stall).build(), KeepaliveProbe.binary());
        // Flushed bytes the transport cannot take (below the high-water mark: writability never changes).
        ch.config().setAutoRead(true);
        ch.unsafe().outboundBuffer().addMessage(Unpooled.buffer(8).writeLong(1), 8, ch.newPromise());
        ch.unsafe().outboundBuffer().addFlush();
        ch.pipeline().write(Unpooled.buffer(4).writeInt(2)); // the application's write, not yet flushed
        ch.pipeline().fireChannelReadComplete(); // the peer still talks
        time.advance(stall.plus(stall.dividedBy(8)));
        assertFalse(ch.isOpen(), "write stall within 9/8 of its timeout");
        assertEquals(List.of(DeadPeerReason.WRITE_STALL), events.deaths);
        assertThrows(PeerDeadException.class, ch::checkException);
    }

    @Test
    void bytesTheApplicationNeverFlushedAreNotThePeersStall() {
        Duration stall = ofMillis(400);
        start(settings().pingInterval(ofSeconds(60)).writeStallTimeout(stall).build(), KeepaliveProbe.binary());
        ChannelFuture unflushed = ch.pipeline().write(Unpooled.buffer(4).writeInt(1));
        // Two ping intervals: every timer check on the way sees the unflushed bytes.
        for (int i = 0; i < 300; i++) {
            ch.pipeline().fireChannelReadComplete(); // the peer talks all along
            time.advance(stall);
        }
        assertTrue(ch.isOpen(), "no WRITE_STALL for data we never flushed: " + events.deaths);
        assertFalse(unflushed.isDone());
    }

    final class RecordingListener implements KeepaliveListener {
        final List<Duration> rtts = new ArrayList<>();
        final List<DeadPeerReason> deaths = new ArrayList<>();
        final List<Long> deathTimes = new ArrayList<>();
        final List<String> missed = new ArrayList<>();
        final List<Duration> stalls = new ArrayList<>();

        @Override
        public void onPongReceived(SocketAddress remote, long pingId, Duration rtt) {
            rtts.add(rtt);
        }

        @Override
        public void onPingMissed(SocketAddress remote, long pingId, int missedCount) {
            missed.add(pingId + ":" + missedCount);
        }

        @Override
        public void onLocalStall(SocketAddress remote, Duration lateness) {
            stalls.add(lateness);
        }

        @Override
        public void onPeerDead(PeerDeadException cause) {
            deaths.add(cause.reason());
            deathTimes.add(ticker.nanoTime());
        }
    }
}
