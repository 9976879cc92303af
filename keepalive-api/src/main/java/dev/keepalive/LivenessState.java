package dev.keepalive;

/** Where the liveness of one connection stands. */
public enum LivenessState {
    /** The connection is not active yet: nothing is watched and no timer runs. */
    INACTIVE,
    /** The connection is active and no ping is outstanding: inbound traffic is watched, a ping goes out when it stops. */
    WATCHING,
    /** A ping is outstanding: the peer must answer, or send anything, before the ping timeout. */
    PING_OUTSTANDING,
    /** The peer was declared dead; nothing more happens. */
    DEAD,
    /** The connection ended without being declared dead (closed locally). */
    CLOSED
}
