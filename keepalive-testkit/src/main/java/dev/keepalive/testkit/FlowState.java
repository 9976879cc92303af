package dev.keepalive.testkit;

/**
 * Where a {@link Flow} (one client connection through a {@link FirewallProxy}) stands.
 *
 * <p>{@link #FORGOTTEN}, {@link #RESET} and {@link #CLOSED} are final as far as faults go: {@link Flow#restore()}
 * does not revive a flow. A forgotten flow becomes {@link #CLOSED} once both of its sockets are closed.
 */
public enum FlowState {
    /** The client is connected to the proxy; the proxy is still connecting to the server. */
    CONNECTING,
    /** Both sockets are open and bytes pass (possibly delayed, throttled or paused). */
    OPEN,
    /** Both sockets are open and at least one direction is black-holed: its bytes are read and discarded. */
    BLACK_HOLED,
    /** The emulated stateful firewall forgot the flow: every byte is dropped in both directions, sockets stay open. */
    FORGOTTEN,
    /** The proxy reset both sockets (RST to the client and to the server). */
    RESET,
    /** Both sockets are closed (by either peer or by {@link Flow#close()}). */
    CLOSED
}
