package dev.keepalive.samples.chat;

import ch.qos.logback.classic.Level;
import dev.keepalive.KeepaliveSettings;
import dev.keepalive.netty.TcpKeepaliveOptions;
import dev.keepalive.reconnect.ClientStats;
import dev.keepalive.reconnect.ReconnectPolicy;
import dev.keepalive.testkit.Direction;
import dev.keepalive.testkit.FirewallProxy;
import dev.keepalive.testkit.Flow;
import dev.keepalive.testkit.FlowCounters;
import dev.keepalive.testkit.FlowState;
import io.netty.channel.EventLoopGroup;
import io.netty.channel.MultiThreadIoEventLoopGroup;
import io.netty.util.concurrent.DefaultThreadFactory;
import org.slf4j.LoggerFactory;
import picocli.CommandLine;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;

import java.io.PrintStream;
import java.net.InetSocketAddress;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;

/**
 * The one-command demo: a chat server, the testkit's {@link FirewallProxy} emulating a stateful firewall that
 * forgets flows idle for 2 s, and three clients through it, configured with the CLI's own flags:
 *
 * <ul>
 *   <li><b>alice</b> pings after 1 s of silence, more often than the firewall forgets: her flow survives every quiet
 *       period;</li>
 *   <li><b>bob</b> runs with {@code --no-keepalive}: his flow is forgotten while his client still believes it is
 *       connected, and what he says afterwards vanishes without an error (the half-open problem);</li>
 *   <li><b>carol</b> pings after 3 s of silence, less often than the firewall forgets: her ping goes into the forgotten
 *       flow, she declares the server dead within her bound, reconnects, takes her name over from the half-open
 *       connection the server still holds, and her pending message is delivered once, in order.</li>
 * </ul>
 * The server pings only every minute (and accepts pings every 100 ms, far below the clients' intervals), so that
 * the clients' own settings decide what happens to their flows. The demo prints a timeline and a summary, checks
 * its expectations, and returns 1 if any failed.
 */
final class ChatDemo {
    static final Duration FIREWALL_IDLE = Duration.ofSeconds(2);
    static final Duration QUIET = Duration.ofSeconds(3);
    static final int QUIET_ROUNDS = 2;
    static final Duration ACK_WAIT = Duration.ofSeconds(3);
    /** Allowed beyond a client's detection bound: timer lateness, and the firewall watcher's 25 ms polling. */
    static final Duration DETECTION_SLACK = Duration.ofSeconds(1);
    static final String[] SERVER_FLAGS = {"--ping-interval", "1m"};
    /** Every wait before one of alice's pings, the shortened ones included, ends before the firewall forgets. */
    static final String[] ALICE_FLAGS = {"--ping-interval", "1s", "--ping-timeout", "1s"};
    /**
     * carol's pings come exactly 3 s after the silence began: without jitter, no wait is shortened, not even a
     * connection's first, which jitter would spread over the whole interval (so it could come before the firewall
     * forgets, and her flow would survive the quiet period by chance).
     */
    static final String[] CAROL_FLAGS = {"--ping-interval", "3s", "--ping-timeout", "1s", "--ping-jitter", "0"};
    static final String[] RECONNECT_FLAGS = {"--reconnect-initial", "100ms", "--reconnect-max", "1s"};

    private final PrintStream out;
    private volatile long start = System.nanoTime();
    private volatile boolean quiet;
    private final Map<String, Person> people = new LinkedHashMap<>();
    private final Map<String, String> serverRemoteToName = new ConcurrentHashMap<>();
    private final List<String> accepted = new CopyOnWriteArrayList<>();
    private final List<ChatEvent> serverEvents = new CopyOnWriteArrayList<>();
    private final Map<String, CompletableFuture<Void>> joined = new ConcurrentHashMap<>();
    private final List<String> failures = new ArrayList<>();
    /** The newest flow through the firewall of each client: older ones are the flows it left behind. */
    private final Map<String, Integer> newestFlow = new ConcurrentHashMap<>();
    private volatile FirewallProxy firewall;

