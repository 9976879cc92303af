package dev.keepalive.netty;

import dev.keepalive.KeepaliveSettings;
import dev.keepalive.ManualTicker;
import dev.keepalive.PeerDeadException;
import dev.keepalive.netty.internal.ReadBarrier;
import dev.keepalive.testsupport.EmbeddedTime;
import io.netty.buffer.ByteBuf;
import io.netty.buffer.Unpooled;
import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.ChannelInboundHandlerAdapter;
import io.netty.channel.embedded.EmbeddedChannel;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionException;

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

/** {@link KeepaliveHandler#confirmRead()}: a future completed only by the pong of a ping written after the call. */
class ReadBarrierTest {
    private final ManualTicker ticker = new ManualTicker(Long.MAX_VALUE - ofSeconds(5).toNanos());
    private EmbeddedChannel ch;
    private EmbeddedTime time;
    private KeepaliveHandler handler;

    @AfterEach
    void releaseEverything() {
        if (ch != null) {
            ch.finishAndReleaseAll();
        }
    }

    private void start(KeepaliveProbe probe) {
        handler = KeepaliveHandler.builder(KeepaliveSettings.builder().pingInterval(ofSeconds(10))
                        .pingTimeout(ofSeconds(2)).pingsMissedBeforeDead(1).pingJitter(0)
                        .minPeerPingInterval(ofMillis(100)).build())
                .probe(probe).ticker(ticker).random(() -> 0.0).build();
        ch = new EmbeddedChannel();
        time = new EmbeddedTime(ticker, ch);
        ch.pipeline().addLast(handler, new ChannelInboundHandlerAdapter() {
            @Override
            public void exceptionCaught(ChannelHandlerContext ctx, Throwable cause) {
                // the dead-peer exception: asserted through the futures
            }
        });
    }

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

    private static ByteBuf pong(long id) {
        return Unpooled.buffer(11).writeShort(BinaryProbe.DEFAULT_MARKER).writeByte(BinaryProbe.TYPE_PONG)
                .writeLong(id);
    }

    private static Throwable failure(CompletableFuture<?> f) {
        assertTrue(f.isDone(), "completed");
        return assertThrows(CompletionException.class, f::join).getCause();
    }

    @Test
    void completesOnlyWithThePongOfAPingWrittenAfterTheMessage() {
        start(KeepaliveProbe.binary());
        ch.write(Unpooled.copiedBuffer("hello", StandardCharsets.US_ASCII));
        CompletableFuture<Void> read = handler.confirmRead();
        ByteBuf msg = ch.readOutbound();
        assertEquals("hello", msg.toString(StandardCharsets.US_ASCII), "the message goes out before the ping");
        msg.release();
        long[] ping = readProbe();
        assertEquals(BinaryProbe.TYPE_PING, ping[0]);
        assertTrue(ReadBarrier.isBarrierId(ping[1]));
        ch.writeInbound(pong(ping[1] + 1));
        ch.writeInbound(pong(1));
        assertFalse(read.isDone(), "another id proves nothing");
        ch.writeInbound(pong(ping[1]));
        assertTrue(read.isDone() && !read.isCompletedExceptionally());
        assertEquals(0, handler.stats().pongsReceived(), "the liveness monitor does not count barrier pongs");
    }

    @Test
    void callsAreCoalescedIntoOnePingInFlightSpacedAboveMinPeerPingInterval() {
        start(KeepaliveProbe.binary());
        CompletableFuture<Void> first = handler.confirmRead();
        long[] p1 = readProbe();
        CompletableFuture<Void> second = handler.confirmRead();
        CompletableFuture<Void> third = handler.confirmRead();
        assertNull(ch.readOutbound(), "one barrier ping in flight at a time");
        time.advance(ofMillis(10));
        ch.writeInbound(pong(p1[1]));
        assertTrue(first.isDone());
        assertFalse(second.isDone(), "the pong of a ping sent before the call does not confirm it");
        time.advance(ofMillis(125).minusMillis(10).minusNanos(1));
        assertNull(ch.readOutbound(), "not before minPeerPingInterval x 1.25 after the previous ping");
        time.advance(Duration.ofNanos(1));
        long[] p2 = readProbe();
        assertNull(ch.readOutbound(), "both calls share one ping");
        ch.writeInbound(pong(p2[1]));
        assertTrue(second.isDone() && third.isDone());
    }

    @Test
    void failsWithThePeerDeadException() {
        start(KeepaliveProbe.binary());
        CompletableFuture<Void> read = handler.confirmRead();
        readProbe();
        time.advance(ofSeconds(30)); // well past the detection bound
        assertTrue(handler.deadCause() != null, "the silent peer was declared dead");
        assertTrue(read.isDone(), "the death completes the confirmation");
        Throwable t = failure(read);
        assertSame(handler.deadCause(), t, "the verdict itself (here FIRST_RESPONSE_TIMEOUT: nothing ever came)");
        assertTrue(failure(handler.confirmRead()) instanceof PeerDeadException, "after death: the same reason");
    }

    @Test
    void failsWhenTheChannelClosesFirst() {
        start(KeepaliveProbe.binary());
        CompletableFuture<Void> other = handler.confirmRead();
        ch.close();
        assertInstanceOf(IOException.class, failure(other));
    }

    @Test
    void aProbeWithoutPingsCannotConfirm() {
        start(KeepaliveProbe.passive());
        assertInstanceOf(UnsupportedOperationException.class, failure(handler.confirmRead()));
    }
}
