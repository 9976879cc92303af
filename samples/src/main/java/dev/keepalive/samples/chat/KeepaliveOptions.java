package dev.keepalive.samples.chat;

import dev.keepalive.KeepaliveSettings;
import dev.keepalive.reconnect.Backoff;
import dev.keepalive.reconnect.ReconnectPolicy;
import picocli.CommandLine.Option;
import picocli.CommandLine.ParameterException;
import picocli.CommandLine.Spec;
import picocli.CommandLine.Model.CommandSpec;

import java.time.Duration;
import java.util.ArrayList;
import java.util.List;

/**
 * The keepalive and reconnect flags that {@code server} and {@code client} share. Unset flags keep the library's
 * defaults, which suit a real network: a ping after 30 s of silence, dead after 2 unanswered pings of 10 s (50 s),
 * TCP keepalive and TCP_USER_TIMEOUT fitted to the same bound, reconnects with full-jitter backoff from 100 ms to
 * 30 s, 5 s per connect attempt.
 */
final class KeepaliveOptions {
    /** What {@code --no-keepalive} makes the ping interval: longer than anyone watches. */
    static final Duration NO_PINGS = Duration.ofDays(365);

    @Spec(Spec.Target.MIXEE)
    CommandSpec spec;

    @Option(names = "--ping-interval", paramLabel = "DURATION",
            description = "Ping the peer after this much inbound silence (default 30s).")
    Duration pingInterval;

    @Option(names = "--ping-timeout", paramLabel = "DURATION",
            description = "How long a ping may go unanswered; two missed pings make the peer dead (default 10s).")
    Duration pingTimeout;

    @Option(names = "--ping-jitter", paramLabel = "FRACTION",
            description = "Shorten each wait before a ping by a random fraction of the interval up to this, 0..0.5, "
                    + "so that many connections do not ping together; a connection's first wait is then spread over "
                    + "the whole interval. 0: every ping exactly --ping-interval after the silence began (default "
                    + "0.2).")
    Double pingJitter;

    @Option(names = "--tcp-keepalive", paramLabel = "IDLE,INTERVAL,COUNT",
            description = "Kernel TCP keepalive: idle time before the first probe, time between probes (whole "
                    + "seconds), probes before the kernel gives up, e.g. 30s,5s,4 (default: derived from the ping "
                    + "settings).")
    TcpKeepalive tcpKeepalive;

    @Option(names = "--tcp-user-timeout", paramLabel = "DURATION",
            description = "How long sent data may stay unacknowledged before the kernel drops the connection; 0 "
                    + "leaves the kernel default (default: the detection bound). Java's NIO transport used here "
                    + "cannot set it; a warning says so.")
    Duration tcpUserTimeout;

    @Option(names = "--connect-timeout", paramLabel = "DURATION",
            description = "Client: bound on each connect attempt and its JOIN. Server: how long a new connection "
                    + "may take to JOIN (default 5s).")
    Duration connectTimeout;

    @Option(names = "--reconnect-initial", paramLabel = "DURATION",
            description = "Client: the first reconnect delay; each later one doubles, with full jitter (default "
                    + "100ms). The server accepts and ignores it.")
    Duration reconnectInitial;

    @Option(names = "--reconnect-max", paramLabel = "DURATION",
            description = "Client: the longest reconnect delay (default 30s). The server accepts and ignores it.")
    Duration reconnectMax;

    @Option(names = "--no-keepalive",
            description = "Turn off application pings and TCP keepalive (and leave TCP_USER_TIMEOUT to the "
                    + "kernel), to see what happens without them. Peer pings are still answered.")
    boolean noKeepalive;