    ChatDemo(PrintStream out) {
        this.out = out;
    }

    /** Runs the demo; returns 0 when every expectation held. */
    int run() throws Exception {
        // The firewall is a userspace proxy: only application bytes refresh it, so the kernel's TCP options (which
        // Java's NIO cannot all set, as the library would warn on stderr) play no part in this story.
        ((ch.qos.logback.classic.Logger) LoggerFactory.getLogger(TcpKeepaliveOptions.class)).setLevel(Level.ERROR);
        people.put("alice", new Person("alice", "pings often enough", ALICE_FLAGS));
        people.put("bob", new Person("bob", "no keepalive", "--no-keepalive"));
        people.put("carol", new Person("carol", "pings too rarely", CAROL_FLAGS));

        KeepaliveOptions serverFlags = flags(SERVER_FLAGS);
        ChatServer server = ChatServer.start(new ChatServer.Config(new InetSocketAddress("127.0.0.1", 0),
                serverFlags.settings(), serverFlags.connectTimeout()), new ServerWatcher());
        EventLoopGroup clients = new MultiThreadIoEventLoopGroup(1, new DefaultThreadFactory("demo-clients", true),
                ChatTransport.ioHandler());
        FirewallProxy firewall = FirewallProxy.builder(server.address()).forgetIdleFlowsAfter(FIREWALL_IDLE).start();
        this.firewall = firewall;
        FirewallWatcher watcher = new FirewallWatcher(firewall);
        List<String> stillListed = List.of();
        try {
            intro(server, firewall);
            start = System.nanoTime();
            watcher.start();
            for (Person p : people.values()) {
                joined.put(p.name, new CompletableFuture<>());
                p.client = ChatClient.start(new ChatClient.Config(firewall.address(), p.name, p.settings, p.policy),
                        clients, p);
                await(joined.get(p.name), Duration.ofSeconds(5), p.name + " joined");
            }

            section("everyone says hello");
            speak("hi, I'm %s");
            for (Person p : people.values()) {
                p.acked(0, ACK_WAIT);
            }

            for (int round = 1; round <= QUIET_ROUNDS; round++) {
                section("everyone is quiet for " + QUIET.toSeconds() + " s; the firewall forgets flows idle for "
                        + FIREWALL_IDLE.toSeconds() + " s");
                Thread.sleep(QUIET.toMillis()); // the demo waits in real time on purpose: this is the idle period
                section("everyone speaks again");
                speak("still there? (%s, after quiet period " + round + ")");
                Person carol = people.get("carol");
                people.get("alice").acked(round, ACK_WAIT);
                carol.acked(round, carol.settings.idleDetectionBound().plus(DETECTION_SLACK).plus(ACK_WAIT));
                say("bob", "%s", people.get("bob").sent.get(round).isDone() ? "got an acknowledgement"
                        : "still waits for an acknowledgement; no error, no event: his client thinks it is connected");
            }
            stillListed = server.members();
        } finally {
            watcher.stop();
            quiet = true;
            for (Person p : people.values()) {
                if (p.client != null) {
                    p.stats = p.client.stats();
                    p.client.close();
                }
            }
            firewall.close();
            server.close();
            clients.shutdownGracefully(0, 1, TimeUnit.SECONDS).awaitUninterruptibly(5, TimeUnit.SECONDS);
        }
        section("summary");
        summary(stillListed);
        check();
        long seconds = TimeUnit.NANOSECONDS.toSeconds(System.nanoTime() - start);
        out.println();
        out.println(failures.isEmpty() ? "demo finished as expected in " + seconds + " s"
                : "demo did NOT go as expected: " + failures.size() + " expectation(s) failed");
        out.flush();
        return failures.isEmpty() ? 0 : 1;
    }

