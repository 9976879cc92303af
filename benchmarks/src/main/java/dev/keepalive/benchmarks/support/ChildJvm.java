package dev.keepalive.benchmarks.support;

import java.io.BufferedReader;
import java.io.IOException;
import java.io.InputStreamReader;
import java.io.PrintWriter;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Set;
import java.util.concurrent.BlockingQueue;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.TimeUnit;
import java.util.function.Predicate;

/**
 * A benchmark process started by a driver: the same java and class path, a main class, arguments. The driver talks
 * to it in lines: it writes commands to the child's stdin ({@link #send}) and waits for lines on its stdout
 * ({@link #awaitLine}); stderr goes to the driver's stderr. Used where one process cannot hold the connections (a
 * process may hold at most 20,000 file descriptors) or where a server must die and come back.
 *
 * <p>A child outlives no driver: {@link #close()} kills it, a shutdown hook kills those still running when the
 * driver is stopped, and a child should exit when its stdin ends (which also covers a driver killed outright).
 */
public final class ChildJvm implements AutoCloseable {
    /** Children still running, killed by a shutdown hook if the driver is stopped (Ctrl-C) before it closes them. */
    private static final Set<Process> RUNNING = ConcurrentHashMap.newKeySet();

    static {
        Runtime.getRuntime().addShutdownHook(new Thread(() -> {
            for (Process p : RUNNING) {
                p.destroyForcibly();
            }
        }, "child-jvm-reaper"));
    }

    private final String name;
    private final Process process;
    private final PrintWriter stdin;
    private final BlockingQueue<String> lines = new LinkedBlockingQueue<>();

    private ChildJvm(String name, Process process) {
        this.name = name;
        this.process = process;
        this.stdin = new PrintWriter(process.getOutputStream(), true, StandardCharsets.UTF_8);
        RUNNING.add(process);
        process.onExit().thenRun(() -> RUNNING.remove(process));
        Thread reader = new Thread(() -> {
            try (BufferedReader r = new BufferedReader(new InputStreamReader(process.getInputStream(),
                    StandardCharsets.UTF_8))) {
                for (String line = r.readLine(); line != null; line = r.readLine()) {
                    lines.add(line);
                }
            } catch (IOException e) {
                lines.add("! stdout of " + name + " failed: " + e);
            }
        }, name + "-stdout");
        reader.setDaemon(true);
        reader.start();
    }

    /**
     * Starts {@code main} in a new JVM with this JVM's java and class path.
     *
     * @param jvmArgs for example {@code -Xmx2g}
     */
    public static ChildJvm start(String name, Class<?> main, List<String> jvmArgs, List<String> args) {
        return start(name, List.of(), main, jvmArgs, args);
    }

    /**
     * Starts {@code main} in a new JVM with this JVM's java and class path, run through {@code launcher}: a command
     * that executes the rest of its arguments in its own process, for example {@code taskset -c 0} to pin the child
     * to one CPU (the child keeps the launcher's pid, so {@link #kill()} reaches it).
     *
     * @param launcher the launcher's command and options; empty to run java directly
     */
    public static ChildJvm start(String name, List<String> launcher, Class<?> main, List<String> jvmArgs,
                                 List<String> args) {
        List<String> command = new ArrayList<>(launcher);
        command.add(Path.of(System.getProperty("java.home"), "bin", "java").toString());
        command.addAll(jvmArgs);
        command.add("-cp");
        command.add(System.getProperty("java.class.path"));
        command.add(main.getName());
        command.addAll(args);
        try {
            return new ChildJvm(name, new ProcessBuilder(command).redirectError(ProcessBuilder.Redirect.INHERIT)
                    .start());
        } catch (IOException e) {
            throw new UncheckedIOException("cannot start " + name, e);
        }
    }

    /** Writes one line to the child's stdin. */
    public void send(String line) {
        stdin.println(line);
    }

    /**
     * Writes {@code command} to the child's stdin and returns its answer: the next stdout line that starts with
     * {@code replyPrefix} (lines before it are dropped).
     *
     * @throws IllegalStateException if no answer comes within {@code timeout} or the child exits first
     */
    public String request(String command, String replyPrefix, Duration timeout) throws InterruptedException {
        send(command);
        return awaitLine(replyPrefix, timeout);
    }

    /**
     * The next stdout line that starts with {@code prefix}; lines before it are dropped.
     *
     * @throws IllegalStateException if no such line comes within {@code timeout} or the child exits first
     */
    public String awaitLine(String prefix, Duration timeout) throws InterruptedException {
        return awaitLine(l -> l.startsWith(prefix), prefix, timeout);
    }

    private String awaitLine(Predicate<String> match, String what, Duration timeout) throws InterruptedException {
        long deadline = System.nanoTime() + timeout.toNanos();
        while (true) {
            long left = deadline - System.nanoTime();
            String line = lines.poll(Math.max(0, Math.min(left, TimeUnit.MILLISECONDS.toNanos(200))),
                    TimeUnit.NANOSECONDS);
            if (line != null) {
                if (match.test(line)) {
                    return line;
                }
                continue;
            }
            if (!process.isAlive() && lines.isEmpty()) {
                throw new IllegalStateException(name + " exited with " + process.exitValue() + " before \"" + what
                        + "\"");
            }
            if (left <= 0) {
                throw new IllegalStateException(name + " printed no \"" + what + "\" within " + timeout);
            }
        }
    }

    /** The operating system's process id. */
    public long pid() {
        return process.pid();
    }

    /** Whether the process still runs. */
    public boolean isAlive() {
        return process.isAlive();
    }

    /** SIGKILL, and waits (bounded) until it is gone. */
    public void kill() throws InterruptedException {
        process.destroyForcibly();
        if (!process.waitFor(10, TimeUnit.SECONDS)) {
            throw new IllegalStateException(name + " survived SIGKILL for 10 s");
        }
    }

    /** Closes stdin (the child's signal to finish) and waits up to {@code timeout} for it to exit, then kills it. */
    public int finish(Duration timeout) throws InterruptedException {
        stdin.close();
        if (!process.waitFor(timeout.toMillis(), TimeUnit.MILLISECONDS)) {
            kill();
        }
        return process.exitValue();
    }

    @Override
    public void close() throws InterruptedException {
        if (process.isAlive()) {
            kill();
        }
    }

    @Override
    public String toString() {
        return name + " (pid " + process.pid() + ")";
    }
}
