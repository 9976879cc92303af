package dev.keepalive.samples.chat;

import java.io.ByteArrayOutputStream;
import java.io.OutputStream;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.function.Predicate;
import java.util.stream.Collectors;

/**
 * A stream that a command prints to, read by the test as lines. {@link #await} blocks until a matching line has
 * been written (woken by each write, bounded by a timeout), so tests never sleep to synchronise.
 */
final class Captured {
    private final ByteArrayOutputStream bytes = new ByteArrayOutputStream();
    final PrintStream stream = new PrintStream(new OutputStream() {
        @Override
        public void write(int b) {
            synchronized (Captured.this) {
                bytes.write(b);
                Captured.this.notifyAll();
            }
        }

        @Override
        public void write(byte[] b, int off, int len) {
            synchronized (Captured.this) {
                bytes.write(b, off, len);
                Captured.this.notifyAll();
            }
        }
    }, true, StandardCharsets.UTF_8);

    /** Every complete line written so far. */
    synchronized List<String> lines() {
        String all = bytes.toString(StandardCharsets.UTF_8);
        List<String> out = new ArrayList<>(List.of(all.split("\n", -1)));
        out.remove(out.size() - 1); // the unfinished tail (empty when the text ends with a line end)
        return out;
    }

    synchronized String text() {
        return bytes.toString(StandardCharsets.UTF_8);
    }

    /** Waits for the {@code n}-th (1-based) line matching {@code p} and returns it. */
    synchronized String await(Predicate<String> p, int n, Duration timeout, String what) throws InterruptedException {
        long deadline = System.nanoTime() + timeout.toNanos();
        while (true) {
            List<String> matching = lines().stream().filter(p).collect(Collectors.toList());
            if (matching.size() >= n) {
                return matching.get(n - 1);
            }
            long left = deadline - System.nanoTime();
            if (left <= 0) {
                throw new AssertionError("not within " + timeout + ": " + what + "; the stream holds:\n" + text());
            }
            wait(Math.max(1, left / 1_000_000));
        }
    }

    String await(Predicate<String> p, Duration timeout, String what) throws InterruptedException {
        return await(p, 1, timeout, what);
    }

    /** Waits for a line equal to {@code line}. */
    String awaitLine(String line, Duration timeout) throws InterruptedException {
        return await(line::equals, 1, timeout, "the line \"" + line + '"');
    }
}