    private void intro(ChatServer server, FirewallProxy firewall) {
        out.println("keepalive demo: a chat server behind a stateful firewall that forgets flows idle for "
                + FIREWALL_IDLE.toSeconds() + " s, and three clients through it");
        out.println();
        String firewallPath = ChatEvent.address(firewall.address()) + " -> " + ChatEvent.address(server.address());
        int width = firewallPath.length();
        for (Person p : people.values()) {
            width = Math.max(width, ("client " + String.join(" ", p.ownFlags)).length());
        }
        String row = "  %-9s %-" + width + "s   %s%n";
        out.printf(row, "server", "server " + String.join(" ", SERVER_FLAGS),
                "pings its clients only every minute: it keeps no flow alive");
        out.printf(row, "firewall", firewallPath, "forgets a flow after " + FIREWALL_IDLE.toSeconds()
                + " s without a byte, then drops its packets both ways (no RST, no FIN)");
        for (Person p : people.values()) {
            out.printf(row, p.name, "client " + String.join(" ", p.ownFlags), p.plan());
        }
        out.printf("  %-9s %s%n", "", "(each client also has " + String.join(" ", RECONNECT_FLAGS) + ")");
        out.flush();
    }

    private void speak(String format) {
        for (Person p : people.values()) {
            String text = String.format(format, p.name);
            p.texts.add(text);
            say(p.name, "says \"%s\"", text);
            p.sent.add(p.client.say(text));
        }
    }

    // ---- the outcome -------------------------------------------------------------------------------------------

    private void check() {
        Person alice = people.get("alice");
        Person bob = people.get("bob");
        Person carol = people.get("carol");
        out.println("expectations");
        expect(people.values().stream().allMatch(p -> !p.sent.isEmpty() && delivered(p.sent.get(0))),
                "every client's hello was accepted and acknowledged");
        expect(alice.forgotten.isEmpty() && alice.deaths.isEmpty() && alice.connects == 1
                        && alice.sent.stream().allMatch(ChatDemo::delivered) && inOrderOnce(alice),
                "alice's flow survived every quiet period, and her messages arrived once, in order");
        expect(!bob.forgotten.isEmpty() && countAccepted(bob) == 1 && bob.deaths.isEmpty() && bob.connects == 1
                        && bob.otherEvents.isEmpty(),
                "bob's flow was forgotten, and his later messages vanished without any error or event on his side");
        long boundMs = carol.settings.idleDetectionBound().toMillis();
        expect(carol.deaths.size() == QUIET_ROUNDS && carol.deaths.stream().allMatch(d -> "PING_TIMEOUT"
                        .equals(d.event.string("reason")) && d.silenceMs >= 0
                        && d.silenceMs <= boundMs + DETECTION_SLACK.toMillis()),
                "carol found each dead flow within her bound (" + Durations.format(carol.settings
                        .idleDetectionBound()) + " after the last byte got through): PING_TIMEOUT");
        expect(carol.connects == 1 + QUIET_ROUNDS && carol.sent.stream().allMatch(ChatDemo::delivered)
                        && inOrderOnce(carol),
                "carol reconnected each time, and each of her messages arrived once, in order");
        expect(serverEvents.stream().filter(e -> e.type().equals("client-joined") && "carol".equals(e.string("name"))
                        && Boolean.TRUE.equals(e.get("replaced"))).count() == QUIET_ROUNDS,
                "the server handed carol's name over from her half-open connection each time she rejoined");
        expect(alice.texts.stream().allMatch(t -> count(carol.received, "alice: " + t) == 1),
                "carol got every message of alice's, once, including those sent while her flow was dead");
        expect(accepted.size() == accepted.stream().distinct().count(), "no message was delivered twice");
    }

    private static boolean delivered(CompletableFuture<Void> f) {
        return f.isDone() && !f.isCompletedExceptionally();
    }

    private boolean inOrderOnce(Person p) {
        List<String> mine = new ArrayList<>();
        for (String line : accepted) {
            if (line.startsWith(p.name + ": ")) {
                mine.add(line.substring(p.name.length() + 2));
            }
        }
        return mine.equals(p.texts);
    }

