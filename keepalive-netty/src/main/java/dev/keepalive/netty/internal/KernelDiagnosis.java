package dev.keepalive.netty.internal;

import dev.keepalive.DeadPeerReason;
import dev.keepalive.PeerDiagnosis;
import io.netty.channel.Channel;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import java.lang.reflect.Method;

/**
 * The kernel's view of a connection's peer, read from {@code TCP_INFO} through the native transports: epoll
 * ({@code EpollSocketChannel.tcpInfo()}) and Netty 4.2's io_uring ({@code IoUringSocketChannel.tcpInfo()}, reached
 * by name). Each transport's reading lives in a nested class loaded only when a channel of that transport is seen,
 * so the native transports stay optional. Internal: not part of the API.
 *
 * <p>The classification ({@link #diagnose}, {@link #diagnoseKernelTimeout}) does no I/O and is tested on its own.
 */
public final class KernelDiagnosis {
    private static final Logger log = LoggerFactory.getLogger(KernelDiagnosis.class);
    /** An acknowledgement this much before the last inbound byte (ms granularity, read latency) proves nothing. */
    static final long ACK_MARGIN_MILLIS = 20;

    private KernelDiagnosis() {
    }

    /**
     * The fields of {@code struct tcp_info} that the diagnosis reads.
     *
     * @param unacked           segments sent and not yet acknowledged ({@code tcpi_unacked})
     * @param retransmits       retransmission timeouts in a row without progress ({@code tcpi_retransmits})
     * @param probes            unanswered keepalive or zero-window probes ({@code tcpi_probes})
     * @param lastAckRecvMillis how long ago the last acknowledgement arrived ({@code tcpi_last_ack_recv})
     * @param lastDataSentMillis how long ago data last left ({@code tcpi_last_data_sent})
     */
    public record TcpInfo(long unacked, int retransmits, int probes, long lastAckRecvMillis,
                          long lastDataSentMillis) {
    }

    /**
     * Reads {@code channel}'s {@code TCP_INFO}. Must be called on the channel's event loop.
     *
     * @return the snapshot, or {@code null} when the transport cannot read it (NIO, kqueue, a closed socket)
     */
    public static TcpInfo read(Channel channel) {
        if (channel == null || !channel.isOpen()) {
            return null;
        }
        String type = channel.getClass().getName();
        try {
            if (type.equals("io.netty.channel.epoll.EpollSocketChannel")) {
                return Epoll.read(channel);
            }
            if (type.equals("io.netty.channel.uring.IoUringSocketChannel")) {
                return ByName.read(channel);
            }
        } catch (RuntimeException | LinkageError | ReflectiveOperationException e) {
            return null; // the socket closed meanwhile, or this Netty has no such method
        }
        return null;
    }

    /**
     * The kernel's view of {@code channel}'s peer after the handler's verdict {@code reason}, read while the socket
     * is open: for the verdicts of silence (a ping timeout, read idle, a write stall) {@link #diagnose}, otherwise
     * {@link PeerDiagnosis#UNKNOWN}. Must be called on the channel's event loop.
     */
    public static PeerDiagnosis ofVerdict(Channel channel, DeadPeerReason reason, long sinceLastInboundMillis) {
        if (reason != DeadPeerReason.PING_TIMEOUT && reason != DeadPeerReason.READ_IDLE
                && reason != DeadPeerReason.WRITE_STALL) {
            return PeerDiagnosis.UNKNOWN;
        }
        TcpInfo info = read(channel);
        PeerDiagnosis diagnosis = diagnose(info, sinceLastInboundMillis, reason == DeadPeerReason.PING_TIMEOUT);
        if (log.isDebugEnabled()) {
            log.debug("{}: {}, {} ms since the last inbound byte, {}: {}", channel, reason, sinceLastInboundMillis,
                    info, diagnosis);
        }
        return diagnosis;
    }

    /**
     * The kernel's view of {@code channel}'s peer after the kernel gave up ({@link #diagnoseKernelTimeout}). Must be
     * called on the channel's event loop, before the transport closes the socket.
     */
    public static PeerDiagnosis ofKernelTimeout(Channel channel, int userTimeoutMillis) {
        TcpInfo info = read(channel);
        PeerDiagnosis diagnosis = diagnoseKernelTimeout(info, userTimeoutMillis);
        if (log.isDebugEnabled()) {
            log.debug("{}: kernel timeout, {}: {}", channel, info, diagnosis);
        }
        return diagnosis;
    }

