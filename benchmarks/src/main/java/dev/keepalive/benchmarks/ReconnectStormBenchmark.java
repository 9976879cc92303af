package dev.keepalive.benchmarks;

import dev.keepalive.benchmarks.storm.BackoffSpec;
import dev.keepalive.benchmarks.storm.StormClients;
import dev.keepalive.benchmarks.storm.StormExpectation;
import dev.keepalive.benchmarks.storm.StormServer;
import dev.keepalive.benchmarks.support.Chart;
import dev.keepalive.benchmarks.support.ChildJvm;
import dev.keepalive.benchmarks.support.Ports;
import dev.keepalive.benchmarks.support.Reports;

import java.io.BufferedReader;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.TreeMap;
import java.util.concurrent.TimeUnit;

/**
 * Reconnect storm: N {@code ReconnectingClient}s whose server is SIGKILLed and restarted on the same port after a
 * downtime; the connection attempts per 100 ms and the time until every client is back, against what the policy's
 * {@code Backoff} predicts, beside the same storm with a backoff without jitter (the baseline).
 *
 * <pre>
 * mvn -B -q package -pl benchmarks -am -DskipTests
 * java -cp benchmarks/target/benchmarks.jar dev.keepalive.benchmarks.ReconnectStormBenchmark 10000
 * </pre>
 *
 * <p>Options after the client count (defaults in brackets): {@code --downtime 2s}; {@code --policy full:100ms:2s}
 * (the clients' backoff, see {@link BackoffSpec}); {@code --baseline exp:100ms:2s} (a second storm with this
 * backoff, or {@code none}); {@code --client-jvms n} [one per 5,000 clients]; {@code --client-threads 1} (event loop
 * threads per client JVM); {@code --server-threads 1}; {@code --runs n} (Monte Carlo runs) [10^6 / clients, within
 * 20..1000]; {@code --settle 1s} (quiet time between "all connected" and the kill). Plots go where
 * {@link Reports#file} says (system property {@value Reports#OUTPUT_PROPERTY}, default {@code benchmarks/results}).
 *
 * <p><b>How.</b> Each storm runs in fresh processes on a fresh port ({@link Ports#fresh()}: below the ephemeral
 * range, no socket in TIME_WAIT): a server JVM ({@link StormServer}: epoll line server, a {@code KeepaliveHandler}
 * per connection, one event loop thread), a second server JVM started at the same time that binds only when told
 * (so its start-up is not part of the downtime), and the client JVMs ({@link StormClients}: one shared epoll event
 * loop group each, one thread by default; clients started at most 256 awaiting their first answer at a time). The
 * clients record each {@code ConnectionEvent} with {@link System#nanoTime()} (CLOCK_MONOTONIC on Linux, comparable
 * across processes); the server reports when it listened on the same clock. Once every client is connected (and
 * the server holds every connection) the driver SIGKILLs the first server (the kernel closes its sockets: the
 * clients see the loss), waits the downtime, tells the second to listen, and waits (bounded) until every client is
 * connected again and the new server holds every connection. Then the clients write their events to files and the
 * children exit; whatever still runs on any failure is killed.
 *
 * <p><b>Expected.</b> {@link StormExpectation}: the same {@code Backoff}, a fresh sequence from each client's
 * measured loss time, attempts refused (taking no time) until the new server listened, the first attempt after it
 * succeeding; the mean attempts per 100 ms bucket over the runs, and the expected peak = the largest mean bucket.
 *
 * <p><b>Printed</b>, per storm: attempts per 100 ms from the kill, peak against the expected peak (target: at most
 * 2x), and the same from the moment the new server listened (the attempts that reach it); the time from the new
 * server listening until the last client was back against the simulation and against the target, the backoff's
 * maximum delay + 2 s; attempts in all against the simulation; refused, reset, timed-out and other failed attempts;
 * and what limits the figures: when the clients saw the loss, the client timers' lateness (an attempt's start
 * against the instant its delay planned), the time from an attempt to its refusal, and the CPU the client and
 * server processes used meanwhile.
 *
 * <p><b>Warm JVMs, C1 only.</b> The children are a harness for 10,000 separate clients, so their own start-up
 * costs are kept out of the storm: each client JVM first runs a small storm inside itself (see
 * {@link StormClients}), and the second server accepts one connection, before the measured storm; and they run
 * with C1 only, because C2 compiling the reconnect path during the storm took half of the client processes' CPU
 * on a 2-core machine (a real client's reconnect path never gets hot enough for C2).
 *
 * <p>Plots: {@code reconnect-storm-<clients>.png} (both storms: actual attempts per 100 ms as steps, expected as a
 * line, the new server's start as a vertical line) and, with a baseline, {@code reconnect-storm-<clients>-policy.png}
 * (the policy's storm alone, with 2x its expected peak). {@link #run(Config)} returns the figures for callers that
 * check them (the smoke test).
 */
