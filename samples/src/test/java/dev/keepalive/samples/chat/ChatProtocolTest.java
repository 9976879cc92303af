package dev.keepalive.samples.chat;

import dev.keepalive.samples.chat.ChatProtocol.Bye;
import dev.keepalive.samples.chat.ChatProtocol.Chat;
import dev.keepalive.samples.chat.ChatProtocol.Info;
import dev.keepalive.samples.chat.ChatProtocol.Join;
import dev.keepalive.samples.chat.ChatProtocol.MalformedLineException;
import dev.keepalive.samples.chat.ChatProtocol.Msg;
import dev.keepalive.samples.chat.ChatProtocol.Rejected;
import dev.keepalive.samples.chat.ChatProtocol.Resume;
import dev.keepalive.samples.chat.ChatProtocol.Welcome;
import io.netty.buffer.ByteBuf;
import io.netty.channel.embedded.EmbeddedChannel;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

import java.nio.charset.StandardCharsets;
import java.util.List;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

class ChatProtocolTest {
    @Test
    void clientLinesRoundTrip() throws Exception {
        for (ChatProtocol.ClientMessage m : List.of(new Join("alice", "5f3a", null),
                new Join("bob.k-2_x", "abc123", new Resume("e9", 17)), new Msg(1, "hello, world"),
                new Msg(42, ""), new Msg(7, "  spaces  kept \t and ünïcödé 😀"))) {
            assertEquals(m, ChatProtocol.parseClientLine(ChatProtocol.format(m)), ChatProtocol.format(m));
        }
        assertEquals("JOIN bob abc 9f:3", ChatProtocol.format(new Join("bob", "abc", new Resume("9f", 3))));
        assertEquals("MSG 12 hi there", ChatProtocol.format(new Msg(12, "hi there")));
        assertEquals(new Msg(5, ""), ChatProtocol.parseClientLine("MSG 5"), "a message may be empty");
    }

    @Test
    void serverLinesRoundTrip() throws Exception {
        for (ChatProtocol.ServerMessage m : List.of(new Welcome("alice", "e9", 0),
                new Chat(9, "bob", "CHAT 1 x y: looks like a line but is text"), new Info("bob left (PING_TIMEOUT)"),
                new Bye(Bye.REPLACED), new Rejected("JOIN <name> <session> first"))) {
            assertEquals(m, ChatProtocol.parseServerLine(ChatProtocol.format(m)), ChatProtocol.format(m));
        }
        assertEquals("CHAT 9 bob hi", ChatProtocol.format(new Chat(9, "bob", "hi")));
    }

    @ParameterizedTest
    @ValueSource(strings = {"", "HELLO", "MSG", "MSG x hi", "MSG 0 hi", "MSG -1 hi", "MSG 1234567890123456789 x",
            "JOIN", "JOIN alice", "JOIN a b c d", "JOIN al ice s", "JOIN alice s!", "JOIN alice s 12",
            "JOIN alice s e:x", "JOIN aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa s", "msg 1 lower case", "PING 1"})
    void malformedClientLinesAreRejectedWithAReason(String line) {
        MalformedLineException e = assertThrows(MalformedLineException.class, () -> ChatProtocol.parseClientLine(line));
        assertFalse(e.getMessage().isBlank());
    }

    @ParameterizedTest
    @ValueSource(strings = {"", "CHAT", "CHAT x bob hi", "CHAT 0 bob hi", "CHAT 1 b@b hi", "ACK 1", "WELCOME alice", "WELCOME alice e9 x", "BYE", "BYE two words", "PONG 1", "NOPE"})
    void malformedServerLinesAreRejected(String line) {
        assertThrows(MalformedLineException.class, () -> ChatProtocol.parseServerLine(line));
    }

    @Test
    void textsWithLineEndsOrTooLongCannotBeBuilt() {
        assertThrows(IllegalArgumentException.class, () -> new Msg(1, "two\nlines"));
        assertThrows(IllegalArgumentException.class, () -> new Msg(1, "cr\r"));
        assertThrows(IllegalArgumentException.class, () -> new Msg(1, "x".repeat(ChatProtocol.MAX_TEXT_CODE_POINTS
                + 1)));
        new Msg(1, "😀".repeat(ChatProtocol.MAX_TEXT_CODE_POINTS)); // code points, not chars
        assertTrue("😀".repeat(ChatProtocol.MAX_TEXT_CODE_POINTS).getBytes(StandardCharsets.UTF_8).length + 40
                < ChatProtocol.MAX_LINE_BYTES, "the longest message fits a line");
        assertThrows(MalformedLineException.class, () -> ChatProtocol.parseClientLine("MSG 1 " + "y".repeat(
                ChatProtocol.MAX_TEXT_CODE_POINTS + 1)));
    }

    @Test
    void namesFollowOneRule() {
        assertTrue(ChatProtocol.isValidName("a"));
        assertTrue(ChatProtocol.isValidName("Alice_2.b-c"));
        assertTrue(ChatProtocol.isValidName("x".repeat(32)));
        assertFalse(ChatProtocol.isValidName("x".repeat(33)));
        assertFalse(ChatProtocol.isValidName(""));
        assertFalse(ChatProtocol.isValidName("a b"));
        assertFalse(ChatProtocol.isValidName("ünï"));
        assertFalse(ChatProtocol.isValidName(null));
        assertEquals("name must be 1..32 ASCII letters, digits, '_', '.' or '-', but was 'a b'",
                ChatProtocol.nameRule("a b"));
    }

    @Test
    void codecsWriteLinesAndReadThemBack() {
        EmbeddedChannel server = new EmbeddedChannel();
        EmbeddedChannel client = new EmbeddedChannel();
        try {
            ChatCodec.addDecoders(server.pipeline());
            server.pipeline().addLast(ChatCodec.encoder(true));
            ChatCodec.addDecoders(client.pipeline());
            client.pipeline().addLast(ChatCodec.encoder(false));
            assertTrue(client.writeOutbound(new Msg(3, "grüße")));
            ByteBuf wire = client.readOutbound();
            assertEquals("MSG 3 grüße\n", wire.toString(StandardCharsets.UTF_8));
            assertTrue(server.writeInbound(wire));
            assertEquals("MSG 3 grüße", server.readInbound());

            assertTrue(server.writeOutbound(new Chat(1, "alice", "hi")));
            ByteBuf back = server.readOutbound();
            client.writeInbound(back);
            assertEquals("CHAT 1 alice hi", client.readInbound());
            assertNull(client.readInbound());
        } finally {
            server.finishAndReleaseAll();
            client.finishAndReleaseAll();
        }
    }

    @Test
    void historyKeepsTheLatestLinesInOrder() {
        ChatHistory h = new ChatHistory(3);
        assertEquals(0, h.lastSeq());
        assertEquals(List.of(), h.after(0));
        for (String t : List.of("a", "b", "c", "d", "e")) {
            h.append("bob", t);
        }
        assertEquals(5, h.lastSeq());
        assertEquals(List.of(new Chat(4, "bob", "d"), new Chat(5, "bob", "e")), h.after(3));
        assertEquals(List.of(3L, 4L, 5L), h.after(0).stream().map(Chat::seq).toList());
        assertEquals(2, h.forgottenAfter(0), "lines 1 and 2 are gone");
        assertEquals(0, h.forgottenAfter(2));
        assertEquals(0, h.forgottenAfter(5));
    }
}
