package dev.keepalive.benchmarks;

import dev.keepalive.KeepaliveSettings;
import dev.keepalive.benchmarks.IdleScaleBenchmark.Mode;
import dev.keepalive.benchmarks.support.ChildJvm;
import dev.keepalive.benchmarks.support.Reports;
import dev.keepalive.netty.KeepaliveHandler;
import dev.keepalive.testkit.Fault;
import dev.keepalive.testkit.FirewallProxy;
import io.netty.handler.timeout.IdleStateHandler;

import java.io.IOException;
import java.io.PrintStream;
import java.io.UncheckedIOException;
import java.net.InetSocketAddress;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.HashSet;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Set;
import java.util.TreeMap;
import java.util.concurrent.locks.LockSupport;
import java.util.stream.Collectors;

/**
 * False verdicts under torture: how many live peers each pipeline declares dead when the machine, the server or the
 * application misbehaves, and whether the peers that really die are still found within the bound. The library
 * ({@link KeepaliveHandler}) and the baseline ({@link IdleStateHandler} + a ping on writer idle) run with the same
 * bound, one after the other in fresh processes, under the same five scenarios:
 * <ol type="a">
 *   <li><b>CPU hog</b>: client, server and a process that spins, all pinned to one core ({@code taskset}) from
 *       the first connect to the end;</li>
 *   <li><b>slow accept</b>: the server accepts nothing until 60 % of the library's first-response allowance
 *       ({@link KeepaliveSettings#firstResponseTimeout()}) after the clients begin, then drains its accept queues
 *       over the next 20 %: connections wait in the accept queue up to 80 % of the allowance (the rest is left for
 *       the server to serve what queued meanwhile);</li>
 *   <li><b>client stalls</b>: the clients' event loop blocked for 1, 2 and 3 intervals (1-3 s by default), as a
 *       GC pause would, a bound and an interval apart;</li>
 *   <li><b>reads paused</b>: the clients turn {@code autoRead} off on every live connection for twice the bound
 *       (backpressure), then on again;</li>
 *   <li><b>server stalls</b>: the servers' connection loop blocked twice for two ping intervals, so that the
 *       clients' pings queue and are read in one batch.</li>
 * </ol>
 * In every scenario 1 % of the connections (every 100th) go through the testkit's {@link FirewallProxy} and really
 * die: black-holed at the start of the scenario's perturbation (in (b): from the start, so they never answer).
 *
 * <pre>java -cp benchmarks/target/benchmarks.jar dev.keepalive.benchmarks.FalseVerdictTortureBenchmark</pre>
 *
 * Options: {@code --interval=1s --scenarios=a,b,c,d,e --modes=IdleStateHandler,keepalive --dying-every=100
 * --per-process=15000 --cpu=0} and the connection count (default 10,000). Prints one table and writes it as
 * tab-separated values to {@code benchmarks/results/false-verdict-torture-<N>.tsv} (or the directory in
 * {@code -Dkeepalive.benchmarks.out}).
 *
 * <h2>What counts</h2>
 * A <em>false verdict</em> is a live connection (not through the proxy) that either end closed on its own keepalive
 * decision: a {@code PeerDeadException} reason other than a close or reset by the peer, or the baseline's reader
 * idle. Each end's verdicts are counted by reason; a connection convicted by both ends counts once in the total.
 * Connections that ended otherwise (an I/O error, a failed connect) are listed apart. In (c) the servers' verdicts
 * are listed apart too, as excused: a client whose loop stands still for 3 intervals sends nothing for the whole
 * bound, so its server may rightly declare it dead. A <em>real death</em> is found
 * when the client declares its proxied connection dead; its detection time runs from the black hole (in (b): from
 * the connection becoming active) to the verdict, against the documented bound: {@code idleDetectionBound} (in (b):
 * the library's {@code firstResponseTimeout}; the baseline's reader idle in every scenario). The first-response
 * wait is each live client connection's time from becoming active to its first inbound frame.
 *
 * <p>Processes: {@code ceil(N / per-process)} servers and as many clients ({@link TortureProcess}, one epoll
 * event loop for the connections, servers accept on a second), clients from their own 127.a.b.c addresses, at most
 * 1,000 connects outstanding per client (not echoes: a slow server's queue fills as it would). Each server
 * listens on a port per 3,000 connections (the kernel caps an accept queue at {@code somaxconn}). The proxies run in
 * the driver.
 */
