package dev.keepalive.benchmarks;

import dev.keepalive.KeepaliveSettings;
import dev.keepalive.benchmarks.support.Chart;
import dev.keepalive.benchmarks.support.ChildJvm;
import dev.keepalive.benchmarks.support.Reports;
import dev.keepalive.netty.KeepaliveHandler;
import io.netty.handler.timeout.IdleStateHandler;

import java.io.PrintStream;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.EnumMap;
import java.util.HashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.TreeMap;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.function.Function;
import java.util.function.ToDoubleFunction;
import java.util.function.ToLongFunction;
import java.util.stream.Collectors;

/**
 * Idle scale: the cost of watching N idle connections on loopback, each pinged every interval, with no keepalive
 * at all ("bare", the reference), with what users write today (Netty's {@link IdleStateHandler} + a handler that
 * pings on writer idle) and with {@link KeepaliveHandler}.
 *
 * <pre>java -cp benchmarks/target/benchmarks.jar dev.keepalive.benchmarks.IdleScaleBenchmark</pre>
 *
 * runs N = 1,000, 10,000 and 50,000 with a ping interval of 1 s (5 s at 50,000, see below), 5 s of warm-up and 10 s
 * of measurement per mode (about 4 minutes in all on 2 cores). Options, all optional: {@code --interval=1s
 * --warmup=5s --measure=10s --modes=bare,IdleStateHandler,keepalive --per-process=17000 --server-interval=1s} (the
 * library's ping interval on the server side; by default the clients') {@code --max-ping-rate=10000} (where N
 * connections pinging every interval would send more pings per second than this, the interval becomes N / rate
 * seconds; 0 keeps it: 50,000 connections pinged every second need more than 2 cores, with either
 * implementation), then the connection counts ({@code 1000 10000}). Plots go to
 * {@code benchmarks/results} (or the directory in {@code -Dkeepalive.benchmarks.out}).
 *
 * <h2>Set-up</h2>
 * For each N and each mode, fresh processes ({@link IdleScaleProcess}): {@code ceil(N / 17,000)} servers and as many
 * clients, so that no process holds more than about 17,000 sockets (a process may hold at most 20,000 file
 * descriptors). Each process runs one epoll event loop thread for its connections; a server accepts on a second
 * one of its own, so that new connections do not wait in the accept queue behind the others' I/O. Servers
 * listen on 127.0.0.1, port 0 (a fresh port per run); each client binds its own source address 127.a.b.c, derived
 * from the driver's pid and a counter, so that one address never needs more than 17,000 of its ~28,000 ephemeral
 * ports and no run meets the TIME_WAIT sockets of a recent one. Clients spread their connections round-robin over
 * the servers and send one application frame on each connection, which the server sends back: every connection,
 * bare ones too, has carried a message each way (and holds the read-path state any used connection holds). A
 * connection counts as open only once that frame came back, and at most 1,000 per client wait for it at once, so
 * that no connection sits long in an accept queue (where a keepalive pipeline would rightly see a silent peer). Every child runs with {@value #CHILD_JVM_ARGS_TEXT}: a fixed heap (no
 * resizing, the same in every mode, roomy enough that a young collection is rare within a window), the serial
 * collector, whose {@code System.gc()} is a full compacting collection (so used heap after it is the live set) and
 * which runs no concurrent GC threads to blur the CPU figures on 2 cores, and a fixed set of JIT compiler threads
 * (their CPU time is read per thread, see below).
 *
 * <p>All modes use the same frames: 4-byte length prefix, and pings and pongs in {@code BinaryProbe}'s 11-byte
 * layout. The pipelines are described in {@link IdleScaleProcess.Pipelines}: the baseline client has
 * {@code IdleStateHandler(readerIdle = 3 x interval, writerIdle = interval)} and pings on writer idle, the baseline
 * server answers pings and closes on reader idle (3 x interval); the library has {@code KeepaliveHandler} with
 * {@code pingInterval = interval, pingTimeout = interval} (detection bound 3 x interval, as the baseline's reader
 * idle), default jitter 0.2, on both ends.
 *
 * <h2>Measures</h2>
 * All processes measure the same window, {@code [origin, origin + measure)} in {@link System#nanoTime()}
 * (CLOCK_MONOTONIC on Linux: one clock for every process on the machine), after the warm-up.
 * <ul>
 *   <li>Retained heap per connection, client and server: used heap after full GCs (repeated until stable, pending
 *       finalizers run between them) with all connections up, after the window, minus the same once the
 *       connections are closed and no socket channel is left on the heap, divided by the connections. The
 *       second reading keeps what the process built once for all (buffer pools, caches, grown tables), so the
 *       difference is what each connection holds. The keepalive state is the difference to the bare mode (target:
 *       at most 200 bytes), and class histograms taken with the two readings show which classes make it up. Also
 *       printed: heap growth since before connecting, per connection, one-time state included.</li>
 *   <li>Process CPU ({@code OperatingSystemMXBean#getProcessCpuTime}) of clients and servers over the window, as a
 *       share of one core, and the part the JIT compiler threads used (from {@code /proc/self/task}). Per ping:
 *       process CPU without the JIT compilers (whose work is a warm-up cost that a short run does not finish at
 *       small N) divided by the pings sent by either end in the window (each costs the client a send or an
 *       answer); with the JIT too, and above the bare mode's CPU.</li>
 *   <li>Spread: one small handler at the same spot of every pipeline (after the framing, before the keepalive
 *       handlers) sees every frame written and counts each ping frame per millisecond of the window: the library
 *       and the baseline are observed alike, at the same cost. The driver adds up all processes and reports the
 *       largest count in a 10 ms window (fixed windows; also sliding) against the mean per 10 ms, with what a
 *       uniformly random placement would give (the median largest of as many Poisson counts), and plots pings per
 *       10 ms over the first two intervals ({@code idle-scale-spread-<N>.png}).</li>
 *   <li>Lateness of a 10 ms timer on each client's event loop during the window: p99 and max. One timer at a time,
 *       rescheduled when it runs and measured against its own deadline (a fixed-rate timer would count one stall
 *       again in each of the runs that catch up after it).</li>
 *   <li>Connections closed before the end of the window, with the reasons (dead-peer reasons, the baseline's
 *       reader idle).</li>
 * </ul>
 * Each N prints a table with the baseline beside the library, their ratio and the targets marked met or
 * MISSED; {@link #run(Config, PrintStream)} returns the same figures for tests.
 */
