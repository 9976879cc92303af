package dev.keepalive.benchmarks;

import dev.keepalive.benchmarks.session.SessionSoakPair;
import dev.keepalive.benchmarks.session.SessionSoakPair.Order;
import dev.keepalive.testkit.Fault;
import dev.keepalive.testkit.FirewallProxy;
import dev.keepalive.testkit.Flow;
import dev.keepalive.testkit.FlowState;

import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Collections;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Random;
import java.util.TreeMap;

/**
 * The resumable-session soak: messages each way between a reconnecting session client and a session server while
 * the connection between them is killed at random by the testkit's faults (a reset, a black hole, the firewall
 * forgetting the flow) or the server process is killed, then the per-message cost on a healthy connection beside the same pipeline without the
 * session layer.
 *
 * <pre>
 * java -cp benchmarks/target/benchmarks.jar dev.keepalive.benchmarks.SessionSoakBenchmark \
 *     [messages] [--kill-every-ms MIN MAX] [--max-seconds S] [--healthy N] [--seed S]
 * </pre>
 *
 * Every client message {@code n} (an 8-byte number and padding, 64 bytes) is answered by the server with {@code n};
 * each end checks what it receives: lost (never arrived), duplicated and out-of-order counts, which must all be 0.
 * The server runs in its own process on a {@code FileSessionJournal}; the fourth fault kills it with
 * {@code SIGKILL} and starts it again on the same journal and port. Its application appends each number it handles
 * to a file: a message handled by a process killed before it recorded the delivery is handled again by the next
 * (its answer was recorded with it, so never sent): at most one per kill, counted as "handled again". The client's
 * check of the answers counts every loss or duplicate on the session. The sender keeps at most
 * {@value SessionSoakPair#WINDOW} messages unanswered. Resume time is measured from the
 * client's {@code DISCONNECTED} event to the session's resume on the next connection (backoff + connect + one round
 * trip); peak buffer memory is the most payload bytes either end's session held unacknowledged, against the
 * configured budget. The run is bounded by {@code --max-seconds}.
 */
public final class SessionSoakBenchmark {
    private SessionSoakBenchmark() {
    }

    /** What to run. */
    public record Config(int messages, Duration killMin, Duration killMax, Duration maxDuration, int healthy,
                         long seed) {
        static Config parse(String[] args) {
            int i = 0;
            int messages = args.length > 0 && !args[0].startsWith("--") ? Integer.parseInt(args[i++]) : 100_000;
            Config c = new Config(messages, Duration.ofSeconds(1), Duration.ofSeconds(3), Duration.ofMinutes(10),
                    200_000, 1);
            for (; i < args.length; i++) {
                switch (args[i]) {
                    case "--kill-every-ms":
                        c = new Config(c.messages, Duration.ofMillis(Long.parseLong(args[++i])),
                                Duration.ofMillis(Long.parseLong(args[++i])), c.maxDuration, c.healthy, c.seed);
                        break;
                    case "--max-seconds":
                        c = new Config(c.messages, c.killMin, c.killMax, Duration.ofSeconds(Long.parseLong(args[++i])),
                                c.healthy, c.seed);
                        break;
                    case "--healthy":
                        c = new Config(c.messages, c.killMin, c.killMax, c.maxDuration, Integer.parseInt(args[++i]),
                                c.seed);
                        break;
                    case "--seed":
                        c = new Config(c.messages, c.killMin, c.killMax, c.maxDuration, c.healthy,
                                Long.parseLong(args[++i]));
                        break;
                    default:
                        throw new IllegalArgumentException("unknown option " + args[i]);
                }
            }
            return c;
        }
    }