public final class ReconnectStormBenchmark {
    private static final long BUCKET = TimeUnit.MILLISECONDS.toNanos(100);
    private static final Duration TARGET_SLACK = Duration.ofSeconds(2);
    private static final Duration POLL = Duration.ofMillis(20);
    private static final Duration ANSWER = Duration.ofSeconds(10);
    /** Client timers later than this (p99) mean the clients' event loops, not the backoff, shaped the storm. */
    private static final long LATE = TimeUnit.MILLISECONDS.toNanos(50);
    private static final int CORES = Runtime.getRuntime().availableProcessors();
    /** Extra JVM arguments for the client processes, space-separated (for example to profile them). */
    public static final String CLIENT_JVM_ARGS_PROPERTY = "keepalive.storm.clientJvmArgs";
    /** The children's JVM options: C1 only (see the class comment), a young generation that rarely collects. */
    private static final List<String> CHILD_JVM_ARGS = List.of("-Xms512m", "-Xmx1g", "-Xmn256m", "-XX:+UseSerialGC",
            "-XX:TieredStopAtLevel=1", "-Dslf4j.internal.verbosity=ERROR");

    private ReconnectStormBenchmark() {
    }

    /**
     * What to run.
     *
     * @param clients        reconnecting clients
     * @param downtime       from the kill until the new server is told to listen
     * @param policy         the clients' backoff
     * @param baseline       a second storm with this backoff, or {@code null}
     * @param clientJvms     client processes (the clients are split evenly)
     * @param clientThreads  event loop threads per client process
     * @param serverThreads  event loop threads of the server
     * @param connectTimeout the policy's connect timeout
     * @param runs           Monte Carlo runs for the expectation
     * @param settle         pause between "all connected" and the kill
     */
    public record Config(int clients, Duration downtime, BackoffSpec policy, BackoffSpec baseline, int clientJvms,
                         int clientThreads, int serverThreads, Duration connectTimeout, int runs, Duration settle) {
        public Config {
            if (clients < 1 || clientJvms < 1 || clientJvms > clients || clientThreads < 1 || serverThreads < 1
                    || runs < 1) {
                throw new IllegalArgumentException("bad storm configuration: " + clients + " clients, " + clientJvms
                        + " client JVMs, " + clientThreads + " client threads, " + serverThreads
                        + " server threads, " + runs + " runs");
            }
        }

        /** The defaults for {@code clients} clients. */
        public static Config defaults(int clients) {
            return new Config(clients, Duration.ofSeconds(2), BackoffSpec.parse("full:100ms:2s"),
                    BackoffSpec.parse("exp:100ms:2s"), Math.max(1, (clients + 4999) / 5000), 1, 1,
                    Duration.ofSeconds(5), Math.max(20, Math.min(1000, 1_000_000 / clients)), Duration.ofSeconds(1));
        }

        public Config withDowntime(Duration d) {
            return new Config(clients, d, policy, baseline, clientJvms, clientThreads, serverThreads, connectTimeout,
                    runs, settle);
        }

        public Config withPolicy(BackoffSpec p) {
            return new Config(clients, downtime, p, baseline, clientJvms, clientThreads, serverThreads,
                    connectTimeout, runs, settle);
        }

        /** {@code null}: no baseline storm. */
        public Config withBaseline(BackoffSpec b) {
            return new Config(clients, downtime, policy, b, clientJvms, clientThreads, serverThreads, connectTimeout,
                    runs, settle);
        }

        public Config withProcesses(int jvms, int threadsPerJvm, int serverLoopThreads) {
            return new Config(clients, downtime, policy, baseline, jvms, threadsPerJvm, serverLoopThreads,
                    connectTimeout, runs, settle);
        }

        public Config withRuns(int r) {
            return new Config(clients, downtime, policy, baseline, clientJvms, clientThreads, serverThreads,
                    connectTimeout, r, settle);
        }

        public Config withSettle(Duration s) {
            return new Config(clients, downtime, policy, baseline, clientJvms, clientThreads, serverThreads,
                    connectTimeout, runs, s);
        }

        /** The target for "all back": the policy's maximum delay + 2 s after the new server listens. */
        public Duration target(BackoffSpec backoff) {
            return backoff.maxDelay().plus(TARGET_SLACK);
        }

        static Config parse(String[] args) {
            int i = 0;
            Config c = defaults(args.length > 0 && !args[0].startsWith("--") ? Integer.parseInt(args[i++]) : 10_000);
            for (; i < args.length; i += 2) {
                if (i + 1 >= args.length) {
                    throw new IllegalArgumentException("option " + args[i] + " needs a value");
                }
                String v = args[i + 1];
                switch (args[i]) {
                    case "--downtime":
                        c = c.withDowntime(BackoffSpec.duration(v));
                        break;
                    case "--policy":
                        c = c.withPolicy(BackoffSpec.parse(v));
                        break;
                    case "--baseline":
                        c = c.withBaseline(v.equals("none") ? null : BackoffSpec.parse(v));
                        break;
                    case "--client-jvms":
                        c = c.withProcesses(Integer.parseInt(v), c.clientThreads(), c.serverThreads());
                        break;
                    case "--client-threads":
                        c = c.withProcesses(c.clientJvms(), Integer.parseInt(v), c.serverThreads());
                        break;
                    case "--server-threads":
                        c = c.withProcesses(c.clientJvms(), c.clientThreads(), Integer.parseInt(v));
                        break;
                    case "--runs":
                        c = c.withRuns(Integer.parseInt(v));
                        break;
                    case "--settle":
                        c = c.withSettle(BackoffSpec.duration(v));
                        break;
                    default:
                        throw new IllegalArgumentException("unknown option " + args[i]);
                }
            }
            return c;
        }
    }

