package dev.keepalive.session.internal;

import dev.keepalive.ManualTicker;
import dev.keepalive.session.SessionBufferFullException;
import dev.keepalive.session.SessionProtocolException;
import dev.keepalive.session.SessionSettings;
import org.junit.jupiter.api.Test;

import java.time.Duration;
import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.List;
import java.util.stream.Collectors;
import java.util.Random;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionException;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertSame;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

class SessionCoreTest {
    private static final Duration INTERVAL = Duration.ofMillis(20);
    private final ManualTicker ticker = new ManualTicker(Long.MAX_VALUE - 10_000_000L); // crosses the overflow
    private final List<Object> released = new ArrayList<>();

    private final SessionCore.Completion<CompletableFuture<Void>> completion = new SessionCore.Completion<>() {
        @Override
        public void acked(CompletableFuture<Void> token) {
            token.complete(null);
        }

        @Override
        public void failed(CompletableFuture<Void> token, Throwable cause) {
            token.completeExceptionally(cause);
        }

        @Override
        public void release(Object msg) {
            released.add(msg);
        }
    };

    private SessionCore<CompletableFuture<Void>> core(int maxMessages, long maxBytes) {
        return new SessionCore<>(SessionSettings.builder().maxUnackedMessages(maxMessages).maxUnackedBytes(maxBytes)
                .ackInterval(INTERVAL).build(), completion);
    }

    private static CompletableFuture<Void> send(SessionCore<CompletableFuture<Void>> c, String msg) {
        CompletableFuture<Void> f = new CompletableFuture<>();
        assertNull(c.checkRoom(msg.length()));
        c.append(msg, msg.length(), f);
        return f;
    }

    @Test
    void messagesAreNumberedAndCompleteWhenAcknowledgedCumulatively() throws Exception {
        SessionCore<CompletableFuture<Void>> c = core(10, 100);
        CompletableFuture<Void> a = send(c, "a");
        CompletableFuture<Void> b = send(c, "bb");
        CompletableFuture<Void> d = send(c, "ccc");
        assertEquals(4, c.nextSeq());
        assertEquals(6, c.bytes());
        assertEquals(2, c.onAck(2));
        assertTrue(a.isDone() && b.isDone() && !d.isDone());
        assertEquals(List.of("a", "bb"), released);
        assertEquals(0, c.onAck(1), "an older acknowledgement does nothing");
        assertEquals(3, c.bytes());
        SessionProtocolException e = assertThrows(SessionProtocolException.class, () -> c.onAck(4));
        assertEquals("the peer acknowledged message 4 but only 3 were sent", e.getMessage());
    }

    @Test
    void fullBufferNamesTheBoundAndNothingIsKept() {
        SessionCore<CompletableFuture<Void>> c = core(2, 10);
        send(c, "12345");
        SessionBufferFullException bytes = c.checkRoom(6);
        assertEquals(SessionBufferFullException.Bound.BYTES, bytes.bound());
        assertEquals("the session holds 5 bytes the peer has not acknowledged and this message has 6 "
                + "(maxUnackedBytes 10)", bytes.getMessage());
        send(c, "1");
        SessionBufferFullException messages = c.checkRoom(0);
        assertEquals(SessionBufferFullException.Bound.MESSAGES, messages.bound());
        assertEquals("the session holds 2 messages the peer has not acknowledged, the maximum "
                + "(maxUnackedMessages 2)", messages.getMessage());
        assertEquals(2, c.messages());
    }

    @Test
    void watermarksAreThreeQuartersAndHalf() {
        SessionCore<CompletableFuture<Void>> c = core(8, 1000);
        for (int i = 0; i < 6; i++) {
            send(c, "m");
        }
        assertFalse(c.aboveHighWater(), "6 of 8 is not above three quarters");
        send(c, "m");
        assertTrue(c.aboveHighWater());
        assertFalse(c.belowLowWater());
        assertDoesNotThrow(() -> c.onAck(4));
        assertTrue(c.belowLowWater(), "3 of 8 is below half");
    }

    private static void assertDoesNotThrow(org.junit.jupiter.api.function.Executable e) {
        org.junit.jupiter.api.Assertions.assertDoesNotThrow(e);
    }

    @Test
    void inboundDeliversInOrderDropsDuplicatesAndRejectsGaps() throws Exception {
        SessionCore<CompletableFuture<Void>> c = core(10, 100);
        long now = ticker.nanoTime();
        assertEquals(SessionCore.Verdict.DELIVER, c.onData(1, now));
        assertEquals(SessionCore.Verdict.DELIVER, c.onData(2, now));
        assertEquals(SessionCore.Verdict.DUPLICATE, c.onData(1, now));
        assertEquals(1, c.duplicates());
        SessionProtocolException gap = assertThrows(SessionProtocolException.class, () -> c.onData(4, now));
        assertEquals("message 4 arrived but 3 was expected next", gap.getMessage());
        assertEquals(2, c.delivered());
    }

