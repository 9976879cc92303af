package dev.keepalive.benchmarks;

import dev.keepalive.benchmarks.support.Chart;
import io.netty.channel.epoll.Epoll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.extension.RegisterExtension;
import org.junit.jupiter.api.io.TempDir;
import org.openjdk.jmh.results.RunResult;
import org.openjdk.jmh.runner.Runner;
import org.openjdk.jmh.runner.options.OptionsBuilder;
import org.openjdk.jmh.runner.options.TimeValue;

import javax.imageio.ImageIO;
import java.awt.image.BufferedImage;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.Collection;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

/**
 * The smoke run of the benchmarks in the README's test command: each harness starts, measures a little and prints
 * or returns plausible figures. The figures themselves come from the documented commands (BENCHMARKS.md).
 */
class BenchmarksSmokeTest {
    @RegisterExtension
    final PlotDirectory plots = new PlotDirectory();

    @Test
    @Timeout(60)
    void jmhBenchmarksRun() throws Exception {
        int pipelines = 5; // bare, pass-through, pass-through and a timer, IdleStateHandler, KeepaliveHandler
        Collection<RunResult> results = new Runner(new OptionsBuilder()
                .include(LivenessMonitorBenchmark.class.getName() + ".*")
                .include(PipelineEventBenchmark.class.getName() + ".*")
                .forks(0).warmupIterations(0).measurementIterations(1)
                .measurementTime(TimeValue.milliseconds(100)).build()).run();
        // Liveness core: inbound, outbound, timer check; pipelines: read and write for each of the pipelines.
        assertEquals(3 + 2 * pipelines, results.size());
        for (RunResult r : results) {
            double nanos = r.getPrimaryResult().getScore();
            assertTrue(nanos > 0 && nanos < 100_000, r.getParams().getBenchmark() + ": " + nanos + " ns/op");
        }
    }

    @Test
    @Timeout(60)
    void hotPathEchoPairCountsRoundTripsInEveryPipeline() throws Exception {
        for (HotPathBenchmark.Shape shape : new HotPathBenchmark.Shape[] {HotPathBenchmark.Shape.PIPELINED,
                new HotPathBenchmark.Shape(8, 1, true)}) {
            for (HotPathPipelines.Mode mode : HotPathPipelines.Mode.values()) {
                HotPathBenchmark.Measurement m = HotPathBenchmark.run(HotPathPipelines.Transport.NIO, mode,
                        Duration.ofMillis(400), shape);
                // The leak detector runs at PARANOID here (a stack trace per buffer access): any flow counts.
                String what = mode + ", " + shape;
                assertTrue(m.roundTripsPerSecond() > 10, what + ": round trips per second " + m);
                assertTrue(m.processCpuPerRoundTrip() > 0, what + ": process CPU per round trip " + m);
                // The loops' CPU is part of the process's (the two clocks are read microseconds apart: 2 %).
                assertTrue(m.loopCpuPerRoundTrip() > 0 && m.loopCpuPerRoundTrip() <= m.processCpuPerRoundTrip() * 1.02,
                        what + ": loop CPU per round trip " + m);
            }
        }
    }

    @Test
    @Timeout(60)
    void detectionPrecisionDeclaresEveryBlackHoledConnectionDeadAndPlotsTheCdf() throws Exception {
        assumeTrue(Epoll.isAvailable(), "the benchmark runs on epoll");
        DetectionPrecisionBenchmark.Result r = DetectionPrecisionBenchmark.run(20, Duration.ofMillis(1500));
        assertEquals(20, r.fromFaultNanos().length, "every connection declared dead: " + r.reasons());
        // Wide tolerance: a smoke run on a busy CI machine, not the measurement (that is the documented command).
        assertEquals(0, r.laterThan(Duration.ofMillis(500)), "verdicts within bound + 500 ms");
        assertTrue(r.latenessNanos().length > 50, "the 10 ms timer fired " + r.latenessNanos().length + " times");
        Path png = DetectionPrecisionBenchmark.plot(r);
        assertTrue(png.startsWith(plots.dir()), png + " is in the output directory");
        assertPng(png);
    }

    @Test
    void chartsAreWrittenAsPngWithTheirSeries(@TempDir Path out) throws Exception {
        Path png = Chart.titled("t", "x", "y").steps("a", new double[] {0, 1, 2}, new double[] {1, 3, 2})
                .line("b", new double[] {0, 2}, new double[] {0, 4}).horizontalLine("h", 2).verticalLine("v", 1)
                .write(out.resolve("sub/chart.png"));
        BufferedImage image = assertPng(png);
        // The first series' colour (the palette's blue) is on the image: the series was drawn.
        boolean blue = false;
        for (int x = 0; x < image.getWidth() && !blue; x++) {
            for (int y = 0; y < image.getHeight() && !blue; y++) {
                blue = (image.getRGB(x, y) & 0xffffff) == 0x1f77b4;
            }
        }
        assertTrue(blue, "series drawn");
    }

    static BufferedImage assertPng(Path png) throws Exception {
        assertTrue(Files.size(png) > 1000, png + " is " + Files.size(png) + " bytes");
        BufferedImage image = ImageIO.read(png.toFile());
        assertEquals(960, image.getWidth());
        return image;
    }
}