    /**
     * The diagnosis after a verdict of silence (a ping timeout, read idle, a write stall), made while the socket is
     * open.
     * <ul>
     *   <li>bytes unacknowledged and retransmitted (or probes unanswered): {@link PeerDiagnosis#HOST_OR_PATH_UNREACHABLE};</li>
     *   <li>nothing unacknowledged, and the last acknowledgement came after the peer's last inbound byte: the peer's
     *       kernel took our later bytes (our ping), {@link PeerDiagnosis#APPLICATION_NOT_ANSWERING};</li>
     *   <li>nothing unacknowledged after a ping, our last data left no earlier than the peer's last inbound byte
     *       (within the margin) and was acknowledged no earlier than it left: the same, for a ping that left within
     *       {@value #ACK_MARGIN_MILLIS} ms of the peer's last byte, {@link PeerDiagnosis#APPLICATION_NOT_ANSWERING};</li>
     *   <li>we sent after the peer's last inbound byte (our pings, or data the kernel sent), and no acknowledgement
     *       came since: {@link PeerDiagnosis#HOST_OR_PATH_UNREACHABLE} (also when the kernel could not even send,
     *       its route to the peer being gone: then nothing counts as unacknowledged);</li>
     *   <li>otherwise (or no {@code info}): {@link PeerDiagnosis#UNKNOWN}.</li>
     * </ul>
     *
     * @param info                   the snapshot, or {@code null}
     * @param sinceLastInboundMillis how long since the peer's last inbound byte, as the handler measured it
     * @param pingedSinceInbound     whether pings were written after the peer's last inbound byte (a ping timeout)
     */
    public static PeerDiagnosis diagnose(TcpInfo info, long sinceLastInboundMillis, boolean pingedSinceInbound) {
        if (info == null) {
            return PeerDiagnosis.UNKNOWN;
        }
        if (info.unacked() > 0 && (info.retransmits() > 0 || info.probes() > 0)) {
            return PeerDiagnosis.HOST_OR_PATH_UNREACHABLE;
        }
        boolean ackSinceInbound = info.lastAckRecvMillis() + ACK_MARGIN_MILLIS < sinceLastInboundMillis;
        if (info.unacked() == 0 && ackSinceInbound) {
            return PeerDiagnosis.APPLICATION_NOT_ANSWERING;
        }
        // A ping that left within the margin of the peer's last byte (the first ping of a connection may) is
        // acknowledged within it too: what proves the acknowledgement is ours is its order after our last data,
        // and that data's order after the peer's last byte (within the margin: the kernel counts in jiffies).
        boolean lastSentAcknowledged = info.lastAckRecvMillis() <= info.lastDataSentMillis()
                && info.lastDataSentMillis() <= sinceLastInboundMillis + ACK_MARGIN_MILLIS;
        if (info.unacked() == 0 && pingedSinceInbound && lastSentAcknowledged) {
            return PeerDiagnosis.APPLICATION_NOT_ANSWERING;
        }
        boolean sentSinceInbound = pingedSinceInbound
                || info.lastDataSentMillis() + ACK_MARGIN_MILLIS < sinceLastInboundMillis;
        if (sentSinceInbound && !ackSinceInbound) {
            return PeerDiagnosis.HOST_OR_PATH_UNREACHABLE;
        }
        return PeerDiagnosis.UNKNOWN;
    }

    /**
     * The diagnosis after the kernel gave up ({@code ETIMEDOUT}), read from the socket the kernel has just closed:
     * it has dropped the unacknowledged data and reset its probe count, but it still knows when the last
     * acknowledgement came and whether retransmission timeouts were running.
     * <ul>
     *   <li>an acknowledgement well within the user timeout (less than 7/8 of it ago): the peer's host answered
     *       until TCP_USER_TIMEOUT ran out, as it does for our zero-window probes (Linux bounds zero-window probing
     *       with it), {@link PeerDiagnosis#APPLICATION_NOT_ANSWERING}: a peer that stopped reading. This holds also
     *       when some segments were retransmitted (a receiver whose tiny buffer is full drops in-window segments):
     *       a path that is gone brings no acknowledgement at all for the whole user timeout;</li>
     *   <li>retransmission timeouts without such an acknowledgement: {@link PeerDiagnosis#HOST_OR_PATH_UNREACHABLE};</li>
     *   <li>otherwise nothing was acknowledged for the whole user timeout or keepalive bound (keepalive probes
     *       unanswered): {@link PeerDiagnosis#HOST_OR_PATH_UNREACHABLE}.</li>
     * </ul>
     * Measured on Linux 6.18 over loopback, a zero-window abort at a 1 s user timeout read
     * {@code unacked=0, retransmits=0, probes=0, lastAckRecv=580..612 ms}.
     *
     * @param userTimeoutMillis the TCP_USER_TIMEOUT in force, or 0 when none
     */
    public static PeerDiagnosis diagnoseKernelTimeout(TcpInfo info, int userTimeoutMillis) {
        if (info == null) {
            return PeerDiagnosis.UNKNOWN;
        }
        if (userTimeoutMillis > 0 && info.lastAckRecvMillis() * 8 < userTimeoutMillis * 7L) {
            return PeerDiagnosis.APPLICATION_NOT_ANSWERING;
        }
        return PeerDiagnosis.HOST_OR_PATH_UNREACHABLE;
    }

    private static final class Epoll {
        static TcpInfo read(Channel channel) {
            io.netty.channel.epoll.EpollTcpInfo i = ((io.netty.channel.epoll.EpollSocketChannel) channel).tcpInfo();
            return new TcpInfo(i.unacked(), i.retransmits(), i.probes(), i.lastAckRecv(), i.lastDataSent());
        }
    }

    /** io_uring: its package exists only in Netty 4.2, so its {@code tcpInfo()} is called by name. */
    private static final class ByName {
        static TcpInfo read(Channel channel) throws ReflectiveOperationException {
            Object i = channel.getClass().getMethod("tcpInfo").invoke(channel);
            Class<?> c = i.getClass();
            return new TcpInfo(((Number) get(c, i, "unacked")).longValue(),
                    ((Number) get(c, i, "retransmits")).intValue(), ((Number) get(c, i, "probes")).intValue(),
                    ((Number) get(c, i, "lastAckRecv")).longValue(), ((Number) get(c, i, "lastDataSent")).longValue());
        }

        private static Object get(Class<?> c, Object target, String name) throws ReflectiveOperationException {
            Method m = c.getMethod(name);
            return m.invoke(target);
        }
    }
}
