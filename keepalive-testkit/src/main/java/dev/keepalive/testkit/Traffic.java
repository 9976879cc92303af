package dev.keepalive.testkit;

/**
 * Which packets a {@link KernelFirewallLab} black hole drops, seen from the lab's namespace (the "peer").
 *
 * <pre>{@code
 * lab.blackHole(Traffic.FROM_PEER); // requests reach the server in the namespace, its answers vanish
 * }</pre>
 */
public enum Traffic {
    /** Packets from the root namespace (the host, your test JVM) into the lab's namespace. */
    TO_PEER,
    /** Packets the lab's namespace sends to the root namespace. */
    FROM_PEER,
    /** Both: the peer looks like a crashed host or a pulled cable. */
    BOTH;

    /**
     * @param single {@link #TO_PEER} or {@link #FROM_PEER}
     * @return whether this value covers {@code single}
     */
    public boolean includes(Traffic single) {
        return this == BOTH || this == single;
    }
}
