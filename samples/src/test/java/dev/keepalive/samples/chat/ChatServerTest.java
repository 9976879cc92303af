package dev.keepalive.samples.chat;

import dev.keepalive.KeepaliveSettings;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

import java.net.InetSocketAddress;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;

import static java.time.Duration.ofMillis;
import static java.time.Duration.ofSeconds;
import static org.awaitility.Awaitility.await;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** The server's side of the protocol, driven over real loopback sockets by bare-hands clients. */
class ChatServerTest {
    private static final KeepaliveSettings QUIET_SERVER = KeepaliveSettings.builder()
            .pingInterval(Duration.ofMinutes(1)).build();
    private static final Duration WAIT = ofSeconds(5);

    private final ServerRecorder recorder = new ServerRecorder();
    private final List<AutoCloseable> closeables = new ArrayList<>();

    @AfterEach
    void tearDown() throws Exception {
        for (AutoCloseable c : closeables) {
            c.close();
        }
    }

    private ChatServer server(KeepaliveSettings settings, Duration joinTimeout) {
        ChatServer s = ChatServer.start(new ChatServer.Config(new InetSocketAddress("127.0.0.1", 0), settings,
                joinTimeout), recorder);
        closeables.add(s);
        return s;
    }

    private LineSocket connect(ChatServer server, boolean answerPings) throws Exception {
        LineSocket s = new LineSocket(server.address(), answerPings);
        closeables.add(s);
        return s;
    }

    /** Joins and returns the server's epoch from the WELCOME line. */
    private static String join(LineSocket s, String name, String session) throws Exception {
        s.send("JOIN " + name + " " + session);
        String welcome = s.expect(l -> l.startsWith("WELCOME "), WAIT, "WELCOME");
        return welcome.split(" ")[2];
    }

    /** Waits until the server's session layer acknowledged everything {@code s} sent. */
    private static void awaitAcknowledged(LineSocket s) {
        await().atMost(WAIT).until(s::allAcknowledged);
    }

    @Test
    void broadcastsAndAnnounces() throws Exception {
        ChatServer server = server(QUIET_SERVER, ofSeconds(5));
        LineSocket alice = connect(server, true);
        join(alice, "alice", "s1");
        alice.expect("INFO nobody else is here");
        LineSocket bob = connect(server, true);
        join(bob, "bob", "s2");
        bob.expect("INFO also here: alice");
        alice.expect("INFO bob joined");

        alice.send("MSG 1 hello bob");
        bob.expect("CHAT 1 alice hello bob");
        bob.send("MSG 1 hi alice");
        alice.expect("CHAT 2 bob hi alice");
        awaitAcknowledged(alice);
        awaitAcknowledged(bob);
        assertEquals(List.of("alice: hello bob", "bob: hi alice"), recorder.accepted());
        assertEquals(List.of("alice", "bob"), server.members());

        bob.close();
        alice.expect("INFO bob left (CLOSED_BY_PEER)");
        ChatEvent left = recorder.await("client-left", e -> "bob".equals(e.string("name")), WAIT);
        assertEquals("CLOSED_BY_PEER", left.string("reason"));
        assertEquals(2, recorder.events("client-joined").size());
    }

    @Test
    void reSentMessagesAreDroppedByTheSessionLayerAndDeliveredOnce() throws Exception {
        ChatServer server = server(QUIET_SERVER, ofSeconds(5));
        LineSocket alice = connect(server, true);
        join(alice, "alice", "s1");                           // session line 1
        LineSocket bob = connect(server, true);
        join(bob, "bob", "s2");
        alice.send("MSG 1 a").send("MSG 2 b");                // session lines 2, 3
        alice.resend(2).resend(3);                            // as a peer that missed the acknowledgements would
        alice.send("MSG 3 c");
        bob.expect("CHAT 1 alice a");
        bob.expect("CHAT 2 alice b");
        bob.expect("CHAT 3 alice c");
        awaitAcknowledged(alice);
        assertEquals(List.of("alice: a", "alice: b", "alice: c"), recorder.accepted());
        assertEquals(List.of("alice #2", "alice #3"), recorder.duplicates());
        assertEquals(3, bob.seen.stream().filter(l -> l.startsWith("CHAT ")).count(), "no CHAT twice: " + bob.seen);
    }

    @Test
    void aRejoinTakesTheNameOverFromTheOldConnectionAndCatchesUp() throws Exception {
        ChatServer server = server(QUIET_SERVER, ofSeconds(5));
        LineSocket old = connect(server, true);
        String epoch = join(old, "alice", "s1");
        old.send("MSG 1 before");
        awaitAcknowledged(old);
        LineSocket bob = connect(server, true);
        join(bob, "bob", "s2");
        old.expect("INFO bob joined");
        // alice's old connection goes half-open here: the server still holds it and sends to it
        bob.send("MSG 1 while you were away");
        awaitAcknowledged(bob);

        LineSocket fresh = connect(server, true);
        fresh.send("JOIN alice s1 " + epoch + ":1"); // the last chat line alice saw was #1 (her own)
        fresh.expect(l -> l.startsWith("WELCOME alice " + epoch + " "), WAIT, "WELCOME");
        fresh.expect("CHAT 2 bob while you were away");
        List<String> rest = old.expectClosed(WAIT);
        assertTrue(rest.contains("BYE replaced"), "the old connection is told, then closed: " + rest);
        bob.expect("INFO alice is back");

        ChatEvent joined = recorder.await("client-joined", e -> Boolean.TRUE.equals(e.get("replaced")), WAIT);
        assertEquals("alice", joined.string("name"));
        ChatEvent left = recorder.await("client-left", e -> "alice".equals(e.string("name")), WAIT);
        assertEquals(joined.string("remote"), left.string("replacedBy"));
        assertEquals(List.of("alice", "bob"), server.members());

        fresh.send("MSG 2 after");
        bob.expect("CHAT 3 alice after");
        assertEquals(List.of("alice: before", "bob: while you were away", "alice: after"), recorder.accepted());
        assertFalse(bob.seen.contains("INFO alice left"), "a takeover is no leave: " + bob.seen);
    }

