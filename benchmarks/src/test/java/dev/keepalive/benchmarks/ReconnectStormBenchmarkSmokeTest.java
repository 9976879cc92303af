package dev.keepalive.benchmarks;

import dev.keepalive.benchmarks.ReconnectStormBenchmark.Config;
import dev.keepalive.benchmarks.ReconnectStormBenchmark.Result;
import dev.keepalive.benchmarks.ReconnectStormBenchmark.Storm;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.extension.RegisterExtension;

import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.Arrays;
import java.util.List;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * The reconnect-storm benchmark still runs end to end with tiny figures: 200 clients, a server killed for 500 ms,
 * the policy's storm and the baseline storm, each in its own processes; the plots are written.
 */
class ReconnectStormBenchmarkSmokeTest {
    private static final int CLIENTS = 200;
    private static final Duration DOWNTIME = Duration.ofMillis(500);

    @RegisterExtension
    final PlotDirectory plots = new PlotDirectory();

    @Test
    @Timeout(90)
    void aSmallStormRecoversAndIsPlotted() throws Exception {
        Config config = Config.defaults(CLIENTS).withDowntime(DOWNTIME).withSettle(Duration.ofMillis(200))
                .withRuns(100);
        Result result = ReconnectStormBenchmark.run(config);
        ReconnectStormBenchmark.print(result);

        assertNotNull(result.baseline(), "the default configuration runs the baseline storm too");
        for (Storm s : List.of(result.storm(), result.baseline())) {
            String which = s.backoff().describe();
            assertEquals(CLIENTS, s.lost(), which + ": clients that saw the server die");
            assertEquals(CLIENTS, s.back(), which + ": clients connected again");
            assertNotNull(s.lastBack(), which);
            assertEquals(CLIENTS, s.serverConnections(), which + ": connections the new server holds");
            assertTrue(s.upAt() - s.killedAt() >= DOWNTIME.toNanos(), which + ": the new server listened "
                    + s.downtime().toMillis() + " ms after the kill");
            // Every client dialled at least once after its loss and its last attempt (after up) succeeded; every
            // other attempt failed, or reached the killed server's listening socket before the kernel closed it.
            assertTrue(s.attempts() >= CLIENTS, which + ": " + s.attempts() + " attempts");
            assertEquals(s.attempts() - CLIENTS,
                    s.refused() + s.reset() + s.timedOut() + s.otherFailures() + s.early(),
                    which + ": every attempt but the last of each client failed or connected early");
            assertEquals(s.early(), s.lostAgain(), which + ": every early connection was lost again");
            assertEquals(s.attempts(), Arrays.stream(s.perBucket()).sum(), which + ": attempts in the histogram");
            assertTrue(s.expected().peak() > 0 && s.expected().attempts() >= CLIENTS, which + ": the expectation");
        }
        // The baseline has no jitter: every client's first attempt is planned for exactly 100 ms after its loss.
        assertTrue(result.storm().backoff().jittered());
        assertTrue(!result.baseline().backoff().jittered());

        assertEquals(2, result.charts().size());
        for (Path png : result.charts()) {
            assertTrue(png.startsWith(plots.dir()), png + " is in the output directory");
            byte[] head = Arrays.copyOf(Files.readAllBytes(png), 8);
            assertArrayEquals(new byte[] {(byte) 0x89, 'P', 'N', 'G', '\r', '\n', 0x1a, '\n'}, head, png + " is a PNG");
        }
        assertEquals(plots.dir().resolve("reconnect-storm-" + CLIENTS + ".png"), result.charts().get(0));
        assertEquals(0, ProcessHandle.current().children().filter(ProcessHandle::isAlive).count(),
                "no child process outlives the run");
    }
}