public final class IdleScaleBenchmark {
    /**
     * Pings per second (all connections) above which the interval is lengthened by default: what 2 cores sustain
     * with room to spare. At 10,000 connections pinged every second, the library takes about 0.9 of a core (client
     * and server together) and the baseline 0.6; at 50,000 every second they would need about 5 and 3 cores, the
     * event loops fall seconds behind and both end up closing their own connections.
     */
    public static final int DEFAULT_MAX_PING_RATE = 10_000;
    /** The most connections one child process holds. */
    public static final int MAX_CONNECTIONS_PER_PROCESS = 17_000;
    static final String CHILD_JVM_ARGS_TEXT = "-Xms1g -Xmx1g -XX:+UseSerialGC -XX:-UseDynamicNumberOfCompilerThreads";
    /** The heap and JIT flags above, and the children's logging quiet (they have no SLF4J provider). */
    static final List<String> CHILD_JVM_ARGS = List.of("-Xms1g", "-Xmx1g", "-XX:+UseSerialGC",
            "-XX:-UseDynamicNumberOfCompilerThreads", "-Dslf4j.internal.verbosity=ERROR");
    /**
     * More JVM arguments for every child, separated by spaces; {@code {child}} in them becomes the child's name
     * (e.g. {@code -XX:StartFlightRecording=duration=30s,filename=/tmp/{child}.jfr} to profile the connect phase:
     * the recording must end before the run does, the children are killed).
     */
    static final String CHILD_JVM_ARGS_PROPERTY = "keepalive.benchmarks.childJvmArgs";
    /** Target: retained heap of the keepalive state per connection. */
    static final double TARGET_STATE_BYTES = 200;
    /** Target: the library's CPU per ping at most this fraction of the baseline's. */
    static final double TARGET_CPU_RATIO = 0.8;
    /** Target: pings per connection per interval with the library on both ends. */
    static final double TARGET_PINGS_PER_INTERVAL = 1.05;
    /** System property that carries {@code --jitter} to the child processes (the library's pingJitter). */
    static final String JITTER_PROPERTY = "keepalive.idle.jitter";
    /** Target: the largest 10 ms window holds at most this many times the mean. */
    static final double TARGET_SPREAD_RATIO = 2;
    /** Target: p99 lateness of a 10 ms timer on the client loops. */
    static final long TARGET_LATENESS_P99_NANOS = 10_000_000L;
    /** The connection count the lateness target is set for. */
    static final int TARGET_LATENESS_AT = 10_000;
    private static final long MILLI = 1_000_000L;
    private static final int WINDOW_MILLIS = 10;
    private static final Duration STARTUP_TIMEOUT = Duration.ofSeconds(90);
    private static final Duration HEAP_TIMEOUT = Duration.ofSeconds(120);
    private static final Duration WINDOW_LEAD = Duration.ofMillis(250);
    private static final AtomicInteger CLIENT_PROCESSES = new AtomicInteger();

    private IdleScaleBenchmark() {
    }

    /** What each pipeline has between its framing and its application handler. */
    public enum Mode {
        /** Nothing: the reference for heap and CPU. */
        BARE("bare"),
        /** The baseline: {@link IdleStateHandler} + a handler that pings on writer idle. */
        IDLE_STATE_HANDLER("IdleStateHandler"),
        /** {@link KeepaliveHandler} on both ends. */
        KEEPALIVE("keepalive");

        private final String label;

        Mode(String label) {
            this.label = label;
        }

        /** The name printed in tables. */
        public String label() {
            return label;
        }

        static Mode parse(String s) {
            for (Mode m : values()) {
                if (m.name().equalsIgnoreCase(s) || m.label.equalsIgnoreCase(s)) {
                    return m;
                }
            }
            throw new IllegalArgumentException("mode must be one of bare, IdleStateHandler, keepalive, but was " + s);
        }
    }

    /**
     * What to run.
     *
     * @param connectionCounts      the values of N, in order
     * @param pingInterval          the ping interval of both the baseline and the library
     * @param warmup                time between the last connection and the window
     * @param measure               the measurement window
     * @param modes                 the modes, in the order they run for each N
     * @param connectionsPerProcess the most connections one process holds
     * @param serverPingInterval    the library's ping interval on the server side (by default the same)
     * @param maxPingRate           where N connections pinging every {@code pingInterval} would send more pings per
     *                              second than this, the interval is lengthened to N / maxPingRate seconds (for
     *                              both ends, both the library and the baseline); 0: never
     */
    public record Config(List<Integer> connectionCounts, Duration pingInterval, Duration warmup, Duration measure,
                         List<Mode> modes, int connectionsPerProcess, Duration serverPingInterval,
                         int maxPingRate) {
        public Config {
            connectionCounts = List.copyOf(connectionCounts);
            modes = List.copyOf(modes);
            if (connectionCounts.isEmpty() || connectionCounts.stream().anyMatch(n -> n < 1)) {
                throw new IllegalArgumentException("connection counts must be >= 1, but were " + connectionCounts);
            }
            if (pingInterval.toMillis() < 10) {
                throw new IllegalArgumentException("pingInterval must be >= 10 ms, but was " + pingInterval);
            }
            if (serverPingInterval.toMillis() < 10) {
                throw new IllegalArgumentException("serverPingInterval must be >= 10 ms, but was "
                        + serverPingInterval);
            }
            if (measure.toMillis() < 100 || measure.compareTo(Duration.ofMinutes(10)) > 0) {
                throw new IllegalArgumentException("measure must be in 100 ms..10 min, but was " + measure);
            }
            if (warmup.isNegative()) {
                throw new IllegalArgumentException("warmup must be >= 0, but was " + warmup);
            }
            if (modes.isEmpty()) {
                throw new IllegalArgumentException("modes must not be empty");
            }
            if (maxPingRate < 0) {
                throw new IllegalArgumentException("maxPingRate must be >= 0, but was " + maxPingRate);
            }
            if (connectionsPerProcess < 1 || connectionsPerProcess > MAX_CONNECTIONS_PER_PROCESS) {
                throw new IllegalArgumentException("connectionsPerProcess must be in 1.." + MAX_CONNECTIONS_PER_PROCESS
                        + ", but was " + connectionsPerProcess);
            }
        }

        /** With the server pinging at the same interval as the client, and the default ping rate cap. */
        public Config(List<Integer> connectionCounts, Duration pingInterval, Duration warmup, Duration measure,
                      List<Mode> modes, int connectionsPerProcess) {
            this(connectionCounts, pingInterval, warmup, measure, modes, connectionsPerProcess, pingInterval,
                    DEFAULT_MAX_PING_RATE);
        }

        /** The ping interval at {@code n} connections: {@link #pingInterval()}, or longer to keep within {@link
         *  #maxPingRate()}. */
        public Duration interval(int n) {
            if (maxPingRate == 0) {
                return pingInterval;
            }
            Duration floor = Duration.ofNanos((long) Math.ceil(n * 1e9 / maxPingRate));
            return floor.compareTo(pingInterval) > 0 ? floor : pingInterval;
        }

        /** The library's ping interval on the server side at {@code n} connections, lengthened as the clients'. */
        public Duration serverInterval(int n) {
            return Duration.ofNanos(Math.round(serverPingInterval.toNanos()
                    * ((double) interval(n).toNanos() / pingInterval.toNanos())));
        }

        /** N = 1,000, 10,000, 50,000; 1 s interval (5 s at 50,000); 5 s warm-up; 10 s window; all modes. */
        public static Config defaults() {
            return new Config(List.of(1_000, 10_000, 50_000), Duration.ofSeconds(1), Duration.ofSeconds(5),
                    Duration.ofSeconds(10), List.of(Mode.values()), MAX_CONNECTIONS_PER_PROCESS);
        }

        /**
         * The defaults changed by {@code --interval=1s --warmup=5s --measure=10s --modes=a,b --per-process=n
         * --server-interval=2s --max-ping-rate=10000 N...}.
         */
        public static Config parse(String... args) {
            Config d = defaults();
            List<Integer> counts = new ArrayList<>();
            Duration interval = d.pingInterval();
            Duration warmup = d.warmup();
            Duration measure = d.measure();
            List<Mode> modes = d.modes();
            int perProcess = d.connectionsPerProcess();
            Duration serverInterval = null;
            int maxPingRate = d.maxPingRate();
            for (String arg : args) {
                String value = arg.contains("=") ? arg.substring(arg.indexOf('=') + 1) : "";
                if (arg.startsWith("--interval=")) {
                    interval = duration(value);
                } else if (arg.startsWith("--warmup=")) {
                    warmup = duration(value);
                } else if (arg.startsWith("--measure=")) {
                    measure = duration(value);
                } else if (arg.startsWith("--modes=")) {
                    modes = Arrays.stream(value.split(",")).map(Mode::parse).collect(Collectors.toList());
                } else if (arg.startsWith("--server-interval=")) {
                    serverInterval = duration(value);
                } else if (arg.startsWith("--max-ping-rate=")) {
                    maxPingRate = Integer.parseInt(value.replace("_", "").replace(",", ""));
                } else if (arg.startsWith("--jitter=")) {
                    System.setProperty(JITTER_PROPERTY, Double.toString(Double.parseDouble(value)));
                } else if (arg.startsWith("--per-process=")) {
                    perProcess = Integer.parseInt(value.replace("_", "").replace(",", ""));
                } else if (arg.matches("[0-9_,]+")) {
                    counts.add(Integer.parseInt(arg.replace("_", "").replace(",", "")));
                } else {
                    throw new IllegalArgumentException("unknown argument " + arg + "; usage: IdleScaleBenchmark "
                            + "[--interval=1s] [--warmup=5s] [--measure=10s] [--modes=bare,IdleStateHandler,"
                            + "keepalive] [--per-process=17000] [--server-interval=<as --interval>] "
                            + "[--max-ping-rate=10000] [--jitter=<library default>] [N ...]");
                }
            }
            return new Config(counts.isEmpty() ? d.connectionCounts() : counts, interval, warmup, measure, modes,
                    perProcess, serverInterval == null ? interval : serverInterval, maxPingRate);
        }

        /** {@code 1s}, {@code 200ms}, {@code 1.5s}. */
        static Duration duration(String s) {
            String v = s.trim().toLowerCase(Locale.ROOT);
            if (v.endsWith("ms")) {
                return Duration.ofNanos(Math.round(Double.parseDouble(v.substring(0, v.length() - 2)) * 1e6));
            }
            if (v.endsWith("s")) {
                return Duration.ofNanos(Math.round(Double.parseDouble(v.substring(0, v.length() - 1)) * 1e9));
            }
            throw new IllegalArgumentException("a duration is like 1s or 200ms, but was " + s);
        }
    }

