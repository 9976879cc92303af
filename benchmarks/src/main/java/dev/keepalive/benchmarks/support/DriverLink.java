package dev.keepalive.benchmarks.support;

import java.io.BufferedReader;
import java.io.IOException;
import java.io.InputStreamReader;
import java.nio.charset.StandardCharsets;
import java.util.concurrent.BlockingQueue;
import java.util.concurrent.LinkedBlockingQueue;

/**
 * The child's end of a {@link ChildJvm}: command lines from the driver on stdin, answers on stdout. At the end of
 * stdin (the driver finished with the child, or died) the child exits at once.
 */
public final class DriverLink {
    private DriverLink() {
    }

    /** Stdin lines, trimmed, read by a daemon thread; at the end of stdin the process halts. */
    public static BlockingQueue<String> readCommands() {
        BlockingQueue<String> commands = new LinkedBlockingQueue<>();
        Thread reader = new Thread(() -> {
            try (BufferedReader in = new BufferedReader(new InputStreamReader(System.in, StandardCharsets.UTF_8))) {
                for (String line = in.readLine(); line != null; line = in.readLine()) {
                    commands.add(line.trim());
                }
            } catch (IOException e) {
                System.err.println("stdin failed: " + e);
            }
            // The driver finished with us, or died: either way, no reason to live on.
            System.out.flush();
            Runtime.getRuntime().halt(0);
        }, "stdin");
        reader.setDaemon(true);
        reader.start();
        return commands;
    }

    /** One line to the driver, flushed. */
    public static void answer(String line) {
        System.out.println(line);
        System.out.flush();
    }
}
