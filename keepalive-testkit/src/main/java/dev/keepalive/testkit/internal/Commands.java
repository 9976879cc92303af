package dev.keepalive.testkit.internal;

import dev.keepalive.testkit.LabCommandException;
import java.io.ByteArrayOutputStream;
import java.io.File;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Optional;
import java.util.Set;
import java.util.concurrent.TimeUnit;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/** Runs short external commands with a timeout and finds binaries. */
public final class Commands {
    private static final Logger LOG = LoggerFactory.getLogger(Commands.class);

    /** The default time a short command may take. */
    public static final Duration DEFAULT_TIMEOUT = Duration.ofSeconds(20);

    private Commands() {
    }

    /**
     * The outcome of a command.
     *
     * @param command the command line
     * @param exitCode the exit code
     * @param stdout standard output
     * @param stderr standard error
     */
    public record Result(List<String> command, int exitCode, String stdout, String stderr) {
        /** @return whether the exit code is 0 */
        public boolean ok() {
            return exitCode == 0;
        }

        /**
         * @return this result
         * @throws LabCommandException if the exit code is not 0
         */
        public Result check() {
            if (exitCode != 0) {
                throw new LabCommandException(command, exitCode, stderr.isBlank() ? stdout : stderr);
            }
            return this;
        }
    }

    /**
     * Runs a command and waits for it.
     *
     * @param command the command line
     * @param stdin bytes for its standard input, may be empty
     * @param timeout how long it may take; it is killed after that
     * @return the result, whatever the exit code
     * @throws LabCommandException if it cannot be started or timed out
     */
    public static Result run(List<String> command, String stdin, Duration timeout) {
        LOG.debug("run {}", command);
        Process p;
        try {
            p = new ProcessBuilder(command).start();
        } catch (IOException e) {
            throw new LabCommandException(command, 127, "cannot start: " + e.getMessage());
        }
        ByteArrayOutputStream out = new ByteArrayOutputStream();
        ByteArrayOutputStream err = new ByteArrayOutputStream();
        Thread outReader = pump(p.getInputStream(), out, command);
        Thread errReader = pump(p.getErrorStream(), err, command);
        try (OutputStream in = p.getOutputStream()) {
            if (!stdin.isEmpty()) {
                in.write(stdin.getBytes(StandardCharsets.UTF_8));
            }
        } catch (IOException e) {
            LOG.debug("cannot write stdin of {}", command, e);
        }
        boolean done;
        try {
            done = p.waitFor(timeout.toMillis(), TimeUnit.MILLISECONDS);
            if (done) {
                outReader.join(timeout.toMillis());
                errReader.join(timeout.toMillis());
            }
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            done = false;
        }
        if (!done) {
            p.descendants().forEach(ProcessHandle::destroyForcibly);
            p.destroyForcibly();
            throw new LabCommandException(command, LabCommandException.TIMED_OUT, text(err));
        }
        Result r = new Result(List.copyOf(command), p.exitValue(), text(out), text(err));
        if (!r.ok()) {
            LOG.debug("{} exited with {}: {}", command, r.exitCode(), r.stderr().strip());
        }
        return r;
    }

    /**
     * Runs a command with no input and the {@link #DEFAULT_TIMEOUT}.
     *
     * @param command the command line
     * @return the result, whatever the exit code
     */
    public static Result run(String... command) {
        return run(List.of(command), "", DEFAULT_TIMEOUT);
    }

    private static String text(ByteArrayOutputStream b) {
        synchronized (b) {
            return b.toString(StandardCharsets.UTF_8);
        }
    }

    private static Thread pump(InputStream in, ByteArrayOutputStream sink, List<String> command) {
        Thread t = new Thread(() -> {
            byte[] buf = new byte[8192];
            try (in) {
                int n;
                while ((n = in.read(buf)) >= 0) {
                    synchronized (sink) {
                        sink.write(buf, 0, n);
                    }
                }
            } catch (IOException e) {
                LOG.trace("output of {} ended: {}", command, e.toString());
            }
        }, "cmd-output");
        t.setDaemon(true);
        t.start();
        return t;
    }

    /**
     * Finds an executable on {@code PATH} or in the usual system directories (root's tools live in {@code /sbin}).
     *
     * @param name the program, e.g. {@code "nft"}
     * @return its absolute path
     */
    public static Optional<String> find(String name) {
        Set<String> dirs = new LinkedHashSet<>();
        String path = System.getenv("PATH");
        if (path != null) {
            for (String d : path.split(File.pathSeparator)) {
                if (!d.isEmpty()) {
                    dirs.add(d);
                }
            }
        }
        dirs.addAll(List.of("/usr/sbin", "/sbin", "/usr/bin", "/bin", "/usr/local/sbin", "/usr/local/bin"));
        for (String d : dirs) {
            Path p = Path.of(d, name);
            if (Files.isRegularFile(p) && Files.isExecutable(p)) {
                return Optional.of(p.toString());
            }
        }
        return Optional.empty();
    }
}
