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
import java.util.TreeMap;
import java.util.concurrent.BlockingQueue;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.ThreadLocalRandom;
import java.util.concurrent.TimeUnit;
import java.util.function.Predicate;

/**
 * A bare-hands protocol client for server tests: a loopback socket whose reader thread answers the server's
 * keepalive pings at once (or, with {@code answerPings} off, never: a hung client), speaks the session layer's
 * line framing by hand ({@code SH}/{@code SR}/{@code SD}/{@code SA}: it opens or resumes a session, numbers what it
 * sends, acknowledges each line it gets at once, and re-sends what the server did not get on a resume) and queues
 * the chat lines it gets. Every wait is bounded.
 */
final class LineSocket implements AutoCloseable {
    private static final String EOF = "\u0000end";

    private final Socket socket = new Socket();
    private final OutputStream out;
    private final BlockingQueue<String> lines = new LinkedBlockingQueue<>();
    final List<String> seen = new CopyOnWriteArrayList<>();
    private final InetSocketAddress server;
    final String sessionId;
    /** Every line sent, by its session number. Guarded by this. */
    private final TreeMap<Long, String> sent = new TreeMap<>();
    /** What the server acknowledged. Guarded by this. */
    private long acked;
    private boolean open;
    private volatile long delivered;

    LineSocket(InetSocketAddress server, boolean answerPings) throws IOException {
        this(server, answerPings, String.format("%016x%016x", ThreadLocalRandom.current().nextLong(),
                ThreadLocalRandom.current().nextLong()), null);
    }

    /** The same session on a new connection (the old one may still be open: half-open). */
    LineSocket resumeOnNewConnection() throws IOException {
        return new LineSocket(server, true, sessionId, this);
    }

    private LineSocket(InetSocketAddress server, boolean answerPings, String sessionId, LineSocket from)
            throws IOException {
        this.server = server;
        this.sessionId = sessionId;
        if (from != null) {
            synchronized (from) {
                sent.putAll(from.sent);
                acked = from.acked;
                delivered = from.delivered;
            }
        }
        socket.connect(server, 5000);
        this.out = socket.getOutputStream();
        sendRaw("SH " + sessionId + (from == null ? " new 0" : " resume " + delivered));
        BufferedReader in = new BufferedReader(new InputStreamReader(socket.getInputStream(), StandardCharsets.UTF_8));
        Thread reader = new Thread(() -> {
            try {
                for (String line = in.readLine(); line != null; line = in.readLine()) {
                    if (line.startsWith("PING ")) {
                        if (answerPings) {
                            sendRaw("PONG " + line.substring(5));
                        }
                    } else if (line.startsWith("SR ")) {
                        resumed(Long.parseLong(line.substring(3)));
                    } else if (line.startsWith("SA ")) {
                        acked(Long.parseLong(line.substring(3)));
                    } else if (line.startsWith("SD ")) {
                        String[] parts = line.split(" ", 4);
                        acked(Long.parseLong(parts[2]));
                        long seq = Long.parseLong(parts[1]);
                        if (seq == delivered + 1) {
                            delivered = seq;
                            lines.add(parts.length == 4 ? parts[3] : "");
                            sendRaw("SA " + seq);
                        } else if (seq > delivered) {
                            lines.add("GAP " + line);
                        }
                    } else {
                        lines.add(line); // not a session line (SX: the session expired)
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

    /** Sends one chat line in the session (after the resume, if it is not open yet). */
    synchronized LineSocket send(String line) throws IOException {
        long seq = sent.isEmpty() ? 1 : sent.lastKey() + 1;
        sent.put(seq, line);
        if (open) {
            sendRaw("SD " + seq + ' ' + delivered + ' ' + line);
        }
        return this;
    }

    /** Sends the line numbered {@code seq} again, as a peer that did not know it had arrived would. */
    synchronized LineSocket resend(long seq) throws IOException {
        return sendRaw("SD " + seq + ' ' + delivered + ' ' + sent.get(seq));
    }

    /** Writes a line as is, outside the session. */
    synchronized LineSocket sendRaw(String line) throws IOException {
        out.write((line + "\n").getBytes(StandardCharsets.UTF_8));
        out.flush();
        return this;
    }

    private synchronized void resumed(long serverDelivered) throws IOException {
        acked(serverDelivered);
        open = true;
        for (var e : sent.tailMap(serverDelivered, false).entrySet()) {
            sendRaw("SD " + e.getKey() + ' ' + delivered + ' ' + e.getValue());
        }
    }

    private synchronized void acked(long upTo) {
        acked = Math.max(acked, upTo);
    }

    /** Whether the server acknowledged every line sent. */
    synchronized boolean allAcknowledged() {
        return sent.isEmpty() || acked >= sent.lastKey();
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