    private long countAccepted(Person p) {
        return accepted.stream().filter(l -> l.startsWith(p.name + ": ")).count();
    }

    private static long count(List<String> lines, String line) {
        return lines.stream().filter(line::equals).count();
    }

    private void expect(boolean ok, String what) {
        out.printf("  %-6s %s%n", ok ? "ok" : "FAILED", what);
        if (!ok) {
            failures.add(what);
        }
    }

    private void summary(List<String> stillListed) {
        Map<String, List<String>> rows = new LinkedHashMap<>();
        for (Person p : people.values()) {
            long sent = p.sent.size();
            long ok = countAccepted(p);
            add(rows, "keepalive", p.ownFlags.get(0).equals("--no-keepalive") ? "off"
                    : "ping after " + Durations.format(p.settings.pingInterval()));
            add(rows, "pings sent / answered", p.stats == null ? "?" : p.stats.pingsSent() + " / "
                    + p.stats.pongsReceived());
            add(rows, "firewall forgot its flow", p.forgotten.isEmpty() ? "never" : p.forgotten.size() + "x");
            add(rows, "messages sent", Long.toString(sent));
            add(rows, "accepted by the server", Long.toString(ok));
            add(rows, "vanished without an error", Long.toString(sent - ok));
            List<String> silences = new ArrayList<>();
            for (Death d : p.deaths) {
                silences.add(String.format("%.1f s", d.silenceMs / 1000.0));
            }
            add(rows, "dead flow detected", p.deaths.isEmpty() ? (p.forgotten.isEmpty() ? "-" : "never")
                    : p.deaths.size() + "x, after " + String.join(", ", silences));
            add(rows, "detection bound", p.ownFlags.get(0).equals("--no-keepalive") ? "none"
                    : Durations.format(p.settings.idleDetectionBound()));
            add(rows, "kernel alone, real path", kernelAlone(p, sent - ok));
            add(rows, "reconnects", Integer.toString(Math.max(0, p.connects - 1)));
            add(rows, "chat lines received", Integer.toString(p.received.size()));
        }
        int width = 10;
        for (List<String> cells : rows.values()) {
            for (String c : cells) {
                width = Math.max(width, c.length() + 3);
            }
        }
        StringBuilder header = new StringBuilder(String.format("  %-27s", ""));
        for (Person p : people.values()) {
            header.append(String.format("%-" + width + "s", p.name));
        }
        out.println(header.toString().stripTrailing());
        for (Map.Entry<String, List<String>> row : rows.entrySet()) {
            StringBuilder line = new StringBuilder(String.format("  %-27s", row.getKey()));
            for (String cell : row.getValue()) {
                line.append(String.format("%-" + width + "s", cell));
            }
            out.println(line.toString().stripTrailing());
        }
        out.println();
        if (stillListed.contains("bob")) {
            out.println("  At the end the server still listed bob as connected, and bob's client believed it too: the");
            out.println("  connection was half-open on both ends. Nothing in bob's client finds out: SO_KEEPALIVE is off,");
            out.println("  and here the firewall proxy acknowledges his bytes. On a real path his unacknowledged message");
            out.println("  would make his kernel give up after about 15 min of retransmissions (an idle socket, with");
            out.println("  SO_KEEPALIVE on, after 2 h 11 min). The server finds out by its own pings (every minute here;");
            out.println("  by default every 30 s).");
            out.println();
        }
        out.println("  \"kernel alone, real path\": when the client's own kernel would give up on a flow a real firewall");
        out.println("  forgot, with no application pings (the proxy here acknowledges every byte, so it never does).");
        out.println();
        out.flush();
    }

