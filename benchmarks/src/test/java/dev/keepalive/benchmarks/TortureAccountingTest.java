package dev.keepalive.benchmarks;

import dev.keepalive.benchmarks.FalseVerdictTortureBenchmark.Run;
import dev.keepalive.benchmarks.FalseVerdictTortureBenchmark.Scenario;
import dev.keepalive.benchmarks.IdleScaleBenchmark.Mode;
import org.junit.jupiter.api.Test;

import java.time.Duration;
import java.util.List;
import java.util.Map;

import static org.junit.jupiter.api.Assertions.assertEquals;

/**
 * The torture benchmark's accounting of a slow server's clients: a verdict on a server that wrote nothing within
 * the first-response allowance (by its own clock) is excused; one on a server that answered within it, or after
 * less silence than the allowance, stays false. Synthetic reports, in the children's format.
 */
class TortureAccountingTest {
    private static final Duration ALLOWANCE = Duration.ofMillis(1200);
    private static final long MS = 1_000_000L;
    private static final long ACTIVE = 5_000 * MS;

    @Test
    void aSlowServersClientIsExcusedOnlyWhenTheServerWroteNothingWithinTheAllowance() {
        Run run = account(Scenario.SLOW_ACCEPT);
        assertEquals(Map.of("client FIRST_RESPONSE_TIMEOUT (server silent >= first-response allowance)", 2L),
                run.excused());
        assertEquals(Map.of("client FIRST_RESPONSE_TIMEOUT", 1L, "client READER_IDLE", 1L), run.falseVerdicts());
        assertEquals(2, run.falseConnections());
    }

    @Test
    void theSameVerdictsInAnotherScenarioAreAllFalse() {
        Run run = account(Scenario.CPU_HOG);
        assertEquals(Map.of(), run.excused());
        assertEquals(Map.of("client FIRST_RESPONSE_TIMEOUT", 3L, "client READER_IDLE", 1L), run.falseVerdicts());
    }

    private static Run account(Scenario scenario) {
        // late: the server's first write came 1,250 ms after the client's connect; never: the server never accepted;
        // answered: it wrote at 1,100 ms, inside the allowance; short: a reader-idle verdict after 600 ms of silence.
        String clientEnded = String.join(";",
                ended("c:1>s:1", "FIRST_RESPONSE_TIMEOUT", 1_260),
                ended("c:2>s:1", "FIRST_RESPONSE_TIMEOUT", 1_210),
                ended("c:3>s:1", "FIRST_RESPONSE_TIMEOUT", 1_210),
                ended("c:4>s:1", "READER_IDLE", 600));
        Map<String, String> client = Map.of("echoed", "0", "fr", "0,0,0,0", "silent", "4",
                "act", "c:1>s:1@" + ACTIVE + "@0;c:2>s:1@" + ACTIVE + "@0;c:3>s:1@" + ACTIVE + "@0;c:4>s:1@"
                        + ACTIVE + "@0",
                "ended", clientEnded);
        Map<String, String> server = Map.of("echoed", "0",
                "act", "c:1>s:1@" + (ACTIVE + 1_240 * MS) + "@" + (ACTIVE + 1_250 * MS)
                        + ";c:3>s:1@" + (ACTIVE + 1_090 * MS) + "@" + (ACTIVE + 1_100 * MS)
                        + ";c:4>s:1@" + (ACTIVE + 890 * MS) + "@" + (ACTIVE + 900 * MS),
                "ended", "-");
        return TortureRun.account(scenario, Mode.KEEPALIVE, 4, 0, ALLOWANCE, ALLOWANCE, 0, List.of(client),
                List.of(server), -1, 0);
    }

    private static String ended(String key, String reason, long silenceMs) {
        return key + ",0," + reason + "," + ACTIVE + "," + (ACTIVE + silenceMs * MS) + "," + silenceMs * MS;
    }
}