    /** Kernel keepalive values of {@code --tcp-keepalive}. */
    record TcpKeepalive(Duration idle, Duration interval, int count) {
        /** Parses {@code IDLE,INTERVAL,COUNT}; IDLE and INTERVAL are durations or plain seconds. */
        static TcpKeepalive parse(String text) {
            String[] parts = text.split(",", -1);
            if (parts.length != 3) {
                throw new IllegalArgumentException("'" + text + "' is not IDLE,INTERVAL,COUNT (e.g. 30s,5s,4)");
            }
            Duration idle = seconds("IDLE", parts[0].trim());
            Duration interval = seconds("INTERVAL", parts[1].trim());
            int count;
            try {
                count = Integer.parseInt(parts[2].trim());
            } catch (NumberFormatException e) {
                throw new IllegalArgumentException("COUNT must be a number in 1.." + KeepaliveSettings.MAX_TCP_KEEP_COUNT
                        + ", but was '" + parts[2].trim() + "'");
            }
            if (count < 1 || count > KeepaliveSettings.MAX_TCP_KEEP_COUNT) {
                throw new IllegalArgumentException("COUNT must be in 1.." + KeepaliveSettings.MAX_TCP_KEEP_COUNT
                        + ", but was " + count);
            }
            return new TcpKeepalive(idle, interval, count);
        }

        private static Duration seconds(String what, String s) {
            Duration d = s.matches("\\d{1,6}") ? Duration.ofSeconds(Long.parseLong(s)) : Durations.parse(s);
            if (d.getNano() != 0 || d.getSeconds() < 1 || d.getSeconds() > KeepaliveSettings.MAX_TCP_KEEP_SECONDS) {
                throw new IllegalArgumentException(what + " must be whole seconds in 1.."
                        + KeepaliveSettings.MAX_TCP_KEEP_SECONDS + ", but was '" + s + "'");
            }
            return d;
        }
    }

    /**
     * The keepalive settings these flags ask for.
     *
     * @throws ParameterException naming the flag when a value is out of range or flags conflict
     */
    KeepaliveSettings settings() {
        positive("--ping-interval", pingInterval);
        positive("--ping-timeout", pingTimeout);
        if (pingJitter != null && !(pingJitter >= 0 && pingJitter <= 0.5)) {
            throw error("--ping-jitter must be a fraction in 0..0.5, but was " + pingJitter);
        }
        if (tcpUserTimeout != null && tcpUserTimeout.toNanos() % 1_000_000 != 0) {
            throw error("--tcp-user-timeout must be whole milliseconds, but was " + tcpUserTimeout.toNanos()
                    + " ns");
        }
        if (tcpUserTimeout != null && tcpUserTimeout.toMillis() > KeepaliveSettings.MAX_TCP_USER_TIMEOUT_MILLIS) {
            throw error("--tcp-user-timeout must be at most " + KeepaliveSettings.MAX_TCP_USER_TIMEOUT_MILLIS
                    + "ms, but was " + Durations.format(tcpUserTimeout));
        }
        KeepaliveSettings.Builder b = KeepaliveSettings.builder();
        if (noKeepalive) {
            List<String> conflicting = new ArrayList<>();
            if (pingInterval != null) {
                conflicting.add("--ping-interval");
            }
            if (pingTimeout != null) {
                conflicting.add("--ping-timeout");
            }
            if (pingJitter != null) {
                conflicting.add("--ping-jitter");
            }
            if (tcpKeepalive != null) {
                conflicting.add("--tcp-keepalive");
            }
            if (tcpUserTimeout != null) {
                conflicting.add("--tcp-user-timeout");
            }
            if (!conflicting.isEmpty()) {
                throw error("--no-keepalive cannot be combined with " + String.join(", ", conflicting));
            }
            return b.pingInterval(NO_PINGS).tcpKeepAlive(false).tcpUserTimeout(Duration.ZERO).build();
        }
        if (pingInterval != null) {
            b.pingInterval(pingInterval);
        }
        if (pingTimeout != null) {
            b.pingTimeout(pingTimeout);
        }
        if (pingJitter != null) {
            b.pingJitter(pingJitter);
        }
        if (tcpKeepalive != null) {
            b.tcpKeepIdle(tcpKeepalive.idle()).tcpKeepInterval(tcpKeepalive.interval())
                    .tcpKeepCount(tcpKeepalive.count());
        }
        if (tcpUserTimeout != null) {
            b.tcpUserTimeout(tcpUserTimeout);
        }
        try {
            return b.build();
        } catch (IllegalArgumentException e) {
            throw error("the keepalive flags do not fit together: " + e.getMessage());
        }
    }

