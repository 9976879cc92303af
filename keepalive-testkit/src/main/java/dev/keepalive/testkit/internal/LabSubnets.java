package dev.keepalive.testkit.internal;

import dev.keepalive.testkit.TestkitException;
import java.net.InetAddress;
import java.net.UnknownHostException;
import java.nio.channels.FileChannel;
import java.nio.channels.FileLock;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.HashSet;
import java.util.Set;
import java.util.concurrent.Callable;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * Hands out /30 subnets of {@code 10.247.0.0/16}, one per lab, unique among all labs on the machine: allocation runs
 * under a lock that is both JVM-wide and machine-wide (a file lock), and skips every /30 whose addresses are already
 * on an interface of the root namespace.
 */
public final class LabSubnets {
    /** The range the labs use. */
    public static final String RANGE = "10.247.0.0/16";
    /** Number of /30 subnets in the range. */
    public static final int SUBNETS = 65_536 / 4;
    private static final Pattern INET = Pattern.compile("\\sinet (10\\.247\\.(\\d+)\\.(\\d+))/");
    private static final Path LOCK_FILE = Path.of(System.getProperty("java.io.tmpdir"), "keepalive-kalab.lock");
    private static final Object JVM_LOCK = new Object();

    private LabSubnets() {
    }

    /**
     * Runs {@code action} while holding the machine-wide lab lock.
     *
     * @param action what to do
     * @param <T> the result type
     * @return its result
     * @throws Exception whatever {@code action} throws
     */
    public static <T> T locked(Callable<T> action) throws Exception {
        synchronized (JVM_LOCK) {
            try (FileChannel ch = FileChannel.open(LOCK_FILE, StandardOpenOption.CREATE, StandardOpenOption.WRITE)) {
                FileLock fileLock = ch.lock();
                try {
                    return action.call();
                } finally {
                    fileLock.release();
                }
            }
        }
    }

    /**
     * Picks a free /30. Call under {@link #locked}, and assign the host address before releasing the lock.
     *
     * @param ip path of the {@code ip} binary
     * @param seed where to start looking (e.g. derived from pid and lab number), any int
     * @return the index of the /30 within the range, 0 to {@link #SUBNETS} - 1
     * @throws TestkitException if all are taken
     */
    public static int allocate(String ip, int seed) {
        Set<Integer> used = new HashSet<>();
        Matcher m = INET.matcher(Commands.run(ip, "-o", "-4", "addr", "show").stdout());
        while (m.find()) {
            int third = Integer.parseInt(m.group(2));
            int fourth = Integer.parseInt(m.group(3));
            used.add((third * 256 + fourth) / 4);
        }
        int start = Math.floorMod(seed, SUBNETS);
        for (int i = 0; i < SUBNETS; i++) {
            int candidate = (start + i) % SUBNETS;
            if (!used.contains(candidate)) {
                return candidate;
            }
        }
        throw new TestkitException("no free /30 left in " + RANGE + " (" + used.size() + " in use)");
    }

    /**
     * @param index a /30 index
     * @param host 1 for the first host address, 2 for the second
     * @return the address
     */
    public static InetAddress address(int index, int host) {
        int v = index * 4 + host;
        try {
            return InetAddress.getByAddress(new byte[] {10, (byte) 247, (byte) (v >> 8), (byte) v});
        } catch (UnknownHostException e) {
            throw new IllegalStateException(e);
        }
    }

}
