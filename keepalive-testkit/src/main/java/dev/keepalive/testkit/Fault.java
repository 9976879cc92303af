package dev.keepalive.testkit;

import java.time.Duration;
import java.util.Objects;

/**
 * One fault a {@link FirewallProxy} can inject into a {@link Flow} or into every flow.
 *
 * <p>Faults are immutable values, so a fault matrix can list them and name its test cases after them:
 *
 * <pre>{@code
 * static Stream<Fault> faults() {
 *     return Stream.of(Fault.blackHole(), Fault.blackHole(Direction.SERVER_TO_CLIENT), Fault.forget(),
 *             Fault.reset(), Fault.pause(), Fault.latency(Duration.ofMillis(300)), Fault.bandwidth(1_000));
 * }
 *
 * @ParameterizedTest @MethodSource("faults")
 * void clientNoticesWithinBound(Fault fault, FirewallProxyFactory proxies) {
 *     FirewallProxy proxy = proxies.start(server.address());
 *     // ... connect the client to proxy.address(), wait for proxy.awaitFlow(0, timeout) ...
 *     proxy.injectAll(fault);
 *     // ... measure the time until the client reports the peer dead ...
 * }
 * }</pre>
 *
 * <p>Lasting faults ({@link #isLasting()}) stay until {@link Flow#restore()} / {@link FirewallProxy#restoreAll()};
 * the others act once: {@link #forget()}, {@link #reset()} and {@link #close()}.
 */
public final class Fault {

    /** The kinds of fault. */
    public enum Kind {
        /** Bytes are read and discarded: no FIN, no RST, the sockets stay open. Lasting; lossy. */
        BLACK_HOLE,
        /** Bytes are delayed by a fixed duration, order kept. Lasting. */
        LATENCY,
        /** Bytes trickle at most at a number of bytes per second (a tarpit). Lasting. */
        BANDWIDTH,
        /** The proxy stops reading, so TCP backpressure builds up at the sender. Lasting; lossless. */
        PAUSE,
        /** The emulated stateful firewall forgets the flow: all later bytes are dropped silently both ways. */
        FORGET,
        /** Both sockets are reset (SO_LINGER 0, then close): each peer sees a connection reset. */
        RESET,
        /** Both sockets are closed normally: each peer sees end of stream (FIN). */
        CLOSE
    }

    private final Kind kind;
    private final Direction direction;
    private final Duration delay;
    private final long bytesPerSecond;

    private Fault(Kind kind, Direction direction, Duration delay, long bytesPerSecond) {
        this.kind = kind;
        this.direction = direction;
        this.delay = delay;
        this.bytesPerSecond = bytesPerSecond;
    }

    /**
     * Black-holes both directions, like a crashed host or a pulled cable.
     *
     * @return the fault
     */
    public static Fault blackHole() {
        return blackHole(Direction.BOTH);
    }

    /**
     * Black-holes one direction or both: bytes are read and counted as dropped, nothing is forwarded, and neither
     * peer sees a FIN or RST (a FIN or reset that arrives meanwhile is held back and delivered on restore, as TCP
     * would retransmit it). Dropped bytes are gone for good: after a restore the byte stream has a gap.
     *
     * @param direction which way to drop
     * @return the fault
     * @throws NullPointerException if {@code direction} is null
     */
    public static Fault blackHole(Direction direction) {
        return new Fault(Kind.BLACK_HOLE, Objects.requireNonNull(direction, "direction"), Duration.ZERO, 0);
    }

    /**
     * Delays bytes in both directions (so the round trip grows by twice {@code delay}).
     *
     * @param delay the one-way delay, {@code >= 0}; zero removes an earlier latency fault
     * @return the fault
     * @throws IllegalArgumentException if {@code delay} is negative
     */
    public static Fault latency(Duration delay) {
        return latency(Direction.BOTH, delay);
    }

    /**
     * Delays every byte travelling in {@code direction} by {@code delay} after the proxy read it; order is kept.
     *
     * @param direction which way to delay
     * @param delay the delay, {@code >= 0}; zero removes an earlier latency fault
     * @return the fault
     * @throws IllegalArgumentException if {@code delay} is negative
     */
    public static Fault latency(Direction direction, Duration delay) {
        Objects.requireNonNull(direction, "direction");
        Objects.requireNonNull(delay, "delay");
        if (delay.isNegative()) {
            throw new IllegalArgumentException("delay must be >= 0, but was " + delay);
        }
        return new Fault(Kind.LATENCY, direction, delay, 0);
    }