    /**
     * One storm's figures. Times are nanoseconds of {@link System#nanoTime()} unless said otherwise.
     *
     * @param backoff            the clients' backoff
     * @param port               the server's port
     * @param clients            clients
     * @param killedAt           when the driver sent SIGKILL to the server
     * @param upAt               when the new server listened
     * @param lost               clients that saw the loss (a DISCONNECTED after the kill)
     * @param killTook           from the kill until the killed process was reaped, nanos
     * @param firstLoss          from the kill until the first client saw the loss, nanos
     * @param lastLoss           from the kill until the last client saw the loss, nanos
     * @param early              connections made after the kill but before the new server listened (the killed
     *                           server's listening socket still accepted), each lost again; {@code back} counts only
     *                           connections from the moment the new server listened
     * @param lostAgain          losses after a client's first one (after an early connection, or from the new server)
     * @param back               clients connected again
     * @param serverConnections  connections the new server held at the end
     * @param serverAllAfterUp   polled time from up until the new server held every connection, nanos, or -1
     * @param attempts           attempts (CONNECTING) after the kill
     * @param refused            of them refused
     * @param reset              of them reset (instead of refused; see {@link StormClients#RESET})
     * @param timedOut           of them timed out
     * @param otherFailures      of them failed otherwise
     * @param failures           the other failures by cause (class and message, numbers left out)
     * @param perBucket          attempts per 100 ms from the kill
     * @param perBucketFromUp    attempts per 100 ms from up
     * @param backAfterUp        per client back, from up until connected, nanos, ascending
     * @param timerLateness      per attempt after the kill, its start minus the time its delay planned, ascending
     * @param refusal            median time from an attempt's start to its refusal, nanos
     * @param clientCpu          CPU time of the client processes from the kill until all were back, nanos
     * @param cpuWindow          wall time of that window, nanos
     * @param serverCpu          CPU time of the new server from just before it listened until all were back, nanos
     * @param expected           the simulation
     * @param target             the "all back" target after up
     */
    public record Storm(BackoffSpec backoff, int port, int clients, long killedAt, long upAt, int lost,
                        long killTook, long firstLoss, long lastLoss, long early, long lostAgain, int back,
                        int serverConnections, long serverAllAfterUp, long attempts, long refused, long reset,
                        long timedOut, long otherFailures, Map<String, Long> failures, int[] perBucket,
                        int[] perBucketFromUp,
                        long[] backAfterUp, long[] timerLateness, long refusal, long clientCpu, long cpuWindow,
                        long serverCpu, StormExpectation expected, Duration target) {
        public int peak() {
            return Arrays.stream(perBucket).max().orElse(0);
        }

        public int peakFromUp() {
            return Arrays.stream(perBucketFromUp).max().orElse(0);
        }

        /** Actual over expected peak. */
        public double peakRatio() {
            return peak() / Math.max(1e-9, expected.peak());
        }

        /** From the kill until the new server listened. */
        public Duration downtime() {
            return Duration.ofNanos(upAt - killedAt);
        }

        /** From up until the last client connected; {@code null} if some never did. */
        public Duration lastBack() {
            return back < clients || backAfterUp.length == 0 ? null
                    : Duration.ofNanos(backAfterUp[backAfterUp.length - 1]);
        }

        /** Target: no 100 ms bucket above twice the expected peak. */
        public boolean peakMet() {
            return peakRatio() <= 2.0;
        }

        /** Target: every client back within the backoff's maximum delay + 2 s after up. */
        public boolean backMet() {
            return lastBack() != null && lastBack().compareTo(target) <= 0;
        }
    }