    /**
     * What one child process reported.
     *
     * @param connections   the connections it was given (client) or accepted (server)
     * @param heapBefore    used heap after full GCs before any connection
     * @param heapAfter     used heap after full GCs with all connections up, after the window
     * @param heapClosed    used heap after full GCs once all connections were closed, at the end
     * @param openAtEnd     connections open when the heap was measured
     * @param closed        connections closed before the end of the window
     * @param cpuNanos      process CPU time over the window
     * @param elapsedNanos  the window's length as this process measured it
     * @param pongs         pongs it wrote in the window
     * @param gcs           garbage collections in the window
     * @param jitNanos      CPU time of the JIT compiler threads in the window (part of {@code cpuNanos})
     * @param startNanos    how late the process began its window (read the CPU time) after the planned start
     * @param pingsPerMilli pings it wrote in each millisecond of the window
     * @param latenessNanos lateness of each run of the 10 ms timer on its event loop in the window
     * @param heapByClass   the classes that held the most heap per connection, in bytes (see
     *                      {@link ModeResult#clientHeapPerConnection()})
     * @param closeReasons  why connections closed before the end of the window: dead-peer reasons, the
     *                      baseline's {@code READER_IDLE}, or exception classes, with counts
     */
    public record ProcessReport(int connections, long heapBefore, long heapAfter, long heapClosed, int openAtEnd,
                                int closed, long cpuNanos, long elapsedNanos, long pongs, long gcs, long jitNanos,
                                long startNanos, int[] pingsPerMilli, long[] latenessNanos,
                                Map<String, Long> heapByClass, Map<String, Long> closeReasons) {
        /** Pings it wrote in the window. */
        public long pings() {
            return Arrays.stream(pingsPerMilli).asLongStream().sum();
        }
    }

    /**
     * How pings spread over the window.
     *
     * @param windows     10 ms windows in the measurement
     * @param mean        mean pings per 10 ms window
     * @param max         the most pings in one (fixed) 10 ms window
     * @param maxSliding  the most pings in any 10 ms span (sliding by 1 ms)
     * @param maxPerMilli the most pings in one millisecond
     * @param uniformMax  the median of the largest of {@code windows} Poisson counts with this mean: what a
     *                    uniformly random placement of the same pings would give
     */
    public record Spread(long pings, int windows, double mean, int max, long maxSliding, int maxPerMilli,
                         int uniformMax) {
        /** The largest 10 ms window against the mean. */
        public double ratio() {
            return mean == 0 ? 0 : max / mean;
        }

        static Spread of(int[] perMilli) {
            int[] windows = Reports.rebin(perMilli, WINDOW_MILLIS);
            long pings = Arrays.stream(perMilli).asLongStream().sum();
            double mean = windows.length == 0 ? 0 : (double) pings / windows.length;
            return new Spread(pings, windows.length, mean, Reports.max(windows),
                    Reports.slidingMax(perMilli, WINDOW_MILLIS), Reports.max(perMilli),
                    poissonMedianMax(mean, windows.length));
        }
    }