    /** When this client's kernel would give up on its forgotten flow without the application's pings. */
    private static String kernelAlone(Person p, long vanished) {
        if (p.forgotten.isEmpty()) {
            return "- (flow kept)";
        }
        if (!p.settings.tcpKeepAlive() && p.settings.tcpUserTimeout().isZero()) {
            return vanished > 0 ? "~15 min (unacked)" : "never (idle)";
        }
        // A client with pings writes into the dead flow (its ping): unacknowledged data.
        return ChatTransport.setsUserTimeout() && !p.settings.tcpUserTimeout().isZero()
                ? Durations.format(p.settings.tcpUserTimeout()) + " (TCP_USER_TIMEOUT)" : "~15 min (unacked)";
    }

    private static void add(Map<String, List<String>> rows, String row, String cell) {
        rows.computeIfAbsent(row, k -> new ArrayList<>()).add(cell);
    }

    // ---- printing ----------------------------------------------------------------------------------------------

    private void await(CompletableFuture<?> f, Duration timeout, String what) throws InterruptedException {
        try {
            f.get(timeout.toMillis(), TimeUnit.MILLISECONDS);
        } catch (TimeoutException | ExecutionException e) {
            say("demo", "gave up waiting: %s (%s)", what, e instanceof TimeoutException ? "not within "
                    + Durations.format(timeout) : e.getCause());
        }
    }

    private void section(String title) {
        synchronized (out) {
            out.println();
            out.printf("[%5.2f s] -- %s%n", seconds(), title);
            out.flush();
        }
    }

    private void say(String who, String format, Object... args) {
        if (quiet) {
            return;
        }
        synchronized (out) {
            out.printf("[%5.2f s] %-9s %s%n", seconds(), who, String.format(format, args));
            out.flush();
        }
    }

    private double seconds() {
        return TimeUnit.NANOSECONDS.toMillis(System.nanoTime() - start) / 1000.0;
    }

    /** Parses keepalive flags exactly as {@code client} and {@code server} do. */
    static KeepaliveOptions flags(String... args) {
        Flags f = new Flags();
        ChatCli.converters(new CommandLine(f)).parseArgs(args);
        return f.keepalive;
    }

    @Command(name = "flags")
    static final class Flags {
        @Mixin
        KeepaliveOptions keepalive;
    }

    /** "her flow #2", or "her old flow #2 (she is on #4 now)" for a flow its client has left behind. */
    private String flowName(String owner, int id) {
        int newest = newestFlowOf(owner);
        String her = owner.equals("bob") ? "his" : "her";
        return newest > id ? her + " old flow #" + id + " (" + (owner.equals("bob") ? "he" : "she") + " is on #"
                + newest + " now)" : her + " flow #" + id;
    }

    /** The flow whose client side is {@code local} (the client's end of its new connection), or -1. */
    private int flowFrom(String name, String local) {
        FirewallProxy proxy = firewall;
        if (proxy != null && local != null) {
            for (Flow flow : proxy.flows()) {
                if (local.equals(ChatEvent.address(flow.clientAddress()))) {
                    newestFlow.merge(name, flow.id(), Math::max);
                    return flow.id();
                }
            }
        }
        return newestFlowOf(name);
    }

    /** The newest flow whose server side the server knows as {@code name}'s, or -1 before it knows. */
    private int newestFlowOf(String name) {
        FirewallProxy proxy = firewall;
        if (proxy != null) {
            for (Flow flow : proxy.flows()) {
                String owner = flow.upstreamLocalAddress().map(a -> serverRemoteToName.get(ChatEvent.address(a)))
                        .orElse(null);
                if (name.equals(owner)) {
                    newestFlow.merge(name, flow.id(), Math::max);
                }
            }
        }
        return newestFlow.getOrDefault(name, -1);
    }

    /** A detected death, and how long after the last byte that crossed the firewall. */
    private record Death(ChatEvent event, long silenceMs) {
    }