public final class FalseVerdictTortureBenchmark {
    static final List<String> CHILD_JVM_ARGS = List.of("-Xms256m", "-Xmx1g", "-XX:+UseSerialGC",
            "-Dslf4j.internal.verbosity=ERROR");
    /** Reasons that are not a keepalive decision of the end that reports them. */
    static final Set<String> NOT_VERDICTS = Set.of("CLOSED_BY_PEER", "RESET_BY_PEER", TorturePipelines.ENDED_BY_PEER);
    /** Share of the first-response allowance the slow server holds its accept queue before draining it. */
    static final double ACCEPT_HOLD = 0.6;
    /** Share of the first-response allowance over which the slow server drains its accept queue. */
    static final double ACCEPT_DRAIN = 0.2;
    private static final Duration STARTUP_TIMEOUT = Duration.ofSeconds(60);
    private static final Duration REPORT_TIMEOUT = Duration.ofSeconds(60);

    private FalseVerdictTortureBenchmark() {
    }

    /** The five ways to torture a keepalive pipeline. */
    public enum Scenario {
        CPU_HOG("a", "CPU hog, one core"),
        SLOW_ACCEPT("b", "slow accept"),
        CLIENT_STALLS("c", "client stalls 1-3 x interval"),
        READS_PAUSED("d", "reads paused 2 x bound"),
        SERVER_STALLS("e", "server stalls 2 x interval");

        private final String letter;
        private final String label;

        Scenario(String letter, String label) {
            this.letter = letter;
            this.label = label;
        }

        /** "(a) CPU hog, one core". */
        public String label() {
            return "(" + letter + ") " + label;
        }

        static Scenario parse(String s) {
            for (Scenario x : values()) {
                if (x.letter.equalsIgnoreCase(s) || x.name().equalsIgnoreCase(s)) {
                    return x;
                }
            }
            throw new IllegalArgumentException("scenario must be one of a, b, c, d, e, but was " + s);
        }
    }

