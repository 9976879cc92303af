package dev.keepalive.benchmarks;

import dev.keepalive.benchmarks.FalseVerdictTortureBenchmark.Config;
import dev.keepalive.benchmarks.FalseVerdictTortureBenchmark.Result;
import dev.keepalive.benchmarks.FalseVerdictTortureBenchmark.Run;
import dev.keepalive.benchmarks.FalseVerdictTortureBenchmark.Scenario;
import dev.keepalive.benchmarks.IdleScaleBenchmark.Mode;
import io.netty.channel.epoll.Epoll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.extension.RegisterExtension;

import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.time.Duration;
import java.util.List;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

/**
 * The false-verdict torture benchmark still runs end to end with tiny figures: 200 connections pinged every 200 ms
 * (bound 600 ms), 1 in 50 dying, every scenario with the library and the slow-accept one with the baseline. It checks the harness, not the library: every
 * real death is found and reported, every live connection is accounted for, the table is printed and written.
 * And it holds the library to its promise at this size: no live peer is convicted in any scenario.
 */
class FalseVerdictTortureBenchmarkSmokeTest {
    private static final int CONNECTIONS = 200;
    private static final int DYING_EVERY = 50;
    private static final Duration INTERVAL = Duration.ofMillis(200);

    @RegisterExtension
    final PlotDirectory output = new PlotDirectory();

    @Test
    @Timeout(180)
    void everyScenarioFindsTheRealDeathsAndCountsTheVerdicts() throws Exception {
        assumeTrue(Epoll.isAvailable(), "the benchmark runs on epoll");
        // Every scenario with the library; the baseline in one (each run starts fresh processes: a few seconds).
        Result library = run(new Config(CONNECTIONS, INTERVAL, List.of(Scenario.values()), List.of(Mode.KEEPALIVE),
                DYING_EVERY, 15_000, 0));
        assertEquals(Scenario.values().length, library.runs().size());
        Result baseline = run(new Config(CONNECTIONS, INTERVAL, List.of(Scenario.SLOW_ACCEPT),
                List.of(Mode.IDLE_STATE_HANDLER), DYING_EVERY, 15_000, 0));
        assertEquals(1, baseline.runs().size());
        assertEquals(Mode.IDLE_STATE_HANDLER, baseline.runs().get(0).mode());
        assertEquals(0, ProcessHandle.current().children().filter(ProcessHandle::isAlive).count(),
                "no child process outlives the run");
    }

    private Result run(Config config) throws Exception {
        ByteArrayOutputStream printed = new ByteArrayOutputStream();
        Result result;
        try (PrintStream ps = new PrintStream(printed, true, StandardCharsets.UTF_8)) {
            result = FalseVerdictTortureBenchmark.run(config, ps);
        }
        String text = printed.toString(StandardCharsets.UTF_8);
        System.out.println(text);
        for (Run r : result.runs()) {
            String which = r.scenario().label() + " " + r.mode().label() + ": ";
            assertEquals(CONNECTIONS / DYING_EVERY, r.dying(), which + "dying connections");
            assertEquals(CONNECTIONS - r.dying(), r.live(), which + "live connections");
            // The harness's own edge: a connection that really died is found, by a keepalive verdict of its client.
            assertEquals(r.dying(), r.deathsFound(), which + "real deaths found: " + r.deathReasons());
            assertTrue(r.detectionNanos()[0] > 0, which + "detection times are after the death");
            // Every live connection proved itself or is known to have heard nothing (wide tolerance: a loaded CI
            // machine), and the verdicts were counted.
            assertTrue(r.echoed() + r.silent() >= r.live() * 9 / 10, which + r.echoed() + " echoed and "
                    + r.silent() + " silent of " + r.live());
            assertTrue(r.falseConnections() <= r.live(), which + r.falseConnections() + " false verdicts");
            assertEquals(r.falseConnections() > 0, !r.falseVerdicts().isEmpty(), which + r.falseVerdicts());
            if (r.mode() == Mode.KEEPALIVE) {
                // The library's promise: a peer that answered within the bound is never convicted, in any scenario
                // (a peer silent for the whole bound by the harness's clock is listed as excused, not false).
                assertEquals(0, r.falseConnections(), which + "false verdicts " + r.falseVerdicts());
            }
            if (r.scenario() == Scenario.SLOW_ACCEPT) {
                // The slow server held its accept queues for 75 % of the allowance (6 x 200 ms): no live
                // connection heard anything sooner than most of that, or none heard anything at all.
                assertTrue(r.silent() == r.live() || r.firstResponse()[0] >= Duration.ofMillis(500).toNanos(),
                        which + "first-response p50 " + r.firstResponse()[0] + " ns, " + r.silent() + " silent");
            }
        }
        List<String> rows = Files.readAllLines(result.file(), StandardCharsets.UTF_8);
        assertEquals(output.dir().resolve("false-verdict-torture-" + CONNECTIONS + ".tsv"), result.file());
        assertEquals(1 + result.runs().size(), rows.size(), "a header and a row per run");
        assertTrue(text.contains("false verdicts") && text.contains("deaths found"), text);
        return result;
    }
}