    @Test
    void aNewSessionUnderTheSameNameStartsItsIdsAgain() throws Exception {
        ChatServer server = server(QUIET_SERVER, ofSeconds(5));
        LineSocket first = connect(server, true);
        join(first, "alice", "s1");
        first.send("MSG 1 one");
        awaitAcknowledged(first);
        first.close();
        recorder.await("client-left", e -> "alice".equals(e.string("name")), WAIT);
        LineSocket restarted = connect(server, true);
        join(restarted, "alice", "s2"); // the client process started again
        restarted.send("MSG 1 one again");
        awaitAcknowledged(restarted);
        assertEquals(List.of("alice: one", "alice: one again"), recorder.accepted());
    }

    @Test
    void aResumedSessionIsTheSameMemberAndGetsWhatItMissedOnce() throws Exception {
        ChatServer server = server(QUIET_SERVER, ofSeconds(5));
        LineSocket old = connect(server, true);
        join(old, "alice", "s1");
        LineSocket bob = connect(server, true);
        join(bob, "bob", "s2");
        old.expect("INFO bob joined");
        old.send("MSG 1 before");
        bob.expect("CHAT 1 alice before");
        // alice's client loses its connection (the server does not notice) and resumes on a new one; a message
        // it sent meanwhile is re-sent by the session before its JOIN
        old.send("MSG 2 meanwhile");
        LineSocket fresh = old.resumeOnNewConnection();
        closeables.add(fresh);
        old.expectClosed(WAIT); // taken over by the session layer
        bob.expect("CHAT 2 alice meanwhile");
        fresh.send("JOIN alice s1");
        fresh.expect(l -> l.startsWith("WELCOME alice "), WAIT, "WELCOME");
        ChatEvent joined = recorder.await("client-joined", e -> Boolean.TRUE.equals(e.get("replaced")), WAIT);
        assertEquals("alice", joined.string("name"));
        fresh.send("MSG 3 after");
        bob.expect("CHAT 3 alice after");
        awaitAcknowledged(fresh);
        assertEquals(List.of("alice: before", "alice: meanwhile", "alice: after"), recorder.accepted());
        assertEquals(List.of("alice", "bob"), server.members());
        assertFalse(bob.seen.contains("INFO alice left"), "a resume is no leave: " + bob.seen);
    }

    @Test
    void deadClientsAreEvictedAndTheirLeaveCarriesTheReason() throws Exception {
        KeepaliveSettings pinging = KeepaliveSettings.builder().pingInterval(ofMillis(200)).pingTimeout(ofMillis(200))
                .build();
        ChatServer server = server(pinging, ofSeconds(5));
        LineSocket watcher = connect(server, true);
        join(watcher, "watcher", "s1");
        LineSocket mute = connect(server, false); // never answers a ping: a hung or vanished client
        join(mute, "mute", "s2");

        ChatEvent dead = recorder.await("client-dead", e -> "mute".equals(e.string("name")), WAIT);
        assertEquals("PING_TIMEOUT", dead.string("reason"));
        ChatEvent left = recorder.await("client-left", e -> "mute".equals(e.string("name")), WAIT);
        assertEquals("PING_TIMEOUT", left.string("reason"));
        watcher.expect("INFO mute left (PING_TIMEOUT)");
        assertEquals(List.of("watcher"), server.members(), "the watcher answered its pings and stayed");
    }

    @Test
    void protocolErrorsAreAnsweredAndASilentConnectionIsClosed() throws Exception {
        ChatServer server = server(QUIET_SERVER, ofMillis(300));
        LineSocket early = connect(server, true);
        early.send("MSG 1 who am I");
        assertEquals(List.of("ERROR JOIN <name> <session> first"), early.expectClosed(WAIT));

        LineSocket confused = connect(server, true);
        confused.send("HELLO");
        confused.expect(l -> l.startsWith("ERROR unknown command"), WAIT, "ERROR");
        confused.send("JOIN bad/name s1");
        confused.expect(l -> l.startsWith("ERROR name must be"), WAIT, "ERROR");
        join(confused, "fixed", "s1"); // still open after the errors
        confused.send("JOIN fixed s1");
        confused.expect("ERROR already joined as fixed");

        LineSocket silent = connect(server, true);
        assertEquals(List.of("ERROR no JOIN within 300 ms"), silent.expectClosed(WAIT));
        assertEquals(List.of(), recorder.accepted());
    }
}