    /**
     * What to run.
     *
     * @param connections  connections per run (each scenario and pipeline)
     * @param interval     the ping interval of both pipelines (bound 3 x interval)
     * @param scenarios    the scenarios, in order
     * @param modes        the pipelines, in the order they run in each scenario
     * @param dyingEvery   every this many connections one goes through the proxy and dies (100: 1 %)
     * @param perProcess   the most connections one process holds
     * @param cpu          the core the CPU-hog scenario pins its processes to
     */
    public record Config(int connections, Duration interval, List<Scenario> scenarios, List<Mode> modes,
                         int dyingEvery, int perProcess, int cpu) {
        public Config {
            scenarios = List.copyOf(scenarios);
            modes = List.copyOf(modes);
            if (connections < 1) {
                throw new IllegalArgumentException("connections must be >= 1, but was " + connections);
            }
            if (interval.toMillis() < 50) {
                throw new IllegalArgumentException("interval must be >= 50 ms, but was " + interval);
            }
            if (scenarios.isEmpty() || modes.isEmpty() || modes.contains(Mode.BARE)) {
                throw new IllegalArgumentException("scenarios and modes (IdleStateHandler, keepalive) must not be "
                        + "empty, but were " + scenarios + " and " + modes);
            }
            if (dyingEvery < 2) {
                throw new IllegalArgumentException("dyingEvery must be >= 2, but was " + dyingEvery);
            }
            if (perProcess < 1 || perProcess > 17_000) {
                throw new IllegalArgumentException("perProcess must be in 1..17000, but was " + perProcess);
            }
        }

        /** 10,000 connections, 1 s interval, every scenario, both pipelines, 1 % dying. */
        public static Config defaults() {
            return new Config(10_000, Duration.ofSeconds(1), List.of(Scenario.values()),
                    List.of(Mode.IDLE_STATE_HANDLER, Mode.KEEPALIVE), 100, 15_000, 0);
        }

        /** The defaults changed by {@code --interval=1s --scenarios=a,b --modes=a,b --dying-every=100
         *  --per-process=15000 --cpu=0 N}. */
        public static Config parse(String... args) {
            Config d = defaults();
            int n = d.connections();
            Duration interval = d.interval();
            List<Scenario> scenarios = d.scenarios();
            List<Mode> modes = d.modes();
            int dyingEvery = d.dyingEvery();
            int perProcess = d.perProcess();
            int cpu = d.cpu();
            for (String arg : args) {
                String value = arg.substring(arg.indexOf('=') + 1);
                if (arg.startsWith("--interval=")) {
                    interval = IdleScaleBenchmark.Config.duration(value);
                } else if (arg.startsWith("--scenarios=")) {
                    scenarios = Arrays.stream(value.split(",")).map(Scenario::parse).collect(Collectors.toList());
                } else if (arg.startsWith("--modes=")) {
                    modes = Arrays.stream(value.split(",")).map(Mode::parse).collect(Collectors.toList());
                } else if (arg.startsWith("--dying-every=")) {
                    dyingEvery = Integer.parseInt(value);
                } else if (arg.startsWith("--per-process=")) {
                    perProcess = Integer.parseInt(value.replace("_", "").replace(",", ""));
                } else if (arg.startsWith("--cpu=")) {
                    cpu = Integer.parseInt(value);
                } else if (arg.matches("[0-9_,]+")) {
                    n = Integer.parseInt(arg.replace("_", "").replace(",", ""));
                } else {
                    throw new IllegalArgumentException("unknown argument " + arg + "; usage: "
                            + "FalseVerdictTortureBenchmark [--interval=1s] [--scenarios=a,b,c,d,e] "
                            + "[--modes=IdleStateHandler,keepalive] [--dying-every=100] [--per-process=15000] "
                            + "[--cpu=0] [N]");
                }
            }
            return new Config(n, interval, scenarios, modes, dyingEvery, perProcess, cpu);
        }

        /** The library's settings for this interval (the baseline has the same bound). */
        public KeepaliveSettings settings() {
            return IdleScaleProcess.settings(interval);
        }
    }