    /**
     * One mode at one N.
     *
     * @param clientsConnected connections the clients reported as established
     * @param connectNanos     the slowest client's time to open its connections
     * @param windowNanos      the measurement window
     */
    public record ModeResult(Mode mode, int connections, List<ProcessReport> clients, List<ProcessReport> servers,
                             int clientsConnected, long connectNanos, long windowNanos) {
        /** Connections open in the clients at the end (when the heap was measured). */
        public int clientsOpen() {
            return clients.stream().mapToInt(ProcessReport::openAtEnd).sum();
        }

        /** Connections open in the servers at the end. */
        public int serversOpen() {
            return servers.stream().mapToInt(ProcessReport::openAtEnd).sum();
        }

        /** Why the clients closed connections early, with counts. */
        public Map<String, Long> clientCloseReasons() {
            return reasons(clients);
        }

        /** Why the servers closed connections early, with counts. */
        public Map<String, Long> serverCloseReasons() {
            return reasons(servers);
        }

        private static Map<String, Long> reasons(List<ProcessReport> ps) {
            Map<String, Long> m = new TreeMap<>();
            ps.forEach(p -> p.closeReasons().forEach((k, v) -> m.merge(k, v, Long::sum)));
            return m;
        }

        /** Connections closed, on either end, before the end of the window. */
        public int closed() {
            return clients.stream().mapToInt(ProcessReport::closed).sum()
                    + servers.stream().mapToInt(ProcessReport::closed).sum();
        }

        /**
         * Retained heap per connection in the clients: used heap with all connections up minus used heap once they
         * were closed (which keeps what the process built once for all: buffer pools, caches, grown tables),
         * divided by the connections.
         */
        public double clientHeapPerConnection() {
            return heapPerConnection(clients, ProcessReport::heapClosed);
        }

        public double serverHeapPerConnection() {
            return heapPerConnection(servers, ProcessReport::heapClosed);
        }

        /** Used heap with all connections up minus used heap before connecting, per connection, in the clients. */
        public double clientHeapGrowthPerConnection() {
            return heapPerConnection(clients, ProcessReport::heapBefore);
        }

        public double serverHeapGrowthPerConnection() {
            return heapPerConnection(servers, ProcessReport::heapBefore);
        }

        /** Per connection open when the heap was measured (fewer than planned if some closed early). */
        private static double heapPerConnection(List<ProcessReport> ps, ToLongFunction<ProcessReport> reference) {
            long heap = ps.stream().mapToLong(p -> p.heapAfter() - reference.applyAsLong(p)).sum();
            long connections = ps.stream().mapToLong(ProcessReport::openAtEnd).sum();
            return connections == 0 ? 0 : (double) heap / connections;
        }

        /** The window's length, in seconds. */
        public double windowSeconds() {
            return windowNanos / 1e9;
        }

        /** The clients' process CPU time per second of window, in cores (1.0 = one core busy). */
        public double clientCores() {
            return cores(clients, ProcessReport::cpuNanos);
        }

        public double serverCores() {
            return cores(servers, ProcessReport::cpuNanos);
        }

        /** The clients' JIT compiler threads' CPU time per second of window, in cores. */
        public double clientJitCores() {
            return cores(clients, ProcessReport::jitNanos);
        }

        public double serverJitCores() {
            return cores(servers, ProcessReport::jitNanos);
        }

        private static double cores(List<ProcessReport> ps, ToLongFunction<ProcessReport> cpu) {
            return ps.stream().mapToDouble(p -> (double) cpu.applyAsLong(p) / p.elapsedNanos()).sum();
        }

        public long clientPings() {
            return clients.stream().mapToLong(ProcessReport::pings).sum();
        }

        public long serverPings() {
            return servers.stream().mapToLong(ProcessReport::pings).sum();
        }

        /** Pings written by either end in the window. */
        public long pings() {
            return clientPings() + serverPings();
        }

        public long pongs() {
            return clients.stream().mapToLong(ProcessReport::pongs).sum()
                    + servers.stream().mapToLong(ProcessReport::pongs).sum();
        }

        /** Pings per connection per second of window. */
        public double pingRate() {
            return pings() / windowSeconds() / connections;
        }

        /** Client process CPU, JIT compiler threads excluded, per ping (sent by either end), in ns; NaN without. */
        public double clientCpuPerPing() {
            return perPing(clientCores() - clientJitCores());
        }

        /** Client and server process CPU, JIT compiler threads excluded, per ping, in ns; NaN without pings. */
        public double totalCpuPerPing() {
            return perPing(clientCores() - clientJitCores() + serverCores() - serverJitCores());
        }

        /** Nanoseconds per ping of {@code cores} (CPU seconds per second). */
        double perPing(double cores) {
            return pings() == 0 ? Double.NaN : cores * 1e9 * windowSeconds() / pings();
        }

        /** Pings written by all processes, per millisecond of the window. */
        public int[] pingsPerMilli() {
            return pingsPerMilli(List.of(clients, servers));
        }

        /** Pings written by the processes of {@code sides}, per millisecond of the window. */
        int[] pingsPerMilli(List<List<ProcessReport>> sides) {
            int length = 0;
            for (ProcessReport p : clients) {
                length = Math.max(length, p.pingsPerMilli().length);
            }
            int[] sum = new int[length];
            for (List<ProcessReport> ps : sides) {
                for (ProcessReport p : ps) {
                    for (int i = 0; i < Math.min(length, p.pingsPerMilli().length); i++) {
                        sum[i] += p.pingsPerMilli()[i];
                    }
                }
            }
            return sum;
        }

        public Spread spread() {
            return Spread.of(pingsPerMilli());
        }

        /** How the pings of the clients alone ({@code true}) or of the servers alone spread. */
        public Spread spread(boolean clientsOnly) {
            return Spread.of(pingsPerMilli(List.of(clientsOnly ? clients : servers)));
        }

        /** Lateness of the 10 ms timers of all client loops, ascending. */
        public long[] latenessNanos() {
            return clients.stream().flatMapToLong(p -> Arrays.stream(p.latenessNanos())).sorted().toArray();
        }


        /** The latest start of the window in any process, after the planned start. */
        public long latestStartNanos() {
            return Math.max(clients.stream().mapToLong(ProcessReport::startNanos).max().orElse(0),
                    servers.stream().mapToLong(ProcessReport::startNanos).max().orElse(0));
        }

        /** Retained heap per connection by class in the clients, in bytes (the largest classes only). */
        public Map<String, Double> clientHeapByClass() {
            return byClass(clients);
        }

        public Map<String, Double> serverHeapByClass() {
            return byClass(servers);
        }

        private static Map<String, Double> byClass(List<ProcessReport> ps) {
            long connections = ps.stream().mapToLong(ProcessReport::openAtEnd).sum();
            Map<String, Double> m = new HashMap<>();
            for (ProcessReport p : ps) {
                p.heapByClass().forEach((k, v) -> m.merge(k, (double) v * p.openAtEnd() / connections,
                        Double::sum));
            }
            return m;
        }

        public long gcs() {
            return clients.stream().mapToLong(ProcessReport::gcs).sum()
                    + servers.stream().mapToLong(ProcessReport::gcs).sum();
        }
    }

    /** All modes at one N, and the spread chart (or {@code null} when no mode pinged). */
    public record SizeResult(int connections, Map<Mode, ModeResult> modes, Path chart) {
    }

    public record Result(Config config, List<SizeResult> sizes) {
    }

    public static void main(String[] args) throws Exception {
        run(Config.parse(args), System.out);
    }

