package dev.keepalive.testkit;

/**
 * Which way bytes travel through a {@link FirewallProxy}.
 *
 * <pre>{@code
 * flow.blackHole(Direction.SERVER_TO_CLIENT); // the client's requests arrive, the answers vanish
 * }</pre>
 */
public enum Direction {
    /** Bytes the client writes, on their way to the server. */
    CLIENT_TO_SERVER,
    /** Bytes the server writes, on their way to the client. */
    SERVER_TO_CLIENT,
    /** Both of the above. */
    BOTH;

    /**
     * Whether this direction covers {@code single}.
     *
     * @param single {@link #CLIENT_TO_SERVER} or {@link #SERVER_TO_CLIENT}
     * @return {@code true} if this is {@code single} or {@link #BOTH}
     */
    public boolean includes(Direction single) {
        return this == BOTH || this == single;
    }
}