    /**
     * One scenario with one pipeline.
     *
     * @param live              connections straight to a server
     * @param dying             connections through the proxy, which die
     * @param bound             the documented detection bound of a real death in this scenario
     * @param connectNanos      the slowest client's time until every live connection was echoed or ended
     * @param echoed            live connections whose first frame came back
     * @param firstResponse     the live connections' waits for their first inbound frame: p50, p99, max (ns)
     * @param silent            live connections that never received a byte
     * @param acceptWait        the live connections' waits in the servers' accept queues (from active in the client
     *                          to active in the server): p50, p99, max (ns)
     * @param falseVerdicts     verdicts on live connections, by end and reason ("client PING_TIMEOUT")
     * @param falseConnections  live connections convicted by either end
     * @param falseEarly        of those, in (c), (d) and (e), convicted before the perturbation began (while
     *                          connecting or settling; in (a) and (b) the perturbation is there from the start)
     * @param otherEnds         live connections that ended without a keepalive verdict, by end and reason
     * @param excused           in (c), the servers' verdicts on clients whose loop stood still for up to the bound:
     *                          those peers were silent that long, so these verdicts are not false
     * @param detectionNanos    per real death found: time from its death to the client's verdict, ascending
     * @param deathReasons      how the dying connections ended on the client, by reason (missing: not ended)
     */
    public record Run(Scenario scenario, Mode mode, int live, int dying, Duration bound, long connectNanos,
                      int echoed, long[] firstResponse, long silent, long[] acceptWait,
                      Map<String, Long> falseVerdicts,
                      int falseConnections, int falseEarly, Map<String, Long> otherEnds, Map<String, Long> excused,
                      long[] detectionNanos,
                      Map<String, Long> deathReasons) {
        /** Real deaths found. */
        public int deathsFound() {
            return detectionNanos.length;
        }

        /** How the dying connections ended on the client, by reason, with those still open as "not ended". */
        public Map<String, Long> deathEnds() {
            Map<String, Long> m = new TreeMap<>(deathReasons);
            long open = dying - deathReasons.values().stream().mapToLong(Long::longValue).sum();
            if (open > 0) {
                m.put("not ended", open);
            }
            return m;
        }

        /** Real deaths found later than {@code bound + slack} (or not at all). */
        public long lateDeaths(Duration slack) {
            long limit = bound.plus(slack).toNanos();
            return dying - deathsFound() + Arrays.stream(detectionNanos).filter(t -> t > limit).count();
        }
    }

    /** All runs, and the result file. */
    public record Result(Config config, List<Run> runs, Path file) {
    }

    public static void main(String[] args) throws Exception {
        run(Config.parse(args), System.out);
    }

    /** Runs {@code config}, printing progress and the table to {@code out}; every child is gone on return. */
    public static Result run(Config config, PrintStream out) throws Exception {
        KeepaliveSettings s = config.settings();
        out.printf(Locale.ROOT, "false-verdict torture: %,d connections per run (1 in %d dies), ping interval %s; "
                        + "keepalive: pingInterval = pingTimeout = interval, bound %s, firstResponseTimeout %s; "
                        + "baseline: IdleStateHandler readerIdle %s, writerIdle %s; %d cores here, %s%n",
                config.connections(), config.dyingEvery(), millis(config.interval()),
                millis(s.idleDetectionBound()), millis(s.firstResponseTimeout()),
                millis(config.interval().multipliedBy(IdleScaleProcess.BASELINE_READER_IDLE_INTERVALS)),
                millis(config.interval()), Runtime.getRuntime().availableProcessors(),
                System.getProperty("java.vm.version"));
        List<Run> runs = new ArrayList<>();
        for (Scenario scenario : config.scenarios()) {
            for (Mode mode : config.modes()) {
                Run r = TortureRun.run(config, scenario, mode, out);
                runs.add(r);
                out.printf(Locale.ROOT, "  %-32s %-16s false verdicts %,d %s; real deaths found %d/%d, max %s "
                                + "(bound %s)%n", scenario.label(), mode.label(), r.falseConnections(),
                        r.falseVerdicts(), r.deathsFound(), r.dying(), maxMillis(r.detectionNanos()),
                        millis(r.bound()));
            }
        }
        Path file = Reports.file("false-verdict-torture-" + config.connections() + ".tsv");
        List<String[]> table = table(runs);
        print(table, out);
        write(table, file);
        out.println("  table: " + file.toAbsolutePath().normalize());
        return new Result(config, runs, file);
    }