    /** Runs {@code config}, printing progress and a table per N to {@code out}; every child is gone on return. */
    public static Result run(Config config, PrintStream out) throws Exception {
        KeepaliveSettings settings = IdleScaleProcess.settings(config.pingInterval());
        out.printf(Locale.ROOT, "idle scale: N = %s; ping interval %s; %s warm-up, %s window per mode; modes %s; "
                        + "epoll, one event loop thread per process, at most %,d connections per process; child "
                        + "JVMs %s; %d cores here, %s%n",
                config.connectionCounts().stream().map(n -> String.format(Locale.ROOT, "%,d (%s)", n,
                        millis(config.interval(n)))).collect(Collectors.joining(", ")), millis(config.pingInterval()),
                millis(config.warmup()), millis(config.measure()),
                config.modes().stream().map(Mode::label).collect(Collectors.joining(", ")),
                config.connectionsPerProcess(), CHILD_JVM_ARGS_TEXT, Runtime.getRuntime().availableProcessors(),
                System.getProperty("java.vm.version"));
        if (config.maxPingRate() > 0) {
            out.printf(Locale.ROOT, "  the interval is lengthened to N / %,d s where N connections would ping more "
                    + "than %,d times per second (the N above shows the interval used)%n", config.maxPingRate(),
                    config.maxPingRate());
        }
        out.printf(Locale.ROOT, "  keepalive: pingInterval = interval, pingTimeout = interval, pingsMissedBeforeDead "
                        + "%d, jitter %.1f (bound %d x interval), on both ends; baseline: IdleStateHandler(readerIdle "
                        + "= %d x interval, writerIdle = interval) + a ping on writer idle on the client, "
                        + "IdleStateHandler(readerIdle = %d x interval) + a pong on the server%n",
                settings.pingsMissedBeforeDead(), settings.pingJitter(),
                settings.idleDetectionBound().toNanos() / settings.pingInterval().toNanos(),
                IdleScaleProcess.BASELINE_READER_IDLE_INTERVALS, IdleScaleProcess.BASELINE_READER_IDLE_INTERVALS);
        if (!config.serverPingInterval().equals(config.pingInterval())) {
            out.printf(Locale.ROOT, "  keepalive servers ping at %s (clients at %s), lengthened alike%n",
                    millis(config.serverPingInterval()), millis(config.pingInterval()));
        }
        List<SizeResult> sizes = new ArrayList<>();
        for (int n : config.connectionCounts()) {
            Map<Mode, ModeResult> modes = new EnumMap<>(Mode.class);
            for (Mode mode : config.modes()) {
                ModeResult r = runMode(config, n, mode, out);
                modes.put(mode, r);
            }
            Path chart = chart(config, n, modes);
            SizeResult size = new SizeResult(n, modes, chart);
            sizes.add(size);
            printTable(config, size, out);
        }
        return new Result(config, sizes);
    }

    private static ModeResult runMode(Config config, int n, Mode mode, PrintStream out) throws Exception {
        int processes = (n + config.connectionsPerProcess() - 1) / config.connectionsPerProcess();
        String interval = Long.toString(config.interval(n).toNanos());
        String serverInterval = Long.toString(config.serverInterval(n).toNanos());
        List<ChildJvm> servers = new ArrayList<>();
        List<ChildJvm> clients = new ArrayList<>();
        List<String> sources = new ArrayList<>();
        List<String> jvmArgs = new ArrayList<>(CHILD_JVM_ARGS);
        if (System.getProperty(JITTER_PROPERTY) != null) {
            jvmArgs.add("-D" + JITTER_PROPERTY + "=" + System.getProperty(JITTER_PROPERTY));
        }
        try {
            for (int i = 0; i < processes; i++) {
                servers.add(ChildJvm.start("idle-server-" + i, IdleScaleProcess.class,
                        withExtraArgs(jvmArgs, "idle-server-" + i),
                        List.of("server", mode.name(), interval, serverInterval)));
            }
            for (int i = 0; i < processes; i++) {
                String source = sourceAddress();
                sources.add(source);
                clients.add(ChildJvm.start("idle-client-" + i, IdleScaleProcess.class,
                        withExtraArgs(jvmArgs, "idle-client-" + i),
                        List.of("client", mode.name(), interval, serverInterval, source,
                                Integer.toString(share(n, processes, i)))));
            }
            List<String> ports = new ArrayList<>();
            long[] serverHeapBefore = new long[processes];
            long[] clientHeapBefore = new long[processes];
            for (int i = 0; i < processes; i++) {
                Map<String, String> ready = fields(servers.get(i).awaitLine("ready", STARTUP_TIMEOUT));
                ports.add(ready.get("port"));
                serverHeapBefore[i] = Long.parseLong(ready.get("heap"));
            }
            for (int i = 0; i < processes; i++) {
                clientHeapBefore[i] = Long.parseLong(fields(clients.get(i).awaitLine("ready", STARTUP_TIMEOUT))
                        .get("heap"));
            }
            for (ChildJvm c : clients) {
                c.send("connect " + String.join(",", ports));
            }
            int connected = 0;
            long connectNanos = 0;
            Duration connectTimeout = Duration.ofSeconds(200);
            for (int i = 0; i < processes; i++) {
                Map<String, String> done = fields(clients.get(i).awaitLine("connected", connectTimeout));
                int ok = Integer.parseInt(done.get("ok"));
                connected += ok;
                connectNanos = Math.max(connectNanos, Long.parseLong(done.get("nanos")));
                if (ok != share(n, processes, i)) {
                    throw new IllegalStateException(clients.get(i) + " from " + sources.get(i) + " opened " + ok
                            + " of " + share(n, processes, i) + " connections: " + done);
                }
            }
            out.printf(Locale.ROOT, "  N = %,d %-16s %d+%d processes (pids %s), clients from %s: %,d connections "
                            + "in %.2f s; warm-up %s, window %s%n", n, mode.label(), processes, processes,
                    pids(servers, clients), String.join(" ", sources), connected, connectNanos / 1e9,
                    millis(config.warmup()), millis(config.measure()));
            Thread.sleep(config.warmup().toMillis()); // warm-up: benchmark pacing, not synchronisation
            List<ChildJvm> all = new ArrayList<>(clients);
            all.addAll(servers);
            long origin = System.nanoTime() + WINDOW_LEAD.toNanos();
            for (ChildJvm c : all) {
                c.send("measure " + origin + " " + config.measure().toNanos());
            }
            Duration windowTimeout = config.measure().plus(WINDOW_LEAD).plusSeconds(60);
            List<Map<String, String>> windows = new ArrayList<>();
            for (ChildJvm c : all) {
                windows.add(fields(c.awaitLine("window", windowTimeout)));
            }
            for (ChildJvm c : all) {
                c.send("heap");
            }
            List<Map<String, String>> heaps = new ArrayList<>();
            for (ChildJvm c : all) {
                heaps.add(fields(c.awaitLine("heap", HEAP_TIMEOUT)));
            }
            // Clients close their connections; servers wait until theirs are gone; then all measure the heap again.
            for (ChildJvm c : all) {
                c.send("close");
            }
            List<Map<String, String>> closed = new ArrayList<>();
            for (ChildJvm c : all) {
                Map<String, String> f = fields(c.awaitLine("closed", HEAP_TIMEOUT));
                if (!"0".equals(f.get("open")) || Long.parseLong(f.getOrDefault("channels", "0")) > 2) {
                    out.printf(Locale.ROOT, "  warning: %s measured its heap after closing with %s connections "
                            + "open and %s channels on the heap%n", c, f.get("open"), f.get("channels"));
                }
                closed.add(f);
            }
            finishAll(all);
            List<ProcessReport> clientReports = new ArrayList<>();
            List<ProcessReport> serverReports = new ArrayList<>();
            for (int i = 0; i < all.size(); i++) {
                boolean client = i < processes;
                int k = client ? i : i - processes;
                int connections = client ? share(n, processes, k) : serverShare(n, processes, k);
                ProcessReport report = report(connections, client ? clientHeapBefore[k] : serverHeapBefore[k],
                        windows.get(i), heaps.get(i), closed.get(i));
                (client ? clientReports : serverReports).add(report);
            }
            ModeResult r = new ModeResult(mode, n, clientReports, serverReports, connected, connectNanos,
                    config.measure().toNanos());
            out.printf(Locale.ROOT, "  N = %,d %-16s open %,d/%,d, %,d pings (%,d by servers), CPU client %.1f %% "
                            + "server %.1f %%, heap client %,.0f B/conn server %,.0f B/conn%n", n, mode.label(),
                    r.clientsOpen(), r.serversOpen(), r.pings(), r.serverPings(), 100 * r.clientCores(),
                    100 * r.serverCores(), r.clientHeapPerConnection(), r.serverHeapPerConnection());
            return r;
        } finally {
            for (ChildJvm c : clients) {
                c.close();
            }
            for (ChildJvm c : servers) {
                c.close();
            }
        }
    }

