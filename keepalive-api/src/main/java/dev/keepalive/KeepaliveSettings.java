package dev.keepalive;

import java.time.Duration;
import java.util.Objects;
import java.util.Optional;

/**
 * Immutable, validated keepalive settings for one connection: application pings and the kernel's TCP keepalive,
 * configured together.
 *
 * <p>Build with {@link #builder()}. Every value is checked in {@link Builder#build()}; a bad value fails with an
 * {@link IllegalArgumentException} whose message names the parameter, the rule and the value, for example
 * {@code "pingTimeout must be > 0, but was PT0S"}.
 *
 * <h2>Two ways to configure</h2>
 * <ul>
 *   <li><b>By a detection budget</b>: {@link Builder#detectWithin(Duration) detectWithin(30s)} derives the ping
 *       interval and timeout, TCP keepalive and TCP_USER_TIMEOUT so that a dead peer is declared dead within 30 s
 *       whether the connection is idle (application pings, TCP keepalive) or has unacknowledged data in flight
 *       (TCP_USER_TIMEOUT, application pings). Values set explicitly are kept and must fit the budget.</li>
 *   <li><b>By a middlebox's idle timeout</b>: {@link Builder#middleboxIdleTimeout(Duration)
 *       middleboxIdleTimeout(350s)} (AWS NLB) keeps the ping interval and TCP_KEEPIDLE at most half of it, so that a
 *       probe always crosses the middlebox well before it forgets the flow.</li>
 * </ul>
 *
 * <h2>Settings</h2>
 * <table>
 *   <caption>Keepalive settings</caption>
 *   <tr><th>setting</th><th>default</th><th>rule</th><th>meaning</th></tr>
 *   <tr><td>pingInterval</td><td>30 s</td><td>&gt; 0</td><td>inbound idle time after which a ping is sent</td></tr>
 *   <tr><td>pingTimeout</td><td>10 s</td><td>&gt; 0</td><td>how long a ping may go unanswered (the upper bound
 *       when adaptive)</td></tr>
 *   <tr><td>pingTimeoutMin</td><td>none</td><td>&gt; 0, &le; pingTimeout</td><td>makes the timeout adapt to the
 *       measured RTT, between this and pingTimeout</td></tr>
 *   <tr><td>pingsMissedBeforeDead</td><td>2</td><td>1..100</td><td>consecutive unanswered pings that make a peer
 *       dead</td></tr>
 *   <tr><td>pingJitter</td><td>0.2</td><td>0..0.5</td><td>each idle wait after other traffic is shortened by a
 *       random fraction up to this, so that many connections do not ping together; on a connection where only
 *       pings and pongs pass, the pings are planned a steady {@code pingInterval x (1 - pingJitter / 8)} apart;
 *       a connection's first ping, with the handler, falls in its own slot of that period, the slots spread
 *       evenly</td></tr>
 *   <tr><td>readIdleTimeout</td><td>none</td><td>&gt; 0</td><td>dead when nothing at all arrives for this
 *       long</td></tr>
 *   <tr><td>writeStallTimeout</td><td>none</td><td>&gt; 0</td><td>dead when outbound bytes stay pending without
 *       draining for this long</td></tr>
 *   <tr><td>firstResponseTimeout</td><td>twice readIdleTimeout if set, else twice the idle detection
 *       bound</td><td>&gt; 0</td><td>a new connection from which no byte at all has arrived is declared dead
 *       ({@link DeadPeerReason#FIRST_RESPONSE_TIMEOUT}) after this long, and by nothing else before its first
 *       byte</td></tr>
 *   <tr><td>localStallThreshold</td><td>pingTimeout / 2</td><td>&gt; 0</td><td>a timer this late means the local
 *       process stalled: re-probe instead of declaring the peer dead</td></tr>
 *   <tr><td>minPeerPingInterval</td><td>100 ms</td><td>&ge; 0 (0 = off)</td><td>the peer may not ping more often than
 *       this ...</td></tr>
 *   <tr><td>peerPingStrikes</td><td>2</td><td>0..1000</td><td>... more than this many times in a row, or it is
 *       closed with {@link DeadPeerReason#PEER_PINGED_TOO_OFTEN} (the peer sees
 *       {@link DeadPeerReason#TOO_MANY_PINGS})</td></tr>
 *   <tr><td>tcpKeepAlive</td><td>true</td><td></td><td>SO_KEEPALIVE</td></tr>
 *   <tr><td>tcpKeepIdle</td><td>derived: pingInterval in whole seconds</td><td>1..32767 s, whole
 *       seconds</td><td>TCP_KEEPIDLE</td></tr>
 *   <tr><td>tcpKeepInterval</td><td>derived</td><td>1..32767 s, whole seconds</td><td>TCP_KEEPINTVL</td></tr>
 *   <tr><td>tcpKeepCount</td><td>derived</td><td>1..127</td><td>TCP_KEEPCNT</td></tr>
 *   <tr><td>tcpUserTimeout</td><td>derived: the detection bound</td><td>0 (off) ..
 *       {@value #MAX_TCP_USER_TIMEOUT_MILLIS} ms</td><td>TCP_USER_TIMEOUT</td></tr>
 * </table>
 *
 * <p>Without an explicit budget, the TCP values are derived from the application's own bound
 * ({@link #idleDetectionBound()}): TCP keepalive starts about when the application pings, and the kernel gives up
 * on unacknowledged data at the same bound, so the two layers agree.
 */