    static List<String[]> table(List<Run> runs) {
        List<String[]> rows = new ArrayList<>();
        rows.add(new String[] {"scenario", "pipeline", "echoed / live", "accept wait p50 / p99 / max",
            "first response p50 / p99 / max",
            "false verdicts", "by end and reason", "other ends", "excused", "deaths found", "detection p99 / max",
            "bound"});
        for (Run r : runs) {
            rows.add(new String[] {r.scenario().label(), r.mode().label(),
                String.format(Locale.ROOT, "%,d / %,d", r.echoed(), r.live()),
                String.format(Locale.ROOT, "%s / %s / %s", ms(r.acceptWait()[0]), ms(r.acceptWait()[1]),
                        ms(r.acceptWait()[2])),
                String.format(Locale.ROOT, "%s / %s / %s", ms(r.firstResponse()[0]), ms(r.firstResponse()[1]),
                        ms(r.firstResponse()[2])) + (r.silent() > 0 ? " (" + r.silent() + " silent)" : ""),
                String.format(Locale.ROOT, "%,d", r.falseConnections())
                        + (r.falseEarly() > 0 ? String.format(Locale.ROOT, " (%,d early)", r.falseEarly()) : ""),
                r.falseVerdicts().isEmpty() ? "-" : r.falseVerdicts().toString(),
                r.otherEnds().isEmpty() ? "-" : r.otherEnds().toString(),
                r.excused().isEmpty() ? "-" : r.excused().toString(),
                r.deathsFound() + " / " + r.dying() + (r.deathsFound() == r.dying() ? "" : " " + r.deathEnds()),
                ms(Reports.quantile(r.detectionNanos(), 0.99)) + " / " + maxMillis(r.detectionNanos()),
                millis(r.bound())});
        }
        return rows;
    }

    private static void print(List<String[]> rows, PrintStream out) {
        int[] widths = new int[rows.get(0).length];
        for (String[] r : rows) {
            for (int i = 0; i < r.length; i++) {
                widths[i] = Math.max(widths[i], r[i].length());
            }
        }
        out.println();
        for (String[] r : rows) {
            StringBuilder sb = new StringBuilder(" ");
            for (int i = 0; i < r.length; i++) {
                sb.append(' ').append(String.format(Locale.ROOT, "%-" + widths[i] + "s", r[i]));
            }
            out.println(sb.toString().stripTrailing());
        }
    }

    private static void write(List<String[]> rows, Path file) {
        try {
            if (file.getParent() != null) {
                Files.createDirectories(file.getParent());
            }
            Files.write(file, rows.stream().map(r -> String.join("\t", r)).collect(Collectors.toList()),
                    StandardCharsets.UTF_8);
        } catch (IOException e) {
            throw new UncheckedIOException("cannot write " + file, e);
        }
    }

    static String ms(long nanos) {
        return String.format(Locale.ROOT, "%,.0f ms", nanos / 1e6);
    }

    private static String maxMillis(long[] sorted) {
        return sorted.length == 0 ? "-" : ms(sorted[sorted.length - 1]);
    }

    static String millis(Duration d) {
        return d.toNanos() % 1_000_000_000L == 0 ? d.toSeconds() + " s"
                : String.format(Locale.ROOT, "%,d ms", d.toMillis());
    }

    /** One scenario with one pipeline: the processes, the proxies, the timeline and the accounting. */
    static final class TortureRun {
        private TortureRun() {
        }

