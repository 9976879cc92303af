package dev.keepalive.reconnect;

import io.github.resilience4j.circuitbreaker.CircuitBreakerConfig;

import java.time.Duration;
import java.util.Objects;
import java.util.Optional;
import java.util.concurrent.ThreadLocalRandom;
import java.util.function.DoubleSupplier;

/**
 * When and how a reconnecting client dials again. Immutable; build with {@link #builder()}.
 *
 * <table>
 *   <caption>Reconnect settings</caption>
 *   <tr><th>setting</th><th>default</th><th>meaning</th></tr>
 *   <tr><td>backoff</td><td>{@link Backoff#DEFAULT} (full jitter, 100 ms .. 30 s)</td><td>delay before each
 *       attempt; a fresh sequence only after a connection stayed proven for backoffResetAfter</td></tr>
 *   <tr><td>backoffResetAfter</td><td>10 s</td><td>how long a proven connection must last before the backoff
 *       starts afresh: a peer that accepts and then dies or closes keeps the sequence growing</td></tr>
 *   <tr><td>connectTimeout</td><td>5 s</td><td>bounds each attempt, so a black-holed SYN costs seconds, not the
 *       kernel's 127 s</td></tr>
 *   <tr><td>maxAttempts</td><td>0 (unlimited)</td><td>attempts in one reconnect sequence before giving up</td></tr>
 *   <tr><td>giveUpAfter</td><td>none</td><td>time disconnected before giving up</td></tr>
 *   <tr><td>circuitBreaker</td><td>none</td><td>a resilience4j CircuitBreaker per endpoint stops dialing an
 *       endpoint that keeps failing</td></tr>
 *   <tr><td>random</td><td>{@link ThreadLocalRandom}</td><td>the jitter's random source, for tests</td></tr>
 * </table>
 */
public final class ReconnectPolicy {
    /** Default {@code connectTimeout}: 5 seconds. */
    public static final Duration DEFAULT_CONNECT_TIMEOUT = Duration.ofSeconds(5);
    /**
     * Default {@code backoffResetAfter}: 10 seconds, longer than a crash-looping server usually stays up, and short
     * beside the outages the backoff paces.
     */
    public static final Duration DEFAULT_BACKOFF_RESET_AFTER = Duration.ofSeconds(10);

    private final Backoff backoff;
    private final Duration connectTimeout;
    private final Duration backoffResetAfter;
    private final int maxAttempts;
    private final Duration giveUpAfter;
    private final CircuitBreakerConfig circuitBreaker;
    private final DoubleSupplier random;

    private ReconnectPolicy(Builder b) {
        this.backoff = b.backoff;
        this.connectTimeout = b.connectTimeout;
        this.backoffResetAfter = b.backoffResetAfter;
        this.maxAttempts = b.maxAttempts;
        this.giveUpAfter = b.giveUpAfter;
        this.circuitBreaker = b.circuitBreaker;
        this.random = b.random;
    }

    /** The defaults. */
    public static ReconnectPolicy defaults() {
        return builder().build();
    }

    /** A builder with the defaults. */
    public static Builder builder() {
        return new Builder();
    }

    /** The delays between attempts. */
    public Backoff backoff() {
        return backoff;
    }

    /**
     * Bounds each attempt: the TCP connect, the on-connected hook and the peer's first answer together (a connection
     * counts only once it is proven, see {@code ReconnectingClient}).
     */
    public Duration connectTimeout() {
        return connectTimeout;
    }

    /**
     * How long a proven connection must stay up before the backoff sequence starts afresh. A shorter connection
     * (a server that accepts, answers, then dies or closes) keeps the attempt count and the delays growing.
     */
    public Duration backoffResetAfter() {
        return backoffResetAfter;
    }

    /** Attempts in one reconnect sequence before giving up; 0 is unlimited. */
    public int maxAttempts() {
        return maxAttempts;
    }

    /** Time disconnected before giving up, if limited. */
    public Optional<Duration> giveUpAfter() {
        return Optional.ofNullable(giveUpAfter);
    }

    /** The configuration of the per-endpoint circuit breaker, if any. */
    public Optional<CircuitBreakerConfig> circuitBreaker() {
        return Optional.ofNullable(circuitBreaker);
    }