    /**
     * The run's figures.
     *
     * @param config   what ran
     * @param storm    the policy's storm
     * @param baseline the baseline's storm, or {@code null}
     * @param charts   the plots written
     * @param elapsed  the whole run
     */
    public record Result(Config config, Storm storm, Storm baseline, List<Path> charts, Duration elapsed) {
    }

    public static void main(String[] args) throws Exception {
        Config config = Config.parse(args);
        print(run(config));
    }

    /** Runs the storm (and the baseline storm) and writes the plots. */
    public static Result run(Config config) throws Exception {
        long start = System.nanoTime();
        Storm storm = storm(config, config.policy());
        Storm baseline = config.baseline() == null ? null : storm(config, config.baseline());
        List<Path> charts = charts(config, storm, baseline);
        return new Result(config, storm, baseline, charts, Duration.ofNanos(System.nanoTime() - start));
    }

    // ---- one storm -------------------------------------------------------------------------------------------

    private static Storm storm(Config c, BackoffSpec backoff) throws Exception {
        int port = Ports.fresh();
        Path dir = Files.createTempDirectory("reconnect-storm");
        List<ChildJvm> children = new ArrayList<>();
        try {
            ChildJvm first = ChildJvm.start("storm-server-1", StormServer.class, CHILD_JVM_ARGS,
                    List.of(Integer.toString(port), Integer.toString(c.serverThreads()), "now"));
            children.add(first);
            ChildJvm second = ChildJvm.start("storm-server-2", StormServer.class, CHILD_JVM_ARGS,
                    List.of(Integer.toString(port), Integer.toString(c.serverThreads()), "wait"));
            children.add(second);
            List<ChildJvm> clientJvms = new ArrayList<>();
            for (int j = 0; j < c.clientJvms(); j++) {
                int from = (int) ((long) c.clients() * j / c.clientJvms());
                int to = (int) ((long) c.clients() * (j + 1) / c.clientJvms());
                List<String> jvmArgs = new ArrayList<>(CHILD_JVM_ARGS);
                String extra = System.getProperty(CLIENT_JVM_ARGS_PROPERTY, "").trim();
                if (!extra.isEmpty()) {
                    jvmArgs.addAll(Arrays.asList(extra.replace("{n}", Integer.toString(j)).split("\\s+")));
                }
                ChildJvm jvm = ChildJvm.start("storm-clients-" + j, StormClients.class, jvmArgs,
                        List.of(Integer.toString(port), Integer.toString(to - from), Integer.toString(from),
                                Integer.toString(c.clientThreads()), backoff.spec(),
                                Long.toString(c.connectTimeout().toMillis())));
                children.add(jvm);
                clientJvms.add(jvm);
            }
            Duration startUp = Duration.ofSeconds(60);
            first.awaitLine("LISTENING ", startUp);
            second.awaitLine("READY", startUp);
            for (ChildJvm jvm : clientJvms) {
                jvm.awaitLine("READY", startUp);
            }
            for (ChildJvm jvm : clientJvms) {
                jvm.send("START");
            }
            Duration connectAll = Duration.ofSeconds(30).plusMillis(c.clients() * 10L);
            if (awaitConnected(clientJvms, first, c.clients(), connectAll) < 0) {
                throw new IllegalStateException("not every client connected to the first server within "
                        + connectAll + ": " + clientStatus(clientJvms)[0] + " of " + c.clients());
            }
            Thread.sleep(c.settle().toMillis()); // benchmark pacing: a quiet moment before the kill

            long clientCpuBefore = clientStatus(clientJvms)[1];
            long killedAt = System.nanoTime();
            first.kill();
            long killTook = System.nanoTime() - killedAt;
            long wake = killedAt + c.downtime().toNanos();
            for (long left = wake - System.nanoTime(); left > 0; left = wake - System.nanoTime()) {
                Thread.sleep(Math.max(1, TimeUnit.NANOSECONDS.toMillis(left))); // benchmark pacing: the downtime
            }
            long serverCpuBefore = serverStatus(second)[2];
            long upAt = Long.parseLong(second.request("LISTEN", "LISTENING ", ANSWER).substring(10).trim());
            Duration recoverWithin = Duration.ofSeconds(30).plus(c.target(backoff).multipliedBy(2))
                    .plus(c.connectTimeout());
            long serverAll = awaitConnected(clientJvms, second, c.clients(), recoverWithin);
            long serverAllAfterUp = serverAll < 0 ? -1 : serverAll - upAt;
            long[] server = serverStatus(second);
            long[] clients = clientStatus(clientJvms);
            Observed observed = new Observed(port, killedAt, killTook, upAt, (int) server[0], serverAllAfterUp,
                    clients[1] - clientCpuBefore, System.nanoTime() - killedAt, server[2] - serverCpuBefore);

            List<Path> dumps = new ArrayList<>();
            for (int j = 0; j < clientJvms.size(); j++) {
                Path file = dir.resolve("events-" + j + ".txt");
                clientJvms.get(j).request("DUMP " + file, "DUMPED ", Duration.ofSeconds(60));
                dumps.add(file);
            }
            for (ChildJvm jvm : clientJvms) {
                jvm.finish(Duration.ofSeconds(15));
            }
            second.finish(Duration.ofSeconds(5));
            return analyse(c, backoff, observed, dumps);
        } finally {
            for (ChildJvm child : children) {
                child.close(); // kills what is still running
            }
            try (var files = Files.list(dir)) {
                for (Path f : (Iterable<Path>) files::iterator) {
                    Files.deleteIfExists(f);
                }
            }
            Files.deleteIfExists(dir);
        }
    }

