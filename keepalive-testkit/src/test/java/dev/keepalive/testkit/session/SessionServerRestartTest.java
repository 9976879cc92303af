package dev.keepalive.testkit.session;

import static dev.keepalive.testkit.session.SessionPeers.buf;
import static dev.keepalive.testkit.session.SessionPeers.numbered;
import static java.time.Duration.ofSeconds;
import static org.awaitility.Awaitility.await;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.keepalive.reconnect.ConnectionState;
import dev.keepalive.netty.session.ClientSession;
import dev.keepalive.netty.session.SessionFraming;
import dev.keepalive.session.SessionExpiredException;
import dev.keepalive.session.SessionStats;
import dev.keepalive.testkit.KernelFirewallLab;
import dev.keepalive.testkit.PeerProcess;
import dev.keepalive.testsupport.Transport;
import io.netty.channel.EventLoopGroup;
import java.io.IOException;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.ServerSocket;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Set;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionException;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The session server as a process on loopback, killed with {@code SIGKILL} in the middle of a stream and started
 * again on the same port. With a {@code FileSessionJournal} the new process resumes the session: the client gets
 * every answer once, in order, across the kills, and every send succeeds. Without one, the new process has
 * forgotten the session, and the client is told so.
 */
class SessionServerRestartTest {
    /** A JVM start on a busy two-core machine, and the client's reconnect after it. */
    private static final Duration RESTART = ofSeconds(30);
    private static final int KILLS = 3;
    private static final int PER_ROUND = 400;

    private final EventLoopGroup group = Transport.NIO.newGroup(1);
    private final List<AutoCloseable> closing = new ArrayList<>();
    @TempDir
    Path dir;

    @AfterEach
    void tearDown() throws Exception {
        for (int i = closing.size() - 1; i >= 0; i--) {
            closing.get(i).close();
        }
        group.shutdownGracefully(0, 1, TimeUnit.SECONDS).sync();
    }

    private static int freePort() throws IOException {
        try (ServerSocket s = new ServerSocket(0, 1, InetAddress.getLoopbackAddress())) {
            return s.getLocalPort();
        }
    }

    private PeerProcess startServer(int port, Path journal) {
        List<String> args = new ArrayList<>(List.of("127.0.0.1", String.valueOf(port)));
        if (journal != null) {
            args.add(journal.toString());
        }
        PeerProcess p = PeerProcess.start(KernelFirewallLab.javaCommand(SessionServerMain.class,
                args.toArray(new String[0])));
        closing.add(p);
        p.awaitLine("LISTENING .*", RESTART);
        return p;
    }

    @Test
    void aServerKilledAndStartedAgainOnItsJournalLosesNothingAndRepeatsNothing() throws Exception {
        int port = freePort();
        Path journal = dir.resolve("sessions.journal");
        List<PeerProcess> servers = new ArrayList<>();
        servers.add(startServer(port, journal));
        SessionPeers.Client c = new SessionPeers.Client(group, List.of(new InetSocketAddress("127.0.0.1", port)),
                ClientSession.builder(SessionFraming.binary()).build());
        closing.add(c);
        await().atMost(RESTART).until(() -> c.client.state() == ConnectionState.CONNECTED);

        List<CompletableFuture<Void>> sends = new ArrayList<>();
        int next = 1;
        for (int kill = 0; kill < KILLS; kill++) {
            int answered = c.received.size();
            for (int i = 0; i < PER_ROUND; i++) {
                sends.add(c.client.send(buf("c" + next++)));
            }
            // SIGKILL with messages in flight both ways: some answered, the rest not yet.
            await().atMost(RESTART).until(() -> c.received.size() >= answered + PER_ROUND / 4);
            long connects = c.connects();
            servers.get(servers.size() - 1).kill();
            for (int i = 0; i < PER_ROUND / 2; i++) {
                sends.add(c.client.send(buf("c" + next++))); // while the server is gone: queued
            }
            PeerProcess again = startServer(port, journal);
            again.awaitLine("RECOVERED 1", RESTART);
            servers.add(again);
            await().atMost(RESTART).until(() -> c.connects() > connects
                    && c.client.state() == ConnectionState.CONNECTED);
        }
        int total = next - 1;
        CompletableFuture.allOf(sends.toArray(new CompletableFuture[0])).orTimeout(60, TimeUnit.SECONDS).join();
        await().atMost(RESTART).until(() -> c.received.size() >= total);

        assertTrue(numbered("s", 1, total).equals(c.received), () -> "the client got each answer once, in order, "
                + "across " + KILLS + " SIGKILLs of the server, but got " + c.received.size() + " answers, "
                + new HashSet<>(c.received).size() + " distinct");
        SessionStats client = c.session.stats();
        assertEquals(1, client.started(), "one session throughout");
        assertEquals(KILLS, client.resumed(), "resumed on each new server process");
        assertEquals(0, client.expired());

        // The server processes' applications, one after another: every message handled; a message handled by a
        // process killed before it recorded the delivery is handled again by the next (its answer, recorded with
        // it, was never sent): at most one per kill, and never out of order.
        List<String> handled = Files.readAllLines(Path.of(journal + ".handled"));
        Set<String> distinct = new HashSet<>(handled);
        List<String> missing = new ArrayList<>(numbered("c", 1, total));
        missing.removeAll(distinct);
        assertEquals(List.of(), missing, "every message reached a server");
        assertTrue(new ArrayList<>(new LinkedHashSet<>(handled)).equals(numbered("c", 1, total)),
                "handled in order");
        assertTrue(handled.size() - distinct.size() <= KILLS,
                "handled again only when the kill came between handling and recording: " + (handled.size()
                        - distinct.size()));
        System.out.printf("server SIGKILLed %d times: %d messages each way, client re-sent %d, handled twice %d%n",
                KILLS, total, client.resentMessages(), handled.size() - distinct.size());
    }

    @Test
    void withoutAJournalTheServerStartedAgainHasForgottenTheSessionAndTheClientIsTold() throws Exception {
        int port = freePort();
        PeerProcess first = startServer(port, null);
        SessionPeers.Client c = new SessionPeers.Client(group, List.of(new InetSocketAddress("127.0.0.1", port)),
                ClientSession.builder(SessionFraming.binary()).build());
        closing.add(c);
        await().atMost(RESTART).until(() -> c.client.state() == ConnectionState.CONNECTED);
        c.client.send(buf("c1")).orTimeout(10, TimeUnit.SECONDS).join();
        String oldId = c.session.id();

        first.suspend(); // SIGSTOP: the connection stays up, and c2 waits in the session for an acknowledgement
        CompletableFuture<Void> unanswered = c.client.send(buf("c2"));
        await().atMost(RESTART).until(() -> c.session.stats().unackedMessages() == 1);
        first.kill();
        startServer(port, null);
        await().atMost(RESTART).until(() -> c.session.stats().expired() == 1
                && c.client.state() == ConnectionState.CONNECTED);
        SessionExpiredException e = assertInstanceOf(SessionExpiredException.class,
                assertThrows(CompletionException.class, unanswered::join).getCause());
        assertEquals(oldId, e.sessionId(), "the write the forgotten session held fails saying so");
        assertEquals(2, c.session.stats().started(), "a new session on the new process");
        assertNotEquals(oldId, c.session.id());
    }
}
