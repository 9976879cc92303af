package dev.keepalive.testsupport;

import java.io.BufferedReader;
import java.io.IOException;
import java.io.InputStreamReader;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.TimeUnit;

import static org.awaitility.Awaitility.await;

/**
 * {@link RecordingLineServerMain} in a child JVM on loopback, which the test can freeze with {@code SIGSTOP} (its
 * kernel keeps ACKing bytes and accepting connections into the backlog; nothing is read or answered) and resume.
 */
public final class ChildServer implements AutoCloseable {
    private final Process process;
    /** Every application line the server read, in order. */
    public final List<String> read = new CopyOnWriteArrayList<>();
    private volatile int port = -1;

    private ChildServer(Process process) {
        this.process = process;
        Thread reader = new Thread(this::readOutput, "child-server-" + process.pid());
        reader.setDaemon(true);
        reader.start();
    }

    /** Starts the child and waits until it listens. */
    public static ChildServer start() throws IOException {
        String java = Path.of(System.getProperty("java.home"), "bin", "java").toString();
        Process p = new ProcessBuilder(java, "-Xmx64m", "-XX:TieredStopAtLevel=1",
                "-Dorg.slf4j.simpleLogger.defaultLogLevel=warn",
                "-cp", System.getProperty("java.class.path"), RecordingLineServerMain.class.getName())
                .redirectErrorStream(true).start();
        ChildServer s = new ChildServer(p);
        await().atMost(Duration.ofSeconds(30)).until(() -> s.port > 0 || !p.isAlive());
        if (s.port < 0) {
            throw new IOException("the child server exited with " + p.exitValue());
        }
        return s;
    }

    private void readOutput() {
        try (BufferedReader r = new BufferedReader(new InputStreamReader(process.getInputStream(),
                StandardCharsets.UTF_8))) {
            for (String line = r.readLine(); line != null; line = r.readLine()) {
                if (line.startsWith("READ ")) {
                    read.add(line.substring(5));
                } else if (line.startsWith("LISTENING ")) {
                    port = Integer.parseInt(line.substring(10).trim());
                }
            }
        } catch (IOException | RuntimeException e) {
            // the child ended
        }
    }

    /** The port it listens on, on the loopback address. */
    public int port() {
        return port;
    }

    /** SIGSTOP: the process freezes; its kernel still ACKs and accepts. */
    public void freeze() throws IOException, InterruptedException {
        signal("-STOP");
    }

    /** SIGCONT. */
    public void resume() throws IOException, InterruptedException {
        signal("-CONT");
    }

    private void signal(String sig) throws IOException, InterruptedException {
        Process kill = new ProcessBuilder("kill", sig, Long.toString(process.pid())).inheritIO().start();
        if (!kill.waitFor(5, TimeUnit.SECONDS) || kill.exitValue() != 0) {
            throw new IOException("kill " + sig + " " + process.pid() + " failed");
        }
    }

    @Override
    public void close() throws Exception {
        try {
            resume();
        } catch (IOException e) {
            // already gone
        }
        process.getOutputStream().close();
        if (!process.waitFor(5, TimeUnit.SECONDS)) {
            process.destroyForcibly().waitFor(5, TimeUnit.SECONDS);
        }
    }
}