        static Run run(Config config, Scenario scenario, Mode mode, PrintStream out) throws Exception {
            KeepaliveSettings settings = config.settings();
            long i = config.interval().toNanos();
            Duration bound = mode == Mode.KEEPALIVE ? settings.idleDetectionBound()
                    : config.interval().multipliedBy(IdleScaleProcess.BASELINE_READER_IDLE_INTERVALS);
            Duration deathBound = scenario == Scenario.SLOW_ACCEPT && mode == Mode.KEEPALIVE
                    ? settings.firstResponseTimeout() : bound;
            int n = config.connections();
            int processes = (n + config.perProcess() - 1) / config.perProcess();
            List<String> launcher = scenario == Scenario.CPU_HOG
                    ? List.of("taskset", "-c", Integer.toString(config.cpu())) : List.of();
            List<ChildJvm> servers = new ArrayList<>();
            List<ChildJvm> clients = new ArrayList<>();
            List<FirewallProxy> proxies = new ArrayList<>();
            ChildJvm hog = null;
            try {
                for (int k = 0; k < processes; k++) {
                    servers.add(ChildJvm.start("torture-server-" + k, launcher, TortureProcess.class,
                            CHILD_JVM_ARGS, List.of("server", mode.name(), Long.toString(i),
                                    Integer.toString(share(n, processes, k)))));
                    clients.add(ChildJvm.start("torture-client-" + k, launcher, TortureProcess.class,
                            CHILD_JVM_ARGS, List.of("client", mode.name(), Long.toString(i),
                                    IdleScaleBenchmark.sourceAddress())));
                }
                if (scenario == Scenario.CPU_HOG) {
                    hog = ChildJvm.start("torture-hog", launcher, TortureProcess.class, CHILD_JVM_ARGS,
                            List.of("hog", "600"));
                    hog.awaitLine("ready", STARTUP_TIMEOUT);
                }
                List<String> endpoints = new ArrayList<>();
                for (ChildJvm server : servers) {
                    String ports = IdleScaleBenchmark.fields(server.awaitLine("ready", STARTUP_TIMEOUT))
                            .get("ports");
                    FirewallProxy.Builder b = FirewallProxy.builder(new InetSocketAddress("127.0.0.1",
                            Integer.parseInt(ports.split(",")[0])));
                    if (scenario == Scenario.SLOW_ACCEPT) {
                        b.fault(Fault.blackHole()); // the dying connections never answer
                    }
                    FirewallProxy proxy = b.start();
                    proxies.add(proxy);
                    endpoints.add(ports.replace(',', '/') + "@" + proxy.address().getPort());
                }
                for (ChildJvm c : clients) {
                    c.awaitLine("ready", STARTUP_TIMEOUT);
                }
                long go = System.nanoTime() + Duration.ofMillis(200).toNanos();
                long allowance = settings.firstResponseTimeout().toNanos();
                for (ChildJvm server : servers) {
                    server.send(scenario == Scenario.SLOW_ACCEPT
                            ? "accept " + (go + (long) (ACCEPT_HOLD * allowance)) + " "
                            + (long) (ACCEPT_DRAIN * allowance) : "accept " + System.nanoTime() + " 0");
                }
                sleepUntil(go);
                int first = 0;
                for (int k = 0; k < processes; k++) {
                    int count = share(n, processes, k);
                    // (a) and (b) are about a server that cannot keep up with new connections: their clients only
                    // wait for connects; the others start gently (no more than 1,000 waiting for their echo).
                    boolean rush = scenario == Scenario.CPU_HOG || scenario == Scenario.SLOW_ACCEPT;
                    clients.get(k).send("connect " + first + " " + count + " " + config.dyingEvery() + " "
                            + String.join(",", endpoints) + (rush ? " connect" : " echo"));
                    first += count;
                }
                long connectNanos = 0;
                for (ChildJvm c : clients) {
                    Map<String, String> f = IdleScaleBenchmark.fields(c.awaitLine("connected",
                            Duration.ofMinutes(3)));
                    connectNanos = Math.max(connectNanos, Long.parseLong(f.get("nanos")));
                }
                LockSupport.parkNanos(2 * i); // settle: pings flow on every connection (pacing, not a sync)
                long t0 = System.nanoTime() + Duration.ofMillis(300).toNanos();
                long phaseEnd = perturb(scenario, t0, i, bound.toNanos(), servers, clients);
                sleepUntil(t0);
                long blackHoleAt = System.nanoTime();
                if (scenario != Scenario.SLOW_ACCEPT) {
                    for (FirewallProxy p : proxies) {
                        p.injectAll(Fault.blackHole());
                    }
                }
                sleepUntil(phaseEnd + deathBound.toNanos() + 2 * i);
                // Then on until every real death is found, for at most 3 more bounds: one found late is still
                // found, and its time is reported.
                int dying = (n + config.dyingEvery() - 1) / config.dyingEvery();
                long cap = System.nanoTime() + 3 * deathBound.toNanos();
                while (dyingEnded(clients) < dying && System.nanoTime() - cap < 0) {
                    LockSupport.parkNanos(Duration.ofMillis(200).toNanos()); // polling, bounded by the cap
                }
                List<Map<String, String>> clientReports = new ArrayList<>();
                List<Map<String, String>> serverReports = new ArrayList<>();
                for (ChildJvm c : clients) {
                    clientReports.add(IdleScaleBenchmark.fields(c.request("report", "report", REPORT_TIMEOUT)));
                }
                for (ChildJvm c : servers) {
                    serverReports.add(IdleScaleBenchmark.fields(c.request("report", "report", REPORT_TIMEOUT)));
                }
                return account(scenario, mode, n - dying, dying, deathBound, connectNanos, clientReports,
                        serverReports, scenario == Scenario.SLOW_ACCEPT ? -1 : blackHoleAt, blackHoleAt);
            } finally {
                for (ChildJvm c : clients) {
                    c.close();
                }
                for (ChildJvm c : servers) {
                    c.close();
                }
                if (hog != null) {
                    hog.close();
                }
                for (FirewallProxy p : proxies) {
                    p.close();
                }
            }
        }

