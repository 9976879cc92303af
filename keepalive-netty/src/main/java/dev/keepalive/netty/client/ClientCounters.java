package dev.keepalive.netty.client;

import dev.keepalive.KeepaliveListener;
import dev.keepalive.KeepaliveStats;
import dev.keepalive.PeerDeadException;
import dev.keepalive.netty.KeepaliveHandler;
import dev.keepalive.reconnect.ClientStats;
import dev.keepalive.reconnect.internal.ConnectionMachine;

import java.net.SocketAddress;
import java.time.Duration;

/** Counters kept across a client's connections; event-loop owned. */
final class ClientCounters {
    private long pingsSentBefore;
    private long pongsReceivedBefore;
    private long lastRttNanos = -1;
    private long maxRttNanos = -1;
    private long lastSmoothedRttNanos = -1;

    /** A connection ended: its handler's counters are added to the totals. */
    void connectionEnded(KeepaliveStats s) {
        pingsSentBefore += s.pingsSent();
        pongsReceivedBefore += s.pongsReceived();
        if (s.smoothedRttNanos() >= 0) {
            lastSmoothedRttNanos = s.smoothedRttNanos();
        }
    }

    /** A consistent snapshot; must run on the event loop. */
    ClientStats snapshot(ConnectionMachine machine, KeepaliveHandler current, int held, long heldBytes, long now) {
        long pings = pingsSentBefore;
        long pongs = pongsReceivedBefore;
        long smoothed = lastSmoothedRttNanos;
        if (current != null) {
            KeepaliveStats s = current.stats();
            pings += s.pingsSent();
            pongs += s.pongsReceived();
            if (s.smoothedRttNanos() >= 0) {
                smoothed = s.smoothedRttNanos();
            }
        }
        return new ClientStats(machine.state(), pings, pongs, nanos(lastRttNanos), nanos(smoothed),
                nanos(maxRttNanos), machine.deaths(), machine.attempts(), machine.successes(),
                machine.disconnectedTime(now), held, heldBytes);
    }

    private static Duration nanos(long n) {
        return n < 0 ? null : Duration.ofNanos(n);
    }

    /** Collects round trips across connections, and passes keepalive events on to the application. */
    KeepaliveListener observer(KeepaliveListener app) {
        return new KeepaliveListener() {
            @Override
            public void onPingSent(SocketAddress remote, long pingId) {
                app.onPingSent(remote, pingId);
            }

            @Override
            public void onPongReceived(SocketAddress remote, long pingId, Duration rtt) {
                long n = rtt.toNanos();
                lastRttNanos = n;
                maxRttNanos = Math.max(maxRttNanos, n);
                app.onPongReceived(remote, pingId, rtt);
            }

            @Override
            public void onPingMissed(SocketAddress remote, long pingId, int missed) {
                app.onPingMissed(remote, pingId, missed);
            }

            @Override
            public void onLocalStall(SocketAddress remote, Duration lateness) {
                app.onLocalStall(remote, lateness);
            }

            @Override
            public void onPeerDead(PeerDeadException cause) {
                app.onPeerDead(cause);
            }

            @Override
            public void onPeerRetired(SocketAddress remote, String how) {
                app.onPeerRetired(remote, how);
            }
        };
    }
}