    /** Ends the children together (each exits when its stdin ends), waiting for each at most 20 s. */
    private static void finishAll(List<ChildJvm> children) throws InterruptedException {
        List<Thread> finishing = new ArrayList<>();
        for (ChildJvm c : children) {
            Thread t = new Thread(() -> {
                try {
                    c.finish(Duration.ofSeconds(20));
                } catch (InterruptedException e) {
                    Thread.currentThread().interrupt();
                }
            }, "finish-" + c.pid());
            t.start();
            finishing.add(t);
        }
        for (Thread t : finishing) {
            t.join(Duration.ofSeconds(30).toMillis());
        }
    }

    private static ProcessReport report(int connections, long heapBefore, Map<String, String> w,
                                        Map<String, String> h, Map<String, String> c) {
        int[] hist = Arrays.stream(w.get("hist").split(",")).mapToInt(Integer::parseInt).toArray();
        String late = w.get("late");
        long[] lateness = late.equals("-") ? new long[0]
                : Arrays.stream(late.split(",")).mapToLong(v -> Long.parseLong(v) * 1000).toArray();
        return new ProcessReport(connections, heapBefore, Long.parseLong(h.get("used")),
                Long.parseLong(c.get("heap")), Integer.parseInt(h.get("open")), Integer.parseInt(w.get("closed")), Long.parseLong(w.get("cpu")),
                Long.parseLong(w.get("elapsed")), Long.parseLong(w.get("pongs")), Long.parseLong(w.get("gcs")),
                Long.parseLong(w.get("jit")), Long.parseLong(w.get("start")), hist, lateness,
                classes(c.getOrDefault("classes", "-")), classes(w.getOrDefault("reasons", "-")));
    }

    private static Map<String, Long> classes(String list) {
        Map<String, Long> m = new HashMap<>();
        if (!list.equals("-")) {
            for (String entry : list.split(",")) {
                int colon = entry.lastIndexOf(':');
                m.merge(className(entry.substring(0, colon)), Long.parseLong(entry.substring(colon + 1)), Long::sum);
            }
        }
        return m;
    }

    /** Connections of client {@code i} of {@code processes}: {@code n} split as evenly as possible. */
    private static int share(int n, int processes, int i) {
        return n / processes + (i < n % processes ? 1 : 0);
    }

    /**
     * Connections server {@code k} receives: each client sends its j-th connection to server {@code j % processes},
     * so a server gets from every client about its share.
     */
    private static int serverShare(int n, int processes, int k) {
        int total = 0;
        for (int i = 0; i < processes; i++) {
            int c = share(n, processes, i);
            total += c / processes + (k < c % processes ? 1 : 0);
        }
        return total;
    }

    /**
     * A source address for a new client process: 127.a.b.c, with a and b from this JVM's pid and c counting the
     * client processes this JVM started, so that neither this run nor a recent one used it (TIME_WAIT lasts 60 s).
     */
    static String sourceAddress() {
        long pid = ProcessHandle.current().pid();
        int k = CLIENT_PROCESSES.getAndIncrement();
        return "127." + (1 + pid % 254) + "." + (1 + (pid / 254) % 254) + "." + (1 + k % 254);
    }

    private static String pids(List<ChildJvm> servers, List<ChildJvm> clients) {
        List<String> pids = new ArrayList<>();
        servers.forEach(s -> pids.add("s" + s.pid()));
        clients.forEach(c -> pids.add("c" + c.pid()));
        return String.join(" ", pids);
    }

    /** {@code key=value} words of a line (the first word is its name). */
    static Map<String, String> fields(String line) {
        Map<String, String> m = new HashMap<>();
        for (String word : line.split(" ")) {
            int eq = word.indexOf('=');
            if (eq > 0) {
                m.put(word.substring(0, eq), word.substring(eq + 1));
            }
        }
        return m;
    }

    /**
     * The median of the largest of {@code windows} independent Poisson counts of mean {@code mean}: the smallest q
     * with P(X &le; q)^windows &ge; 1/2.
     */
    static int poissonMedianMax(double mean, int windows) {
        if (mean <= 0 || windows <= 0) {
            return 0;
        }
        double target = Math.pow(0.5, 1.0 / windows);
        double logP = -mean;
        double cdf = Math.exp(logP);
        int limit = (int) (mean + 50 * Math.sqrt(mean) + 100);
        int q = 0;
        while (cdf < target && q < limit) {
            q++;
            logP += Math.log(mean) - Math.log(q);
            cdf += Math.exp(logP);
        }
        return q;
    }

    /** Pings per 10 ms over the first two intervals of the window (4 s at most), the baseline beside the library. */
    private static Path chart(Config config, int n, Map<Mode, ModeResult> modes) {
        int millis = (int) Math.min(Math.min(config.measure().toMillis(), 2 * config.interval(n).toMillis()), 4000);
        Chart chart = Chart.titled(String.format(Locale.ROOT, "Pings per 10 ms, %,d idle connections, interval %s",
                n, millis(config.interval(n))), "time in the window (ms)", "pings in the 10 ms window");
        boolean any = false;
        for (Mode mode : List.of(Mode.IDLE_STATE_HANDLER, Mode.KEEPALIVE)) {
            ModeResult r = modes.get(mode);
            if (r == null || r.pings() == 0) {
                continue;
            }
            int[] perMilli = r.pingsPerMilli();
            int[] windows = Reports.rebin(Arrays.copyOf(perMilli, Math.min(perMilli.length, millis)), WINDOW_MILLIS);
            // One more point at the end, so that the last window is drawn to its end.
            double[] x = Reports.axis(windows.length + 1, WINDOW_MILLIS);
            double[] y = Arrays.copyOf(Reports.doubles(windows), windows.length + 1);
            y[windows.length] = windows.length == 0 ? 0 : windows[windows.length - 1];
            chart.steps(mode.label(), x, y);
            Spread s = r.spread();
            chart.horizontalLine(String.format(Locale.ROOT, "2x mean (%s)", mode.label()), 2 * s.mean());
            any = true;
        }
        return any ? chart.write(Reports.file("idle-scale-spread-" + n + ".png")) : null;
    }

    // ---- the table ---------------------------------------------------------------------------------------------