public final class KeepaliveSettings {

    /** Default {@code pingInterval}: 30 seconds. */
    public static final Duration DEFAULT_PING_INTERVAL = Duration.ofSeconds(30);
    /** Default {@code pingTimeout}: 10 seconds. */
    public static final Duration DEFAULT_PING_TIMEOUT = Duration.ofSeconds(10);
    /** Default {@code pingsMissedBeforeDead}: 2. */
    public static final int DEFAULT_PINGS_MISSED_BEFORE_DEAD = 2;
    /** Default {@code pingJitter}: 0.2 (each idle wait is 80–100 % of the interval). */
    public static final double DEFAULT_PING_JITTER = 0.2;
    /** Default {@code minPeerPingInterval}: 100 milliseconds; stops ping floods and lets any sane client through. */
    public static final Duration DEFAULT_MIN_PEER_PING_INTERVAL = Duration.ofMillis(100);
    /** Default {@code peerPingStrikes}: 2. */
    public static final int DEFAULT_PEER_PING_STRIKES = 2;
    /** Share of a detection budget given to the ping interval when derived. */
    static final double BUDGET_SHARE_INTERVAL = 0.55;
    /** Share of a detection budget given to the missed pings (pingsMissedBeforeDead x pingTimeout) when derived. */
    static final double BUDGET_SHARE_TIMEOUTS = 0.40;
    /** The largest TCP_KEEPIDLE / TCP_KEEPINTVL Linux accepts, in seconds. */
    public static final int MAX_TCP_KEEP_SECONDS = 32767;
    /** The largest TCP_KEEPCNT Linux accepts. */
    public static final int MAX_TCP_KEEP_COUNT = 127;
    /** The largest TCP_USER_TIMEOUT, in milliseconds. */
    public static final long MAX_TCP_USER_TIMEOUT_MILLIS = Integer.MAX_VALUE;

    private final Duration pingInterval;
    private final Duration pingTimeout;
    private final Duration pingTimeoutMin;
    private final int pingsMissedBeforeDead;
    private final double pingJitter;
    private final Duration readIdleTimeout;
    private final Duration writeStallTimeout;
    private final Duration localStallThreshold;
    private final Duration firstResponseTimeout;
    private final Duration minPeerPingInterval;
    private final int peerPingStrikes;
    private final boolean tcpKeepAlive;
    private final Duration tcpKeepIdle;
    private final Duration tcpKeepInterval;
    private final int tcpKeepCount;
    private final Duration tcpUserTimeout;
    private final Duration detectionBudget;
    private final Duration middleboxIdleTimeout;
    private final Builder source;

    private KeepaliveSettings(Builder b, Duration pingInterval, Duration pingTimeout, int missed,
                              Duration localStallThreshold, Duration tcpKeepIdle, Duration tcpKeepInterval,
                              int tcpKeepCount, Duration tcpUserTimeout) {
        this.source = b.copy();
        this.pingInterval = pingInterval;
        this.pingTimeout = pingTimeout;
        this.pingTimeoutMin = b.pingTimeoutMin;
        this.pingsMissedBeforeDead = missed;
        this.pingJitter = b.pingJitter == null ? DEFAULT_PING_JITTER : b.pingJitter;
        this.readIdleTimeout = b.readIdleTimeout;
        this.writeStallTimeout = b.writeStallTimeout;
        this.localStallThreshold = localStallThreshold;
        this.firstResponseTimeout = b.firstResponseTimeout != null ? b.firstResponseTimeout
                : (b.readIdleTimeout != null ? b.readIdleTimeout
                : pingInterval.plus(pingTimeout.multipliedBy(missed))).multipliedBy(2);
        this.minPeerPingInterval = b.minPeerPingInterval == null ? DEFAULT_MIN_PEER_PING_INTERVAL
                : b.minPeerPingInterval;
        this.peerPingStrikes = b.peerPingStrikes == null ? DEFAULT_PEER_PING_STRIKES : b.peerPingStrikes;
        this.tcpKeepAlive = b.tcpKeepAlive == null || b.tcpKeepAlive;
        this.tcpKeepIdle = tcpKeepIdle;
        this.tcpKeepInterval = tcpKeepInterval;
        this.tcpKeepCount = tcpKeepCount;
        this.tcpUserTimeout = tcpUserTimeout;
        this.detectionBudget = b.detectWithin;
        this.middleboxIdleTimeout = b.middleboxIdleTimeout;
    }

    /** Settings with every default. */
    public static KeepaliveSettings defaults() {
        return builder().build();
    }

    /** A builder with every default. */
    public static Builder builder() {
        return new Builder();
    }

    /** A builder holding what was set explicitly to build these settings, to change some of them. */
    public Builder toBuilder() {
        return source.copy();
    }

    /** Inbound idle time after which a ping is sent (before jitter). */
    public Duration pingInterval() {
        return pingInterval;
    }

    /** How long a ping may go unanswered; the upper bound when the timeout is adaptive. */
    public Duration pingTimeout() {
        return pingTimeout;
    }

