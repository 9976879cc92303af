package dev.keepalive.testkit;

import java.util.Objects;

/**
 * A snapshot of the bytes a flow (or a whole {@link FirewallProxy}) forwarded and dropped.
 *
 * <p>"Forwarded" counts bytes the proxy has written to the other socket; "dropped" counts bytes it read and
 * discarded (black hole, forgotten flow, reset or close with bytes still queued). Bytes still queued behind a
 * latency or bandwidth fault are in neither count yet.
 *
 * <pre>{@code
 * FlowCounters c = flow.counters();
 * assertEquals(5, c.forwarded(Direction.CLIENT_TO_SERVER));
 * assertEquals(0, c.dropped(Direction.BOTH));
 * }</pre>
 *
 * @param forwardedClientToServer bytes written to the server
 * @param forwardedServerToClient bytes written to the client
 * @param droppedClientToServer bytes from the client that were discarded
 * @param droppedServerToClient bytes from the server that were discarded
 */
public record FlowCounters(
        long forwardedClientToServer,
        long forwardedServerToClient,
        long droppedClientToServer,
        long droppedServerToClient) {

    /** All counters zero. */
    public static final FlowCounters ZERO = new FlowCounters(0, 0, 0, 0);

    /**
     * Bytes forwarded in a direction.
     *
     * @param direction a single direction, or {@link Direction#BOTH} for the sum
     * @return the byte count
     */
    public long forwarded(Direction direction) {
        Objects.requireNonNull(direction, "direction");
        return (direction.includes(Direction.CLIENT_TO_SERVER) ? forwardedClientToServer : 0)
                + (direction.includes(Direction.SERVER_TO_CLIENT) ? forwardedServerToClient : 0);
    }

    /**
     * Bytes dropped in a direction.
     *
     * @param direction a single direction, or {@link Direction#BOTH} for the sum
     * @return the byte count
     */
    public long dropped(Direction direction) {
        Objects.requireNonNull(direction, "direction");
        return (direction.includes(Direction.CLIENT_TO_SERVER) ? droppedClientToServer : 0)
                + (direction.includes(Direction.SERVER_TO_CLIENT) ? droppedServerToClient : 0);
    }

    /**
     * The element-wise sum of two snapshots.
     *
     * @param other another snapshot
     * @return the sum
     */
    public FlowCounters plus(FlowCounters other) {
        return new FlowCounters(
                forwardedClientToServer + other.forwardedClientToServer,
                forwardedServerToClient + other.forwardedServerToClient,
                droppedClientToServer + other.droppedClientToServer,
                droppedServerToClient + other.droppedServerToClient);
    }
}