    @Test
    void standaloneAckIsDueAtOnceThenAtMostOncePerInterval() throws Exception {
        SessionCore<CompletableFuture<Void>> c = core(10, 100);
        assertFalse(c.hasAckDeadline());
        c.onData(1, ticker.nanoTime());
        assertTrue(c.ackDue(ticker.nanoTime()), "the first acknowledgement after a quiet time goes out at once");
        assertEquals(1, c.standaloneAck(ticker.nanoTime()));
        long sentAt = ticker.nanoTime();
        ticker.advance(Duration.ofMillis(5));
        c.onData(2, ticker.nanoTime());
        assertEquals(sentAt + INTERVAL.toNanos(), c.ackDeadline(), "not before one interval after the last");
        ticker.advanceNanos(INTERVAL.toNanos() - Duration.ofMillis(5).toNanos() - 1);
        assertFalse(c.ackDue(ticker.nanoTime()), "one nanosecond early");
        ticker.advanceNanos(1);
        assertTrue(c.ackDue(ticker.nanoTime()));
        c.onData(3, ticker.nanoTime());
        assertEquals(3, c.piggybackAck(), "data carries the acknowledgement");
        assertFalse(c.hasAckDeadline(), "and no standalone one is due then");
    }

    @Test
    void resumeAcknowledgesWhatThePeerDeliveredAndReturnsTheRestInOrder() throws Exception {
        SessionCore<CompletableFuture<Void>> c = core(10, 100);
        List<CompletableFuture<Void>> f = new ArrayList<>();
        for (int i = 1; i <= 5; i++) {
            f.add(send(c, "m" + i));
        }
        c.onAck(1);
        List<SessionCore.Entry<CompletableFuture<Void>>> again = c.resume(3);
        assertEquals(List.of(4L, 5L), again.stream().map(SessionCore.Entry::seq).toList());
        assertEquals(List.of("m4", "m5"), again.stream().map(SessionCore.Entry::message).toList());
        assertTrue(f.get(2).isDone() && !f.get(3).isDone());
        assertEquals(2, c.resentMessages());
        assertEquals(4, c.resentBytes());
        assertEquals("the peer resumes from message 2 but had acknowledged 3 before",
                assertThrows(SessionProtocolException.class, () -> c.resume(2)).getMessage());
        assertThrows(SessionProtocolException.class, () -> c.resume(6));
    }

    @Test
    void restartFailsWhatWasKeptAndNumbersFromOne() throws Exception {
        SessionCore<CompletableFuture<Void>> c = core(10, 100);
        CompletableFuture<Void> a = send(c, "a");
        c.onData(1, ticker.nanoTime());
        IllegalStateException cause = new IllegalStateException("gone");
        assertEquals(1, c.restart(cause));
        assertSame(cause, assertThrows(CompletionException.class, a::join).getCause());
        assertEquals(List.of("a"), released);
        assertEquals(1, c.nextSeq());
        assertEquals(0, c.delivered());
        assertEquals(0, c.bytes());
    }

