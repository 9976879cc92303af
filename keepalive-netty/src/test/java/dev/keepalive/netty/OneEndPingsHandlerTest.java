package dev.keepalive.netty;

import dev.keepalive.KeepaliveSettings;
import dev.keepalive.ManualTicker;
import dev.keepalive.testsupport.EmbeddedTime;
import io.netty.buffer.ByteBuf;
import io.netty.buffer.Unpooled;
import io.netty.channel.embedded.EmbeddedChannel;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

import java.time.Duration;

import static java.time.Duration.ofMillis;
import static java.time.Duration.ofSeconds;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertNull;

/**
 * One end pings (a peer's ping defers ours by a full interval), and a pong or a peer's ping moves the timer to the
 * next ping at once, instead of leaving a timer that wakes up for nothing. Fake ticker, exact.
 */
class OneEndPingsHandlerTest {
    private static final Duration I = ofSeconds(10);
    private static final Duration T = ofSeconds(2);

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

    private void start(double jitter, double random) {
        KeepaliveSettings s = KeepaliveSettings.builder().pingInterval(I).pingTimeout(T).pingsMissedBeforeDead(1)
                .pingJitter(jitter).build();
        handler = KeepaliveHandler.builder(s).ticker(ticker).random(() -> random).build();
        ch = new EmbeddedChannel();
        time = new EmbeddedTime(ticker, ch);
        ch.pipeline().addLast(handler);
        ch.pipeline().fireChannelReadComplete(); // the peer's first bytes: proven
    }

    private static ByteBuf binary(byte type, long id) {
        return Unpooled.buffer(11).writeShort(BinaryProbe.DEFAULT_MARKER).writeByte(type).writeLong(id);
    }

    private long[] readProbe() {
        ByteBuf buf = ch.readOutbound();
        assertNotNull(buf, "a probe frame was written");
        try {
            buf.skipBytes(2);
            return new long[] {buf.readByte(), buf.readLong()};
        } finally {
            buf.release();
        }
    }

    /** The delay until the earliest timer on the channel's loop, without running anything due later. */
    private long nextTimerIn() {
        return ch.runScheduledPendingTasks();
    }

    @Test
    void anEndWhosePeerPingsStandsDownAndPingsOnlyAFullIntervalAfterThePeersLastPing() {
        start(0.2, 0.99); // this end's own waits are as short as they get: 0.8 x I
        // The peer pings every 0.85 x I (its own jittered wait): more often than this end's plain interval, less
        // often than this end's shortest jittered wait.
        Duration peerEvery = I.multipliedBy(85).dividedBy(100);
        // Before this end's first wait can end: it is spread over one steady period, 0.975 x I, before the interval.
        time.advance(I.dividedBy(50));
        for (int round = 1; round <= 50; round++) {
            ch.writeInbound(binary(BinaryProbe.TYPE_PING, round));
            long[] pong = readProbe();
            assertEquals(BinaryProbe.TYPE_PONG, pong[0], "round " + round);
            assertEquals(round, pong[1]);
            assertEquals(I.toNanos(), nextTimerIn(), "the timer moved to a full interval after the ping");
            time.advance(peerEvery);
            assertNull(ch.readOutbound(), "no ping of our own in round " + round);
        }
        assertEquals(0, handler.stats().pingsSent());
        // The peer stops: the ping comes exactly one interval (no jitter) after its last ping.
        time.advance(I.minus(peerEvery).minusNanos(1));
        assertNull(ch.readOutbound(), "not before a full interval of silence");
        time.advance(Duration.ofNanos(1));
        assertEquals(BinaryProbe.TYPE_PING, readProbe()[0]);
    }

    @Test
    void aPongMovesTheTimerStraightToTheNextPing() {
        start(0, 0);
        time.advance(I);
        assertEquals(BinaryProbe.TYPE_PING, readProbe()[0]);
        assertEquals(T.toNanos(), nextTimerIn(), "the ping's timeout is watched");
        time.advance(ofMillis(3));
        ch.writeInbound(binary(BinaryProbe.TYPE_PONG, 1));
        assertEquals(I.minus(ofMillis(3)).toNanos(), nextTimerIn(),
                "no wake-up at the old timeout: the next ping, an interval (no jitter) after ours left");
        time.advance(I.minus(ofMillis(3)).minusNanos(1));
        assertNull(ch.readOutbound());
        time.advance(Duration.ofNanos(1));
        long[] ping = readProbe();
        assertEquals(BinaryProbe.TYPE_PING, ping[0]);
        assertEquals(2, ping[1]);
    }

    @Test
    void timersRoundUpToTheTickNeverEarlierAndDueOnesRunAtOnce() {
        long tick = 5_000_000L;
        assertEquals(10_000_000L, KeepaliveHandler.fireAt(5_000_001L, 0, tick), "up to the next tick");
        assertEquals(10_000_000L, KeepaliveHandler.fireAt(10_000_000L, 0, tick), "on a tick: as it is");
        assertEquals(-5_000_000L, KeepaliveHandler.fireAt(-9_999_999L, -20_000_000L, tick), "negative times too");
        assertEquals(Long.MAX_VALUE - 7, KeepaliveHandler.fireAt(Long.MAX_VALUE - 7, Long.MAX_VALUE - 7, tick),
                "a re-check due now runs at once, unrounded");
        long nearOverflow = Long.MAX_VALUE - 1_000;
        long at = KeepaliveHandler.fireAt(nearOverflow, nearOverflow - 10, tick);
        assertEquals(true, at - nearOverflow >= 0 && at - nearOverflow < tick, "wrap-safe across the overflow");
        assertEquals(123L, KeepaliveHandler.fireAt(123L, 0, 0), "no tick: exact");
    }

    @Test
    void plainTrafficLeavesTheTimerWhereItIs() {
        start(0, 0);
        time.advance(ofSeconds(1));
        ch.writeInbound(Unpooled.wrappedBuffer(new byte[] {1, 2, 3}));
        ByteBuf app = ch.readInbound();
        app.release();
        assertEquals(I.minus(ofSeconds(1)).toNanos(), nextTimerIn(), "traffic is recorded, not rescheduled");
    }
}