    /**
     * Polls until the clients report {@code n} connected and {@code server} holds {@code n} connections; returns the
     * time (nanos) the server was first seen holding all, or -1 if the wait ran out.
     */
    private static long awaitConnected(List<ChildJvm> clientJvms, ChildJvm server, int n, Duration timeout)
            throws InterruptedException {
        long deadline = System.nanoTime() + timeout.toNanos();
        long serverAll = -1;
        int polls = (int) (timeout.toMillis() / POLL.toMillis()) + 1;
        for (int i = 0; i < polls && System.nanoTime() - deadline < 0; i++) {
            if (serverAll < 0) {
                long asked = System.nanoTime();
                if (serverStatus(server)[0] >= n) {
                    serverAll = asked;
                }
            }
            if (serverAll >= 0 && clientStatus(clientJvms)[0] >= n) {
                return serverAll;
            }
            Thread.sleep(POLL.toMillis()); // polling other processes' counters, bounded by the deadline
        }
        return -1;
    }

    /** The clients connected now and the client processes' CPU time (nanos), summed over the processes. */
    private static long[] clientStatus(List<ChildJvm> clientJvms) throws InterruptedException {
        long connected = 0;
        long cpu = 0;
        for (ChildJvm jvm : clientJvms) {
            String[] s = jvm.request("STATUS", "STATUS ", ANSWER).split(" ");
            connected += Long.parseLong(s[1]);
            cpu += Long.parseLong(s[3]);
        }
        return new long[] {connected, cpu};
    }

    /** The server's open connections, accepted connections and CPU time (nanos). */
    private static long[] serverStatus(ChildJvm server) throws InterruptedException {
        String[] s = server.request("STATUS", "STATUS ", ANSWER).split(" ");
        return new long[] {Long.parseLong(s[1]), Long.parseLong(s[2]), Long.parseLong(s[3])};
    }

    /** What the driver saw of one storm. */
    private record Observed(int port, long killedAt, long killTook, long upAt, int serverConnections,
                            long serverAllAfterUp, long clientCpu, long cpuWindow, long serverCpu) {
    }

    // ---- analysis --------------------------------------------------------------------------------------------