    /** The lower bound of an adaptive ping timeout; empty when the timeout is fixed. */
    public Optional<Duration> pingTimeoutMin() {
        return Optional.ofNullable(pingTimeoutMin);
    }

    /** Consecutive unanswered pings that make a peer dead. */
    public int pingsMissedBeforeDead() {
        return pingsMissedBeforeDead;
    }

    /** The largest fraction by which an idle wait is randomly shortened. */
    public double pingJitter() {
        return pingJitter;
    }

    /** Declares the peer dead when nothing arrives for this long; empty when off. */
    public Optional<Duration> readIdleTimeout() {
        return Optional.ofNullable(readIdleTimeout);
    }

    /** Declares the peer dead when outbound bytes stay pending without draining this long; empty when off. */
    public Optional<Duration> writeStallTimeout() {
        return Optional.ofNullable(writeStallTimeout);
    }

    /** A ping-timeout timer at least this late means the local process stalled: re-probe instead of dying. */
    public Duration localStallThreshold() {
        return localStallThreshold;
    }

    /**
     * How long a new connection may stay silent before its first byte: until then it has proven nothing, and a peer
     * that is slow to accept or to answer its first request is not a dead one. Only this allowance running out
     * declares such a connection dead ({@link DeadPeerReason#FIRST_RESPONSE_TIMEOUT}); missed pings and read idle
     * start to count from the first byte on. Default: twice {@code readIdleTimeout} when set, else twice
     * {@link #idleDetectionBound()}.
     */
    public Duration firstResponseTimeout() {
        return firstResponseTimeout;
    }

    /** The peer may not ping more often than this; {@link Duration#ZERO} when not enforced. */
    public Duration minPeerPingInterval() {
        return minPeerPingInterval;
    }

    /** Consecutive too-early pings tolerated from the peer before it is closed. */
    public int peerPingStrikes() {
        return peerPingStrikes;
    }

    /** Whether SO_KEEPALIVE is turned on. */
    public boolean tcpKeepAlive() {
        return tcpKeepAlive;
    }

    /** TCP_KEEPIDLE, in whole seconds. */
    public Duration tcpKeepIdle() {
        return tcpKeepIdle;
    }

    /** TCP_KEEPINTVL, in whole seconds. */
    public Duration tcpKeepInterval() {
        return tcpKeepInterval;
    }

    /** TCP_KEEPCNT. */
    public int tcpKeepCount() {
        return tcpKeepCount;
    }

    /** TCP_USER_TIMEOUT; {@link Duration#ZERO} leaves the kernel default (about 15 minutes of retransmissions). */
    public Duration tcpUserTimeout() {
        return tcpUserTimeout;
    }

    /** The budget given to {@link Builder#detectWithin(Duration)}, if any. */
    public Optional<Duration> detectionBudget() {
        return Optional.ofNullable(detectionBudget);
    }

    /** The middlebox idle timeout given to {@link Builder#middleboxIdleTimeout(Duration)}, if any. */
    public Optional<Duration> middleboxIdleTimeout() {
        return Optional.ofNullable(middleboxIdleTimeout);
    }

    /**
     * The silence after the peer's last byte at which the application layer declares an unresponsive peer dead
     * ({@link DeadPeerReason#PING_TIMEOUT}): {@code pingInterval + pingsMissedBeforeDead x pingTimeout}. Both edges:
     * never before this much silence (jitter and adaptive timeouts move the pings, not the verdict), and at the
     * latest this plus timer lateness on a healthy event loop, or up to twice this while the loop lags.
     */
    public Duration idleDetectionBound() {
        return pingInterval.plus(pingTimeout.multipliedBy(pingsMissedBeforeDead));
    }

    /**
     * The longest time the kernel's keepalive takes to declare an idle peer dead:
     * {@code tcpKeepIdle + tcpKeepCount x tcpKeepInterval}; empty when SO_KEEPALIVE is off.
     */
    public Optional<Duration> tcpKeepaliveBound() {
        return tcpKeepAlive ? Optional.of(tcpKeepIdle.plus(tcpKeepInterval.multipliedBy(tcpKeepCount)))
                : Optional.empty();
    }

    @Override
    public boolean equals(Object o) {
        if (this == o) {
            return true;
        }
        if (!(o instanceof KeepaliveSettings)) {
            return false;
        }
        KeepaliveSettings s = (KeepaliveSettings) o;
        return pingsMissedBeforeDead == s.pingsMissedBeforeDead && Double.compare(pingJitter, s.pingJitter) == 0
                && peerPingStrikes == s.peerPingStrikes && tcpKeepAlive == s.tcpKeepAlive
                && tcpKeepCount == s.tcpKeepCount && pingInterval.equals(s.pingInterval)
                && pingTimeout.equals(s.pingTimeout) && Objects.equals(pingTimeoutMin, s.pingTimeoutMin)
                && Objects.equals(readIdleTimeout, s.readIdleTimeout)
                && Objects.equals(writeStallTimeout, s.writeStallTimeout)
                && localStallThreshold.equals(s.localStallThreshold)
                && firstResponseTimeout.equals(s.firstResponseTimeout)
                && minPeerPingInterval.equals(s.minPeerPingInterval) && tcpKeepIdle.equals(s.tcpKeepIdle)
                && tcpKeepInterval.equals(s.tcpKeepInterval) && tcpUserTimeout.equals(s.tcpUserTimeout)
                && Objects.equals(detectionBudget, s.detectionBudget)
                && Objects.equals(middleboxIdleTimeout, s.middleboxIdleTimeout);
    }