    /**
     * Caps both directions at {@code bytesPerSecond} each.
     *
     * @param bytesPerSecond the cap, {@code > 0}
     * @return the fault
     * @throws IllegalArgumentException if {@code bytesPerSecond <= 0}
     */
    public static Fault bandwidth(long bytesPerSecond) {
        return bandwidth(Direction.BOTH, bytesPerSecond);
    }

    /**
     * Caps the bytes forwarded in {@code direction} at {@code bytesPerSecond}: bytes trickle out in chunks of
     * about 50 ms worth. When more than 256 KiB wait in the proxy it stops reading, so the sender blocks.
     *
     * @param direction which way to throttle
     * @param bytesPerSecond the cap, {@code > 0}
     * @return the fault
     * @throws IllegalArgumentException if {@code bytesPerSecond <= 0}
     */
    public static Fault bandwidth(Direction direction, long bytesPerSecond) {
        Objects.requireNonNull(direction, "direction");
        if (bytesPerSecond <= 0) {
            throw new IllegalArgumentException("bytesPerSecond must be > 0, but was " + bytesPerSecond);
        }
        return new Fault(Kind.BANDWIDTH, direction, Duration.ZERO, bytesPerSecond);
    }

    /**
     * Stops reading from both peers (Netty autoRead off); senders fill their socket buffers and then block.
     *
     * @return the fault
     */
    public static Fault pause() {
        return pause(Direction.BOTH);
    }

    /**
     * Stops reading the bytes that travel in {@code direction}: for {@link Direction#CLIENT_TO_SERVER} the proxy
     * stops reading the client's socket. Nothing is lost; restore resumes.
     *
     * @param direction which way to stall
     * @return the fault
     */
    public static Fault pause(Direction direction) {
        return new Fault(Kind.PAUSE, Objects.requireNonNull(direction, "direction"), Duration.ZERO, 0);
    }

    /**
     * Makes the emulated stateful firewall forget the flow now, as it would after an idle timeout.
     *
     * @return the fault
     */
    public static Fault forget() {
        return new Fault(Kind.FORGET, Direction.BOTH, Duration.ZERO, 0);
    }

    /**
     * Resets both sockets: RST to the client and to the server.
     *
     * @return the fault
     */
    public static Fault reset() {
        return new Fault(Kind.RESET, Direction.BOTH, Duration.ZERO, 0);
    }

    /**
     * Closes both sockets: FIN to the client and to the server. Linux sends RST instead of FIN if bytes that the
     * proxy has not read are still in that socket's receive buffer (for example while paused).
     *
     * @return the fault
     */
    public static Fault close() {
        return new Fault(Kind.CLOSE, Direction.BOTH, Duration.ZERO, 0);
    }

    /** @return the kind of fault */
    public Kind kind() {
        return kind;
    }

    /** @return the direction it applies to ({@link Direction#BOTH} for forget, reset and close) */
    public Direction direction() {
        return direction;
    }

    /** @return the delay of a {@link Kind#LATENCY} fault, zero for the others */
    public Duration delay() {
        return delay;
    }

    /** @return the cap of a {@link Kind#BANDWIDTH} fault, zero for the others */
    public long bytesPerSecond() {
        return bytesPerSecond;
    }

    /** @return whether the fault stays until restored (black hole, latency, bandwidth, pause) */
    public boolean isLasting() {
        return kind == Kind.BLACK_HOLE || kind == Kind.LATENCY || kind == Kind.BANDWIDTH || kind == Kind.PAUSE;
    }

    @Override
    public boolean equals(Object o) {
        if (this == o) {
            return true;
        }
        if (!(o instanceof Fault)) {
            return false;
        }
        Fault f = (Fault) o;
        return kind == f.kind && direction == f.direction && delay.equals(f.delay)
                && bytesPerSecond == f.bytesPerSecond;
    }

    @Override
    public int hashCode() {
        return Objects.hash(kind, direction, delay, bytesPerSecond);
    }

    /** @return for example {@code blackHole(SERVER_TO_CLIENT)}, {@code latency(BOTH, PT0.3S)}, {@code reset()} */
    @Override
    public String toString() {
        switch (kind) {
            case BLACK_HOLE:
                return "blackHole(" + direction + ")";
            case LATENCY:
                return "latency(" + direction + ", " + delay + ")";
            case BANDWIDTH:
                return "bandwidth(" + direction + ", " + bytesPerSecond + " B/s)";
            case PAUSE:
                return "pause(" + direction + ")";
            case FORGET:
                return "forget()";
            case RESET:
                return "reset()";
            default:
                return "close()";
        }
    }
}
