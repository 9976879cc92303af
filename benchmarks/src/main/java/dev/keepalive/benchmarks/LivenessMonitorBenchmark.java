package dev.keepalive.benchmarks;

import dev.keepalive.KeepaliveSettings;
import dev.keepalive.ManualTicker;
import dev.keepalive.core.LivenessMonitor;
import org.openjdk.jmh.annotations.Benchmark;
import org.openjdk.jmh.annotations.BenchmarkMode;
import org.openjdk.jmh.annotations.Fork;
import org.openjdk.jmh.annotations.Measurement;
import org.openjdk.jmh.annotations.Mode;
import org.openjdk.jmh.annotations.OutputTimeUnit;
import org.openjdk.jmh.annotations.Scope;
import org.openjdk.jmh.annotations.Setup;
import org.openjdk.jmh.annotations.State;
import org.openjdk.jmh.annotations.Warmup;

import java.util.SplittableRandom;
import java.util.concurrent.TimeUnit;

/**
 * The per-event cost of the liveness core: what every inbound message and every write pays (a flag), and what a
 * timer check pays (once per window).
 *
 * <pre>java -jar benchmarks/target/benchmarks.jar LivenessMonitorBenchmark</pre>
 */
@State(Scope.Thread)
@BenchmarkMode(Mode.AverageTime)
@OutputTimeUnit(TimeUnit.NANOSECONDS)
@Warmup(iterations = 3, time = 1)
@Measurement(iterations = 5, time = 1)
@Fork(1)
public class LivenessMonitorBenchmark {
    private ManualTicker ticker;
    private LivenessMonitor monitor;

    @Setup
    public void setUp() {
        ticker = new ManualTicker();
        SplittableRandom random = new SplittableRandom(1);
        monitor = new LivenessMonitor(KeepaliveSettings.defaults(), ticker, true, random::nextDouble);
        monitor.onActive();
        monitor.onInbound();
        monitor.onWrite();
    }

    /** Every inbound message: the flag is already set in this window. */
    @Benchmark
    public void inboundMessage() {
        monitor.onInbound(); // a store to the monitor, a @State object: not eliminated
    }

    /** Every outbound message. */
    @Benchmark
    public LivenessMonitor.Action outboundMessage() {
        return monitor.onWrite();
    }

    /** One timer check on a busy connection: fold the window in and compute the next deadline. */
    @Benchmark
    public LivenessMonitor.Action timerCheckOnBusyConnection() {
        monitor.onInbound();
        ticker.set(monitor.deadline());
        return monitor.onTimer(ticker.nanoTime());
    }
}
