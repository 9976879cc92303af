package dev.keepalive.reconnect;

import dev.keepalive.DeadPeerReason;

import java.net.SocketAddress;
import java.time.Duration;

/**
 * Something that happened to a reconnecting client's connection. Events are emitted in order on the client's event
 * loop; {@link Type#CLOSED} or {@link Type#GAVE_UP} is always the last.
 *
 * <table>
 *   <caption>Fields by type</caption>
 *   <tr><th>type</th><th>state (after the event)</th><th>attempt</th><th>delay</th><th>reason, cause</th></tr>
 *   <tr><td>CONNECTING</td><td>CONNECTING</td><td>this attempt's number in the sequence (1 for the first)</td>
 *       <td>0</td><td>null</td></tr>
 *   <tr><td>CONNECTED</td><td>CONNECTED</td><td>the number of the attempt that connected</td><td>0</td>
 *       <td>null</td></tr>
 *   <tr><td>CONNECT_FAILED</td><td>BACKING_OFF (CLOSED when the client gives up next)</td><td>the failed attempt's
 *       number; for an endpoint skipped by its open circuit breaker, the attempts made so far</td><td>0</td>
 *       <td>the failure (refused, timed out, not proven in time, hook failed, circuit open); the reason when the
 *       unproven connection was declared dead</td></tr>
 *   <tr><td>DISCONNECTED</td><td>BACKING_OFF (CLOSED when giving up, BACKING_OFF before an immediate redial)</td>
 *       <td>the attempts made in the sequence: 0 when the lost connection lasted
 *       {@link ReconnectPolicy#backoffResetAfter()} and the sequence starts afresh</td><td>0</td><td>why the peer was
 *       declared dead, or null for a local close</td></tr>
 *   <tr><td>RECONNECTING</td><td>BACKING_OFF</td><td>the number of the attempt that starts after the delay</td>
 *       <td>the backoff delay</td><td>those of the failure or loss before it</td></tr>
 *   <tr><td>GAVE_UP</td><td>CLOSED</td><td>the attempts made in the sequence</td><td>0</td><td>the last
 *       failure</td></tr>
 *   <tr><td>CLOSED</td><td>CLOSED</td><td>the attempts made in the sequence</td><td>0</td><td>null</td></tr>
 * </table>
 *
 * @param type     what happened
 * @param state    the client's state after the event
 * @param remote   the endpoint concerned (for RECONNECTING, the one the next attempt dials)
 * @param attempt  an attempt number in the current backoff sequence, as in the table
 * @param delay    the backoff before the next attempt ({@link Type#RECONNECTING}), or {@link Duration#ZERO}
 * @param reason   why the connection died, when its peer was declared dead or lost, or {@code null}
 * @param cause    the error behind it, or {@code null}
 */
public record ConnectionEvent(Type type, ConnectionState state, SocketAddress remote, int attempt, Duration delay,
                              DeadPeerReason reason, Throwable cause) {

    /** The kinds of event. */
    public enum Type {
        /** An attempt to connect to {@code remote} starts. */
        CONNECTING,
        /**
         * The connection is proven: connected, the on-connected hook completed and the peer answered; queued sends
         * are written right after this event.
         */
        CONNECTED,
        /** An attempt failed (refused, timed out, not proven in time, hook failed, circuit open). */
        CONNECT_FAILED,
        /** A proven connection was lost or its peer declared dead; {@code reason} says why. */
        DISCONNECTED,
        /** The next attempt starts after {@code delay}. */
        RECONNECTING,
        /** The policy's limit on attempts or time was reached: the client is closed. The last event. */
        GAVE_UP,
        /** The application closed the client. The last event. */
        CLOSED
    }
}
