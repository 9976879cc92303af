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
 *       attempt; a fresh sequence after each successful connection</td></tr>
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

    private final Backoff backoff;
    private final Duration connectTimeout;
    private final int maxAttempts;
    private final Duration giveUpAfter;
    private final CircuitBreakerConfig circuitBreaker;
    private final DoubleSupplier random;

    private ReconnectPolicy(Builder b) {
        this.backoff = b.backoff;
        this.connectTimeout = b.connectTimeout;
        this.maxAttempts = b.maxAttempts;
        this.giveUpAfter = b.giveUpAfter;
        this.circuitBreaker = b.circuitBreaker;
        this.random = b.random;
    }

    /** The defaults. */
    public static ReconnectPolicy defaults() {
        return builder().build();
    }

    public static Builder builder() {
        return new Builder();
    }

    public Backoff backoff() {
        return backoff;
    }

    public Duration connectTimeout() {
        return connectTimeout;
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

    public DoubleSupplier random() {
        return random;
    }

    @Override
    public String toString() {
        return "ReconnectPolicy{backoff=" + backoff + ", connectTimeout=" + connectTimeout
                + ", maxAttempts=" + (maxAttempts == 0 ? "unlimited" : maxAttempts)
                + (giveUpAfter == null ? "" : ", giveUpAfter=" + giveUpAfter)
                + (circuitBreaker == null ? "" : ", circuitBreaker=on") + '}';
    }

    /** Builds a {@link ReconnectPolicy}. */
    public static final class Builder {
        private Backoff backoff = Backoff.DEFAULT;
        private Duration connectTimeout = DEFAULT_CONNECT_TIMEOUT;
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
         * Gives up after this many failed attempts in a row (0: never). Default 0.
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

        public ReconnectPolicy build() {
            return new ReconnectPolicy(this);
        }
    }
}
