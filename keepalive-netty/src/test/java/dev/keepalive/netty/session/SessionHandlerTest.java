package dev.keepalive.netty.session;

import dev.keepalive.ManualTicker;
import dev.keepalive.session.SessionBufferFullException;
import dev.keepalive.session.SessionExpiredException;
import dev.keepalive.session.SessionListener;
import dev.keepalive.session.SessionProtocolException;
import dev.keepalive.session.SessionSettings;
import dev.keepalive.session.SessionStats;
import io.netty.buffer.ByteBuf;
import io.netty.buffer.Unpooled;
import io.netty.channel.ChannelFuture;
import io.netty.channel.embedded.EmbeddedChannel;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.stream.Collectors;
import java.util.stream.IntStream;

import static dev.keepalive.netty.session.EmbeddedPair.buf;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

class SessionHandlerTest {
    private final ManualTicker ticker = new ManualTicker();
    private final List<String> log = new ArrayList<>();
    private final SessionListener recording = new SessionListener() {
        @Override
        public void onStarted(String id, java.net.SocketAddress remote) {
            log.add("started");
        }

        @Override
        public void onResumed(String id, java.net.SocketAddress remote, int resentMessages, long resentBytes) {
            log.add("resumed " + resentMessages + " " + resentBytes);
        }

        @Override
        public void onExpired(String id, int lostMessages, SessionExpiredException cause) {
            log.add("expired " + lostMessages);
        }

        @Override
        public void onProtocolError(String id, SessionProtocolException error) {
            log.add("protocol error: " + error.getMessage());
        }
    };

    private final List<AutoCloseable> sessionsToClose = new ArrayList<>();

    /** Ends every session the test made, releasing what they keep (the leak check runs after this). */
    @AfterEach
    void closeSessions() throws Exception {
        for (AutoCloseable c : sessionsToClose) {
            c.close();
        }
    }

    private ClientSession client(SessionSettings settings) {
        return track(ClientSession.builder(SessionFraming.binary()).settings(settings).ticker(ticker).build());
    }

    private ServerSessions server(SessionSettings settings, SessionStore store) {
        ServerSessions s = track(ServerSessions.builder(SessionFraming.binary()).settings(settings).store(store)
                .ticker(ticker).listener(recording).build());
        sessionsToClose.add(s::expireAllStored);
        return s;
    }

    private <T extends AutoCloseable> T track(T t) {
        sessionsToClose.add(t);
        return t;
    }

    private static List<String> numbered(String prefix, int from, int to) {
        return IntStream.rangeClosed(from, to).mapToObj(i -> prefix + i).collect(Collectors.toList());
    }

    @Test
    void newSessionCarriesMessagesBothWaysAndWritesCompleteWhenAcknowledged() {
        ClientSession session = client(SessionSettings.defaults());
        ServerSessions sessions = server(SessionSettings.defaults(), new InMemorySessionStore());
        try (EmbeddedPair pair = new EmbeddedPair(session, sessions, ticker)) {
            pair.pump();
            assertEquals(SessionEvent.Type.STARTED, pair.serverApp.events.get(0).type());
            assertEquals(session.id(), pair.serverApp.events.get(0).sessionId());
            assertTrue(session.resume(pair.client).isDone());
            ChannelFuture toServer = pair.client.writeAndFlush(buf("hello"));
            ChannelFuture toClient = pair.server.writeAndFlush(buf("welcome"));
            assertFalse(toServer.isDone(), "not acknowledged yet");
            pair.pump();
            assertEquals(List.of("hello"), pair.serverApp.received);
            assertEquals(List.of("welcome"), pair.clientApp.received);
            assertTrue(toServer.isSuccess() && toClient.isSuccess(), "each side acknowledged the other at once");
            assertEquals(0, session.stats().unackedMessages());
        }
    }

    @Test
    void resumeAfterACutLosesNothingAndRepeatsNothing() {
        ClientSession session = client(SessionSettings.defaults());
        ServerSessions sessions = server(SessionSettings.defaults(), new InMemorySessionStore());
        List<String> atServer = new ArrayList<>();
        List<String> atClient = new ArrayList<>();
        List<ChannelFuture> writes = new ArrayList<>();
        int next = 1;
        for (int round = 0; round < 5; round++) {
            EmbeddedPair pair = new EmbeddedPair(session, sessions, ticker);
            try {
                pair.pump();
                for (int i = 0; i < 10; i++, next++) {
                    writes.add(pair.client.writeAndFlush(buf("c" + next)));
                    writes.add(pair.server.writeAndFlush(buf("s" + next)));
                    if (i == 4) {
                        pair.pump(); // half are delivered (and maybe acknowledged), half die with the connection
                    }
                }
            } finally {
                atServer.addAll(pair.serverApp.received);
                atClient.addAll(pair.clientApp.received);
                pair.cut();
                pair.close();
            }
        }
        EmbeddedPair last = new EmbeddedPair(session, sessions, ticker);
        try {
            last.pump();
            atServer.addAll(last.serverApp.received);
            atClient.addAll(last.clientApp.received);
        } finally {
            last.close();
        }
        assertEquals(numbered("c", 1, 50), atServer);
        assertEquals(numbered("s", 1, 50), atClient);
        assertTrue(writes.stream().allMatch(ChannelFuture::isSuccess), "every write acknowledged in the end");
        SessionStats stats = sessions.stats();
        assertEquals(1, stats.started());
        assertEquals(5, stats.resumed());
        assertEquals(25, stats.resentMessages(), "the five not delivered of each round, re-sent once");
        assertEquals(0, stats.duplicates());
        assertEquals(0, stats.unackedMessages());
    }