    private static void printTable(Config config, SizeResult size, PrintStream out) {
        Map<Mode, ModeResult> m = size.modes();
        ModeResult bare = m.get(Mode.BARE);
        ModeResult base = m.get(Mode.IDLE_STATE_HANDLER);
        ModeResult lib = m.get(Mode.KEEPALIVE);
        Table t = new Table("", "bare", "IdleStateHandler", "keepalive", "keepalive/ISH", "target");
        t.row("processes (servers + clients)", cell(m, r -> r.servers().size() + " + " + r.clients().size()));
        t.row("connections open, client / server", cell(m, r -> String.format(Locale.ROOT, "%,d / %,d",
                r.clientsOpen(), r.serversOpen())));
        t.row("connections closed during the run, both ends", cell(m, r -> String.format(Locale.ROOT, "%,d",
                r.closed())));
        if (m.values().stream().anyMatch(r -> r.closed() > 0)) {
            t.row("  why, by the clients", cell(m, r -> r.clientCloseReasons().toString()));
            t.row("  why, by the servers", cell(m, r -> r.serverCloseReasons().toString()));
        }
        t.row("connect time (slowest client)", cell(m, r -> String.format(Locale.ROOT, "%.2f s",
                r.connectNanos() / 1e9)));
        t.row("retained heap per connection, client", cell(m, r -> bytes(r.clientHeapPerConnection())));
        stateRow(t, "  keepalive state (mode - bare), client", bare, base, lib,
                ModeResult::clientHeapPerConnection, true);
        t.row("retained heap per connection, server", cell(m, r -> bytes(r.serverHeapPerConnection())));
        stateRow(t, "  keepalive state (mode - bare), server", bare, base, lib,
                ModeResult::serverHeapPerConnection, true);
        t.row("heap growth since start per conn., client", cell(m, r -> bytes(r.clientHeapGrowthPerConnection())));
        stateRow(t, "  mode - bare", bare, base, lib, ModeResult::clientHeapGrowthPerConnection, false);
        t.row("CPU, clients (% of one core)", cell(m, r -> percent(r.clientCores())),
                ratio(base, lib, ModeResult::clientCores), "");
        t.row("  of which JIT compiler threads", cell(m, r -> percent(r.clientJitCores())));
        t.row("CPU, servers (% of one core)", cell(m, r -> percent(r.serverCores())),
                ratio(base, lib, ModeResult::serverCores), "");
        t.row("  of which JIT compiler threads", cell(m, r -> percent(r.serverJitCores())));
        t.row("pings in window: by clients / by servers", cell(m, r -> String.format(Locale.ROOT, "%,d / %,d",
                r.clientPings(), r.serverPings())));
        t.row("pings per connection per second", cell(m, r -> String.format(Locale.ROOT, "%.3f", r.pingRate())),
                ratio(base, lib, ModeResult::pingRate), "");
        double intervalSeconds = config.interval(size.connections()).toNanos() / 1e9;
        String pingsTarget = lib == null ? "" : String.format(Locale.ROOT, "<= %.2f: %s", TARGET_PINGS_PER_INTERVAL,
                verdict(lib.pingRate() * intervalSeconds <= TARGET_PINGS_PER_INTERVAL));
        t.row("  per connection per interval", cell(m, r -> String.format(Locale.ROOT, "%.3f",
                r.pingRate() * intervalSeconds)), "", pingsTarget);
        t.row("pongs in window", cell(m, r -> String.format(Locale.ROOT, "%,d", r.pongs())));
        String cpuTarget = base == null || lib == null ? "" : String.format(Locale.ROOT, "<= %.1f x baseline: %s",
                TARGET_CPU_RATIO, verdict(lib.clientCpuPerPing() <= TARGET_CPU_RATIO * base.clientCpuPerPing()));
        t.row("client CPU per ping (JIT excluded)", cell(m, r -> micros(r.clientCpuPerPing())),
                ratio(base, lib, ModeResult::clientCpuPerPing), cpuTarget);
        if (bare != null) {
            ToDoubleFunction<ModeResult> clientCpu = r -> r.clientCores() - r.clientJitCores();
            t.row("  above bare", cell(m, r -> micros(aboveBare(r, bare, clientCpu))),
                    ratio(base, lib, r -> aboveBare(r, bare, clientCpu)), "");
        }
        t.row("  with JIT", cell(m, r -> micros(r.perPing(r.clientCores()))),
                ratio(base, lib, r -> r.perPing(r.clientCores())), "");
        String totalTarget = base == null || lib == null ? "" : String.format(Locale.ROOT,
                "<= %.1f x baseline: %s", TARGET_CPU_RATIO,
                verdict(lib.totalCpuPerPing() <= TARGET_CPU_RATIO * base.totalCpuPerPing()));
        t.row("client + server CPU per ping (JIT excl.)", cell(m, r -> micros(r.totalCpuPerPing())),
                ratio(base, lib, ModeResult::totalCpuPerPing), totalTarget);
        if (bare != null) {
            ToDoubleFunction<ModeResult> allCpu = r -> r.clientCores() - r.clientJitCores() + r.serverCores()
                    - r.serverJitCores();
            t.row("  above bare", cell(m, r -> micros(aboveBare(r, bare, allCpu))),
                    ratio(base, lib, r -> aboveBare(r, bare, allCpu)), "");
        }
        String spreadTarget = lib == null || lib.pings() == 0 ? "" : String.format(Locale.ROOT, "<= %.0f: %s",
                TARGET_SPREAD_RATIO, verdict(lib.spread().ratio() <= TARGET_SPREAD_RATIO));
        t.row("largest 10 ms window / mean", cell(m, r -> r.pings() == 0 ? "-" : String.format(Locale.ROOT,
                "%,d / %.1f = %.2f", r.spread().max(), r.spread().mean(), r.spread().ratio())),
                ratio(base, lib, r -> r.spread().ratio()), spreadTarget);
        t.row("  sliding 10 ms span / mean", cell(m, r -> r.pings() == 0 ? "-" : String.format(Locale.ROOT,
                "%,d = %.2f", r.spread().maxSliding(), r.spread().maxSliding() / r.spread().mean())), "", "");
        t.row("  uniform random placement would give", cell(m, r -> r.pings() == 0 ? "-" : String.format(
                Locale.ROOT, "%,d = %.2f", r.spread().uniformMax(), r.spread().uniformMax() / r.spread().mean())),
                "", "");
        for (boolean clientsOnly : new boolean[] {true, false}) {
            t.row(clientsOnly ? "  the clients' pings alone: largest / mean, random"
                    : "  the servers' pings alone: largest / mean, random", cell(m, r -> {
                        Spread s = r.spread(clientsOnly);
                        return s.pings() == 0 ? "-" : String.format(Locale.ROOT, "%.2f, %.2f", s.ratio(),
                                s.uniformMax() / s.mean());
                    }), "", "");
        }
        t.row("most pings in one millisecond", cell(m, r -> r.pings() == 0 ? "-" : String.format(Locale.ROOT, "%,d",
                r.spread().maxPerMilli())));
        String lateTarget = lib == null ? "" : String.format(Locale.ROOT, "p99 <= %d ms: %s%s",
                TARGET_LATENESS_P99_NANOS / MILLI, verdict(Reports.quantile(lib.latenessNanos(), 0.99)
                        <= TARGET_LATENESS_P99_NANOS), size.connections() == TARGET_LATENESS_AT ? ""
                        : String.format(Locale.ROOT, " (target set at %,d)", TARGET_LATENESS_AT));
        t.row("10 ms timer lateness, client loops, p99", cell(m, r -> millisOf(Reports.quantile(r.latenessNanos(),
                0.99))), ratio(base, lib, r -> Reports.quantile(r.latenessNanos(), 0.99)), lateTarget);
        t.row("  p50 / max", cell(m, r -> millisOf(Reports.quantile(r.latenessNanos(), 0.5)) + " / "
                + millisOf(r.latenessNanos().length == 0 ? 0 : r.latenessNanos()[r.latenessNanos().length - 1])));
        t.row("GCs in window, all processes", cell(m, r -> Long.toString(r.gcs())));
        t.row("latest window start (after the planned)", cell(m, r -> millisOf(r.latestStartNanos())));
        out.printf(Locale.ROOT, "%nidle scale, N = %,d: ping interval %s, window %s after %s warm-up%n",
                size.connections(), millis(config.interval(size.connections())), millis(config.measure()),
                millis(config.warmup()));
        t.print(out);
        if (bare != null) {
            for (ModeResult r : new ModeResult[] {base, lib}) {
                if (r != null) {
                    out.println("  retained heap per connection above bare, by class: " + r.mode().label()
                            + " client: " + byClassAboveBare(r.clientHeapByClass(), bare.clientHeapByClass())
                            + "; server: " + byClassAboveBare(r.serverHeapByClass(), bare.serverHeapByClass()));
                }
            }
        }
        if (size.chart() != null) {
            out.println("  plot: " + size.chart().toAbsolutePath().normalize());
        }
        out.println();
    }