        private static int dyingEnded(List<ChildJvm> clients) throws InterruptedException {
            int ended = 0;
            for (ChildJvm c : clients) {
                ended += Integer.parseInt(IdleScaleBenchmark.fields(c.request("status", "status", REPORT_TIMEOUT))
                        .get("dyingEnded"));
            }
            return ended;
        }

        /**
         * Sends the scenario's perturbation, from {@code t0} on, to the children.
         *
         * @return when the perturbation ends
         */
        private static long perturb(Scenario scenario, long t0, long i, long bound, List<ChildJvm> servers,
                                    List<ChildJvm> clients) {
            switch (scenario) {
                case CPU_HOG:
                    return t0 + 2 * bound;
                case CLIENT_STALLS: {
                    long at = t0 + i;
                    for (int k = 1; k <= 3; k++) {
                        for (ChildJvm c : clients) {
                            c.send("stall " + at + " " + k * i);
                        }
                        at += k * i + (k < 3 ? bound + i : 0);
                    }
                    return at;
                }
                case READS_PAUSED:
                    for (ChildJvm c : clients) {
                        c.send("pause " + (t0 + i) + " " + 2 * bound);
                    }
                    return t0 + i + 2 * bound;
                case SERVER_STALLS: {
                    long at = t0 + i;
                    for (int k = 0; k < 2; k++) {
                        for (ChildJvm s : servers) {
                            s.send("stall " + at + " " + 2 * i);
                        }
                        at += 2 * i + (k < 1 ? bound + i : 0);
                    }
                    return at;
                }
                default:
                    return t0;
            }
        }