    @Override
    public int hashCode() {
        return Objects.hash(pingInterval, pingTimeout, pingTimeoutMin, pingsMissedBeforeDead, pingJitter,
                readIdleTimeout, writeStallTimeout, localStallThreshold, firstResponseTimeout, minPeerPingInterval,
                peerPingStrikes,
                tcpKeepAlive, tcpKeepIdle, tcpKeepInterval, tcpKeepCount, tcpUserTimeout, detectionBudget,
                middleboxIdleTimeout);
    }

    @Override
    public String toString() {
        return "KeepaliveSettings{pingInterval=" + pingInterval + ", pingTimeout=" + pingTimeout
                + (pingTimeoutMin == null ? "" : ", pingTimeoutMin=" + pingTimeoutMin)
                + ", pingsMissedBeforeDead=" + pingsMissedBeforeDead + ", pingJitter=" + pingJitter
                + (readIdleTimeout == null ? "" : ", readIdleTimeout=" + readIdleTimeout)
                + (writeStallTimeout == null ? "" : ", writeStallTimeout=" + writeStallTimeout)
                + ", localStallThreshold=" + localStallThreshold + ", firstResponseTimeout=" + firstResponseTimeout
                + ", minPeerPingInterval=" + minPeerPingInterval
                + ", peerPingStrikes=" + peerPingStrikes + ", tcpKeepAlive=" + tcpKeepAlive
                + ", tcpKeepIdle=" + tcpKeepIdle + ", tcpKeepInterval=" + tcpKeepInterval
                + ", tcpKeepCount=" + tcpKeepCount + ", tcpUserTimeout=" + tcpUserTimeout
                + (detectionBudget == null ? "" : ", detectWithin=" + detectionBudget)
                + (middleboxIdleTimeout == null ? "" : ", middleboxIdleTimeout=" + middleboxIdleTimeout)
                + ", idleDetectionBound=" + idleDetectionBound() + '}';
    }

    /**
     * Builds {@link KeepaliveSettings}. Setters check what they can alone (sign, range) and throw at once;
     * {@link #build()} checks how values fit together. Not thread-safe.
     */
    public static final class Builder {
        private Duration pingInterval;
        private Duration pingTimeout;
        private Duration pingTimeoutMin;
        private Integer pingsMissedBeforeDead;
        private Double pingJitter;
        private Duration readIdleTimeout;
        private Duration writeStallTimeout;
        private Duration localStallThreshold;
        private Duration firstResponseTimeout;
        private Duration minPeerPingInterval;
        private Integer peerPingStrikes;
        private Boolean tcpKeepAlive;
        private Duration tcpKeepIdle;
        private Duration tcpKeepInterval;
        private Integer tcpKeepCount;
        private Duration tcpUserTimeout;
        private Duration detectWithin;
        private Duration middleboxIdleTimeout;

        private Builder() {
        }

        private Builder copy() {
            Builder b = new Builder();
            b.pingInterval = pingInterval;
            b.pingTimeout = pingTimeout;
            b.pingTimeoutMin = pingTimeoutMin;
            b.pingsMissedBeforeDead = pingsMissedBeforeDead;
            b.pingJitter = pingJitter;
            b.readIdleTimeout = readIdleTimeout;
            b.writeStallTimeout = writeStallTimeout;
            b.localStallThreshold = localStallThreshold;
            b.firstResponseTimeout = firstResponseTimeout;
            b.minPeerPingInterval = minPeerPingInterval;
            b.peerPingStrikes = peerPingStrikes;
            b.tcpKeepAlive = tcpKeepAlive;
            b.tcpKeepIdle = tcpKeepIdle;
            b.tcpKeepInterval = tcpKeepInterval;
            b.tcpKeepCount = tcpKeepCount;
            b.tcpUserTimeout = tcpUserTimeout;
            b.detectWithin = detectWithin;
            b.middleboxIdleTimeout = middleboxIdleTimeout;
            return b;
        }

        /**
         * Inbound idle time after which a ping is sent. Default {@link #DEFAULT_PING_INTERVAL}, or derived from
         * {@link #detectWithin} and {@link #middleboxIdleTimeout}.
         *
         * @throws IllegalArgumentException if not positive
         */
        public Builder pingInterval(Duration pingInterval) {
            this.pingInterval = positive("pingInterval", pingInterval);
            return this;
        }

        /**
         * How long a ping may go unanswered (with nothing else arriving) before it counts as missed. Default
         * {@link #DEFAULT_PING_TIMEOUT}, or derived from {@link #detectWithin}. With
         * {@link #adaptivePingTimeout(Duration)} it is the upper bound.
         *
         * @throws IllegalArgumentException if not positive
         */
        public Builder pingTimeout(Duration pingTimeout) {
            this.pingTimeout = positive("pingTimeout", pingTimeout);
            return this;
        }