    @Test
    void malformedFramesAreCountedAndDroppedAndGapsCloseTheConnection() {
        ClientSession session = client(SessionSettings.defaults());
        ServerSessions sessions = server(SessionSettings.defaults(), new InMemorySessionStore());
        try (EmbeddedPair pair = new EmbeddedPair(session, sessions, ticker)) {
            pair.pump();
            pair.server.writeInbound(Unpooled.wrappedBuffer(new byte[]{9, 1, 2}));
            pair.server.writeInbound(Unpooled.EMPTY_BUFFER);
            assertTrue(pair.server.isActive(), "a frame that is not a session frame is dropped");
            ByteBuf gap = Unpooled.buffer().writeByte(1).writeLong(5).writeLong(0).writeByte('x');
            pair.server.writeInbound(gap);
            assertFalse(pair.server.isActive(), "a message that skips ahead closes the connection");
            assertEquals(3, sessions.stats().protocolErrors());
            assertEquals(List.of("started", "protocol error: unknown session frame type 9 (3 bytes)",
                    "protocol error: an empty session frame",
                    "protocol error: message 5 arrived but 1 was expected next"), log);
            assertTrue(pair.serverApp.received.isEmpty());
        }
    }

    @Test
    void fullBufferFailsTheWriteAndTurnsTheChannelUnwritableUntilAcknowledged() {
        ClientSession session = client(SessionSettings.builder().maxUnackedMessages(4).build());
        ServerSessions sessions = server(SessionSettings.defaults(), new InMemorySessionStore());
        try (EmbeddedPair pair = new EmbeddedPair(session, sessions, ticker)) {
            pair.pump();
            for (int i = 0; i < 4; i++) {
                pair.client.writeAndFlush(buf("m" + i));
            }
            assertFalse(pair.client.isWritable(), "above three quarters of the bound");
            ChannelFuture refused = pair.client.writeAndFlush(buf("too many"));
            SessionBufferFullException e = assertInstanceOf(SessionBufferFullException.class, refused.cause());
            assertEquals(SessionBufferFullException.Bound.MESSAGES, e.bound());
            pair.pump();
            assertTrue(pair.client.isWritable(), "writable again once acknowledged");
            assertEquals(List.of("m0", "m1", "m2", "m3"), pair.serverApp.received);
        }
    }

    @Test
    void detachedSessionExpiresAndTheLateClientStartsANewOneKnowingWhatMayBeLost() {
        SessionSettings settings = SessionSettings.builder().detachedTimeout(Duration.ofSeconds(10)).build();
        ClientSession session = client(settings);
        List<String> clientLog = new ArrayList<>();
        ServerSessions sessions = server(settings, new InMemorySessionStore());
        EmbeddedPair first = new EmbeddedPair(session, sessions, ticker);
        first.pump();
        String oldId = session.id();
        ChannelFuture unacked = first.client.writeAndFlush(buf("lost?"));
        ChannelFuture serverUnacked = first.server.writeAndFlush(buf("also lost?"));
        first.cut();
        first.close();
        assertEquals(1, sessions.store().size());

        ticker.advance(Duration.ofSeconds(10).minusNanos(1));
        sessions.expireDue();
        assertEquals(1, sessions.store().size(), "kept until detachedTimeout");
        ticker.advanceNanos(1);
        sessions.expireDue();
        assertEquals(0, sessions.store().size());
        assertInstanceOf(SessionExpiredException.class, serverUnacked.cause());

        try (EmbeddedPair late = new EmbeddedPair(session, sessions, ticker)) {
            late.pump();
            SessionExpiredException e = assertInstanceOf(SessionExpiredException.class, unacked.cause());
            assertEquals(oldId, e.sessionId());
            assertEquals(SessionEvent.Type.EXPIRED, late.clientApp.events.get(0).type());
            assertEquals(SessionEvent.Type.STARTED, late.clientApp.events.get(1).type());
            assertNotEquals(oldId, session.id(), "a new session");
            assertTrue(session.resume(late.client).isDone() && !session.resume(late.client).isCompletedExceptionally());
            ChannelFuture after = late.client.writeAndFlush(buf("after"));
            late.pump();
            assertTrue(after.isSuccess());
            assertEquals(List.of("after"), late.serverApp.received);
            assertEquals(1, session.stats().expired());
            assertEquals(1, sessions.stats().expired());
        }
        assertEquals(List.of("started", "expired 1", "started"), log);
    }

