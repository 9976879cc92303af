package dev.keepalive.samples.chat;

import java.io.BufferedReader;
import java.io.IOException;
import java.io.InputStreamReader;
import java.io.OutputStream;
import java.net.InetSocketAddress;
import java.net.Socket;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.BlockingQueue;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.TimeUnit;
import java.util.function.Predicate;

/**
 * A bare-hands protocol client for server tests: a loopback socket whose reader thread answers the server's
 * keepalive pings at once (or, with {@code answerPings} off, never: a hung client) and queues every other line.
 * Every wait is bounded.
 */
final class LineSocket implements AutoCloseable {
    private static final String EOF = "\u0000end";

    private final Socket socket = new Socket();
    private final OutputStream out;
    private final BlockingQueue<String> lines = new LinkedBlockingQueue<>();
    final List<String> seen = new CopyOnWriteArrayList<>();

    LineSocket(InetSocketAddress server, boolean answerPings) throws IOException {
        socket.connect(server, 5000);
        this.out = socket.getOutputStream();
        BufferedReader in = new BufferedReader(new InputStreamReader(socket.getInputStream(), StandardCharsets.UTF_8));
        Thread reader = new Thread(() -> {
            try {
                for (String line = in.readLine(); line != null; line = in.readLine()) {
                    if (line.startsWith("PING ")) {
                        if (answerPings) {
                            send("PONG " + line.substring(5));
                        }
                    } else {
                        lines.add(line);
                    }
                }
            } catch (IOException e) {
                // closed: the end of the stream
            } finally {
                lines.add(EOF);
            }
        }, "line-socket-reader");
        reader.setDaemon(true);
        reader.start();
    }

    /** This end's address, as the server's events write it. */
    String localAddress() {
        return ChatEvent.address(socket.getLocalSocketAddress());
    }

    synchronized LineSocket send(String line) throws IOException {
        out.write((line + "\n").getBytes(StandardCharsets.UTF_8));
        out.flush();
        return this;
    }

    /** Takes lines until one matches; fails after {@code timeout} or when the connection ends first. */
    String expect(Predicate<String> p, Duration timeout, String what) throws InterruptedException {
        long deadline = System.nanoTime() + timeout.toNanos();
        while (true) {
            String line = next(deadline);
            if (line == null) {
                throw new AssertionError("not within " + timeout + ": " + what + "; seen " + seen);
            }
            if (line.equals(EOF)) {
                lines.add(EOF);
                throw new AssertionError("connection closed while waiting for " + what + "; seen " + seen);
            }
            seen.add(line);
            if (p.test(line)) {
                return line;
            }
        }
    }

    String expect(String line) throws InterruptedException {
        return expect(line::equals, Duration.ofSeconds(5), '"' + line + '"');
    }

    /** Takes lines until the server closes the connection; returns those lines. */
    List<String> expectClosed(Duration timeout) throws InterruptedException {
        long deadline = System.nanoTime() + timeout.toNanos();
        List<String> rest = new ArrayList<>();
        while (true) {
            String line = next(deadline);
            if (line == null) {
                throw new AssertionError("still open after " + timeout + "; seen " + seen + rest);
            }
            if (line.equals(EOF)) {
                lines.add(EOF);
                return rest;
            }
            rest.add(line);
            seen.add(line);
        }
    }

    private String next(long deadline) throws InterruptedException {
        return lines.poll(Math.max(0, deadline - System.nanoTime()), TimeUnit.NANOSECONDS);
    }

    @Override
    public void close() throws IOException {
        socket.close();
    }
}