    /** What a soak measured. */
    public record Result(int messages, boolean completed, Duration took, Order atServer, Order atClient,
                         Map<String, Integer> faults, int resumes, List<Long> resumeNanos,
                         List<Long> afterRestartNanos, List<Long> restartNanos, long peakClientBytes,
                         long peakServerBytes, long budgetBytes, long sendFailures, double sessionNanosPerMessage,
                         double plainNanosPerMessage) {
        /** Resume time after a network fault at quantile {@code q} (0..1), in ms. */
        public double resumeMillis(double q) {
            return quantileMillis(resumeNanos, q);
        }

        /** Of {@code nanos}, the quantile {@code q} (0..1), in ms; NaN when empty. */
        public static double quantileMillis(List<Long> nanos, double q) {
            if (nanos.isEmpty()) {
                return Double.NaN;
            }
            List<Long> sorted = new ArrayList<>(nanos);
            Collections.sort(sorted);
            int at = (int) Math.min(sorted.size() - 1, Math.ceil(q * sorted.size()) - 1);
            return sorted.get(Math.max(0, at)) / 1e6;
        }
    }

    public static void main(String[] args) throws Exception {
        Config config = Config.parse(args);
        System.out.printf(Locale.ROOT, "session soak: %,d messages each way, a fault every %d..%d ms, at most %d s; "
                        + "then %,d messages on a healthy connection, with and without the session layer; %d cores, "
                        + "%s%n", config.messages, config.killMin.toMillis(), config.killMax.toMillis(),
                config.maxDuration.toSeconds(), config.healthy, Runtime.getRuntime().availableProcessors(),
                System.getProperty("java.vm.version"));
        print(run(config));
    }

    /** Runs the soak, then the healthy comparison (skipped when {@code healthy} is 0). */
    public static Result run(Config config) throws Exception {
        Map<String, Integer> faults = new TreeMap<>();
        Random random = new Random(config.seed);
        List<Fault> kinds = List.of(Fault.reset(), Fault.blackHole(), Fault.forget());
        SessionSoakPair.Run soak;
        Path dir = Files.createTempDirectory("session-soak");
        Path journal = dir.resolve("sessions.journal");
        try (SessionSoakPair pair = SessionSoakPair.startWithServerProcess(journal)) {
            long deadline = System.nanoTime() + config.maxDuration.toNanos();
            Thread sender = pair.sendInBackground(config.messages, deadline);
            FirewallProxy proxy = pair.proxy();
            long nextKill = System.nanoTime() + between(random, config.killMin, config.killMax);
            // Bounded by the deadline: faults until every answer arrived.
            while (!pair.done(config.messages) && System.nanoTime() - deadline < 0) {
                if (System.nanoTime() - nextKill >= 0) {
                    List<Flow> flows = proxy.flows();
                    Flow flow = flows.isEmpty() ? null : flows.get(flows.size() - 1);
                    if (random.nextInt(kinds.size() + 1) == kinds.size()) {
                        // The fourth fault: the server process is SIGKILLed and started again on its journal.
                        pair.restartServer();
                        faults.merge("SIGKILL_SERVER", 1, Integer::sum);
                    } else if (flow != null && flow.state() == FlowState.OPEN) {
                        Fault fault = kinds.get(random.nextInt(kinds.size()));
                        flow.inject(fault);
                        faults.merge(fault.kind().name(), 1, Integer::sum);
                    }
                    nextKill = System.nanoTime() + between(random, config.killMin, config.killMax);
                }
                Thread.sleep(10); // pacing the fault injector, not a synchronisation
            }
            sender.join(Math.max(1, (deadline - System.nanoTime()) / 1_000_000 + 1000));
            soak = pair.finish(config.messages);
        } finally {
            for (String name : new String[] {"sessions.journal", "sessions.journal.handled",
                    "sessions.journal.compacting"}) {
                Files.deleteIfExists(dir.resolve(name));
            }
            Files.deleteIfExists(dir);
        }
        double session = Double.NaN;
        double plain = Double.NaN;
        if (config.healthy > 0) {
            // Twice each, alternating, the better of two: the first runs warm the JIT up.
            for (int round = 0; round < 2; round++) {
                plain = min(plain, healthy(false, config.healthy));
                session = min(session, healthy(true, config.healthy));
            }
        }
        return new Result(config.messages, soak.completed(), soak.took(), soak.atServer(), soak.atClient(), faults,
                soak.resumes(), soak.resumeNanos(), soak.afterRestartNanos(), soak.restartNanos(),
                soak.peakClientBytes(), soak.peakServerBytes(),
                SessionSoakPair.BUDGET_BYTES, soak.sendFailures(), session, plain);
    }

