package dev.keepalive.benchmarks;

import dev.keepalive.KeepaliveSettings;
import dev.keepalive.benchmarks.IdleScaleBenchmark.Mode;
import dev.keepalive.benchmarks.support.Reports;
import dev.keepalive.netty.KeepaliveHandler;
import dev.keepalive.testkit.FirewallProxy;
import io.netty.handler.timeout.IdleStateHandler;

import java.io.IOException;
import java.io.PrintStream;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Set;
import java.util.TreeMap;
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
 * Connections that ended otherwise (an I/O error, a failed connect) are listed apart. A verdict on the peer that
 * the scenario stalls (the servers' on their clients in (c), the clients' on their server in (e)) is listed apart
 * too, as excused, when the harness saw no frame from that peer for the whole bound before it (its own clock, in a
 * handler after the framing, not the verdict's report): a client whose loop stands still for 3 intervals, or a
 * server that stalls for 2 after up to an interval of idle time and then works off its backlog, is silent that
 * long, and no keepalive can tell it from a hung one. Such a verdict after less silence is false. In (b) a client's
 * verdict is excused the same way only when the slow server missed its own design: by the server's clock it wrote
 * nothing on that connection until the library's first-response allowance had passed (a starved machine can drain the
 * accept queue that late), and the client heard nothing for that long; the baseline is held to the same allowance, not
 * to its shorter reader-idle time. A <em>real
 * death</em> is found
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
    static final Duration STARTUP_TIMEOUT = Duration.ofSeconds(60);
    static final Duration REPORT_TIMEOUT = Duration.ofSeconds(60);

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
     *                          to active in the server, that is accepted and registered on its connection loop):
     *                          p50, p99, max (ns); negative where the client's loop noticed its connect later than
     *                          the server accepted it
     * @param falseVerdicts     verdicts on live connections, by end and reason ("client PING_TIMEOUT")
     * @param falseConnections  live connections convicted by either end
     * @param falseEarly        of those, in (c), (d) and (e), convicted before the perturbation began (while
     *                          connecting or settling; in (a) and (b) the perturbation is there from the start)
     * @param otherEnds         live connections that ended without a keepalive verdict, by end and reason
     * @param excused           the verdicts on the stalled peer (the servers' in (c), the clients' in (e)) after it
     *                          was silent for the whole bound by the harness's clock, and the clients' in (b) on a
     *                          server that wrote nothing within the first-response allowance: not false
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
}