        /**
         * Makes the ping timeout adapt to the measured round-trip time: {@code 2 x (smoothed RTT + 4 x RTT
         * variance)}, kept between {@code min} and {@link #pingTimeout}. Until a round trip is measured the full
         * pingTimeout applies. Default: off (fixed timeout).
         *
         * @throws IllegalArgumentException if not positive; {@link #build()} throws if above pingTimeout
         */
        public Builder adaptivePingTimeout(Duration min) {
            this.pingTimeoutMin = positive("pingTimeoutMin", min);
            return this;
        }

        /**
         * Consecutive unanswered pings that make a peer dead. After a missed ping the next one goes out at once.
         * Default {@value #DEFAULT_PINGS_MISSED_BEFORE_DEAD}.
         *
         * @throws IllegalArgumentException if not in 1..100
         */
        public Builder pingsMissedBeforeDead(int count) {
            if (count < 1 || count > 100) {
                throw new IllegalArgumentException(
                        "pingsMissedBeforeDead must be in 1..100, but was " + count);
            }
            this.pingsMissedBeforeDead = count;
            return this;
        }

        /**
         * The largest fraction by which each idle wait is randomly shortened, so that connections opened together
         * do not ping together. Jitter only ever shortens the wait, so detection bounds hold. Default
         * {@value #DEFAULT_PING_JITTER}.
         *
         * @throws IllegalArgumentException if not in 0..0.5
         */
        public Builder pingJitter(double fraction) {
            if (!(fraction >= 0.0 && fraction <= 0.5)) {
                throw new IllegalArgumentException("pingJitter must be in 0..0.5, but was " + fraction);
            }
            this.pingJitter = fraction;
            return this;
        }

        /**
         * Declares the peer dead ({@link DeadPeerReason#READ_IDLE}) when nothing at all arrives for this long,
         * pings or not. Needed with probes that never ping (passive), where it defaults to the idle detection
         * bound. Default: off.
         *
         * @throws IllegalArgumentException if not positive
         */
        public Builder readIdleTimeout(Duration timeout) {
            this.readIdleTimeout = positive("readIdleTimeout", timeout);
            return this;
        }

        /**
         * Declares the peer dead ({@link DeadPeerReason#WRITE_STALL}) when outbound bytes stay queued in the
         * application without draining for this long (the peer, or the path, stopped accepting data). Default:
         * off.
         *
         * @throws IllegalArgumentException if not positive
         */
        public Builder writeStallTimeout(Duration timeout) {
            this.writeStallTimeout = positive("writeStallTimeout", timeout);
            return this;
        }

        /**
         * A ping-timeout timer that fires at least this late shows that the local process stalled (a GC pause, a
         * starved event loop): the peer gets a fresh probe instead of being declared dead. Default: half the ping
         * timeout.
         *
         * @throws IllegalArgumentException if not positive
         */
        public Builder localStallThreshold(Duration threshold) {
            this.localStallThreshold = positive("localStallThreshold", threshold);
            return this;
        }

        /**
         * How long a new connection may stay silent before the first byte from its peer arrives (see
         * {@link KeepaliveSettings#firstResponseTimeout()}). Until then, neither missed pings nor read idle declare
         * the peer dead: only this allowance running out does, as {@link DeadPeerReason#FIRST_RESPONSE_TIMEOUT}. Pings
         * are still sent (they keep middleboxes open, and a pong is a first byte). Default: twice
         * {@link #readIdleTimeout} when set, else twice the idle detection bound.
         *
         * @throws IllegalArgumentException if not positive
         */
        public Builder firstResponseTimeout(Duration timeout) {
            this.firstResponseTimeout = positive("firstResponseTimeout", timeout);
            return this;
        }

        /**
         * The peer may not ping more often than this (gRPC's {@code permitKeepAliveTime}). A ping that comes sooner
         * is a strike; more than {@link #peerPingStrikes} strikes in a row close the connection with
         * {@link DeadPeerReason#PEER_PINGED_TOO_OFTEN}, after telling the peer why where the probe can. Set it below the
         * clients' shortest ping interval, {@code pingInterval x (1 - pingJitter)}. {@link Duration#ZERO} turns
         * enforcement off. Default
         * {@link #DEFAULT_MIN_PEER_PING_INTERVAL}; while it is left at the default, {@link #build()} rejects settings
         * whose own shortest ping interval is below it (a peer with the same settings would close the connection).
         * Setting it explicitly says that the peer's limit is chosen apart from this end's interval.
         *
         * @throws IllegalArgumentException if negative
         */
        public Builder minPeerPingInterval(Duration interval) {
            Objects.requireNonNull(interval, "minPeerPingInterval");
            if (interval.isNegative()) {
                throw new IllegalArgumentException("minPeerPingInterval must be >= 0, but was " + interval);
            }
            this.minPeerPingInterval = interval;
            return this;
        }

        /**
         * Consecutive too-early pings tolerated from the peer. Default {@value #DEFAULT_PEER_PING_STRIKES}.
         *
         * @throws IllegalArgumentException if not in 0..1000
         */
        public Builder peerPingStrikes(int strikes) {
            if (strikes < 0 || strikes > 1000) {
                throw new IllegalArgumentException("peerPingStrikes must be in 0..1000, but was " + strikes);
            }
            this.peerPingStrikes = strikes;
            return this;
        }

        /**
         * Turns SO_KEEPALIVE on or off. Default: on. With it off, {@link #build()} rejects tcpKeepIdle,
         * tcpKeepInterval and tcpKeepCount (they would never be used).
         */
        public Builder tcpKeepAlive(boolean enabled) {
            this.tcpKeepAlive = enabled;
            return this;
        }

