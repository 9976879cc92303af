package dev.keepalive.benchmarks;

import dev.keepalive.benchmarks.SessionSoakBenchmark.Config;
import dev.keepalive.benchmarks.SessionSoakBenchmark.Result;
import dev.keepalive.benchmarks.session.SessionSoakPair;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

import java.time.Duration;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * A short session soak: 10,000 messages each way (about 1,000 a second under the PARANOID leak detector) while the
 * proxy resets, black-holes or forgets the connection every 0.7..1.5 s; nothing lost, repeated or reordered on either
 * end, every send succeeds, memory within budget.
 */
class SessionSoakBenchmarkSmokeTest {
    private static final int MESSAGES = 10_000;

    @Test
    @Timeout(120)
    void aShortSoakLosesNothingRepeatsNothingAndKeepsOrder() throws Exception {
        Result r = SessionSoakBenchmark.run(new Config(MESSAGES, Duration.ofMillis(700), Duration.ofMillis(1500),
                Duration.ofSeconds(90), 0, 7));
        SessionSoakBenchmark.print(r);
        assertTrue(r.completed(), "every answer arrived within the time bound");
        SessionSoakPair.Order client = r.atClient();
        assertEquals(0, client.lost(MESSAGES));
        assertEquals(0, client.duplicated(), "the session delivered each answer once");
        assertEquals(0, client.outOfOrder());
        assertEquals(MESSAGES, client.received());
        // The server processes' application: a message whose handling a SIGKILL cut short (before it was recorded
        // with its answer) is handled again by the next process: at most one per kill.
        SessionSoakPair.Order server = r.atServer();
        int kills = r.faults().getOrDefault("SIGKILL_SERVER", 0);
        assertEquals(0, server.lost(MESSAGES));
        assertTrue(server.duplicated() <= kills, "handled again " + server.duplicated() + ", kills " + kills);
        assertEquals(0, server.outOfOrder());
        assertEquals(MESSAGES + server.duplicated(), server.received());
        assertEquals(0, r.sendFailures());
        int faults = r.faults().values().stream().mapToInt(Integer::intValue).sum();
        assertTrue(faults >= 2 && r.resumes() >= 1, "faults " + r.faults() + ", resumes " + r.resumes());
        assertTrue(r.peakClientBytes() <= r.budgetBytes() && r.peakServerBytes() <= r.budgetBytes());
    }
}
