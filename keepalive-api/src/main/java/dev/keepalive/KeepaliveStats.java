package dev.keepalive;

import java.time.Duration;
import java.util.Optional;

/**
 * A point-in-time snapshot of one connection's keepalive counters.
 *
 * @param state                 where liveness stands
 * @param pingsSent             pings sent to the peer
 * @param pongsReceived         pongs that answered the current ping
 * @param pingsMissed           ping timeouts with nothing arriving, in total
 * @param stalePongs            pongs for an older ping than the current one (ignored)
 * @param duplicatePongs        pongs for a ping already answered (ignored)
 * @param unsolicitedPongs      pongs for a ping never sent (ignored)
 * @param peerPingsReceived     pings received from the peer
 * @param peerPingStrikes       of those, pings that came sooner than the allowed minimum interval
 * @param malformedProbeFrames  probe frames from the peer that could not be decoded (dropped)
 * @param localStalls           timers that fired so late that the local process evidently stalled
 * @param lastRttNanos          the last measured round trip in nanoseconds, or -1
 * @param smoothedRttNanos      the smoothed round trip (RFC 6298) in nanoseconds, or -1
 * @param probeErrors           times building or sending a probe frame threw (logged once per connection; the
 *                              connection stays watched)
 */
public record KeepaliveStats(LivenessState state, long pingsSent, long pongsReceived, long pingsMissed,
                             long stalePongs, long duplicatePongs, long unsolicitedPongs, long peerPingsReceived,
                             long peerPingStrikes, long malformedProbeFrames, long localStalls, long lastRttNanos,
                             long smoothedRttNanos, long probeErrors) {

    /** The last measured round trip, if any. */
    public Optional<Duration> lastRtt() {
        return lastRttNanos < 0 ? Optional.empty() : Optional.of(Duration.ofNanos(lastRttNanos));
    }

    /** The smoothed round trip, if any. */
    public Optional<Duration> smoothedRtt() {
        return smoothedRttNanos < 0 ? Optional.empty() : Optional.of(Duration.ofNanos(smoothedRttNanos));
    }
}