        /**
         * Counts the false verdicts and the real deaths from the reports.
         *
         * @param blackHoleAt when the dying connections died; -1: when each became active
         * @param t0          when the perturbation phase began (verdicts before it came in the start-up)
         */
        static Run account(Scenario scenario, Mode mode, int live, int dying, Duration bound, long connectNanos,
                           List<Map<String, String>> clients, List<Map<String, String>> servers,
                           long blackHoleAt, long t0) {
            Map<String, Long> falseVerdicts = new TreeMap<>();
            Map<String, Long> otherEnds = new TreeMap<>();
            Map<String, Long> deathReasons = new TreeMap<>();
            Map<String, Long> excused = new TreeMap<>();
            Set<String> convicted = new HashSet<>();
            Set<String> convictedEarly = new HashSet<>();
            Set<String> endedOtherwise = new HashSet<>();
            List<Long> detections = new ArrayList<>();
            Map<String, Long> clientActive = new java.util.HashMap<>();
            List<Long> acceptWaits = new ArrayList<>();
            for (int side = 0; side < 2; side++) {
                for (Map<String, String> report : side == 0 ? clients : servers) {
                    String act = report.getOrDefault("act", "-");
                    if (act.equals("-")) {
                        continue;
                    }
                    for (String a : act.split(";")) {
                        int at = a.lastIndexOf('@');
                        long t = Long.parseLong(a.substring(at + 1));
                        if (side == 0) {
                            clientActive.put(a.substring(0, at), t);
                        } else if (clientActive.containsKey(a.substring(0, at))) {
                            acceptWaits.add(t - clientActive.get(a.substring(0, at)));
                        }
                    }
                }
            }
            long[] waits = acceptWaits.stream().mapToLong(Long::longValue).sorted().toArray();
            long[] acceptWait = {Reports.quantile(waits, 0.5), Reports.quantile(waits, 0.99),
                waits.length == 0 ? 0 : waits[waits.length - 1]};
            int echoed = 0;
            long[] firstResponse = new long[3];
            long silent = 0;
            for (int side = 0; side < 2; side++) {
                boolean client = side == 0;
                for (Map<String, String> report : client ? clients : servers) {
                    if (client) {
                        echoed += Integer.parseInt(report.get("echoed"));
                        long[] fr = Arrays.stream(report.get("fr").split(",")).mapToLong(Long::parseLong).toArray();
                        for (int q = 0; q < 3; q++) {
                            firstResponse[q] = Math.max(firstResponse[q], fr[q]); // over the client processes
                        }
                        silent += Long.parseLong(report.get("silent"));
                    }
                    String ended = report.get("ended");
                    if (ended == null || ended.equals("-")) {
                        continue;
                    }
                    for (String entry : ended.split(";")) {
                        String[] e = entry.split(",");
                        String key = e[0];
                        boolean isDying = e[1].equals("1");
                        String reason = e[2];
                        long activeAt = Long.parseLong(e[3]);
                        long endedAt = Long.parseLong(e[4]);
                        boolean verdict = !NOT_VERDICTS.contains(reason) && !reason.startsWith("error:")
                                && !reason.startsWith("connect-failed");
                        String what = (client ? "client " : "server ") + reason;
                        if (isDying) {
                            if (client) {
                                deathReasons.merge(reason, 1L, Long::sum);
                                if (verdict) {
                                    detections.add(endedAt - (blackHoleAt < 0 ? activeAt : blackHoleAt));
                                }
                            }
                        } else if (verdict && !client && scenario == Scenario.CLIENT_STALLS) {
                            excused.merge(what, 1L, Long::sum);
                        } else if (verdict) {
                            falseVerdicts.merge(what, 1L, Long::sum);
                            convicted.add(key);
                            boolean gentleStart = scenario != Scenario.CPU_HOG && scenario != Scenario.SLOW_ACCEPT;
                            if (gentleStart && endedAt - t0 < 0) {
                                convictedEarly.add(key);
                            }
                        } else if (!NOT_VERDICTS.contains(reason)) {
                            otherEnds.merge(what, 1L, Long::sum);
                            endedOtherwise.add(key);
                        }
                    }
                }
            }
            endedOtherwise.removeAll(convicted);
            long[] detectionNanos = detections.stream().mapToLong(Long::longValue).sorted().toArray();
            return new Run(scenario, mode, live, dying, bound, connectNanos, echoed, firstResponse, silent,
                    acceptWait, falseVerdicts, convicted.size(), convictedEarly.size(), otherEnds, excused, detectionNanos,
                    deathReasons);
        }

        private static int share(int n, int processes, int k) {
            return n / processes + (k < n % processes ? 1 : 0);
        }

        private static void sleepUntil(long deadline) {
            for (long left = deadline - System.nanoTime(); left > 0; left = deadline - System.nanoTime()) {
                LockSupport.parkNanos(left);
            }
        }
    }
}