    @Test
    void storeBudgetDropsTheOldestDetachedSession() {
        InMemorySessionStore store = new InMemorySessionStore(1, 1 << 20);
        ServerSessions sessions = server(SessionSettings.defaults(), store);
        for (int i = 0; i < 2; i++) {
            EmbeddedPair pair = new EmbeddedPair(client(SessionSettings.defaults()), sessions, ticker);
            pair.pump();
            pair.server.writeAndFlush(buf("kept " + i));
            pair.cut();
            pair.close();
        }
        assertEquals(1, store.size());
        assertEquals(1, sessions.stats().expired());
        assertEquals(List.of("started", "started", "expired 1"), log);
    }

    @Test
    void halfOpenConnectionIsTakenOverByTheResume() {
        ClientSession session = client(SessionSettings.defaults());
        ServerSessions sessions = server(SessionSettings.defaults(), new InMemorySessionStore());
        EmbeddedPair old = new EmbeddedPair(session, sessions, ticker);
        old.pump();
        old.client.writeAndFlush(buf("one"));
        EmbeddedPair.drop(old.client); // lost on the way: the server's end never hears of it
        old.client.close();
        EmbeddedPair.drop(old.client);
        assertTrue(old.server.isActive(), "the server did not notice");
        EmbeddedChannel newServer = new EmbeddedChannel(sessions.newHandler(), new EmbeddedPair.Recorder());
        EmbeddedPair fresh = new EmbeddedPair(session, sessions, ticker);
        try {
            fresh.pump();
            assertFalse(old.server.isActive(), "the old connection is closed by the takeover");
            assertEquals(List.of("one"), fresh.serverApp.received);
            assertEquals(1, sessions.attached());
        } finally {
            newServer.finishAndReleaseAll();
            fresh.close();
            old.close();
        }
    }

    @Test
    void aWriteReachingTheOldConnectionAfterATakeoverFailsAndLeavesNoGap() {
        ClientSession session = client(SessionSettings.defaults());
        ServerSessions sessions = server(SessionSettings.defaults(), new InMemorySessionStore());
        EmbeddedPair old = new EmbeddedPair(session, sessions, ticker);
        old.pump();
        io.netty.channel.ChannelHandlerContext oldCtx = old.server.pipeline().context(SessionHandler.class);
        old.client.close();
        EmbeddedPair.drop(old.client);
        EmbeddedPair fresh = new EmbeddedPair(session, sessions, ticker);
        try {
            fresh.pump();
            // As on a real event loop, where the old pipeline lives on for a moment after its close: the server's
            // application writes to the connection it knew.
            io.netty.channel.ChannelPromise late = oldCtx.newPromise();
            ((SessionHandler) oldCtx.handler()).write(oldCtx, buf("to the old connection"), late);
            assertInstanceOf(java.nio.channels.ClosedChannelException.class, late.cause());
            ChannelFuture next = fresh.server.writeAndFlush(buf("next"));
            fresh.pump();
            assertTrue(next.isSuccess());
            assertEquals(List.of("next"), fresh.clientApp.received, "no gap, no protocol error");
            assertEquals(0, sessions.stats().protocolErrors() + session.stats().protocolErrors());
        } finally {
            fresh.close();
            old.close();
        }
    }

    @Test
    void linesFramingCarriesStringsAndBuffers() {
        ClientSession session = track(ClientSession.builder(SessionFraming.lines()).ticker(ticker).build());
        ServerSessions sessions = track(ServerSessions.builder(SessionFraming.lines()).ticker(ticker).build());
        try (EmbeddedPair pair = new EmbeddedPair(session, sessions, ticker)) {
            pair.pump();
            pair.client.writeAndFlush("hello there\n");
            pair.server.writeAndFlush(buf("grüße"));
            pair.pump();
            assertEquals(List.of("hello there\n"), pair.serverApp.received);
            assertEquals(List.of("grüße\n"), pair.clientApp.received);
        }
    }

    @Test
    void writesOfUnencodedMessagesFailWithTheReason() {
        ClientSession session = client(SessionSettings.defaults());
        ServerSessions sessions = server(SessionSettings.defaults(), new InMemorySessionStore());
        try (EmbeddedPair pair = new EmbeddedPair(session, sessions, ticker)) {
            ChannelFuture early = pair.server.writeAndFlush(buf("before HELLO"));
            assertInstanceOf(IllegalStateException.class, early.cause());
            pair.pump();
            ChannelFuture f = pair.client.writeAndFlush(42);
            assertTrue(f.cause().getMessage().contains("place the application's encoder after the session handler"),
                    f.cause().getMessage());
            assertNull(pair.client.readOutbound());
        }
    }
}
