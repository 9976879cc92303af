package dev.keepalive.testkit.matrix;

import static org.awaitility.Awaitility.await;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.keepalive.DeadPeerReason;
import dev.keepalive.KeepaliveSettings;
import dev.keepalive.PeerDeadException;
import dev.keepalive.testkit.KernelFirewallLab;
import dev.keepalive.testkit.PeerProcess;
import java.net.InetSocketAddress;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.function.BooleanSupplier;
import org.awaitility.core.ConditionTimeoutException;
import org.awaitility.core.TerminalFailureException;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Timing rules and reporting of the fault matrix.
 *
 * <p>Every detection is timed from just before the fault was injected (so the time of the command that injects it
 * counts against the library) to the moment the listener heard of the death, and compared with the configured
 * bound plus {@link #TOLERANCE}. The library's bounds run from the last inbound byte, which is never after the
 * fault, so a bound measured from the fault is the stricter check. Each result is logged as one
 * {@code FAULT-MATRIX} line (in the test's {@code -output.txt} report) to be read across runs.
 */
final class Matrix {
    private static final Logger LOG = LoggerFactory.getLogger(Matrix.class);

    /**
     * Lateness allowed on top of a configured bound: timers of the JVM and of the kernel (a jiffy, the
     * retransmission timer's granularity) on a loaded two-core machine that also runs the peer's JVM and Maven.
     */
    static final Duration TOLERANCE = Duration.ofMillis(500);
    /**
     * How much earlier than its bound a kernel timeout may be seen: the kernel counts from when the segment left,
     * our clock from when the write returned, and kernel time has jiffy granularity.
     */
    static final Duration EARLY_SLACK = Duration.ofMillis(100);
    /** How long past the longest bound of a scenario (plus tolerance) a control must still be open. */
    static final Duration CONTROL_MARGIN = Duration.ofSeconds(1);
    /**
     * The library configured from one detection budget of 3 s: pings after 1.32–1.65 s of silence (jitter 0.2),
     * dead after two unanswered 0.6 s pings (bound 2.85 s); TCP keepalive 1 s / 1 s x 2; TCP_USER_TIMEOUT 3 s.
     */
    static final KeepaliveSettings APP = KeepaliveSettings.builder().detectWithin(Duration.ofSeconds(3)).build();
    /**
     * Only the kernel watches (use with the passive probe): TCP keepalive after 1 s idle, one probe 1 s later, and
     * a 2 s TCP_USER_TIMEOUT; the application's read-idle check is far away.
     */
    static final KeepaliveSettings KERNEL_ONLY = KeepaliveSettings.builder()
            .readIdleTimeout(Duration.ofMinutes(10))
            .tcpKeepIdle(Duration.ofSeconds(1)).tcpKeepInterval(Duration.ofSeconds(1)).tcpKeepCount(1)
            .tcpUserTimeout(Duration.ofSeconds(2))
            .build();
    /**
     * Linux starts the TCP_USER_TIMEOUT clock at its first retransmission by the retransmission timer, not at the
     * write: on a lab's sub-millisecond path that comes about 0.4 s after the write (a tail-loss probe after
     * ~200 ms, then the first RTO, at least TCP_RTO_MIN = 200 ms; measured with {@code ss -tnoi}: 0.42 s). So data
     * in flight is given up {@code tcpUserTimeout} plus this after it was written.
     */
    static final Duration FIRST_RETRANSMISSION = Duration.ofMillis(500);
    /** A JVM start inside a lab on a busy two-core machine. */
    static final Duration JVM_START = Duration.ofSeconds(30);
    /** An ordinary wait for something on loopback or the lab's veth. */
    static final Duration WAIT = Duration.ofSeconds(10);

    private Matrix() {
    }

    /**
     * Asserts that {@code conn}'s handler declared its peer dead for {@code reason}, no later than {@code bound}
     * plus {@link #TOLERANCE} after {@code since}; logs the measurement.
     *
     * @return the measured detection time
     */
    static Duration assertDetected(String scenario, Conn conn, DeadPeerReason reason, long since, Duration bound) {
        return assertDetected(scenario, conn, reason, since, bound, TOLERANCE);
    }

    /** As {@link #assertDetected(String, Conn, DeadPeerReason, long, Duration)}, with a tolerance of its own. */
    static Duration assertDetected(String scenario, Conn conn, DeadPeerReason reason, long since, Duration bound,
                                   Duration tolerance) {
        PeerDeadException e = conn.deadCause();
        assertNotNull(e, conn + ": not declared dead");
        Duration took = Duration.ofNanos(conn.deadAt() - since);
        LOG.info("FAULT-MATRIX | {} | {} | {} after {} ms | bound {} ms (+{} ms) | last inbound {} ms before, "
                        + "missed pings {}",
                scenario, conn.name, e.reason(), took.toMillis(), bound.toMillis(), tolerance.toMillis(),
                e.sinceLastInbound().toMillis(), e.missedPings());
        assertEquals(reason, e.reason(), conn + ": " + e.getMessage());
        assertTrue(took.compareTo(bound.plus(tolerance)) <= 0,
                () -> conn.name + ": detected after " + ms(took) + ", bound " + ms(bound) + " + " + ms(tolerance)
                        + "; " + e.getMessage() + "; " + (conn.keepalive() == null ? "" : conn.keepalive().stats()));
        // The handler closes the channel right after telling the listener.
        await().atMost(WAIT).until(() -> conn.closedAt() != 0);
        return took;
    }

    /** Asserts that a control was still open at {@code until}, {@code bound} after {@code since}; logs it. */
    static void assertStillOpen(String scenario, Conn control, long since, long until, Duration bound) {
        Duration open = Duration.ofNanos(until - since);
        LOG.info("FAULT-MATRIX | {} | {} | still open after {} ms | bound {} ms", scenario, control.name,
                open.toMillis(), bound.toMillis());
        assertTrue(control.openAt(until), control + ": closed after "
                + ms(Duration.ofNanos(control.closedAt() - since)) + ", errors " + control.errors());
        assertTrue(open.compareTo(bound.plus(TOLERANCE)) > 0,
                "watched for " + ms(open) + ", not past the bound " + ms(bound) + " + " + ms(TOLERANCE));
        assertTrue(control.deadCause() == null && control.errors().isEmpty(), control + ": " + control.errors());
    }

    /** Logs a free-form observation of a scenario. */
    static void note(String scenario, String what, Object... args) {
        LOG.info("FAULT-MATRIX | " + scenario + " | " + what, args);
    }

    /**
     * Watches {@code condition} until {@code until} (a nanoTime) and returns the time it was last seen true: the
     * watch ends early when it turns false. Used to show that controls stay open past a bound.
     */
    static long watchUntil(long until, BooleanSupplier condition) {
        long left = until - System.nanoTime();
        if (left > 0) {
            try {
                await().during(Duration.ofNanos(left)).atMost(Duration.ofNanos(left).plus(WAIT))
                        .failFast(() -> !condition.getAsBoolean())
                        .until(condition::getAsBoolean);
            } catch (ConditionTimeoutException | TerminalFailureException e) {
                return System.nanoTime();
            }
        }
        return System.nanoTime();
    }

    /** Waits (bounded) until every connection in {@code conns} was declared dead; returns quietly on timeout. */
    static void awaitDeaths(List<Conn> conns, Duration atMost) {
        try {
            await().atMost(atMost).until(() -> conns.stream().allMatch(Conn::isDead));
        } catch (ConditionTimeoutException e) {
            LOG.warn("not all declared dead within {}: {}", atMost, conns);
        }
    }

    /** A {@link MatrixPeer} running in a lab, and the address of its server. */
    record Peer(PeerProcess process, InetSocketAddress server) {
        /** Whether the peer logged that it received {@code frame} from {@code client}. */
        boolean received(Conn client, String frame) {
            String line = "RECEIVED " + client.channel().localAddress() + " " + frame;
            return process.lines().stream().anyMatch(line::equals);
        }
    }

    /** Starts a {@link MatrixPeer} in {@code lab} with the given client arguments and waits until it is ready. */
    static Peer startPeer(KernelFirewallLab lab, String... clients) {
        List<String> args = new ArrayList<>();
        args.add(lab.peerAddress().getHostAddress());
        args.addAll(List.of(clients));
        PeerProcess p = lab.startJava(MatrixPeer.class, args.toArray(new String[0]));
        int port = Integer.parseInt(p.awaitLine("LISTENING \\S+ (\\d+)", JVM_START).group(1));
        await().atMost(WAIT).until(
                () -> p.lines().stream().filter(l -> l.startsWith("CONNECTED ")).count() == clients.length / 3);
        return new Peer(p, lab.peerSocketAddress(port));
    }

    /** Asserts that {@code conn} gets its frame echoed: the path works before the fault. */
    static void assertEcho(Conn conn) throws InterruptedException {
        String text = "hello " + conn.name.replace(' ', '-');
        conn.send(text);
        assertEquals(text, conn.pollFrame(WAIT), conn.toString());
    }

    static String ms(Duration d) {
        return String.format(Locale.ROOT, "%d ms", d.toMillis());
    }

    /** The longest of {@code bounds}. */
    static Duration longest(Duration... bounds) {
        Duration max = Duration.ZERO;
        for (Duration b : bounds) {
            if (b.compareTo(max) > 0) {
                max = b;
            }
        }
        return max;
    }
}
