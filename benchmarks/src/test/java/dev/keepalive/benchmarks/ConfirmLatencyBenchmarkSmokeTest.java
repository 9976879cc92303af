package dev.keepalive.benchmarks;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

import static org.junit.jupiter.api.Assertions.assertTrue;

/** The confirm-latency harness runs and gives plausible figures; the figures come from BENCHMARKS.md's command. */
class ConfirmLatencyBenchmarkSmokeTest {
    @Test
    @Timeout(60)
    void confirmedSendsCostAboutARoundTripAndFewPings() throws Exception {
        ConfirmLatencyBenchmark.Result written = ConfirmLatencyBenchmark.run(false, 10, 500, 1_000);
        ConfirmLatencyBenchmark.Result confirmed = ConfirmLatencyBenchmark.run(true, 10, 500, 1_000);
        assertTrue(written.serial()[0] > 0 && confirmed.serial()[0] > 0);
        // An isolated confirmed send costs a round trip, not the ping spacing.
        assertTrue(confirmed.isolated()[0] < 100_000, "isolated p50 us " + confirmed.isolated()[0]);
        // A stream costs at most one barrier ping per 125 ms (minPeerPingInterval 100 ms x 1.25), plus slack.
        assertTrue(confirmed.pingsPerSecond() <= 10, "pings/s " + confirmed.pingsPerSecond());
        // Confirmed stream latency is bounded by the spacing plus round trips (well under a second on loopback).
        assertTrue(confirmed.stream()[1] < 1_000_000, "p99 us " + confirmed.stream()[1]);
    }
}
