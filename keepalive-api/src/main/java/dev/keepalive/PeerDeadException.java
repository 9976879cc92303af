package dev.keepalive;

import java.io.IOException;
import java.net.SocketAddress;
import java.time.Duration;
import java.util.Objects;
import java.util.Optional;

/**
 * The peer of a connection was declared dead, or the connection was lost, and why.
 *
 * <p>It carries what was observed when the decision was made, so that a log line or a reconnect policy can tell a
 * ping timeout from a kernel timeout or a reset without parsing messages. Pending writes of the connection fail with
 * this exception rather than a bare {@code ClosedChannelException}.
 */
public class PeerDeadException extends IOException {
    private static final long serialVersionUID = 1L;

    private final DeadPeerReason reason;
    private final transient SocketAddress remoteAddress;
    private final Duration sinceLastInbound;
    private final int missedPings;
    private final Duration lastRtt;
    private final PeerDiagnosis diagnosis;

    /**
     * An exception without the kernel's view ({@link PeerDiagnosis#UNKNOWN}).
     *
     * @param reason           the mechanism that noticed
     * @param remoteAddress    the peer, or {@code null} when unknown
     * @param sinceLastInbound how long since the last inbound byte (at least this long)
     * @param missedPings      consecutive unanswered pings at the time
     * @param lastRtt          the last measured ping round trip, or {@code null} when none was measured
     * @param cause            the I/O error behind it, or {@code null}
     */
    public PeerDeadException(DeadPeerReason reason, SocketAddress remoteAddress, Duration sinceLastInbound,
                             int missedPings, Duration lastRtt, Throwable cause) {
        this(reason, PeerDiagnosis.UNKNOWN, remoteAddress, sinceLastInbound, missedPings, lastRtt, cause);
    }

    /**
     * @param reason           the mechanism that noticed
     * @param diagnosis        what the local kernel knew about the peer at the time
     * @param remoteAddress    the peer, or {@code null} when unknown
     * @param sinceLastInbound how long since the last inbound byte (at least this long)
     * @param missedPings      consecutive unanswered pings at the time
     * @param lastRtt          the last measured ping round trip, or {@code null} when none was measured
     * @param cause            the I/O error behind it, or {@code null}
     */
    public PeerDeadException(DeadPeerReason reason, PeerDiagnosis diagnosis, SocketAddress remoteAddress,
                             Duration sinceLastInbound, int missedPings, Duration lastRtt, Throwable cause) {
        super(message(reason, diagnosis, remoteAddress, sinceLastInbound, missedPings, lastRtt, cause), cause);
        this.reason = Objects.requireNonNull(reason, "reason");
        this.diagnosis = Objects.requireNonNull(diagnosis, "diagnosis");
        this.remoteAddress = remoteAddress;
        this.sinceLastInbound = Objects.requireNonNull(sinceLastInbound, "sinceLastInbound");
        this.missedPings = missedPings;
        this.lastRtt = lastRtt;
    }

    private static String message(DeadPeerReason reason, PeerDiagnosis diagnosis, SocketAddress remote,
                                  Duration since, int missed, Duration rtt, Throwable cause) {
        StringBuilder sb = new StringBuilder("peer ");
        sb.append(remote == null ? "(unknown)" : remote).append(" is dead: ").append(reason)
                .append(" (last inbound ").append(since.toMillis()).append(" ms ago, missed pings ").append(missed)
                .append(", last RTT ").append(rtt == null ? "none" : (rtt.toNanos() / 1000) + " us")
                .append("; kernel: ").append(diagnosis == null ? null : diagnosis.description()).append(')');
        if (cause != null && cause.getMessage() != null) {
            sb.append(": ").append(cause.getMessage());
        }
        return sb.toString();
    }

    /**
     * What the local kernel knew about the peer when the decision was made: a host that still acknowledged our
     * bytes (its application is not answering), a host or path that did not, or unknown.
     */
    public PeerDiagnosis diagnosis() {
        return diagnosis;
    }

    /** The mechanism that noticed. */
    public DeadPeerReason reason() {
        return reason;
    }

    /** The peer's address, when known. */
    public Optional<SocketAddress> remoteAddress() {
        return Optional.ofNullable(remoteAddress);
    }

    /** How long since the last inbound byte when the decision was made (at least this long). */
    public Duration sinceLastInbound() {
        return sinceLastInbound;
    }

    /** Consecutive pings left unanswered when the decision was made. */
    public int missedPings() {
        return missedPings;
    }

    /** The last measured ping round-trip time, if any ping was answered. */
    public Optional<Duration> lastRtt() {
        return Optional.ofNullable(lastRtt);
    }
}