        /**
         * TCP_KEEPIDLE: idle time before the kernel's first keepalive probe. Default: the ping interval in whole
         * seconds (at least 1 s), so that the kernel probes only when the application's ping did not go out.
         *
         * @throws IllegalArgumentException if not a whole number of seconds in 1..32767
         */
        public Builder tcpKeepIdle(Duration idle) {
            this.tcpKeepIdle = wholeSeconds("tcpKeepIdle", idle);
            return this;
        }

        /**
         * TCP_KEEPINTVL: time between the kernel's keepalive probes. Default: derived so that the kernel's bound
         * fits the detection bound.
         *
         * @throws IllegalArgumentException if not a whole number of seconds in 1..32767
         */
        public Builder tcpKeepInterval(Duration interval) {
            this.tcpKeepInterval = wholeSeconds("tcpKeepInterval", interval);
            return this;
        }

        /**
         * TCP_KEEPCNT: unanswered kernel keepalive probes before the kernel drops the connection. Default: derived.
         *
         * @throws IllegalArgumentException if not in 1..127
         */
        public Builder tcpKeepCount(int count) {
            if (count < 1 || count > MAX_TCP_KEEP_COUNT) {
                throw new IllegalArgumentException("tcpKeepCount must be in 1.." + MAX_TCP_KEEP_COUNT
                        + ", but was " + count);
            }
            this.tcpKeepCount = count;
            return this;
        }

        /**
         * TCP_USER_TIMEOUT: how long sent data may stay unacknowledged before the kernel drops the connection
         * ({@code ETIMEDOUT}, reported as {@link DeadPeerReason#TCP_TIMEOUT}); also caps keepalive probing.
         * {@link Duration#ZERO} leaves the kernel default. Default: the detection bound. Millisecond precision.
         *
         * @throws IllegalArgumentException if negative, finer than a millisecond, or above Integer.MAX_VALUE ms
         */
        public Builder tcpUserTimeout(Duration timeout) {
            Objects.requireNonNull(timeout, "tcpUserTimeout");
            if (timeout.isNegative() || timeout.toNanos() % 1_000_000 != 0
                    || timeout.toMillis() > MAX_TCP_USER_TIMEOUT_MILLIS) {
                throw new IllegalArgumentException("tcpUserTimeout must be a whole number of milliseconds in 0.."
                        + MAX_TCP_USER_TIMEOUT_MILLIS + " ms, but was " + timeout);
            }
            this.tcpUserTimeout = timeout;
            return this;
        }

        /**
         * Derives every value not set explicitly from one detection budget, so that a dead peer is declared dead
         * within {@code budget} whether the connection is idle or has unacknowledged data in flight:
         * <ul>
         *   <li>pingInterval = 55 % of the budget, pingTimeout = 40 % / pingsMissedBeforeDead (5 % is left for
         *       timer lateness);</li>
         *   <li>TCP_USER_TIMEOUT = the budget;</li>
         *   <li>TCP_KEEPIDLE = the ping interval in whole seconds, and TCP_KEEPINTVL and TCP_KEEPCNT so that
         *       {@code idle + count x interval} fits the budget. TCP keepalive counts whole seconds, so its
         *       shortest bound is 2 s: {@link #build()} rejects a shorter budget unless {@code tcpKeepAlive(false)}
         *       says that the application pings alone keep it.</li>
         * </ul>
         * Values set explicitly are kept; {@link #build()} fails if they do not fit the budget, or if the derived
         * ping interval is so short that a peer with the same settings would close the connection for
         * {@link DeadPeerReason#TOO_MANY_PINGS} (a budget below about 228 ms with the default limit and jitter).
         *
         * @throws IllegalArgumentException if not positive
         */
        public Builder detectWithin(Duration budget) {
            this.detectWithin = positive("detectWithin", budget);
            return this;
        }

        /**
         * Says that a middlebox on the path (a NAT, a firewall, a load balancer) forgets flows idle for
         * {@code idleTimeout}: the ping interval and TCP_KEEPIDLE are kept at most half of it, so that probes
         * always go out well before. {@link #build()} fails if they were set explicitly above that.
         *
         * @throws IllegalArgumentException if below 2 seconds
         */
        public Builder middleboxIdleTimeout(Duration idleTimeout) {
            Objects.requireNonNull(idleTimeout, "middleboxIdleTimeout");
            if (idleTimeout.compareTo(Duration.ofSeconds(2)) < 0) {
                throw new IllegalArgumentException("middleboxIdleTimeout must be >= PT2S, but was " + idleTimeout);
            }
            this.middleboxIdleTimeout = idleTimeout;
            return this;
        }

