package dev.keepalive.testkit;

import dev.keepalive.testkit.internal.Commands;
import java.io.BufferedReader;
import java.io.IOException;
import java.io.InputStreamReader;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Objects;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.locks.LockSupport;
import java.util.regex.Matcher;
import java.util.regex.MatchResult;
import java.util.regex.Pattern;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * A process a {@link KernelFirewallLab} runs inside its namespace. Its standard output and standard error are
 * collected line by line (merged, in arrival order) so a test can wait for a line; it can be stopped with
 * {@code SIGSTOP} (an application that hangs while its kernel still acknowledges bytes), continued and killed.
 *
 * <pre>{@code
 * PeerProcess peer = lab.startJava(EchoServer.class, lab.peerAddress().getHostAddress(), "0");
 * int port = Integer.parseInt(peer.awaitLine("LISTENING \\S+ (\\d+)", Duration.ofSeconds(20)).group(1));
 * peer.suspend();   // SIGSTOP: the socket stays open, bytes are ACKed, nothing is answered
 * peer.resume();    // SIGCONT
 * peer.kill();      // SIGKILL: the kernel closes its sockets (FIN, then RST)
 * }</pre>
 *
 * <p>At most {@link #MAX_LINES} lines are kept; later lines are only logged.
 */
public final class PeerProcess implements AutoCloseable {
    private static final Logger LOG = LoggerFactory.getLogger(PeerProcess.class);

    /** The number of output lines kept. */
    public static final int MAX_LINES = 100_000;
    private static final Duration SIGNAL_WAIT = Duration.ofSeconds(5);

    private final List<String> command;
    private final Process process;
    private final String label;
    private final List<String> lines = new ArrayList<>(); // guarded by itself
    private volatile boolean outputEnded;

    PeerProcess(List<String> command, Process process, String namespace) {
        this.command = List.copyOf(command);
        this.process = process;
        this.label = namespace + "/" + process.pid();
        Thread reader = new Thread(this::readOutput, "peer-output-" + process.pid());
        reader.setDaemon(true);
        reader.start();
    }

    private void readOutput() {
        try (BufferedReader r = new BufferedReader(
                new InputStreamReader(process.getInputStream(), StandardCharsets.UTF_8))) {
            String line;
            while ((line = r.readLine()) != null) {
                LOG.debug("[{}] {}", label, line);
                synchronized (lines) {
                    if (lines.size() < MAX_LINES) {
                        lines.add(line);
                    }
                    lines.notifyAll();
                }
            }
        } catch (IOException e) {
            LOG.debug("[{}] output ended: {}", label, e.toString());
        } finally {
            outputEnded = true;
            synchronized (lines) {
                lines.notifyAll();
            }
        }
    }

    /**
     * Starts {@code command} on this host, outside any lab: a peer on loopback that a test can stop
     * ({@link #suspend()}), kill with {@code SIGKILL} ({@link #kill()}) and start again. Its output is read as for
     * a lab's processes. The caller closes it (which kills it).
     *
     * @param command the program and its arguments; {@link KernelFirewallLab#javaCommand} builds one for a Java
     *                main class on this JVM's class path
     * @return the running process
     * @throws UncheckedIOException if it cannot be started
     */
    public static PeerProcess start(List<String> command) {
        Objects.requireNonNull(command, "command");
        if (command.isEmpty()) {
            throw new IllegalArgumentException("command must not be empty");
        }
        try {
            return new PeerProcess(command, new ProcessBuilder(command).redirectErrorStream(true).start(), "host");
        } catch (IOException e) {
            throw new UncheckedIOException("cannot start " + command + ": " + e.getMessage(), e);
        }
    }

    /** @return the pid of the command (the {@code ip netns exec} wrapper execs it, so this is the command itself) */
    public long pid() {
        return process.pid();
    }

    /** @return the command line as given to the lab (without the {@code ip netns exec} prefix) */
    public List<String> command() {
        return command;
    }

    /** @return every output line so far (stdout and stderr merged) */
    public List<String> lines() {
        synchronized (lines) {
            return List.copyOf(lines);
        }
    }

    /** @return the number of output lines so far; pass it to {@link #awaitLine(int, String, Duration)} */
    public int lineCount() {
        synchronized (lines) {
            return lines.size();
        }
    }

    /**
     * Waits for the first output line (from the start) that contains a match of {@code regex}.
     *
     * @param regex a {@link Pattern} searched in each line
     * @param timeout how long to wait at most
     * @return the match, with its groups
     * @throws AwaitTimeoutException if no such line appeared in time or the process ended without one; the message
     *     holds the last lines
     */
    public MatchResult awaitLine(String regex, Duration timeout) {
        return awaitLine(0, regex, timeout);
    }

    /**
     * Waits for the first output line at index {@code fromLine} or later that contains a match of {@code regex}.
     *
     * <pre>{@code
     * int mark = peer.lineCount();
     * client.getOutputStream().write(1);
     * peer.awaitLine(mark, "RECEIVED", Duration.ofSeconds(5));
     * }</pre>
     *
     * @param fromLine the first line index to look at
     * @param regex a {@link Pattern} searched in each line
     * @param timeout how long to wait at most
     * @return the match
     * @throws AwaitTimeoutException if no such line appeared in time
     */
    public MatchResult awaitLine(int fromLine, String regex, Duration timeout) {
        Pattern p = Pattern.compile(regex);
        long deadline = System.nanoTime() + timeout.toNanos();
        int next = Math.max(0, fromLine);
        synchronized (lines) {
            // Bounded by the deadline; each wait is at most 50 ms.
            while (true) {
                for (; next < lines.size(); next++) {
                    Matcher m = p.matcher(lines.get(next));
                    if (m.find()) {
                        return m.toMatchResult();
                    }
                }
                long left = deadline - System.nanoTime();
                if (left <= 0 || (outputEnded && next >= lines.size())) {
                    throw new AwaitTimeoutException("no output line matching '" + regex + "' from " + label
                            + (outputEnded ? " (its output ended)" : ""), timeout, "last lines: " + tail());
                }
                try {
                    lines.wait(Math.max(1, Math.min(50, TimeUnit.NANOSECONDS.toMillis(left))));
                } catch (InterruptedException e) {
                    Thread.currentThread().interrupt();
                    throw new AwaitTimeoutException("interrupted awaiting '" + regex + "'", timeout, "");
                }
            }
        }
    }

    private String tail() {
        int from = Math.max(0, lines.size() - 10);
        return lines.subList(from, lines.size()).toString();
    }

    /** @return whether the process is running (a stopped process is still alive) */
    public boolean isAlive() {
        return process.isAlive();
    }

    /**
     * Whether the process is stopped by a signal ({@code T} in {@code /proc/<pid>/stat}).
     *
     * @return {@code true} if stopped
     */
    public boolean isSuspended() {
        try {
            String stat = Files.readString(Path.of("/proc", Long.toString(pid()), "stat"));
            int close = stat.lastIndexOf(')');
            return close > 0 && close + 2 < stat.length() && stat.charAt(close + 2) == 'T';
        } catch (IOException e) {
            return false;
        }
    }

    /**
     * Sends {@code SIGSTOP} and waits until the process is stopped. Its sockets stay open and its kernel keeps
     * acknowledging bytes, but it answers nothing.
     *
     * @throws LabCommandException if the signal cannot be sent
     * @throws AwaitTimeoutException if the process did not stop within 5 seconds
     */
    public void suspend() {
        signal("STOP");
        awaitSuspended(true);
    }

    /**
     * Sends {@code SIGCONT} and waits until the process runs again.
     *
     * @throws LabCommandException if the signal cannot be sent
     * @throws AwaitTimeoutException if the process did not continue within 5 seconds
     */
    public void resume() {
        signal("CONT");
        awaitSuspended(false);
    }

    private void signal(String name) {
        String sh = Commands.find("sh").orElse("/bin/sh");
        Commands.run(List.of(sh, "-c", "kill -s " + name + " " + pid()), "", Commands.DEFAULT_TIMEOUT).check();
    }

    private void awaitSuspended(boolean expected) {
        long deadline = System.nanoTime() + SIGNAL_WAIT.toNanos();
        // Bounded by the deadline; parks 1 ms between /proc reads.
        while (isSuspended() != expected && process.isAlive()) {
            if (System.nanoTime() - deadline > 0) {
                throw new AwaitTimeoutException("process " + label + (expected ? " did not stop" : " did not continue"),
                        SIGNAL_WAIT, "");
            }
            LockSupport.parkNanos(1_000_000L);
        }
    }

    /**
     * Kills the process (and its descendants) with {@code SIGKILL} and waits for it to end, at most 5 seconds.
     */
    public void kill() {
        process.descendants().forEach(ProcessHandle::destroyForcibly);
        process.destroyForcibly();
        try {
            if (!process.waitFor(SIGNAL_WAIT.toMillis(), TimeUnit.MILLISECONDS)) {
                LOG.warn("process {} did not end within {} after SIGKILL", label, SIGNAL_WAIT);
            }
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
    }

    /**
     * Waits for the process to end.
     *
     * @param timeout how long to wait at most
     * @return its exit code
     * @throws AwaitTimeoutException if it is still running
     */
    public int awaitExit(Duration timeout) {
        Objects.requireNonNull(timeout, "timeout");
        try {
            if (process.waitFor(timeout.toMillis(), TimeUnit.MILLISECONDS)) {
                return process.exitValue();
            }
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
        throw new AwaitTimeoutException("process " + label + " did not exit", timeout, "last lines: " + lines());
    }

    /** Same as {@link #kill()}. */
    @Override
    public void close() {
        kill();
    }

    @Override
    public String toString() {
        return "PeerProcess[" + label + " " + command + "]";
    }
}