    /** The classes holding at least 8 bytes more per connection than in the bare mode, largest first. */
    private static String byClassAboveBare(Map<String, Double> mode, Map<String, Double> bare) {
        return mode.entrySet().stream()
                .map(e -> Map.entry(e.getKey(), e.getValue() - bare.getOrDefault(e.getKey(), 0.0)))
                .filter(e -> e.getValue() >= 8)
                .sorted(Map.Entry.<String, Double>comparingByValue().reversed())
                .map(e -> String.format(Locale.ROOT, "%s %.0f", simpleName(e.getKey()), e.getValue()))
                .collect(Collectors.joining(", "));
    }

    private static String simpleName(String className) {
        return className.startsWith("[") ? className : className.substring(className.lastIndexOf('.') + 1);
    }

    /** {@code jvmArgs} and those of {@value #CHILD_JVM_ARGS_PROPERTY}, {@code {child}} replaced by {@code child}. */
    static List<String> withExtraArgs(List<String> jvmArgs, String child) {
        String extra = System.getProperty(CHILD_JVM_ARGS_PROPERTY, "").trim();
        if (extra.isEmpty()) {
            return jvmArgs;
        }
        List<String> all = new ArrayList<>(jvmArgs);
        for (String arg : extra.split("\\s+")) {
            all.add(arg.replace("{child}", child));
        }
        return all;
    }

    /** A class name as the histogram prints it, with a lambda's per-process address taken off. */
    static String className(String histogramName) {
        int slash = histogramName.indexOf("$$Lambda$");
        return slash < 0 ? histogramName : histogramName.substring(0, slash) + "$$Lambda";
    }

    private static double aboveBare(ModeResult r, ModeResult bare, ToDoubleFunction<ModeResult> cores) {
        return r.perPing(cores.applyAsDouble(r) - cores.applyAsDouble(bare));
    }

    private static void stateRow(Table t, String name, ModeResult bare, ModeResult base, ModeResult lib,
                                 ToDoubleFunction<ModeResult> heap, boolean judge) {
        if (bare == null) {
            t.row(name, "-", "-", "-", "", judge ? "needs bare" : "");
            return;
        }
        double b = heap.applyAsDouble(bare);
        String baseCell = base == null ? "" : bytes(heap.applyAsDouble(base) - b);
        String libCell = lib == null ? "" : bytes(heap.applyAsDouble(lib) - b);
        String r = base == null || lib == null ? "" : String.format(Locale.ROOT, "%.2f",
                (heap.applyAsDouble(lib) - b) / (heap.applyAsDouble(base) - b));
        String target = lib == null || !judge ? "" : String.format(Locale.ROOT, "<= %.0f B: %s", TARGET_STATE_BYTES,
                verdict(heap.applyAsDouble(lib) - b <= TARGET_STATE_BYTES));
        t.row(name, "-", baseCell, libCell, r, target);
    }

    private static String[] cell(Map<Mode, ModeResult> m, Function<ModeResult, String> f) {
        String[] cells = new String[3];
        for (Mode mode : Mode.values()) {
            ModeResult r = m.get(mode);
            cells[mode.ordinal()] = r == null ? "" : f.apply(r);
        }
        return cells;
    }

    private static String ratio(ModeResult base, ModeResult lib, ToDoubleFunction<ModeResult> f) {
        if (base == null || lib == null) {
            return "";
        }
        double b = f.applyAsDouble(base);
        double l = f.applyAsDouble(lib);
        return b == 0 || Double.isNaN(b) || Double.isNaN(l) ? "" : String.format(Locale.ROOT, "%.2f", l / b);
    }

    private static String verdict(boolean met) {
        return met ? "met" : "MISSED";
    }

    private static String bytes(double b) {
        return String.format(Locale.ROOT, "%,.0f B", b);
    }

    private static String percent(double cores) {
        return String.format(Locale.ROOT, "%.1f %%", 100 * cores);
    }

    private static String micros(double nanos) {
        return Double.isNaN(nanos) ? "-" : String.format(Locale.ROOT, "%.1f µs", nanos / 1000);
    }

    private static String millisOf(long nanos) {
        return String.format(Locale.ROOT, "%.2f ms", nanos / 1e6);
    }

    private static String millis(Duration d) {
        return d.toNanos() % 1_000_000_000L == 0 ? d.toSeconds() + " s"
                : String.format(Locale.ROOT, "%,d ms", d.toMillis());
    }

    /** Rows of cells printed in aligned columns: the first left-aligned, the others right-aligned. */
    private static final class Table {
        private final List<String[]> rows = new ArrayList<>();

        Table(String... header) {
            rows.add(header);
        }

        void row(String name, String[] modes) {
            row(name, modes, "", "");
        }

        void row(String name, String[] modes, String ratio, String target) {
            row(name, modes[0], modes[1], modes[2], ratio, target);
        }

        void row(String... cells) {
            rows.add(cells);
        }

        void print(PrintStream out) {
            int[] widths = new int[rows.get(0).length];
            for (String[] r : rows) {
                for (int i = 0; i < r.length; i++) {
                    widths[i] = Math.max(widths[i], r[i].length());
                }
            }
            for (String[] r : rows) {
                StringBuilder sb = new StringBuilder("  ");
                for (int i = 0; i < r.length; i++) {
                    String fmt = i == 0 ? "%-" + widths[i] + "s" : i == r.length - 1 ? "  %-" + widths[i] + "s"
                            : "  %" + widths[i] + "s";
                    sb.append(String.format(Locale.ROOT, fmt, r[i]));
                }
                out.println(sb.toString().stripTrailing());
            }
        }
    }
}
