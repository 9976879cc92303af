package dev.keepalive.benchmarks.support;

import java.io.BufferedReader;
import java.io.IOException;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.ServerSocket;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.concurrent.ThreadLocalRandom;

/**
 * Fresh loopback ports for benchmark servers that a child process binds (and binds again after a restart).
 *
 * <p>A port is picked below the kernel's ephemeral range, so that no client socket takes it between the pick and
 * the bind, and it is checked with a bind <em>without</em> {@code SO_REUSEADDR}: that bind fails while any socket
 * on the port lingers in TIME_WAIT, so the port carries nothing over from an earlier run.
 */
public final class Ports {
    private static final Path EPHEMERAL_RANGE = Path.of("/proc/sys/net/ipv4/ip_local_port_range");
    private static final int LOWEST = 10_000;
    private static final int TRIES = 200;

    private Ports() {
    }

    /**
     * A loopback port below the ephemeral range that nothing uses, not even a socket in TIME_WAIT.
     *
     * @throws IllegalStateException if none is found in a few hundred random tries
     */
    public static int fresh() {
        int high = ephemeralRangeStart(); // exclusive
        if (high < 2048) {
            high = 32768;
        }
        int low = high > 2 * LOWEST ? LOWEST : 1024;
        for (int i = 0; i < TRIES; i++) {
            int port = ThreadLocalRandom.current().nextInt(low, high);
            if (free(port)) {
                return port;
            }
        }
        throw new IllegalStateException("no free loopback port in " + low + ".." + (high - 1) + " after " + TRIES
                + " tries");
    }

    /** Whether {@code port} on 127.0.0.1 can be bound without {@code SO_REUSEADDR} (nothing in TIME_WAIT). */
    public static boolean free(int port) {
        try (ServerSocket s = new ServerSocket()) {
            s.setReuseAddress(false);
            s.bind(new InetSocketAddress(InetAddress.getLoopbackAddress(), port), 1);
            return true;
        } catch (IOException e) {
            return false;
        }
    }

    /** The first port of the kernel's ephemeral range (32768 if it cannot be read). */
    public static int ephemeralRangeStart() {
        // Read as a stream: Files.readString trusts the size procfs reports and returns a truncated line.
        try (BufferedReader in = Files.newBufferedReader(EPHEMERAL_RANGE, StandardCharsets.US_ASCII)) {
            String[] range = in.readLine().trim().split("\\s+");
            return Integer.parseInt(range[0]);
        } catch (IOException | RuntimeException e) {
            return 32768;
        }
    }
}
