package dev.keepalive;

/** Why a connection was declared dead. Each value names the mechanism that noticed. */
public enum DeadPeerReason {
    /** Application pings went unanswered, and nothing else arrived, for the configured number of ping timeouts. */
    PING_TIMEOUT,
    /** Nothing at all arrived from the peer for the read-idle timeout. */
    READ_IDLE,
    /**
     * Outbound bytes stayed pending without draining for the write-stall timeout; or the kernel gave up on a peer
     * whose host kept acknowledging but advertised a zero receive window until TCP_USER_TIMEOUT (on Linux that
     * timeout also bounds zero-window probing): in both cases a peer that stopped reading.
     */
    WRITE_STALL,
    /**
     * The kernel gave up on the connection ({@code ETIMEDOUT}, or {@code EHOSTUNREACH}/{@code ENETUNREACH} when an
     * ICMP error had come meanwhile): TCP keepalive probes went unanswered, or sent data stayed unacknowledged past
     * TCP_USER_TIMEOUT or the retransmission limit.
     */
    TCP_TIMEOUT,
    /**
     * The peer reset the connection (RST): {@code ECONNRESET}, or {@code EPIPE} on a write, whether a read or a
     * write met it first.
     */
    RESET_BY_PEER,
    /** The peer closed the connection (FIN, end of stream seen) without the local side asking for it. */
    CLOSED_BY_PEER,
    /**
     * The transport reported an I/O error that names neither the peer nor the path (the exception's cause says
     * which: a TLS failure, an unexpected {@code errno}), and the connection was closed for it. Not a guess at
     * {@link #CLOSED_BY_PEER}.
     */
    IO_ERROR,
    /**
     * This side closed the connection, but not through this handler and without an error it saw: a handler nearer
     * the socket called {@code close()}, or something called the channel's {@code unsafe()}. The keepalive did not
     * decide it and cannot say whether the peer was alive.
     */
    CLOSED_LOCALLY,
    /**
     * The peer closed the connection because this side pinged more often than it allows, and told us so first
     * (a GOAWAY {@code too_many_pings}, as HTTP/2's {@code ENHANCE_YOUR_CALM}). This side should ping less often on
     * its next connection.
     */
    TOO_MANY_PINGS,
    /**
     * This side closed the connection because the peer pinged more often than
     * {@link KeepaliveSettings#minPeerPingInterval()} allows, more than {@link KeepaliveSettings#peerPingStrikes()}
     * times in a row (after telling it so where the probe can). Nothing about this side's own pinging needs to
     * change.
     */
    PEER_PINGED_TOO_OFTEN,
    /**
     * A new connection never answered: no byte at all arrived from the peer within
     * {@link KeepaliveSettings#firstResponseTimeout()} of the connection becoming active (a server that accepted
     * in its kernel but never served the connection, or one that stopped before its first answer). A peer that
     * answered once and then went silent is {@link #PING_TIMEOUT} or {@link #READ_IDLE} instead.
     */
    FIRST_RESPONSE_TIMEOUT
}