    /**
     * Two cores joined by a simulated connection that drops at random, losing whatever was in flight each way; after
     * each drop they resume. Every message arrives once, in order, on both ends, and every future completes.
     */
    @Test
    void simulatedPairLosesNothingAndRepeatsNothingAcrossManyDrops() throws Exception {
        Random random = new Random(42);
        SessionCore<CompletableFuture<Void>> a = core(50, 10_000);
        SessionCore<CompletableFuture<Void>> b = core(50, 10_000);
        ArrayDeque<long[]> toB = new ArrayDeque<>(); // {seq, ack}
        ArrayDeque<long[]> toA = new ArrayDeque<>();
        List<Long> gotA = new ArrayList<>();
        List<Long> gotB = new ArrayList<>();
        List<CompletableFuture<Void>> futures = new ArrayList<>();
        int total = 5000;
        int sentA = 0;
        int sentB = 0;
        int drops = 0;
        for (int step = 0; step < 200_000 && (gotA.size() < total || gotB.size() < total || a.messages() > 0
                || b.messages() > 0); step++) {
            int r = random.nextInt(100);
            if (r < 20 && sentA < total && a.checkRoom(1) == null) {
                CompletableFuture<Void> f = new CompletableFuture<>();
                futures.add(f);
                SessionCore.Entry<CompletableFuture<Void>> e = a.append("a", 1, f);
                toB.add(new long[]{e.seq(), a.piggybackAck()});
                sentA++;
            } else if (r < 40 && sentB < total && b.checkRoom(1) == null) {
                CompletableFuture<Void> f = new CompletableFuture<>();
                futures.add(f);
                SessionCore.Entry<CompletableFuture<Void>> e = b.append("b", 1, f);
                toA.add(new long[]{e.seq(), b.piggybackAck()});
                sentB++;
            } else if (r < 65 && !toB.isEmpty()) {
                long[] m = toB.poll();
                b.onAck(m[1]);
                if (m[0] > 0 && b.onData(m[0], 0) == SessionCore.Verdict.DELIVER) {
                    gotB.add(m[0]);
                }
            } else if (r < 90 && !toA.isEmpty()) {
                long[] m = toA.poll();
                a.onAck(m[1]);
                if (m[0] > 0 && a.onData(m[0], 0) == SessionCore.Verdict.DELIVER) {
                    gotA.add(m[0]);
                }
            } else if (r < 95) {
                toA.add(new long[]{0, b.standaloneAck(0)});
                toB.add(new long[]{0, a.standaloneAck(0)});
            } else if (r == 99 || toA.isEmpty() && toB.isEmpty() && random.nextInt(10) == 0) {
                // The connection dies: what was in flight is lost. Resume: each side re-sends what the other
                // did not deliver.
                drops++;
                toA.clear();
                toB.clear();
                for (SessionCore.Entry<CompletableFuture<Void>> e : a.resume(b.delivered())) {
                    toB.add(new long[]{e.seq(), a.piggybackAck()});
                }
                for (SessionCore.Entry<CompletableFuture<Void>> e : b.resume(a.delivered())) {
                    toA.add(new long[]{e.seq(), b.piggybackAck()});
                }
            }
        }
        assertTrue(drops > 50, "the connection dropped " + drops + " times");
        assertEquals(total, gotA.size());
        assertEquals(total, gotB.size());
        for (int i = 0; i < total; i++) {
            assertEquals(i + 1, gotA.get(i));
            assertEquals(i + 1, gotB.get(i));
        }
        assertEquals(0, a.duplicates() + b.duplicates(), "a resume re-sends exactly what was not delivered");
        assertTrue(futures.stream().allMatch(f -> f.isDone() && !f.isCompletedExceptionally()));
        assertTrue(a.peakMessages() <= 50 && b.peakMessages() <= 50);
    }

    @Test
    void aCoreRestoredFromAJournalResumesWhereTheRecordEnds() throws Exception {
        List<Object> acked = new ArrayList<>();
        SessionCore.Completion<Object> tolerant = new SessionCore.Completion<>() {
            @Override
            public void acked(Object token) {
                acked.add(token);
            }

            @Override
            public void failed(Object token, Throwable cause) {
            }

            @Override
            public void release(Object msg) {
                released.add(msg);
            }
        };
        SessionSettings settings = SessionSettings.defaults();
        SessionCore<Object> c = SessionCore.restored(settings, tolerant, 7, 2, 5,
                List.of(SessionCore.keptEntry(3, "m3", 2), SessionCore.keptEntry(4, "m4", 2)));
        assertEquals(7, c.delivered());
        assertEquals(2, c.messages());
        assertEquals(4, c.bytes());
        assertEquals(SessionCore.Verdict.DUPLICATE, c.onData(7, ticker.nanoTime()), "delivered before the crash");
        assertEquals(SessionCore.Verdict.DELIVER, c.onData(8, ticker.nanoTime()));
        List<SessionCore.Entry<Object>> again = c.resume(3);
        assertEquals(List.of(4L), again.stream().map(SessionCore.Entry::seq).collect(Collectors.toList()),
                "the peer had m3; m4 is written again");
        assertEquals(List.of("m3"), released);
        assertEquals(5, c.append("m5", 2, "token").seq(), "numbering goes on");

        IllegalArgumentException gap = assertThrows(IllegalArgumentException.class, () -> SessionCore.restored(
                settings, tolerant, 0, 2, 6, List.of(SessionCore.keptEntry(4, "m4", 2))));
        assertEquals("kept message 4 out of order: expected 3 (next message 6)", gap.getMessage());
        IllegalArgumentException shortList = assertThrows(IllegalArgumentException.class, () -> SessionCore.restored(
                settings, tolerant, 0, 2, 6, List.of(SessionCore.keptEntry(3, "m3", 2))));
        assertEquals("kept messages end at 3 but the next message is 6", shortList.getMessage());
    }
}