        /**
         * Derives what was not set, checks how the values fit together and returns the settings.
         *
         * @throws IllegalArgumentException naming the parameters, the rule and the values when they conflict
         */
        public KeepaliveSettings build() {
            int missed = pingsMissedBeforeDead == null ? DEFAULT_PINGS_MISSED_BEFORE_DEAD : pingsMissedBeforeDead;
            Duration interval = pingInterval;
            Duration timeout = pingTimeout;
            if (detectWithin != null) {
                if (interval == null) {
                    interval = atLeastOneMilli(fraction(detectWithin, BUDGET_SHARE_INTERVAL));
                }
                if (timeout == null) {
                    timeout = atLeastOneMilli(fraction(detectWithin, BUDGET_SHARE_TIMEOUTS / missed));
                }
            } else {
                interval = interval == null ? DEFAULT_PING_INTERVAL : interval;
                timeout = timeout == null ? DEFAULT_PING_TIMEOUT : timeout;
            }
            Duration middleboxHalf = middleboxIdleTimeout == null ? null : middleboxIdleTimeout.dividedBy(2);
            if (middleboxHalf != null) {
                if (interval.compareTo(middleboxHalf) > 0) {
                    if (pingInterval != null) {
                        throw new IllegalArgumentException("pingInterval must be <= middleboxIdleTimeout / 2 ("
                                + middleboxHalf + ") so that probes go out well before the middlebox forgets the "
                                + "flow, but was " + pingInterval + " with middleboxIdleTimeout "
                                + middleboxIdleTimeout);
                    }
                    interval = middleboxHalf;
                }
            }
            if (pingTimeoutMin != null && pingTimeoutMin.compareTo(timeout) > 0) {
                throw new IllegalArgumentException("pingTimeoutMin must be <= pingTimeout (" + timeout
                        + "), but was " + pingTimeoutMin);
            }
            checkPeerPingLimit(interval);
            Duration appBound = interval.plus(timeout.multipliedBy(missed));
            if (detectWithin != null && appBound.compareTo(detectWithin) > 0) {
                throw new IllegalArgumentException("pingInterval + pingsMissedBeforeDead x pingTimeout must be <= "
                        + "detectWithin (" + detectWithin + "), but was " + interval + origin(pingInterval) + " + "
                        + missed + " x " + timeout + origin(pingTimeout) + " = " + appBound);
            }
            Duration stall = localStallThreshold == null ? atLeastOneMilli(timeout.dividedBy(2))
                    : localStallThreshold;

            // The kernel's layer: the same bound as the application's, so that the two agree.
            Duration kernelBudget = detectWithin != null ? detectWithin : appBound;
            Duration userTimeout = tcpUserTimeout != null ? tcpUserTimeout
                    : Duration.ofMillis(Math.min(MAX_TCP_USER_TIMEOUT_MILLIS, Math.max(1, kernelBudget.toMillis())));
            if (detectWithin != null && tcpUserTimeout != null && userTimeout.compareTo(detectWithin) > 0) {
                throw new IllegalArgumentException("tcpUserTimeout must be <= detectWithin (" + detectWithin
                        + "), but was " + tcpUserTimeout);
            }
            Duration keepIdle = tcpKeepIdle != null ? tcpKeepIdle : clampSeconds(interval.getSeconds());
            if (middleboxHalf != null && keepIdle.compareTo(middleboxHalf) > 0) {
                if (tcpKeepIdle != null) {
                    throw new IllegalArgumentException("tcpKeepIdle must be <= middleboxIdleTimeout / 2 ("
                            + middleboxHalf + "), but was " + tcpKeepIdle + " with middleboxIdleTimeout "
                            + middleboxIdleTimeout);
                }
                keepIdle = clampSeconds(middleboxHalf.getSeconds());
            }
            long remaining = Math.max(0, kernelBudget.getSeconds() - keepIdle.getSeconds());
            Duration keepInterval = tcpKeepInterval != null ? tcpKeepInterval : clampSeconds(remaining / 3);
            int keepCount = tcpKeepCount != null ? tcpKeepCount
                    : (int) Math.max(1, Math.min(MAX_TCP_KEEP_COUNT, remaining / keepInterval.getSeconds()));
            boolean keepAliveOn = tcpKeepAlive == null || tcpKeepAlive;
            checkKernelValuesNeedKeepalive(keepAliveOn);
            checkKernelKeepaliveFitsBudget(keepAliveOn, keepIdle, keepInterval, keepCount);
            if (detectWithin != null && keepAliveOn
                    && (tcpKeepIdle != null || tcpKeepInterval != null || tcpKeepCount != null)) {
                Duration kernelBound = keepIdle.plus(keepInterval.multipliedBy(keepCount));
                if (kernelBound.compareTo(detectWithin) > 0) {
                    throw new IllegalArgumentException("tcpKeepIdle + tcpKeepCount x tcpKeepInterval must be <= "
                            + "detectWithin (" + detectWithin + "), but was " + keepIdle + " + " + keepCount + " x "
                            + keepInterval + " = " + kernelBound);
                }
            }
            return new KeepaliveSettings(this, interval, timeout, missed, stall, keepIdle, keepInterval,
                    keepCount, userTimeout);
        }

        // ---- how values fit together: each check names what the user set and the derived value it conflicts with

        /** " (default)", " (derived from detectWithin X)", or "" for a value the user set. */
        private String origin(Object userValue) {
            if (userValue != null) {
                return "";
            }
            return detectWithin != null ? " (derived from detectWithin " + detectWithin + ")" : " (default)";
        }