    private static Storm analyse(Config c, BackoffSpec backoff, Observed o, List<Path> dumps) throws IOException {
        long killedAt = o.killedAt();
        long upAt = o.upAt();
        int n = c.clients();
        long[] lossAt = new long[n];
        long[] backAt = new long[n];
        Arrays.fill(lossAt, -1);
        Arrays.fill(backAt, -1);
        List<Long> attempts = new ArrayList<>();
        List<Long> lateness = new ArrayList<>();
        List<Long> refusals = new ArrayList<>();
        Map<String, Long> failures = new TreeMap<>();
        long refused = 0;
        long early = 0;
        long lostAgain = 0;
        long reset = 0;
        long timedOut = 0;
        long failed = 0;
        long[] planned = new long[n];
        long[] attemptAt = new long[n];
        Arrays.fill(planned, -1);
        Arrays.fill(attemptAt, -1);
        for (Path dump : dumps) {
            try (BufferedReader in = Files.newBufferedReader(dump, StandardCharsets.US_ASCII)) {
                for (String line = in.readLine(); line != null; line = in.readLine()) {
                    if (line.startsWith("# ")) {
                        String[] f = line.substring(2).split(" ", 2);
                        failures.merge(f[1], Long.parseLong(f[0]), Long::sum);
                        continue;
                    }
                    int a = line.indexOf(' ');
                    int id = Integer.parseInt(line.substring(0, a));
                    char kind = line.charAt(a + 1);
                    long t = Long.parseLong(line.substring(a + 3));
                    // Only what follows this client's loss: the initial connect is set-up, not the storm.
                    if (lossAt[id] < 0) {
                        if (kind == StormClients.DISCONNECTED && t >= killedAt) {
                            lossAt[id] = t;
                        }
                        continue;
                    }
                    switch (kind) {
                        case StormClients.PLANNED:
                            planned[id] = t;
                            break;
                        case StormClients.CONNECTING:
                            attempts.add(t);
                            attemptAt[id] = t;
                            if (planned[id] >= 0) {
                                lateness.add(t - planned[id]);
                                planned[id] = -1;
                            }
                            break;
                        case StormClients.REFUSED:
                            refused++;
                            if (attemptAt[id] >= 0) {
                                refusals.add(t - attemptAt[id]);
                            }
                            break;
                        case StormClients.RESET:
                            reset++;
                            break;
                        case StormClients.TIMED_OUT:
                            timedOut++;
                            break;
                        case StormClients.FAILED:
                            failed++;
                            break;
                        case StormClients.CONNECTED:
                            if (t < upAt) {
                                early++; // to the killed server's listening socket, before it was closed
                            } else if (backAt[id] < 0) {
                                backAt[id] = t;
                            }
                            break;
                        case StormClients.DISCONNECTED:
                            lostAgain++;
                            break;
                        default:
                            break;
                    }
                }
            }
        }
        long[] losses = Arrays.stream(lossAt).filter(t -> t >= 0).toArray();
        long firstLoss = Arrays.stream(losses).map(t -> t - killedAt).min().orElse(0);
        long lastLoss = Arrays.stream(losses).map(t -> t - killedAt).max().orElse(0);
        long[] backAfterUp = Arrays.stream(backAt).filter(t -> t >= 0).map(t -> t - upAt).sorted().toArray();
        long[] attemptTimes = attempts.stream().mapToLong(Long::longValue).toArray();
        long refusal = Reports.quantile(refusals.stream().mapToLong(Long::longValue).sorted().toArray(), 0.5);
        Duration target = c.target(backoff);
        long lastAttempt = Arrays.stream(attemptTimes).max().orElse(upAt);
        long horizon = Math.max(lastAttempt, upAt + target.toNanos() + c.connectTimeout().toNanos());
        int buckets = (int) ((horizon - killedAt) / BUCKET) + 2;
        int[] perBucket = Reports.histogram(attemptTimes, killedAt, BUCKET, buckets);
        int[] perBucketFromUp = Reports.histogram(attemptTimes, upAt, BUCKET, buckets);
        // The policy alone: the backoff's delays from each client's measured loss, attempts taking no time. What
        // the clients' own event loops add (timer lateness, time to a refusal) is printed beside it.
        StormExpectation expected = StormExpectation.simulate(backoff.backoff(), losses, upAt, 0, killedAt,
                BUCKET, buckets, c.runs(), 20261125L);
        return new Storm(backoff, o.port(), n, killedAt, upAt, losses.length, o.killTook(), firstLoss, lastLoss,
                early, lostAgain, backAfterUp.length, o.serverConnections(), o.serverAllAfterUp(),
                attemptTimes.length, refused, reset, timedOut, failed, failures, perBucket, perBucketFromUp,
                backAfterUp, lateness.stream().mapToLong(Long::longValue).sorted().toArray(), refusal,
                o.clientCpu(), o.cpuWindow(), o.serverCpu(), expected, target);
    }

    // ---- plots -----------------------------------------------------------------------------------------------

    private static List<Path> charts(Config c, Storm storm, Storm baseline) {
        List<Path> written = new ArrayList<>();
        String title = String.format(Locale.ROOT, "Reconnect storm: %,d clients, server down %,d ms", c.clients(),
                storm.downtime().toMillis());
        Chart both = Chart.titled(title, "time since the server was killed (ms)", "connection attempts per 100 ms");
        addStorm(both, storm, "");
        if (baseline != null) {
            addStorm(both, baseline, "baseline ");
        }
        both.verticalLine("new server listening", storm.downtime().toNanos() / 1e6);
        written.add(both.write(Reports.file("reconnect-storm-" + c.clients() + ".png")));
        if (baseline != null) {
            Chart alone = Chart.titled(title + " (policy only)", "time since the server was killed (ms)",
                    "connection attempts per 100 ms");
            addStorm(alone, storm, "");
            alone.verticalLine("new server listening", storm.downtime().toNanos() / 1e6);
            alone.horizontalLine("2x expected peak", 2 * storm.expected().peak());
            written.add(alone.write(Reports.file("reconnect-storm-" + c.clients() + "-policy.png")));
        }
        return written;
    }

