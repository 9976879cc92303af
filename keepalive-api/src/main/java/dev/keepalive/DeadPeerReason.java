package dev.keepalive;

/** Why a connection was declared dead. Each value names the mechanism that noticed. */
public enum DeadPeerReason {
    /** Application pings went unanswered, and nothing else arrived, for the configured number of ping timeouts. */
    PING_TIMEOUT,
    /** Nothing at all arrived from the peer for the read-idle timeout. */
    READ_IDLE,
    /** Outbound bytes stayed pending without draining for the write-stall timeout. */
    WRITE_STALL,
    /**
     * The kernel gave up on the connection ({@code ETIMEDOUT}): TCP keepalive probes went unanswered, or sent data
     * stayed unacknowledged past TCP_USER_TIMEOUT or the retransmission limit.
     */
    TCP_TIMEOUT,
    /** The peer reset the connection (RST). */
    RESET_BY_PEER,
    /** The peer closed the connection (FIN) without the local side asking for it. */
    CLOSED_BY_PEER,
    /**
     * The connection was ended because one side pinged more often than the other allows: on a server, the client
     * it closed; on a client, the server told it so before closing (as HTTP/2's GOAWAY {@code ENHANCE_YOUR_CALM}).
     * A client should ping less often on its next connection.
     */
    TOO_MANY_PINGS
}