    private static double min(double a, double b) {
        return Double.isNaN(a) ? b : Math.min(a, b);
    }

    /** Nanoseconds per message (one each way) on a healthy loopback connection. */
    private static double healthy(boolean withSession, int messages) throws Exception {
        try (SessionSoakPair pair = SessionSoakPair.start(withSession, false)) {
            long deadline = System.nanoTime() + Duration.ofMinutes(5).toNanos();
            long start = System.nanoTime();
            Thread sender = pair.sendInBackground(messages, deadline);
            pair.awaitDone(messages, deadline);
            long took = System.nanoTime() - start;
            sender.join(10_000);
            return (double) took / messages;
        }
    }

    private static long between(Random random, Duration min, Duration max) {
        long span = max.toNanos() - min.toNanos();
        return min.toNanos() + (span <= 0 ? 0 : (long) (random.nextDouble() * span));
    }

    /** Prints the figures. */
    public static void print(Result r) {
        System.out.printf(Locale.ROOT, "soak: %s in %.1f s; faults %s; %d resumes%n",
                r.completed ? "completed" : "INCOMPLETE", r.took.toMillis() / 1e3, r.faults, r.resumes);
        System.out.printf(Locale.ROOT, "  server processes handled %,d: lost %d, handled again %d (at most one "
                        + "per SIGKILL), out of order %d%n",
                r.atServer.received(), r.atServer.lost(r.messages), r.atServer.duplicated(), r.atServer.outOfOrder());
        System.out.printf(Locale.ROOT, "  client received %,d: lost %d, duplicated %d, out of order %d%n",
                r.atClient.received(), r.atClient.lost(r.messages), r.atClient.duplicated(), r.atClient.outOfOrder());
        System.out.printf(Locale.ROOT, "  sends failed: %d%n", r.sendFailures);
        System.out.printf(Locale.ROOT, "  resume after a network fault (disconnected -> resumed): p50 %.1f ms, p99 "
                + "%.1f ms, max %.1f ms (%d)%n", r.resumeMillis(0.5), r.resumeMillis(0.99), r.resumeMillis(1.0),
                r.resumeNanos.size());
        System.out.printf(Locale.ROOT, "  server restarts (SIGKILL -> the new process listening): p50 %.1f ms, max "
                        + "%.1f ms; resume after one (listening -> resumed): p50 %.1f ms, max %.1f ms (%d)%n",
                Result.quantileMillis(r.restartNanos, 0.5), Result.quantileMillis(r.restartNanos, 1.0),
                Result.quantileMillis(r.afterRestartNanos, 0.5), Result.quantileMillis(r.afterRestartNanos, 1.0),
                r.afterRestartNanos.size());
        System.out.printf(Locale.ROOT, "  peak unacknowledged payload: client %,d B, server %s (budget %,d B "
                + "each)%n", r.peakClientBytes, r.peakServerBytes == 0 ? "not measured (its own process)"
                : String.format(Locale.ROOT, "%,d B", r.peakServerBytes), r.budgetBytes);
        if (!Double.isNaN(r.sessionNanosPerMessage)) {
            System.out.printf(Locale.ROOT, "healthy connection, one message each way: session %.0f ns, plain %.0f "
                    + "ns (x%.2f)%n", r.sessionNanosPerMessage, r.plainNanosPerMessage,
                    r.sessionNanosPerMessage / r.plainNanosPerMessage);
        }
    }
}
