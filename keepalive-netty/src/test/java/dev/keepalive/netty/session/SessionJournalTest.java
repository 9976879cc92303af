package dev.keepalive.netty.session;

import static dev.keepalive.netty.session.EmbeddedPair.buf;
import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.keepalive.ManualTicker;
import dev.keepalive.session.SessionExpiredException;
import dev.keepalive.session.SessionSettings;
import io.netty.buffer.ByteBuf;
import io.netty.channel.ChannelFuture;
import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.ChannelInboundHandlerAdapter;
import io.netty.channel.embedded.EmbeddedChannel;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class SessionJournalTest {
    private static final String A = "0123456789abcdef0123456789abcdef";
    private static final String B = "fedcba9876543210fedcba9876543210";

    @TempDir
    Path dir;
    private final ManualTicker ticker = new ManualTicker();
    private final List<AutoCloseable> closing = new ArrayList<>();

    @AfterEach
    void close() throws Exception {
        for (int i = closing.size() - 1; i >= 0; i--) {
            closing.get(i).close();
        }
    }

    private static SessionJournal.Message msg(long seq, String text) {
        return new SessionJournal.Message(seq, text.getBytes(StandardCharsets.UTF_8));
    }

    private FileSessionJournal open(Path file) throws IOException {
        FileSessionJournal j = FileSessionJournal.builder(file).compactAbove(8192).build();
        closing.add(j);
        return j;
    }

    @Test
    void theFileReadsBackWhatWasRecordedAndCutsOffARecordACrashLeftIncomplete() throws IOException {
        Path file = dir.resolve("s.journal");
        try (FileSessionJournal j = FileSessionJournal.builder(file).build()) {
            j.started(A);
            j.record(A, 0, 3, List.of(msg(1, "m1"), msg(2, "m2")));
            j.record(A, 1, 5, List.of(msg(3, "m3")));
            j.started(B);
            j.ended(B);
        }
        long whole = Files.size(file);
        try (FileChannel ch = FileChannel.open(file, StandardOpenOption.APPEND)) {
            ch.write(ByteBuffer.allocate(12).putInt(100).putInt(7).putInt(42).flip()); // a record cut short
        }
        FileSessionJournal j = open(file);
        assertEquals(whole, Files.size(file), "the incomplete record is cut off");
        List<SessionJournal.Session> sessions = j.recover();
        assertEquals(1, sessions.size(), "B ended");
        SessionJournal.Session a = sessions.get(0);
        assertEquals(A, a.id());
        assertEquals(5, a.delivered());
        assertEquals(1, a.peerAcked());
        assertEquals(4, a.nextSeq());
        assertEquals(List.of(2L, 3L), a.kept().stream().map(SessionJournal.Message::seq).toList());
        assertArrayEquals("m3".getBytes(StandardCharsets.UTF_8), a.kept().get(1).payload());

        j.started(A); // a new session with the id: the old record is void
        assertEquals(List.of(new SessionJournal.Session(A, 0, 0, 1, List.of())).toString(), j.recover().toString());
    }

    @Test
    void aGrowingFileIsRewrittenWithOnlyWhatIsStillNeeded() throws IOException {
        Path file = dir.resolve("s.journal");
        FileSessionJournal j = open(file);
        j.started(A);
        long seq = 1;
        for (int i = 0; i < 2_000; i++, seq++) {
            j.record(A, seq - 1, i, List.of(msg(seq, "message " + seq))); // each acknowledges the one before
        }
        assertTrue(Files.size(file) < 8192 + 200, "compacted: " + Files.size(file) + " bytes");
        SessionJournal.Session a = j.recover().get(0);
        assertEquals(1_999, a.delivered());
        assertEquals(2_001, a.nextSeq());
        assertEquals(1, a.kept().size(), "only the unacknowledged message is kept");
        assertArrayEquals("message 2000".getBytes(StandardCharsets.UTF_8), a.kept().get(0).payload());
        j.record(A, 2_000, 2_000, List.of(msg(2_001, "after")));
        assertEquals(2_002, j.recover().get(0).nextSeq(), "numbering goes on after a compaction");
    }

    @Test
    void aServerOnTheJournalResumesTheSessionsOfAServerThatVanishedWithoutClosing() throws IOException {
        Path file = dir.resolve("s.journal");
        ClientSession session = ClientSession.builder(SessionFraming.binary()).ticker(ticker).build();
        closing.add(session);
        ServerSessions first = ServerSessions.builder(SessionFraming.binary()).ticker(ticker)
                .journal(open(file)).build();
        closing.add(first); // after the test only: releases what its memory held (close leaves the journal alone)
        List<String> replied = new ArrayList<>();
        ChannelFuture unanswered;
        try (EmbeddedPair pair = new EmbeddedPair(session, first, ticker)) {
            replying(pair.server);
            pair.pump();
            assertTrue(session.resume(pair.client).isDone());
            for (int i = 1; i <= 3; i++) {
                pair.client.writeAndFlush(buf("c" + i));
            }
            pair.pump();
            assertEquals(List.of("r-c1", "r-c2", "r-c3"), pair.clientApp.received);
            replied.addAll(pair.clientApp.received);
            pair.server.writeAndFlush(buf("push")); // recorded, then lost with the connection
            unanswered = pair.client.writeAndFlush(buf("c4"));
            EmbeddedPair.drop(pair.server);
            pair.cut(); // the process vanishes: `first` is never closed, its memory is gone with it
        }
        assertFalse(unanswered.isDone(), "c4 waits in the client's session");

        ServerSessions second = ServerSessions.builder(SessionFraming.binary()).ticker(ticker)
                .journal(open(file)).build();
        closing.add(second);
        assertEquals(1, second.recovered());
        try (EmbeddedPair pair = new EmbeddedPair(session, second, ticker)) {
            replying(pair.server);
            pair.pump();
            assertTrue(session.resume(pair.client).isDone());
            pair.pump();
            replied.addAll(pair.clientApp.received);
            assertEquals(List.of("r-c1", "r-c2", "r-c3", "push", "r-c4"), replied,
                    "the push the first server recorded, and c4 handled once, by the second");
            assertEquals(List.of("c4"), pair.serverApp.received, "c1 to c3 were delivered before: not again");
            assertTrue(unanswered.isSuccess(), "c4 acknowledged by the second server");
            assertEquals(1, session.stats().resumed());
        }
    }

    @Test
    void repliesAreRecordedWithTheirMessageBeforeTheyGoToTheNetwork() throws IOException {
        List<String> calls = new ArrayList<>();
        EmbeddedChannel[] server = new EmbeddedChannel[1];
        SessionJournal spy = new InMemoryJournal() {
            @Override
            public void record(String id, long peerAcked, long delivered, List<Message> written) {
                calls.add("record delivered=" + delivered + " written=" + written.size() + " outbound="
                        + server[0].outboundMessages().size());
            }
        };
        ClientSession session = ClientSession.builder(SessionFraming.binary()).ticker(ticker).build();
        closing.add(session);
        ServerSessions sessions = ServerSessions.builder(SessionFraming.binary()).ticker(ticker).journal(spy).build();
        closing.add(sessions);
        try (EmbeddedPair pair = new EmbeddedPair(session, sessions, ticker)) {
            server[0] = pair.server;
            replying(pair.server);
            pair.pump();
            calls.clear();
            pair.client.writeAndFlush(buf("c1"));
            pair.pump();
            assertEquals("record delivered=1 written=1 outbound=0", calls.get(0),
                    "the delivery and its reply in one record, and the reply not yet written");
            assertEquals(List.of("r-c1"), pair.clientApp.received, "then written and flushed");
        }
    }

    @Test
    void aJournalThatFailsEndsTheSessionSayingWhyAndClosesTheConnection() {
        SessionJournal failing = new InMemoryJournal() {
            @Override
            public void record(String id, long peerAcked, long delivered, List<Message> written) throws IOException {
                throw new IOException("disk full");
            }
        };
        ClientSession session = ClientSession.builder(SessionFraming.binary()).ticker(ticker).build();
        closing.add(session);
        ServerSessions sessions = ServerSessions.builder(SessionFraming.binary()).ticker(ticker).journal(failing)
                .build();
        closing.add(sessions);
        try (EmbeddedPair pair = new EmbeddedPair(session, sessions, ticker)) {
            pair.pump();
            ChannelFuture push = pair.server.writeAndFlush(buf("push"));
            SessionExpiredException e = assertInstanceOf(SessionExpiredException.class, push.cause());
            assertTrue(e.getMessage().contains("disk full"), e.getMessage());
            assertFalse(pair.server.isActive(), "the connection is closed");
            assertEquals(1, sessions.stats().expired());
        }
    }

    @Test
    void invalidSettingsAreRefusedWithTheRule() {
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
                () -> FileSessionJournal.builder(dir.resolve("x")).compactAbove(100));
        assertEquals("compactAbove must be at least 4096 bytes, but was 100", e.getMessage());
    }

    /** Answers each message {@code x} with {@code r-x}, then passes it on to the recorder. */
    private static void replying(EmbeddedChannel server) {
        String recorder = server.pipeline().names().get(server.pipeline().names().size() - 2);
        server.pipeline().addBefore(recorder, "replying", new ChannelInboundHandlerAdapter() {
            @Override
            public void channelRead(ChannelHandlerContext ctx, Object msg) {
                ctx.writeAndFlush(buf("r-" + ((ByteBuf) msg).toString(StandardCharsets.UTF_8)));
                ctx.fireChannelRead(msg);
            }
        });
    }

    /** A journal that keeps nothing. */
    private static class InMemoryJournal implements SessionJournal {
        @Override
        public List<Session> recover() {
            return List.of();
        }

        @Override
        public void started(String id) {
        }

        @Override
        public void record(String id, long peerAcked, long delivered, List<Message> written) throws IOException {
        }

        @Override
        public void ended(String id) {
        }

        @Override
        public void close() {
        }
    }
}
