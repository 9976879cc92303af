package dev.keepalive.samples.chat;

import dev.keepalive.testkit.Direction;
import dev.keepalive.testkit.FirewallProxy;
import dev.keepalive.testkit.Flow;
import dev.keepalive.testkit.FlowState;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

import java.net.InetSocketAddress;
import java.net.ServerSocket;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.regex.Pattern;

import static java.time.Duration.ofSeconds;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * A server and two clients run through the command line's own entry point, in-process, with the testkit's firewall
 * proxy between one client and the server: what the issue promises, checked from stdout and stderr only.
 */
class ChatEndToEndTest {
    private static final Duration WAIT = ofSeconds(10);
    private static final Pattern JSON_EVENT = Pattern.compile("\\{\"ts\":\\d{13},\"event\":\"[a-z-]+\"(,\"[A-Za-z]+\":"
            + "(\"([^\"\\\\]|\\\\.)*\"|-?\\d+|true|false))*}");
    /** A client that notices a dead server within about a second, and reconnects at once. */
    private static final String[] FAST_CLIENT = {"--ping-interval", "300ms", "--ping-timeout", "300ms",
            "--reconnect-initial", "50ms", "--reconnect-max", "200ms", "--events", "json"};

    private final List<AutoCloseable> closeables = new ArrayList<>();

    @AfterEach
    void tearDown() throws Exception {
        for (int i = closeables.size() - 1; i >= 0; i--) {
            closeables.get(i).close();
        }
    }

    private RunningCli cli(String... args) {
        RunningCli c = RunningCli.start(args);
        closeables.add(c);
        return c;
    }

    private static String[] with(String[] base, String... more) {
        List<String> all = new ArrayList<>(List.of(more));
        all.addAll(List.of(base));
        return all.toArray(new String[0]);
    }

    private static Pattern event(String name, String... fields) {
        StringBuilder re = new StringBuilder("\\{\"ts\":\\d+,\"event\":\"" + Pattern.quote(name) + "\".*");
        for (String f : fields) {
            re.append(Pattern.quote(f)).append(".*");
        }
        return Pattern.compile(re + "}");
    }

    private static void assertAllJson(Captured err) {
        for (String line : err.lines()) {
            assertTrue(JSON_EVENT.matcher(line).matches(), "not one JSON event per line: " + line);
        }
    }

    @Test
    void messagesSurviveDeadFlowsExactlyOnceAndInOrder() throws Exception {
        RunningCli server = cli("server", "--host", "127.0.0.1", "--port", "0", "--events", "json",
                "--ping-interval", "1m");
        int port = server.serverPort(WAIT);
        FirewallProxy proxy = FirewallProxy.builder(new InetSocketAddress("127.0.0.1", port)).start();
        closeables.add(proxy);
        RunningCli alice = cli(with(FAST_CLIENT, "client", "--host", "127.0.0.1", "--port",
                Integer.toString(proxy.address().getPort()), "--name", "alice"));
        RunningCli bob = cli("client", "--host", "127.0.0.1", "--port", Integer.toString(port), "--name", "bob",
                "--events", "json");
        server.err.await(event("client-joined", "\"name\":\"alice\"").asMatchPredicate(), WAIT, "alice joined");
        server.err.await(event("client-joined", "\"name\":\"bob\"").asMatchPredicate(), WAIT, "bob joined");
        alice.err.await(event("connected", "\"name\":\"alice\"", "\"attempt\":1").asMatchPredicate(), WAIT,
                "alice connected");

        alice.in.type("one");
        bob.out.awaitLine("alice: one", WAIT);

        // 1. Answers stop reaching alice: her messages arrive, their acknowledgements do not. She finds the
        //    server dead, reconnects, re-sends both; the server recognises them and delivers them once.
        Flow first = proxy.awaitFlow(0, WAIT);
        first.blackHole(Direction.SERVER_TO_CLIENT);
        alice.in.type("two");
        alice.in.type("three");
        server.out.awaitLine("alice: three", WAIT);
        alice.err.await(event("peer-dead", "\"reason\":\"PING_TIMEOUT\"").asMatchPredicate(), WAIT, "peer-dead");
        alice.err.await(event("disconnected", "\"reason\":\"PING_TIMEOUT\"").asMatchPredicate(), WAIT,
                "disconnected");
        // The lost connection lasted less than backoffResetAfter (10 s): the backoff sequence goes on at attempt 2.
        alice.err.await(event("reconnecting", "\"attempt\":2", "\"delayMs\":").asMatchPredicate(), WAIT,
                "reconnecting");
        alice.err.await(event("connected").asMatchPredicate(), 2, WAIT, "connected again");
        server.err.await(event("client-joined", "\"name\":\"alice\"").asMatchPredicate(), 2, WAIT, "alice rejoined");

        // 2. The firewall forgets alice's new flow: what she types goes nowhere until she notices and reconnects.
        Flow second = proxy.awaitFlow(1, WAIT);
        second.forget();
        second.awaitState(FlowState.FORGOTTEN, WAIT);
        alice.in.type("four");
        alice.err.await(event("peer-dead", "\"reason\":\"PING_TIMEOUT\"").asMatchPredicate(), 2, WAIT,
                "second peer-dead");
        server.out.awaitLine("alice: four", WAIT);
        // her close went into the forgotten flow too, so the server still held the old connection (half-open)
        server.err.await(event("client-joined", "\"name\":\"alice\"", "\"replaced\":true").asMatchPredicate(), WAIT,
                "alice took her name over");
        server.err.await(event("client-left", "\"name\":\"alice\"", "\"replacedBy\":").asMatchPredicate(), WAIT,
                "the half-open connection was closed");

        // 3. bob talks to alice; alice ends her input, waits for her acknowledgements and exits cleanly.
        bob.in.type("hi alice");
        alice.out.awaitLine("bob: hi alice", WAIT);
        alice.in.type("five");
        alice.in.close();
        assertEquals(0, alice.exitCode(WAIT), "every message acknowledged: " + alice.err.text());
        bob.out.awaitLine("alice: five", WAIT);
        bob.in.close();
        assertEquals(0, bob.exitCode(WAIT));
        server.err.await(event("client-left", "\"name\":\"bob\"", "\"reason\":\"CLOSED_BY_PEER\"")
                .asMatchPredicate(), WAIT, "bob left");
        server.close();
        assertEquals(0, server.exitCode(WAIT));

        List<String> fromAlice = server.out.lines().stream().filter(l -> l.startsWith("alice: ")).toList();
        assertEquals(List.of("alice: one", "alice: two", "alice: three", "alice: four", "alice: five"), fromAlice,
                "the server accepted each of alice's messages once, in order");
        assertEquals(List.of("alice: one", "alice: two", "alice: three", "alice: four", "alice: five"),
                bob.out.lines(), "bob printed each of alice's messages once, in order");
        assertEquals(List.of("bob: hi alice"), alice.out.lines());
        assertAllJson(server.err);
        assertAllJson(alice.err);
        assertAllJson(bob.err);
    }