    /** The reconnect policy these flags ask for. */
    ReconnectPolicy policy() {
        positive("--reconnect-initial", reconnectInitial);
        positive("--reconnect-max", reconnectMax);
        Duration initial = reconnectInitial != null ? reconnectInitial : Duration.ofMillis(100);
        Duration max = reconnectMax != null ? reconnectMax : Duration.ofSeconds(30);
        if (initial.toMillis() < 1) {
            throw error("--reconnect-initial must be at least 1ms, but was " + Durations.format(initial));
        }
        if (max.compareTo(initial) < 0) {
            throw error("--reconnect-max must be >= --reconnect-initial (" + Durations.format(initial)
                    + "), but was " + Durations.format(max));
        }
        return ReconnectPolicy.builder().backoff(Backoff.exponentialFullJitter(initial, max))
                .connectTimeout(connectTimeout()).build();
    }

    /** {@code --connect-timeout}, or 5 s. */
    Duration connectTimeout() {
        positive("--connect-timeout", connectTimeout);
        Duration d = connectTimeout != null ? connectTimeout : ReconnectPolicy.DEFAULT_CONNECT_TIMEOUT;
        if (d.toMillis() < 1 || d.compareTo(Duration.ofMinutes(10)) > 0) {
            throw error("--connect-timeout must be in 1ms..10m, but was " + Durations.format(d));
        }
        return d;
    }

    /** The settings in one line for people. */
    static String summary(KeepaliveSettings s) {
        if (s.pingInterval().compareTo(NO_PINGS) >= 0 && !s.tcpKeepAlive()) {
            return "off: no pings, no TCP keepalive (--no-keepalive)";
        }
        return "ping after " + Durations.format(s.pingInterval()) + " of silence, dead after "
                + s.pingsMissedBeforeDead() + " x " + Durations.format(s.pingTimeout()) + " unanswered (within "
                + Durations.format(s.idleDetectionBound()) + "); TCP keepalive "
                + (s.tcpKeepAlive() ? Durations.format(s.tcpKeepIdle()) + "," + Durations.format(s.tcpKeepInterval())
                + "," + s.tcpKeepCount() : "off") + "; TCP_USER_TIMEOUT "
                + (s.tcpUserTimeout().isZero() ? "kernel default" : ChatTransport.setsUserTimeout()
                ? Durations.format(s.tcpUserTimeout()) : "not settable on NIO (the pings bound detection)")
                + "; transport " + ChatTransport.name();
    }

    /** The flags as they would be written on a command line (only those set). */
    List<String> describe() {
        List<String> out = new ArrayList<>();
        if (noKeepalive) {
            out.add("--no-keepalive");
        }
        add(out, "--ping-interval", pingInterval);
        add(out, "--ping-timeout", pingTimeout);
        if (pingJitter != null) {
            out.add("--ping-jitter " + (pingJitter == Math.rint(pingJitter) ? String.valueOf(pingJitter.longValue())
                    : String.valueOf(pingJitter)));
        }
        if (tcpKeepalive != null) {
            out.add("--tcp-keepalive " + Durations.format(tcpKeepalive.idle()) + ','
                    + Durations.format(tcpKeepalive.interval()) + ',' + tcpKeepalive.count());
        }
        add(out, "--tcp-user-timeout", tcpUserTimeout);
        add(out, "--connect-timeout", connectTimeout);
        add(out, "--reconnect-initial", reconnectInitial);
        add(out, "--reconnect-max", reconnectMax);
        return out;
    }

    private static void add(List<String> out, String flag, Duration d) {
        if (d != null) {
            out.add(flag + ' ' + Durations.format(d));
        }
    }

    private void positive(String flag, Duration d) {
        if (d != null && (d.isZero() || d.isNegative())) {
            throw error(flag + " must be > 0, but was " + Durations.format(d));
        }
    }

    private ParameterException error(String message) {
        return new ParameterException(spec.commandLine(), message);
    }
}