        /**
         * A peer with these same settings enforces {@code minPeerPingInterval} on us: our shortest wait,
         * {@code pingInterval x (1 - pingJitter)}, must not be shorter, or it closes us for TOO_MANY_PINGS. Skipped
         * when minPeerPingInterval was set explicitly: then the peer's limit is a separate, deliberate choice (a
         * server that pings its clients more often than it lets them ping it).
         */
        private void checkPeerPingLimit(Duration interval) {
            Duration limit = DEFAULT_MIN_PEER_PING_INTERVAL;
            if (minPeerPingInterval != null) {
                return;
            }
            double jitter = pingJitter == null ? DEFAULT_PING_JITTER : pingJitter;
            Duration shortest = Duration.ofNanos((long) (interval.toNanos() * (1 - jitter)));
            if (shortest.compareTo(limit) >= 0) {
                return;
            }
            Duration needed = Duration.ofNanos((long) Math.ceil(limit.toNanos() / (1 - jitter)));
            String fix;
            if (pingInterval == null && detectWithin != null) {
                Duration budget = Duration.ofMillis((long) Math.ceil(needed.toNanos() / BUDGET_SHARE_INTERVAL / 1e6));
                fix = "give detectWithin at least " + budget + ", or set pingInterval yourself";
            } else {
                fix = "make pingInterval at least " + needed;
            }
            throw new IllegalArgumentException("pingInterval " + interval + origin(pingInterval) + " less pingJitter "
                    + jitter + " is " + shortest + ", below minPeerPingInterval " + limit + " (default): a peer with"
                    + " the same settings would close this connection for TOO_MANY_PINGS. " + capitalize(fix)
                    + "; or set minPeerPingInterval explicitly (Duration.ZERO turns the limit off) if the peer's "
                    + "limit differs");
        }

        /** TCP_KEEPIDLE, TCP_KEEPINTVL and TCP_KEEPCNT do nothing with SO_KEEPALIVE off: setting them is a mistake. */
        private void checkKernelValuesNeedKeepalive(boolean keepAliveOn) {
            if (keepAliveOn) {
                return;
            }
            StringBuilder set = new StringBuilder();
            if (tcpKeepIdle != null) {
                set.append("tcpKeepIdle ").append(tcpKeepIdle);
            }
            if (tcpKeepInterval != null) {
                set.append(set.length() > 0 ? ", " : "").append("tcpKeepInterval ").append(tcpKeepInterval);
            }
            if (tcpKeepCount != null) {
                set.append(set.length() > 0 ? ", " : "").append("tcpKeepCount ").append(tcpKeepCount);
            }
            if (set.length() > 0) {
                throw new IllegalArgumentException(set + " set with tcpKeepAlive(false): the kernel's keepalive is "
                        + "off, so they would never be used. Remove them, or leave tcpKeepAlive on");
            }
        }

        /**
         * With a budget, the derived kernel keepalive must fit it too ("fitted into the same bound"). The kernel
         * counts whole seconds, so its shortest bound is TCP_KEEPIDLE 1 s + 1 x TCP_KEEPINTVL 1 s = 2 s: below that
         * the user must say that the application pings alone keep the bound (tcpKeepAlive(false)). Explicit kernel
         * values are checked by build() itself.
         */
        private void checkKernelKeepaliveFitsBudget(boolean keepAliveOn, Duration idle, Duration interval,
                                                    int count) {
            if (detectWithin == null || !keepAliveOn || tcpKeepIdle != null || tcpKeepInterval != null
                    || tcpKeepCount != null) {
                return;
            }
            Duration kernelBound = idle.plus(interval.multipliedBy(count));
            if (kernelBound.compareTo(detectWithin) > 0) {
                throw new IllegalArgumentException("detectWithin " + detectWithin + " is shorter than the kernel's "
                        + "TCP keepalive can detect: it counts whole seconds, and the shortest it can do here is "
                        + "tcpKeepIdle " + idle + " + " + count + " x tcpKeepInterval " + interval + " = "
                        + kernelBound + ". Set tcpKeepAlive(false) to keep the budget with application pings (and "
                        + "TCP_USER_TIMEOUT) alone, or give detectWithin at least " + kernelBound);
            }
        }

        private static String capitalize(String s) {
            return Character.toUpperCase(s.charAt(0)) + s.substring(1);
        }

        private static Duration fraction(Duration d, double share) {
            return Duration.ofNanos((long) (d.toNanos() * share));
        }

        private static Duration atLeastOneMilli(Duration d) {
            return d.compareTo(Duration.ofMillis(1)) < 0 ? Duration.ofMillis(1) : d;
        }

        private static Duration clampSeconds(long seconds) {
            return Duration.ofSeconds(Math.max(1, Math.min(MAX_TCP_KEEP_SECONDS, seconds)));
        }

        private static Duration positive(String name, Duration d) {
            Objects.requireNonNull(d, name);
            if (d.isZero() || d.isNegative()) {
                throw new IllegalArgumentException(name + " must be > 0, but was " + d);
            }
            return d;
        }

        private static Duration wholeSeconds(String name, Duration d) {
            Objects.requireNonNull(d, name);
            if (d.getNano() != 0 || d.getSeconds() < 1 || d.getSeconds() > MAX_TCP_KEEP_SECONDS) {
                throw new IllegalArgumentException(name + " must be a whole number of seconds in 1.."
                        + MAX_TCP_KEEP_SECONDS + " s, but was " + d);
            }
            return d;
        }
    }
}
