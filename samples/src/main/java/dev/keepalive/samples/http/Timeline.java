package dev.keepalive.samples.http;

import java.io.PrintStream;
import java.util.concurrent.TimeUnit;

/** Prints lines stamped with the seconds since the sample started; safe to call from any thread. */
final class Timeline {
    private final PrintStream out;
    private final long start = System.nanoTime();

    Timeline(PrintStream out) {
        this.out = out;
    }

    synchronized void say(String format, Object... args) {
        long ms = TimeUnit.NANOSECONDS.toMillis(System.nanoTime() - start);
        out.printf("[%6.2f s] %s%n", ms / 1000.0, String.format(format, args));
    }
}
