package dev.keepalive.benchmarks;

import dev.keepalive.benchmarks.IdleScaleBenchmark.Config;
import dev.keepalive.benchmarks.IdleScaleBenchmark.Mode;
import dev.keepalive.benchmarks.IdleScaleBenchmark.ModeResult;
import dev.keepalive.benchmarks.IdleScaleBenchmark.Result;
import dev.keepalive.benchmarks.IdleScaleBenchmark.SizeResult;
import io.netty.channel.epoll.Epoll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.extension.RegisterExtension;

import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.Arrays;
import java.util.List;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

/**
 * The idle-scale benchmark still runs end to end with tiny figures: 200 connections pinged every 500 ms, spread
 * over two server and two client processes (at most 100 connections each), every mode in its own processes, a
 * 1.2 s window; the figures are there and the plot is written. (At a 200 ms interval, cold child JVMs compiling
 * on a busy 2-core machine answer late enough that both the library and the baseline close some connections.)
 */
class IdleScaleBenchmarkSmokeTest {
    private static final int CONNECTIONS = 200;

    @RegisterExtension
    final PlotDirectory plots = new PlotDirectory();

    @Test
    @Timeout(120) // about 30 s on a quiet machine; twelve child JVMs take twice that on a busy 2-core one
    void twoHundredIdleConnectionsInEveryModeAreMeasuredAndPlotted() throws Exception {
        assumeTrue(Epoll.isAvailable(), "the benchmark runs on epoll");
        Config config = new Config(List.of(CONNECTIONS), Duration.ofMillis(500), Duration.ofMillis(200),
                Duration.ofMillis(1200), List.of(Mode.values()), CONNECTIONS / 2);
        ByteArrayOutputStream printed = new ByteArrayOutputStream();
        Result result;
        try (PrintStream ps = new PrintStream(printed, true, StandardCharsets.UTF_8)) {
            result = IdleScaleBenchmark.run(config, ps);
        }
        String text = printed.toString(StandardCharsets.UTF_8);
        System.out.println(text);

        assertEquals(1, result.sizes().size());
        SizeResult size = result.sizes().get(0);
        for (Mode mode : Mode.values()) {
            ModeResult r = size.modes().get(mode);
            assertEquals(2, r.clients().size(), mode + ": client processes");
            assertEquals(2, r.servers().size(), mode + ": server processes");
            assertEquals(CONNECTIONS, r.clientsConnected(), mode + ": connections opened");
            assertEquals(CONNECTIONS, r.clientsOpen(), mode + ": connections open in the clients at the end");
            assertEquals(CONNECTIONS, r.serversOpen(), mode + ": connections open in the servers at the end");
            assertEquals(0, r.closed(), mode + ": connections closed during the run");
            // A connection with its channel, pipeline and framing holds several hundred bytes in any mode.
            assertTrue(r.clientHeapPerConnection() > 200, mode + ": client heap " + r.clientHeapPerConnection());
            assertTrue(r.serverHeapPerConnection() > 200, mode + ": server heap " + r.serverHeapPerConnection());
            assertTrue(r.clientCores() > 0 && r.serverCores() > 0, mode + ": CPU measured");
            // The 10 ms timer ran on the client loops in the 1.2 s window: one timer at a time, each scheduled when
            // the last ran, so it runs 1.2 s / (10 ms + its lateness) times: 120 on a quiet machine, about 20 where
            // a busy machine makes it 100 ms late (seen here under a load average of 10).
            assertTrue(r.latenessNanos().length >= 2 * 5, mode + ": " + r.latenessNanos().length + " timer runs");
        }
        ModeResult bare = size.modes().get(Mode.BARE);
        assertEquals(0, bare.pings(), "nothing pings without keepalive");
        for (Mode mode : List.of(Mode.IDLE_STATE_HANDLER, Mode.KEEPALIVE)) {
            ModeResult r = size.modes().get(mode);
            // 1.2 s at one ping per 500 ms: two or three pings per connection, answered.
            assertTrue(r.pings() >= 2 * CONNECTIONS, mode + ": " + r.pings() + " pings");
            assertTrue(r.pongs() >= 2 * CONNECTIONS, mode + ": " + r.pongs() + " pongs");
            assertTrue(r.spread().max() > 0 && r.spread().windows() == 120, mode + ": " + r.spread());
            assertTrue(r.clientHeapPerConnection() > bare.clientHeapPerConnection(),
                    mode + ": keepalive state costs heap");
        }
        assertEquals(0, size.modes().get(Mode.IDLE_STATE_HANDLER).serverPings(), "the baseline server only answers");
        assertTrue(size.modes().get(Mode.KEEPALIVE).clientHeapByClass().containsKey(
                "dev.keepalive.core.LivenessMonitor"), "the heap breakdown names the library's state");

        Path png = size.chart();
        assertEquals(plots.dir().resolve("idle-scale-spread-" + CONNECTIONS + ".png"), png);
        byte[] head = Arrays.copyOf(Files.readAllBytes(png), 8);
        assertArrayEquals(new byte[] {(byte) 0x89, 'P', 'N', 'G', '\r', '\n', 0x1a, '\n'}, head, png + " is a PNG");
        assertTrue(text.contains("largest 10 ms window / mean") && text.contains("<= 200 B:"), text);
        assertEquals(0, ProcessHandle.current().children().filter(ProcessHandle::isAlive).count(),
                "no child process outlives the run");
    }
}