    private static void addStorm(Chart chart, Storm s, String prefix) {
        int last = lastNonZero(s.perBucket(), s.expected().perBucket());
        double[] x = Reports.axis(last + 1, 100);
        double[] mid = Arrays.stream(x).map(v -> v + 50).toArray();
        chart.steps(prefix + "actual: " + s.backoff().describe(), x,
                Reports.doubles(Arrays.copyOf(s.perBucket(), last + 1)));
        chart.line(prefix + "expected (Monte Carlo)", mid, Arrays.copyOf(s.expected().perBucket(), last + 1));
    }

    private static int lastNonZero(int[] actual, double[] expected) {
        int last = 0;
        for (int i = 0; i < actual.length; i++) {
            if (actual[i] > 0 || (i < expected.length && expected[i] >= 0.05)) {
                last = i;
            }
        }
        return Math.min(actual.length - 1, last + 2);
    }

    // ---- printing --------------------------------------------------------------------------------------------

    /** Prints the figures, side by side when there is a baseline. */
    public static void print(Result r) {
        Config c = r.config();
        Storm s = r.storm();
        Storm b = r.baseline();
        System.out.printf(Locale.ROOT, "reconnect storm: %,d ReconnectingClients in %d JVM(s) x %d epoll event "
                        + "loop thread(s); server in its own JVM (epoll, %d event loop thread(s)), SIGKILLed, a new "
                        + "one listening on the same port after %,d ms; %d cores%n", c.clients(), c.clientJvms(),
                c.clientThreads(), c.serverThreads(), c.downtime().toMillis(), CORES);
        System.out.printf(Locale.ROOT, "expected: %d Monte Carlo runs of the backoff from each client's measured "
                + "loss, attempts refused until the new server listened and taking no time%n", c.runs());
        List<String[]> rows = new ArrayList<>();
        rows.add(row("backoff", s, b, x -> x.backoff().describe()));
        rows.add(row("port (fresh per storm)", s, b, x -> Integer.toString(x.port())));
        rows.add(row("clients that saw the loss", s, b, x -> String.format(Locale.ROOT, "%,d of %,d", x.lost(),
                x.clients())));
        rows.add(row("kill to: process gone / first / last loss", s, b, x -> ms(x.killTook()) + " / "
                + ms(x.firstLoss()) + " / " + ms(x.lastLoss())));
        rows.add(row("connected early (dying server) / lost again", s, b, x -> String.format(Locale.ROOT,
                "%,d / %,d", x.early(), x.lostAgain())));
        rows.add(row("kill to new server listening", s, b, x -> ms(x.downtime().toNanos())));
        rows.add(row("attempts: actual / expected", s, b, x -> String.format(Locale.ROOT, "%,d / %,.0f (%.2f)",
                x.attempts(), x.expected().attempts(), x.attempts() / Math.max(1e-9, x.expected().attempts()))));
        rows.add(row("failed: refused / reset / timed out / other", s, b, x -> String.format(Locale.ROOT,
                "%,d / %,d / %,d / %,d", x.refused(), x.reset(), x.timedOut(), x.otherFailures())));
        rows.add(row("peak per 100 ms: actual / expected", s, b, x -> String.format(Locale.ROOT,
                "%,d / %,.0f (%.2f)", x.peak(), x.expected().peak(), x.peakRatio())));
        rows.add(row("  simulated runs' own peaks p50 / p99", s, b, x -> String.format(Locale.ROOT, "%,d / %,d",
                Reports.quantile(x.expected().peaks(), 0.5), Reports.quantile(x.expected().peaks(), 0.99))));
        rows.add(row("peak per 100 ms from up: actual / exp.", s, b, x -> String.format(Locale.ROOT,
                "%,d / %,.0f (%.2f)", x.peakFromUp(), x.expected().peakFromUp(),
                x.peakFromUp() / Math.max(1e-9, x.expected().peakFromUp()))));
        rows.add(row("clients back", s, b, x -> String.format(Locale.ROOT, "%,d of %,d", x.back(), x.clients())));
        rows.add(row("up to last client back: actual", s, b, x -> x.lastBack() == null ? "not all back"
                : ms(x.lastBack().toNanos())));
        rows.add(row("  expected: mean / p99 of runs", s, b, x -> String.format(Locale.ROOT, "%s / %s",
                ms((long) x.expected().meanLastBack()), ms(x.expected().lastBackQuantile(0.99)))));
        rows.add(row("  target: max delay + 2 s", s, b, x -> ms(x.target().toNanos())));
        rows.add(row("up to each client back p50/p99", s, b, x -> String.format(Locale.ROOT, "%s / %s (exp. %s / %s)",
                ms(Reports.quantile(x.backAfterUp(), 0.5)), ms(Reports.quantile(x.backAfterUp(), 0.99)),
                ms(Reports.quantile(x.expected().backOneRun(), 0.5)),
                ms(Reports.quantile(x.expected().backOneRun(), 0.99)))));
        rows.add(row("server held all (polled, after up)", s, b, x -> x.serverAllAfterUp() < 0
                ? String.format(Locale.ROOT, "no: %,d", x.serverConnections()) : ms(x.serverAllAfterUp())));
        rows.add(row("client timer lateness p50/p99/max", s, b, x -> String.format(Locale.ROOT, "%s / %s / %s",
                ms(Reports.quantile(x.timerLateness(), 0.5)), ms(Reports.quantile(x.timerLateness(), 0.99)),
                ms(Reports.quantile(x.timerLateness(), 1.0)))));
        rows.add(row("client CPU, kill to all back", s, b, x -> String.format(Locale.ROOT,
                "%.2f s in %.2f s (%.2f cores); %.0f us per attempt", x.clientCpu() / 1e9, x.cpuWindow() / 1e9,
                x.clientCpu() / (double) x.cpuWindow(), x.clientCpu() / 1e3 / Math.max(1, x.attempts()))));
        rows.add(row("new server CPU, up to all back", s, b, x -> String.format(Locale.ROOT, "%.2f s",
                x.serverCpu() / 1e9)));
        rows.add(row("attempt to refusal, median", s, b, x -> String.format(Locale.ROOT, "%.2f ms",
                x.refusal() / 1e6)));
        int w0 = rows.stream().mapToInt(x -> x[0].length()).max().orElse(0);
        int w1 = rows.stream().mapToInt(x -> x[1].length()).max().orElse(0);
        System.out.printf(Locale.ROOT, "  %-" + w0 + "s  %-" + w1 + "s%s%n", "", "policy",
                b == null ? "" : "  baseline");
        for (String[] x : rows) {
            System.out.printf(Locale.ROOT, "  %-" + w0 + "s  %-" + w1 + "s%s%n", x[0], x[1],
                    b == null ? "" : "  " + x[2]);
        }
        System.out.printf(Locale.ROOT, "  target peak per 100 ms <= 2x expected: %s (%.2f)%n",
                s.peakMet() ? "met" : "MISSED", s.peakRatio());
        System.out.printf(Locale.ROOT, "  target all back within max delay + 2 s = %s: %s (%s)%n",
                ms(s.target().toNanos()), s.backMet() ? "met" : "MISSED",
                s.lastBack() == null ? s.back() + " of " + s.clients() + " back" : ms(s.lastBack().toNanos()));
        for (Storm x : b == null ? List.of(s) : List.of(s, b)) {
            long lateP99 = Reports.quantile(x.timerLateness(), 0.99);
            if (lateP99 > LATE) {
                System.out.printf(Locale.ROOT, "  limit (%s): the clients' event loops lag: timers %s late (p99), "
                                + "refusals after %s (median), client CPU %.2f of %d cores; attempts bunch, so the "
                                + "peaks show the client processes as much as the backoff%n",
                        x == s ? "policy" : "baseline", ms(lateP99), ms(x.refusal()),
                        x.clientCpu() / (double) x.cpuWindow(), CORES);
            }
        }
        if (b != null) {
            System.out.printf(Locale.ROOT, "  jitter vs baseline: peak per 100 ms from up %,d vs %,d (%.2f of the "
                            + "baseline's); whole storm %,d vs %,d%n", s.peakFromUp(), b.peakFromUp(),
                    s.peakFromUp() / Math.max(1.0, b.peakFromUp()), s.peak(), b.peak());
        }
        for (Storm x : b == null ? List.of(s) : List.of(s, b)) {
            for (Map.Entry<String, Long> f : x.failures().entrySet()) {
                System.out.printf(Locale.ROOT, "  other failure (%s): %,d x %s%n", x == s ? "policy" : "baseline",
                        f.getValue(), f.getKey());
            }
        }
        for (Path p : r.charts()) {
            System.out.println("  plot: " + p);
        }
        System.out.printf(Locale.ROOT, "  (run took %.1f s)%n", r.elapsed().toMillis() / 1e3);
    }

    private interface Cell {
        String of(Storm s);
    }

    private static String[] row(String label, Storm s, Storm b, Cell cell) {
        return new String[] {label, cell.of(s), b == null ? "" : cell.of(b)};
    }

    private static String ms(long nanos) {
        return String.format(Locale.ROOT, "%,.0f ms", nanos / 1e6);
    }
}
