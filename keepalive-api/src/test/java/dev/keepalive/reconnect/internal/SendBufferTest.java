package dev.keepalive.reconnect.internal;

import dev.keepalive.ManualTicker;
import dev.keepalive.reconnect.DisconnectedWrites;
import dev.keepalive.reconnect.WriteBufferFullException;
import dev.keepalive.reconnect.WriteExpiredException;
import org.junit.jupiter.api.Test;

import java.io.IOException;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionException;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertSame;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

class SendBufferTest {
    private final ManualTicker ticker = new ManualTicker(Long.MAX_VALUE - 1_000_000_000L);
    private final List<Object> released = new ArrayList<>();

    private SendBuffer buffer(DisconnectedWrites bounds) {
        return new SendBuffer(bounds, Duration.ofSeconds(5), ticker, released::add);
    }

    private static Throwable failure(CompletableFuture<?> f) {
        return assertThrows(CompletionException.class, f::join).getCause();
    }

    @Test
    void unconfirmedSendsCountAgainstTheBounds() {
        SendBuffer b = buffer(DisconnectedWrites.failFast(3, 100, Duration.ofSeconds(1)));
        for (int i = 0; i < 3; i++) {
            SendBuffer.Entry e = b.admit("m" + i, 10, new CompletableFuture<>());
            b.written(e, b.nextSequence());
        }
        CompletableFuture<Void> f = new CompletableFuture<>();
        assertNull(b.admit("m3", 10, f));
        WriteBufferFullException e = (WriteBufferFullException) failure(f);
        assertEquals(WriteBufferFullException.Bound.MESSAGES, e.bound());
        assertEquals("the client holds 3 messages (queued 0, unconfirmed 3), the maximum (maxMessages 3)",
                e.getMessage());
        assertEquals(List.of("m3"), released);
        b.confirmUpTo(1);
        CompletableFuture<Void> big = new CompletableFuture<>();
        assertNull(b.admit("big", 81, big));
        assertEquals("the client holds 20 bytes and this message has 81 (maxBytes 100)", failure(big).getMessage());
        assertTrue(b.admit("fits", 80, new CompletableFuture<>()) != null);
    }

    @Test
    void confirmationCompletesExactlyThePrefixReadByThePeer() {
        SendBuffer b = buffer(DisconnectedWrites.failFast());
        List<CompletableFuture<Void>> fs = new ArrayList<>();
        for (int i = 0; i < 4; i++) {
            CompletableFuture<Void> f = new CompletableFuture<>();
            fs.add(f);
            b.written(b.admit("m" + i, 1, f), b.nextSequence());
        }
        assertEquals(2, b.confirmUpTo(2));
        assertTrue(fs.get(1).isDone() && !fs.get(1).isCompletedExceptionally());
        assertFalse(fs.get(2).isDone());
        assertEquals(2, b.inFlight());
        assertEquals(2, b.bytes());
    }

    @Test
    void lostConnectionResendsInOrderOrFailsWithTheCause() {
        SendBuffer b = buffer(DisconnectedWrites.queue(10, 100, Duration.ofSeconds(1)));
        CompletableFuture<Void> queued = new CompletableFuture<>();
        b.enqueue(b.admit("later", 1, queued));
        SendBuffer.Entry first = b.admit("first", 1, new CompletableFuture<>());
        SendBuffer.Entry second = b.admit("second", 1, new CompletableFuture<>());
        b.written(first, b.nextSequence());
        b.written(second, b.nextSequence());
        assertEquals(2, b.connectionLost(true, null));
        assertSame(first, b.poll());
        assertSame(second, b.poll());
        assertEquals("later", b.poll().message());

        IOException dead = new IOException("peer dead");
        CompletableFuture<Void> f = new CompletableFuture<>();
        b.written(b.admit("x", 1, f), b.nextSequence());
        b.connectionLost(false, dead);
        assertSame(dead, failure(f));
        assertEquals(0, b.bytes());
    }

    @Test
    void requeuedSendsExpireAfterMaxQueueTimeFromTheLoss() {
        SendBuffer b = buffer(DisconnectedWrites.failFast(10, 100, Duration.ofSeconds(1)));
        CompletableFuture<Void> f = new CompletableFuture<>();
        b.written(b.admit("x", 1, f), 7);
        ticker.advance(Duration.ofSeconds(3));
        b.connectionLost(true, null);
        long lostAt = ticker.nanoTime();
        assertEquals(lostAt + Duration.ofSeconds(1).toNanos(), b.deadline());
        b.onTimer(b.deadline() - 1, true);
        assertFalse(f.isDone());
        b.onTimer(b.deadline(), true);
        assertEquals("the message waited 1000 ms for a connection, longer than maxQueueTime PT1S",
                failure(f).getMessage());
        assertFalse(b.hasDeadline());
    }

    @Test
    void unacknowledgedSendsFailAtTheAckTimeout() {
        SendBuffer b = buffer(DisconnectedWrites.failFast());
        CompletableFuture<Void> old = new CompletableFuture<>();
        CompletableFuture<Void> young = new CompletableFuture<>();
        b.written(b.admit("a", 1, old), 1);
        ticker.advance(Duration.ofSeconds(1));
        b.written(b.admit("b", 1, young), 2);
        long due = b.deadline();
        ticker.set(due);
        b.onTimer(due, true);
        assertInstanceOf(WriteExpiredException.class, failure(old));
        assertTrue(failure(old).getMessage().endsWith("longer than ackTimeout PT5S"));
        assertFalse(young.isDone());
        assertTrue(b.acknowledged(2));
        assertFalse(b.acknowledged(2));
        assertEquals(List.of("a", "b"), released);
    }

    @Test
    void anAckTimeoutCanAskForAReconnectInsteadOfFailing() {
        SendBuffer b = buffer(DisconnectedWrites.failFast());
        CompletableFuture<Void> f = new CompletableFuture<>();
        b.written(b.admit("a", 1, f), 1);
        long due = b.deadline();
        assertFalse(b.onTimer(due - 1, false));
        assertTrue(b.onTimer(due, false), "past ackTimeout: drop the connection");
        assertFalse(f.isDone(), "still held");
        b.connectionLost(true, null);
        assertEquals("a", b.poll().message(), "re-sent after reconnecting");
    }

    @Test
    void aNewerMessageWithTheSameIdFailsTheOlder() {
        SendBuffer b = buffer(DisconnectedWrites.failFast());
        CompletableFuture<Void> old = new CompletableFuture<>();
        b.written(b.admit("a", 1, old), 1);
        b.written(b.admit("b", 1, new CompletableFuture<>()), 1);
        assertEquals("a newer message was sent with the same id 1", failure(old).getMessage());
        assertEquals(1, b.messages());
        assertEquals(1, b.bytes());
    }

    @Test
    void failAllFailsAndReleasesEverything() {
        SendBuffer b = buffer(DisconnectedWrites.queue(10, 100, Duration.ofSeconds(1)));
        CompletableFuture<Void> q = new CompletableFuture<>();
        CompletableFuture<Void> w = new CompletableFuture<>();
        b.enqueue(b.admit("q", 1, q));
        b.written(b.admit("w", 1, w), 1);
        IOException closed = new IOException("closed");
        b.failAll(closed);
        assertSame(closed, failure(q));
        assertSame(closed, failure(w));
        assertEquals(0, b.messages());
        assertEquals(2, released.size());
    }
}
