package dev.keepalive.samples.chat;

import dev.keepalive.KeepaliveSettings;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

import java.io.OutputStream;
import java.net.InetSocketAddress;
import java.net.Socket;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.stream.Collectors;

import static java.time.Duration.ofSeconds;
import static org.junit.jupiter.api.Assertions.assertEquals;

/**
 * After a freeze ({@code kill -STOP}) the server's backlog holds every attempt a client gave up on meanwhile: a JOIN
 * followed by the client's FIN. Thawed, the server replays them quietly: no join or leave for any of them, and the
 * client's live connection is announced once, as a return.
 */
class ChatServerFreezeReplayTest {
    private static final Duration WAIT = ofSeconds(5);
    private final ServerRecorder recorder = new ServerRecorder();
    private final List<AutoCloseable> closeables = new ArrayList<>();

    @AfterEach
    void tearDown() throws Exception {
        for (AutoCloseable c : closeables) {
            c.close();
        }
    }

    private LineSocket connect(ChatServer server) throws Exception {
        LineSocket s = new LineSocket(server.address(), true);
        closeables.add(s);
        return s;
    }

    @Test
    void attemptsGivenUpOnAreNeitherJoinsNorLeaves() throws Exception {
        ChatServer server = ChatServer.start(new ChatServer.Config(new InetSocketAddress("127.0.0.1", 0),
                KeepaliveSettings.builder().pingInterval(Duration.ofMinutes(1)).build(), ofSeconds(5)), recorder);
        closeables.add(server);
        LineSocket bob = connect(server);
        bob.send("JOIN bob b1");
        bob.expect(l -> l.startsWith("WELCOME "), WAIT, "bob's WELCOME");
        LineSocket alice = connect(server);
        alice.send("JOIN alice a1");
        alice.expect(l -> l.startsWith("WELCOME "), WAIT, "alice's WELCOME");
        bob.expect("INFO alice joined");

        // Three attempts alice gave up on while the server was frozen: JOIN, then FIN, both already queued.
        for (int i = 0; i < 3; i++) {
            try (Socket stale = new Socket()) {
                stale.connect(server.address(), 5000);
                OutputStream out = stale.getOutputStream();
                // a new session (by hand: HELLO, then its first line) whose only line is the JOIN
                out.write(("SH " + String.format("%032x", i + 1) + " new 0\nSD 1 0 JOIN alice a1\n")
                        .getBytes(StandardCharsets.UTF_8));
                out.flush();
                stale.shutdownOutput();
            }
        }
        LineSocket back = connect(server);
        back.send("JOIN alice a1");
        back.expect(l -> l.startsWith("WELCOME "), WAIT, "the live attempt's WELCOME");

        assertEquals("INFO alice is back", bob.expect(l -> l.startsWith("INFO alice"), WAIT, "an announcement"),
                "bob hears of alice's return, and of nothing before it");
        recorder.await("client-joined", e -> e.string("remote").equals(back.localAddress()), WAIT);
        List<String> joins = recorder.events("client-joined").stream()
                .map(e -> e.string("name") + (Boolean.TRUE.equals(e.get("replaced")) ? " (back)" : ""))
                .collect(Collectors.toList());
        assertEquals(List.of("bob", "alice", "alice (back)"), joins, "one join per live connection");
        assertEquals(List.of(), recorder.events("client-left").stream().map(ChatEvent::toText)
                .collect(Collectors.toList()), "no leave for attempts that never showed up");
    }
}