    /** A demo client: its flags, what it sent, saw and went through. */
    private final class Person implements ChatClient.Listener {
        final String name;
        final String role;
        final List<String> ownFlags;
        final KeepaliveSettings settings;
        final ReconnectPolicy policy;
        final List<String> texts = new ArrayList<>();
        final List<CompletableFuture<Void>> sent = new ArrayList<>();
        final List<String> received = new CopyOnWriteArrayList<>();
        final List<Death> deaths = new CopyOnWriteArrayList<>();
        final List<ChatEvent> otherEvents = new CopyOnWriteArrayList<>();
        /** When the firewall forgot this client's flows, in ms of the demo's clock. */
        final List<Long> forgotten = new CopyOnWriteArrayList<>();
        volatile int connects;
        volatile ClientStats stats;
        ChatClient client;

        Person(String name, String role, String... flags) {
            this.name = name;
            this.role = role;
            this.ownFlags = List.of(flags);
            List<String> all = new ArrayList<>(ownFlags);
            all.addAll(List.of(RECONNECT_FLAGS));
            KeepaliveOptions options = flags(all.toArray(new String[0]));
            this.settings = options.settings();
            this.policy = options.policy();
        }

        String plan() {
            if (ownFlags.get(0).equals("--no-keepalive")) {
                return "never pings: nothing keeps its flow, nothing finds it dead";
            }
            boolean enough = settings.pingInterval().compareTo(FIREWALL_IDLE) < 0;
            return "pings after " + Durations.format(settings.pingInterval()) + " of silence ("
                    + (enough ? "before" : "after") + " the firewall forgets); finds a dead server within "
                    + Durations.format(settings.idleDetectionBound());
        }

        void acked(int round, Duration timeout) throws InterruptedException {
            await(sent.get(round), timeout, name + "'s message acknowledged");
        }

        @Override
        public void chat(String from, String text) {
            received.add(from + ": " + text);
            say(name, "received \"%s: %s\"", from, text);
        }

        @Override
        public void info(String text) {
            // the server's own lines tell the joins and leaves
        }

        @Override
        public void pinged(long pingId) {
            if (!name.equals("alice")) { // alice's pings show with their answers, one line each
                say(name, "pings the server (ping %d)", pingId);
            }
        }

        @Override
        public void ponged(long pingId, Duration rtt) {
            say(name, "ping %d answered after %.1f ms%s", pingId, rtt.toNanos() / 1e6, name.equals("alice")
                    ? ": both ways through her flow, which the firewall now counts as fresh" : "");
        }

        @Override
        public void pingMissed(long pingId, int missed) {
            say(name, "ping %d unanswered after %s (%d missed in a row)", pingId,
                    Durations.format(settings.pingTimeout()), missed);
        }

        @Override
        public void event(ChatEvent e) {
            switch (e.type()) {
                case "connected":
                    connects++;
                    int flow = flowFrom(name, e.string("local"));
                    say(name, connects == 1 ? "connected through the firewall (flow #" + flow + ")"
                            : "reconnected through the firewall on a new flow, #" + flow + " (attempt "
                            + e.get("attempt") + "), and rejoined");
                    CompletableFuture<Void> f = joined.get(name);
                    if (f != null) {
                        f.complete(null); // the server has welcomed this client
                    }
                    return;
                case "peer-dead":
                    long now = TimeUnit.NANOSECONDS.toMillis(System.nanoTime() - start);
                    long lastByte = forgotten.isEmpty() ? -1 : forgotten.get(forgotten.size() - 1)
                            - FIREWALL_IDLE.toMillis();
                    Death d = new Death(e, lastByte < 0 ? -1 : now - lastByte);
                    deaths.add(d);
                    say(name, "DECLARES THE SERVER DEAD: %s, %s after the last byte got through (bound %s)",
                            e.string("reason"), d.silenceMs < 0 ? "?" : String.format("%.1f s", d.silenceMs / 1000.0),
                            Durations.format(settings.idleDetectionBound()));
                    return;
                case "disconnected":
                    if (deaths.isEmpty() || !Objects.equals(e.string("reason"),
                            deaths.get(deaths.size() - 1).event.string("reason"))) {
                        otherEvents.add(e);
                        say(name, "%s", e.describe());
                    }
                    return;
                case "reconnecting":
                    say(name, "reconnects in %s ms; %d message(s) wait to be re-sent", e.get("delayMs"),
                            client == null ? 0 : client.stats().queuedMessages()
                                    + client.sessionStats().unackedMessages());
                    return;
                default:
                    otherEvents.add(e);
                    say(name, "%s", e.describe());
            }
        }
    }

