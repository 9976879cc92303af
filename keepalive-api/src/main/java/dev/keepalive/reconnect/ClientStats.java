package dev.keepalive.reconnect;

import dev.keepalive.DeadPeerReason;

import java.time.Duration;
import java.util.Map;

/**
 * A snapshot of a reconnecting client's counters, over all its connections.
 *
 * @param state              the current state
 * @param pingsSent          pings sent
 * @param pongsReceived      pongs that answered a ping
 * @param lastRtt            the last measured round trip, or {@code null}
 * @param smoothedRtt        the smoothed round trip of the current (or last) connection, or {@code null}
 * @param maxRtt             the largest round trip measured, or {@code null}
 * @param deaths             connections lost, by reason
 * @param attempts           connect attempts
 * @param successes          attempts whose connection was proven (CONNECTED)
 * @param disconnectedTime   total time not connected (including now, if disconnected)
 * @param queuedMessages     sends the client holds: queued for a connection, and written but not yet confirmed
 *                           or acknowledged
 * @param queuedBytes        their bytes
 */
public record ClientStats(ConnectionState state, long pingsSent, long pongsReceived, Duration lastRtt,
                          Duration smoothedRtt, Duration maxRtt, Map<DeadPeerReason, Long> deaths, long attempts,
                          long successes, Duration disconnectedTime, int queuedMessages, long queuedBytes) {
    /** Copies {@code deaths}, so that the record stays immutable. */
    public ClientStats {
        deaths = Map.copyOf(deaths);
    }
}
