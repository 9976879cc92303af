package dev.keepalive;

/**
 * What the local kernel knew about the peer when the connection was declared dead: whether the peer's host still
 * acknowledged our bytes. Read from {@code TCP_INFO} on the native transports (epoll, io_uring); the JDK's NIO
 * cannot read it. A ping timeout alone cannot tell a hung application from a dead host or a broken path; the
 * kernel's acknowledgements can.
 */
public enum PeerDiagnosis {
    /**
     * The peer's host acknowledged everything we sent, after our unanswered ping went out: its kernel and the path
     * to it work, but its application does not answer (hung, stopped, overloaded, or no longer reading). Look at the
     * peer process, not at the network.
     */
    APPLICATION_NOT_ANSWERING("the peer's host acknowledged our bytes, so the host and the path are up, but its "
            + "application is not answering"),
    /**
     * Our bytes stay unacknowledged and the kernel is retransmitting them (or its keepalive probes went
     * unanswered): the peer's host is down, or the path to it is broken (a crash, a pulled cable, a firewall or NAT
     * that dropped the flow). Look at the network and the peer's host.
     */
    HOST_OR_PATH_UNREACHABLE("our bytes stay unacknowledged and are being retransmitted, so the peer's host is down "
            + "or the path to it is broken"),
    /**
     * The kernel's view could not be read (the NIO or kqueue transport, a socket already closed, or a verdict that
     * does not come from silence, such as a reset), or it was not conclusive.
     */
    UNKNOWN("the kernel's view of the peer is unknown");

    private final String description;

    PeerDiagnosis(String description) {
        this.description = description;
    }

    /** One sentence for an operator, as it appears in {@link PeerDeadException}'s message. */
    public String description() {
        return description;
    }
}
