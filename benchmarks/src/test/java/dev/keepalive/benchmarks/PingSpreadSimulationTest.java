package dev.keepalive.benchmarks;

import dev.keepalive.benchmarks.PingSpreadSimulation.Machine;
import dev.keepalive.benchmarks.PingSpreadSimulation.Result;
import org.junit.jupiter.api.Test;

import java.time.Duration;

import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * The liveness core's own spread of the pings of an idle fleet, with the machine's stalls taken out (the simulation is
 * deterministic for a seed): connections opened together ping evenly apart from their first ping on, and stay so
 * although every round trip and every event takes time, well below what random placement gives.
 */
class PingSpreadSimulationTest {
    private static final long MS = 1_000_000L;
    private static final long US = 1_000L;
    /** 2,000 connections opened over 0.5 s on two loops a side; 20 us per event; 50 us + exp(100 us) one way. */
    private static final Machine BUSY = new Machine("busy", 2, 250 * US, 20 * US, 50 * US, 100 * US, 0, 0);

    @Test
    void anIdleFleetPingsEvenlySpreadFromTheFirstIntervalAndKeepsItsPlaces() {
        for (long seed = 1; seed <= 3; seed++) {
            Result early = PingSpreadSimulation.run(2_000, Duration.ofSeconds(1), BUSY, seed, Duration.ZERO,
                    Duration.ofSeconds(2));
            Result late = PingSpreadSimulation.run(2_000, Duration.ofSeconds(1), BUSY, seed, Duration.ofSeconds(20),
                    Duration.ofSeconds(5));
            double random = (double) late.sent().uniformMax() / late.sent().mean();
            for (Result r : new Result[] {early, late}) {
                // An evenly spread sequence of 2,000 places is off by a few pings (its discrepancy) in a 10 ms window
                // of about 20: the largest window is 1.2-1.4 x the mean. Random placement, where a fleet drifts when
                // each connection's next ping counts from its pong, gives 1.7.
                assertTrue(r.planned().ratio() <= 1.5, "planned: " + r.planned() + ", seed " + seed);
                assertTrue(r.sent().ratio() <= 1.5, "sent: " + r.sent() + ", seed " + seed);
            }
            assertTrue(random >= 1.6, "what random placement would give, for comparison: " + random);
            assertTrue(late.pingsPerConnectionPerInterval() <= 1.05, "one end pings: " + late);
            // The accepting end pings only where the connecting end's first slot came after the accepting end's
            // first full interval (the last round trip of the period): then it stays the end that pings.
            assertTrue(late.serverPings() <= late.sent().pings() / 100, "the connecting end pings: " + late);
        }
    }

    @Test
    void aStalledLoopSendsItsDuePingsTogetherButTheirPlacesStayPlanned() {
        // The pings due while a loop stood still leave together when it resumes: the machine's burst. Their next
        // pings are planned in their old places again.
        Machine stalling = new Machine("stalls", 2, 250 * US, 20 * US, 50 * US, 100 * US, 2, 5 * MS);
        Result r = PingSpreadSimulation.run(2_000, Duration.ofSeconds(1), stalling, 1, Duration.ofSeconds(20),
                Duration.ofSeconds(5));
        assertTrue(r.planned().ratio() <= 1.5, "planned: " + r.planned());
        assertTrue(r.sent().ratio() > r.planned().ratio(), "stalls bunch what was sent: " + r);
    }
}
