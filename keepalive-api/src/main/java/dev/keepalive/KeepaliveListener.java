package dev.keepalive;

import java.net.SocketAddress;
import java.time.Duration;

/**
 * Receives the keepalive events of connections. One listener may serve many connections: each call names the
 * remote address. Calls come on the connection's own thread (for Netty, its event loop): keep them short and never
 * block. Every method has an empty default.
 */
public interface KeepaliveListener {

    /** A listener that does nothing. */
    KeepaliveListener NOOP = new KeepaliveListener() {
    };

    /** A ping was sent to the peer. */
    default void onPingSent(SocketAddress remote, long pingId) {
    }

    /** The peer answered ping {@code pingId} after {@code rtt}. */
    default void onPongReceived(SocketAddress remote, long pingId, Duration rtt) {
    }

    /**
     * Ping {@code pingId} went unanswered, and nothing else arrived, for the ping timeout; {@code missed} consecutive
     * pings are now missed. Unless that reaches the limit, the next ping goes out at once; when it does (the last
     * miss is told too), {@link #onPeerDead} follows.
     */
    default void onPingMissed(SocketAddress remote, long pingId, int missed) {
    }

    /**
     * A ping-timeout timer fired {@code lateness} late, so the local process evidently stalled (a GC pause, a busy
     * event loop): the peer gets a fresh probe instead of being declared dead.
     */
    default void onLocalStall(SocketAddress remote, Duration lateness) {
    }

    /**
     * The connection's peer was declared dead, or the connection was lost; the exception says why
     * ({@link PeerDeadException#reason()}) and, where the kernel could tell, whether the peer's host still answered
     * ({@link PeerDeadException#diagnosis()}).
     */
    default void onPeerDead(PeerDeadException cause) {
    }

    /**
     * The peer closed the connection in a way its protocol allows, with nothing of ours in flight: an HTTP/1.1
     * server retiring an idle pooled connection, an HTTP/2 GOAWAY, a WebSocket close frame. This is not a failure
     * and not a {@link PeerDeadException}: no write was lost, and the next connection is expected to work. Called
     * instead of {@link #onPeerDead}, at most once per connection.
     *
     * @param remote the peer's address
     * @param how    what the peer did, in words for a log line ("closed the idle connection, nothing in flight")
     */
    default void onPeerRetired(SocketAddress remote, String how) {
    }
}