    /** Prints the server's side. */
    private final class ServerWatcher implements ChatServer.Listener {
        @Override
        public void accepted(String name, String text) {
            accepted.add(name + ": " + text);
            say("server", "accepted \"%s: %s\"", name, text);
        }

        @Override
        public void duplicate(String name, long id) {
            say("server", "the session layer dropped a duplicate of %s's line #%d", name, id);
        }

        @Override
        public void event(ChatEvent e) {
            serverEvents.add(e);
            String name = e.string("name");
            switch (e.type()) {
                case "client-joined":
                    serverRemoteToName.put(e.string("remote"), name);
                    say("server", Boolean.TRUE.equals(e.get("replaced"))
                            ? "%s rejoined; her old connection was still open here (half-open): closed it"
                            : "%s joined", name);
                    return;
                case "client-left":
                    if (e.get("replacedBy") == null) {
                        say("server", "%s", e.describe());
                    }
                    return;
                case "listening":
                    return;
                default:
                    say("server", "%s", e.describe());
            }
        }
    }

    /** Shows what the firewall does: it polls the proxy's flows for display only; nothing waits on it. */
    private final class FirewallWatcher implements Runnable {
        private final FirewallProxy proxy;
        private final Map<Integer, FlowState> states = new HashMap<>();
        private final Map<Integer, FlowCounters> counters = new HashMap<>();
        private final Thread thread = new Thread(this, "demo-firewall-watcher");
        private volatile boolean running = true;

        FirewallWatcher(FirewallProxy proxy) {
            this.proxy = proxy;
            thread.setDaemon(true);
        }

        void start() {
            thread.start();
        }

        void stop() throws InterruptedException {
            running = false;
            thread.interrupt();
            thread.join(2000);
        }

        @Override
        public void run() {
            while (running) {
                for (Flow flow : proxy.flows()) {
                    look(flow);
                }
                try {
                    Thread.sleep(25); // the display's refresh rate
                } catch (InterruptedException e) {
                    return;
                }
            }
        }

        private void look(Flow flow) {
            String owner = flow.upstreamLocalAddress().map(a -> serverRemoteToName.get(ChatEvent.address(a)))
                    .orElse(null);
            if (owner == null) {
                return; // shown once the server knows who it is
            }
            newestFlow.merge(owner, flow.id(), Math::max);
            FlowState state = flow.state();
            FlowState before = states.put(flow.id(), state);
            if (state == FlowState.FORGOTTEN && before != FlowState.FORGOTTEN) {
                Person p = people.get(owner);
                if (p != null) {
                    p.forgotten.add(TimeUnit.NANOSECONDS.toMillis(System.nanoTime() - start));
                }
                say("firewall", "FORGETS %s's flow #%d: idle for %d s; its packets are dropped from now on",
                        owner, flow.id(), FIREWALL_IDLE.toSeconds());
            }
            FlowCounters now = flow.counters();
            FlowCounters old = counters.getOrDefault(flow.id(), FlowCounters.ZERO);
            counters.put(flow.id(), now);
            long up = now.dropped(Direction.CLIENT_TO_SERVER) - old.dropped(Direction.CLIENT_TO_SERVER);
            long down = now.dropped(Direction.SERVER_TO_CLIENT) - old.dropped(Direction.SERVER_TO_CLIENT);
            String which = flowName(owner, flow.id());
            if (up > 0) {
                say("firewall", "drops %d bytes from %s to the server on %s", up, owner, which);
            }
            if (down > 0) {
                say("firewall", "drops %d bytes from the server to %s on %s", down, owner, which);
            }
        }
    }
}
