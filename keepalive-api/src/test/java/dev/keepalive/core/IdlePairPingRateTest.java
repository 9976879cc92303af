package dev.keepalive.core;

import dev.keepalive.KeepaliveSettings;
import dev.keepalive.ManualTicker;
import dev.keepalive.core.LivenessMonitor.Action;
import dev.keepalive.core.LivenessMonitor.PeerPingVerdict;
import dev.keepalive.core.LivenessMonitor.PongResult;
import org.junit.jupiter.api.Test;

import java.time.Duration;
import java.util.PriorityQueue;
import java.util.Random;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * Both ends of idle connections run the monitor with the default jitter, simulated exactly with a fake ticker and a
 * one-way delay: about one ping per connection per interval (issue 16's target: at most 1.05), all from the
 * connecting end, and never a verdict. Before the steady wait, an idle end pinged every 0.9 interval on average (1.11).
 */
class IdlePairPingRateTest {
    private static final long I = Duration.ofSeconds(10).toNanos();
    private static final long ONE_WAY = Duration.ofMillis(1).toNanos();
    private static final long START = Long.MAX_VALUE - 50 * I; // crosses the overflow
    private static final int INTERVALS = 200;

    /** A ping or a pong on its way to {@code to}. */
    private record Delivery(long at, long seq, int to, boolean ping, long id) { }

    @Test
    void idleConnectionsPingAboutOnceAnIntervalFromOneEnd() {
        KeepaliveSettings settings = KeepaliveSettings.builder().pingInterval(Duration.ofNanos(I)).build();
        Random random = new Random(16);
        LoopHealth clientLoop = new LoopHealth();
        LoopHealth serverLoop = new LoopHealth();
        int connections = 20;
        long pings = 0;
        long pingsAfterFirstInterval = 0;
        boolean[][] pinged = new boolean[connections][2];
        for (int c = 0; c < connections; c++) {
            ManualTicker ticker = new ManualTicker(START);
            LivenessMonitor[] ends = new LivenessMonitor[2];
            for (int e = 0; e < 2; e++) {
                ends[e] = new LivenessMonitor(MonitorConfig.of(settings, ticker, true, random::nextDouble)
                        .spreadingFirstPings(null));
                ends[e].useLoopHealth(e == 0 ? clientLoop : serverLoop);
                if (e == 1) {
                    ends[e].letPeerPingFirst(); // the server, as the handler does for an accepted connection
                }
                ends[e].onActive();
            }
            // The client writes first, the server answers: both proven, the first silence starts.
            for (int e = 0; e < 2; e++) {
                ticker.advanceNanos(ONE_WAY);
                ends[1 - e].onInbound();
                ends[1 - e].onReadComplete();
            }
            PriorityQueue<Delivery> wire = new PriorityQueue<>((a, b) -> a.at() != b.at()
                    ? Long.compare(a.at() - START, b.at() - START) : Long.compare(a.seq(), b.seq()));
            long seq = 0;
            long end = START + INTERVALS * I;
            for (int step = 0; step < 100_000; step++) {
                long next = Math.min(ends[0].deadline() - START, ends[1].deadline() - START);
                Delivery d = wire.peek();
                if (d != null && d.at() - START <= next) {
                    wire.poll();
                    ticker.set(d.at());
                    LivenessMonitor m = ends[d.to()];
                    m.onInbound();
                    if (d.ping()) {
                        assertEquals(PeerPingVerdict.ANSWER, m.onPeerPing());
                        wire.add(new Delivery(d.at() + ONE_WAY, seq++, 1 - d.to(), false, d.id()));
                    } else {
                        assertEquals(PongResult.ANSWERED, m.onPong(d.id()));
                    }
                    m.onReadComplete();
                    continue;
                }
                if (next > end - START) {
                    break;
                }
                int e = ends[0].deadline() - START == next ? 0 : 1;
                ticker.set(START + next);
                Action a = ends[e].onTimer(ticker.nanoTime());
                if (a == Action.RECHECK_AFTER_READ) {
                    a = ends[e].onTimer(ticker.nanoTime());
                }
                assertTrue(a == Action.NONE || a == Action.SEND_PING || a == Action.REARM, "no verdict: " + a);
                if (a == Action.SEND_PING) {
                    pings++;
                    if (ticker.nanoTime() - START > I) {
                        pingsAfterFirstInterval++;
                        pinged[c][e] = true;
                    }
                    wire.add(new Delivery(ticker.nanoTime() + ONE_WAY, seq++, 1 - e, true, ends[e].pingId()));
                }
            }
            assertEquals(0, ends[0].stats().pingsMissed() + ends[1].stats().pingsMissed(), "no ping missed");
        }
        double perInterval = (double) pings / connections / INTERVALS;
        assertTrue(perInterval <= 1.05, "pings per connection per interval: " + perInterval);
        assertTrue(perInterval >= 0.95, "still about one per interval: " + perInterval);
        for (int c = 0; c < connections; c++) {
            assertTrue(pinged[c][0], "connection " + c + ": the client pings");
            assertTrue(!pinged[c][1], "connection " + c + ": the server only answers after the first interval ("
                    + pingsAfterFirstInterval + " pings then)");
        }
    }
}