    @Test
    void linesTypedBeforeTheServerIsUpAreDeliveredWhenItIs() throws Exception {
        int port;
        try (ServerSocket probe = new ServerSocket(0, 1, java.net.InetAddress.getLoopbackAddress())) {
            port = probe.getLocalPort(); // free now; the server takes it a little later
        }
        RunningCli carol = cli(with(FAST_CLIENT, "client", "--host", "127.0.0.1", "--port", Integer.toString(port),
                "--name", "carol"));
        carol.in.type("typed while nobody listens");
        carol.in.type("and another");
        carol.err.await(event("reconnecting", "\"error\":").asMatchPredicate(), WAIT, "a refused attempt");

        RunningCli server = cli("server", "--host", "127.0.0.1", "--port", Integer.toString(port), "--events",
                "json");
        server.out.awaitLine("carol: and another", WAIT);
        carol.in.close();
        assertEquals(0, carol.exitCode(WAIT));
        assertEquals(List.of("carol: typed while nobody listens", "carol: and another"), server.out.lines());
        assertAllJson(carol.err);
    }

    @Test
    void aClientThatCannotDeliverSaysSoAndExits1() throws Exception {
        int port;
        try (ServerSocket probe = new ServerSocket(0, 1, java.net.InetAddress.getLoopbackAddress())) {
            port = probe.getLocalPort();
        }
        RunningCli drained = cli(with(FAST_CLIENT, "client", "--host", "127.0.0.1", "--port",
                Integer.toString(port), "--name", "dave", "--drain-timeout", "300ms"));
        drained.in.type("nobody will ever read this");
        drained.in.close();
        assertEquals(1, drained.exitCode(WAIT));
        drained.err.await(event("undelivered", "\"count\":1").asMatchPredicate(), WAIT, "undelivered");

        RunningCli gaveUp = cli(with(FAST_CLIENT, "client", "--host", "127.0.0.1", "--port",
                Integer.toString(port), "--name", "erin", "--give-up-after", "300ms"));
        assertEquals(1, gaveUp.exitCode(WAIT));
        gaveUp.err.await(event("gave-up", "\"name\":\"erin\"").asMatchPredicate(), WAIT, "gave-up");
        assertAllJson(drained.err);
        assertAllJson(gaveUp.err);
    }

    @Test
    void textEventsAreForPeople() throws Exception {
        RunningCli server = cli("server", "--host", "127.0.0.1", "--port", "0", "--events", "json");
        int port = server.serverPort(WAIT);
        RunningCli frank = cli("client", "--host", "127.0.0.1", "--port", Integer.toString(port), "--name", "frank");
        frank.err.await(l -> l.matches("\\d\\d:\\d\\d:\\d\\d\\.\\d{3}  connected to 127\\.0\\.0\\.1:\\d+ as frank"),
                WAIT, "a connected line");
        frank.err.await(l -> l.equals("* nobody else is here"), WAIT, "the server's announcement");
        assertTrue(frank.err.text().contains("keepalive: ping after 30s of silence, dead after 2 x 10s unanswered"),
                frank.err.text());
        frank.in.close();
        assertEquals(0, frank.exitCode(WAIT));
    }
}