    /** The jitter's random source. */
    public DoubleSupplier random() {
        return random;
    }

    @Override
    public String toString() {
        return "ReconnectPolicy{backoff=" + backoff + ", connectTimeout=" + connectTimeout
                + ", backoffResetAfter=" + backoffResetAfter
                + ", maxAttempts=" + (maxAttempts == 0 ? "unlimited" : maxAttempts)
                + (giveUpAfter == null ? "" : ", giveUpAfter=" + giveUpAfter)
                + (circuitBreaker == null ? "" : ", circuitBreaker=on") + '}';
    }

    /** Builds a {@link ReconnectPolicy}. */
    public static final class Builder {
        private Backoff backoff = Backoff.DEFAULT;
        private Duration connectTimeout = DEFAULT_CONNECT_TIMEOUT;
        private Duration backoffResetAfter = DEFAULT_BACKOFF_RESET_AFTER;
        private int maxAttempts;
        private Duration giveUpAfter;
        private CircuitBreakerConfig circuitBreaker;
        private DoubleSupplier random = () -> ThreadLocalRandom.current().nextDouble();

        private Builder() {
        }

        /** The delays between attempts. Default {@link Backoff#DEFAULT}. */
        public Builder backoff(Backoff backoff) {
            this.backoff = Objects.requireNonNull(backoff, "backoff");
            return this;
        }

        /**
         * Bounds each connect attempt. Default {@link #DEFAULT_CONNECT_TIMEOUT}.
         *
         * @throws IllegalArgumentException if not in 1 ms .. 10 min
         */
        public Builder connectTimeout(Duration timeout) {
            Objects.requireNonNull(timeout, "connectTimeout");
            if (timeout.toMillis() < 1 || timeout.compareTo(Duration.ofMinutes(10)) > 0) {
                throw new IllegalArgumentException("connectTimeout must be in 1 ms .. 10 min, but was " + timeout);
            }
            this.connectTimeout = timeout;
            return this;
        }

        /**
         * How long a proven connection must last before the backoff starts afresh. Default
         * {@link #DEFAULT_BACKOFF_RESET_AFTER}.
         *
         * @throws IllegalArgumentException if not in 1 ms .. 1 h
         */
        public Builder backoffResetAfter(Duration time) {
            Objects.requireNonNull(time, "backoffResetAfter");
            if (time.toMillis() < 1 || time.compareTo(Duration.ofHours(1)) > 0) {
                throw new IllegalArgumentException("backoffResetAfter must be in 1 ms .. 1 h, but was " + time);
            }
            this.backoffResetAfter = time;
            return this;
        }

        /**
         * Gives up after this many attempts in one sequence (0: never). Default 0. An attempt whose connection was
         * proven but lasted less than {@code backoffResetAfter} counts as failed.
         *
         * @throws IllegalArgumentException if negative
         */
        public Builder maxAttempts(int attempts) {
            if (attempts < 0) {
                throw new IllegalArgumentException("maxAttempts must be >= 0 (0 = unlimited), but was " + attempts);
            }
            this.maxAttempts = attempts;
            return this;
        }

        /**
         * Gives up after being disconnected this long. Default: never.
         *
         * @throws IllegalArgumentException if not positive
         */
        public Builder giveUpAfter(Duration time) {
            Objects.requireNonNull(time, "giveUpAfter");
            if (time.isZero() || time.isNegative()) {
                throw new IllegalArgumentException("giveUpAfter must be > 0, but was " + time);
            }
            this.giveUpAfter = time;
            return this;
        }

        /**
         * Guards each endpoint with a resilience4j CircuitBreaker of this configuration: while it is open the
         * endpoint is skipped. Default: none.
         */
        public Builder circuitBreaker(CircuitBreakerConfig config) {
            this.circuitBreaker = Objects.requireNonNull(config, "circuitBreaker");
            return this;
        }

        /** The jitter's random source: uniform values in [0, 1). */
        public Builder random(DoubleSupplier random) {
            this.random = Objects.requireNonNull(random, "random");
            return this;
        }

        /** The policy. */
        public ReconnectPolicy build() {
            return new ReconnectPolicy(this);
        }
    }
}
