package dev.keepalive.benchmarks;

import dev.keepalive.benchmarks.HotPathPipelines.Mode;
import dev.keepalive.benchmarks.HotPathPipelines.Transport;
import dev.keepalive.benchmarks.InterleavedHotPathBenchmark.Result;
import dev.keepalive.benchmarks.InterleavedHotPathBenchmark.Turn;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

import java.time.Duration;
import java.util.List;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

class InterleavedHotPathBenchmarkTest {
    @Test
    void eachTurnIsSetAgainstTheMeanOfTheBareTurnsBeforeAndAfterIt() {
        Result r = new Result(List.of(
                new Turn(Mode.BARE, 100, 1000),
                new Turn(Mode.KEEPALIVE_HANDLER, 110, 900),
                new Turn(Mode.BARE, 120, 800),
                new Turn(Mode.PASS_THROUGH, 50, 2000),
                new Turn(Mode.BARE, 140, 700),
                new Turn(Mode.KEEPALIVE_HANDLER, 1, 1))); // no bare turn after it: not counted
        // A drift from 100 to 120 ns per round trip across the three turns cancels: (100 + 120) / 2 / 110 = 1.
        assertArrayEquals(new double[] {1.0}, r.cpuRatio(Mode.KEEPALIVE_HANDLER), 1e-12);
        assertArrayEquals(new double[] {900 * 2 / 1800.0}, r.wallRatio(Mode.KEEPALIVE_HANDLER), 1e-12);
        assertArrayEquals(new double[] {130 / 50.0}, r.cpuRatio(Mode.PASS_THROUGH), 1e-12);
        assertEquals(0, r.cpuRatio(Mode.IDLE_STATE_HANDLER).length);
        assertEquals(120.0, r.medianCpu(Mode.BARE));
    }

    @Test
    @Timeout(60)
    void everyPipelineGetsTurnsBetweenBareTurnsAndCountsRoundTrips() throws Exception {
        // The leak detector runs at PARANOID here (a stack trace per buffer access): any flow counts.
        Result r = InterleavedHotPathBenchmark.run(Transport.NIO, 2, Duration.ofMillis(20), Duration.ofMillis(200),
                Duration.ofMillis(2000), 1);
        List<Turn> turns = r.turns();
        assertEquals(Mode.BARE, turns.get(turns.size() - 1).mode(), "the run ends on a bare turn");
        for (int i = 0; i < turns.size(); i++) {
            Turn t = turns.get(i);
            assertTrue(t.cpuPerRoundTrip() > 0 && t.roundTripsPerSecond() > 0, "turn " + i + ": " + t);
            if (i > 0) {
                assertTrue(t.mode() == Mode.BARE ^ turns.get(i - 1).mode() == Mode.BARE,
                        "bare takes every other turn: " + turns.get(i - 1) + ", " + t);
            }
        }
        for (Mode mode : Mode.values()) {
            if (mode != Mode.BARE) {
                assertTrue(r.cpuRatio(mode).length > 0, mode + " had a turn between two bare turns: " + turns);
            }
        }
    }
}
