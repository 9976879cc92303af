package dev.keepalive.testkit;

import java.net.InetSocketAddress;
import java.time.Duration;
import java.util.List;
import java.util.Optional;

/**
 * One client connection through a {@link FirewallProxy}: the client's socket to the proxy plus the proxy's socket
 * to the server. Get one from {@link FirewallProxy#awaitFlow(int, Duration)} or {@link FirewallProxy#flows()}.
 *
 * <p>Every method may be called from any thread while traffic flows. The fault methods hop onto the flow's event
 * loop and return once the fault is in force, so a test can take its start time right after the call:
 *
 * <pre>{@code
 * Flow flow = proxy.awaitFlow(0, Duration.ofSeconds(5));
 * long start = System.nanoTime();
 * flow.blackHole();                       // in force when this returns
 * await().atMost(Duration.ofSeconds(10)).until(flow::clientClosed); // the client gave up on its peer
 * Duration detection = Duration.ofNanos(System.nanoTime() - start);
 * }</pre>
 *
 * <p>The proxy terminates TCP: the client's kernel sees its bytes acknowledged by the proxy, so only
 * application-level liveness checks notice these faults. For kernel-level effects (unacknowledged retransmissions,
 * {@code TCP_USER_TIMEOUT}, {@code SO_KEEPALIVE}) use {@link KernelFirewallLab}.
 */
public interface Flow {

    /** @return the flow's number, 0 for the first connection the proxy accepted, then 1, 2, ... */
    int id();

    /** @return the client's address as the proxy sees it */
    InetSocketAddress clientAddress();

    /**
     * The proxy's own end of its connection to the server: this is the remote address the server sees, which lets
     * a test match a server-side connection to its flow.
     *
     * @return the address, empty while {@link FlowState#CONNECTING} or if connecting failed
     */
    Optional<InetSocketAddress> upstreamLocalAddress();

    /** @return the current state */
    FlowState state();

    /** @return a snapshot of the bytes forwarded and dropped so far */
    FlowCounters counters();

    /** @return the lasting faults in force on this flow, in the order they were injected */
    List<Fault> activeFaults();

    /**
     * Whether the client ended its side of the connection (FIN or RST seen by the proxy). The proxy notices this
     * even while the flow is black-holed or forgotten, which makes it a good "the client gave up" signal.
     *
     * @return {@code true} once the proxy saw the client close
     */
    boolean clientClosed();

    /** @return {@code true} once the proxy saw the server close (FIN or RST), even if it did not pass it on */
    boolean serverClosed();

    /**
     * Injects a fault into this flow and returns once it is in force.
     *
     * @param fault the fault
     * @throws NullPointerException if {@code fault} is null
     * @throws AwaitTimeoutException if the flow's event loop did not run the change within 10 seconds
     */
    void inject(Fault fault);

    /**
     * Removes every lasting fault (black hole, latency, bandwidth cap, pause). A FIN or reset that arrived while
     * black-holed is delivered now. Does not revive a forgotten, reset or closed flow.
     */
    void restore();

    /**
     * Waits until the flow is in {@code expected} state.
     *
     * @param expected the state to wait for
     * @param timeout how long to wait at most
     * @return this flow
     * @throws AwaitTimeoutException if the state was not reached in time (the message names the last state)
     */
    Flow awaitState(FlowState expected, Duration timeout);

    /** Same as {@code inject(Fault.blackHole())}. */
    default void blackHole() {
        inject(Fault.blackHole());
    }

    /**
     * Same as {@code inject(Fault.blackHole(direction))}.
     *
     * @param direction which way to drop
     */
    default void blackHole(Direction direction) {
        inject(Fault.blackHole(direction));
    }

    /**
     * Same as {@code inject(Fault.latency(direction, delay))}.
     *
     * @param direction which way to delay
     * @param delay the delay, {@code >= 0}
     */
    default void latency(Direction direction, Duration delay) {
        inject(Fault.latency(direction, delay));
    }

    /**
     * Same as {@code inject(Fault.bandwidth(direction, bytesPerSecond))}.
     *
     * @param direction which way to throttle
     * @param bytesPerSecond the cap, {@code > 0}
     */
    default void bandwidth(Direction direction, long bytesPerSecond) {
        inject(Fault.bandwidth(direction, bytesPerSecond));
    }

    /** Same as {@code inject(Fault.pause())}. */
    default void pause() {
        inject(Fault.pause());
    }

    /**
     * Same as {@code inject(Fault.pause(direction))}.
     *
     * @param direction which way to stall
     */
    default void pause(Direction direction) {
        inject(Fault.pause(direction));
    }

    /**
     * Removes only the pause faults: the proxy reads again and the bytes that waited in the senders' socket buffers
     * flow on. Other lasting faults stay.
     */
    void resume();

    /** Same as {@code inject(Fault.forget())}. */
    default void forget() {
        inject(Fault.forget());
    }

    /** Same as {@code inject(Fault.reset())}. */
    default void reset() {
        inject(Fault.reset());
    }

    /** Same as {@code inject(Fault.close())}. */
    default void close() {
        inject(Fault.close());
    }
}
