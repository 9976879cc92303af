package dev.keepalive.testkit.internal;

import java.util.Optional;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * Names of the kernel objects a lab creates. Each name encodes the owning JVM's pid, so a later run can tell
 * leftovers of a crashed JVM (pid gone) from the labs of a JVM that is still running.
 *
 * <ul>
 *   <li>namespace: {@code kalab-<pid>-<n>}</li>
 *   <li>veth ends: {@code kl<pid>h<n>} (root namespace, "host") and {@code kl<pid>p<n>} (inside, "peer"); at most
 *       15 characters, the Linux limit for interface names</li>
 * </ul>
 */
public final class LabNames {
    /** The prefix of every lab namespace. */
    public static final String NAMESPACE_PREFIX = "kalab-";
    private static final Pattern NAMESPACE = Pattern.compile("kalab-(\\d+)-(\\d+)");
    private static final Pattern LINK = Pattern.compile("kl(\\d+)[hp](\\d+)");
    /** Largest lab number that keeps link names within 15 characters for any 7-digit pid. */
    public static final int MAX_LAB_NUMBER = 99_999;

    private LabNames() {
    }

    /**
     * @param pid the owner's pid
     * @param n the lab number within that JVM
     * @return the namespace name
     */
    public static String namespace(long pid, int n) {
        return NAMESPACE_PREFIX + pid + "-" + n;
    }

    /**
     * @param pid the owner's pid
     * @param n the lab number
     * @return the root-namespace end of the veth pair
     */
    public static String hostLink(long pid, int n) {
        return "kl" + pid + "h" + n;
    }

    /**
     * @param pid the owner's pid
     * @param n the lab number
     * @return the namespace end of the veth pair
     */
    public static String peerLink(long pid, int n) {
        return "kl" + pid + "p" + n;
    }

    /**
     * @param namespace a namespace name
     * @return the owner pid, if the name is a lab's
     */
    public static Optional<Long> namespaceOwner(String namespace) {
        Matcher m = NAMESPACE.matcher(namespace);
        return m.matches() ? Optional.of(Long.parseLong(m.group(1))) : Optional.empty();
    }

    /**
     * @param link an interface name
     * @return the owner pid, if the name is a lab's
     */
    public static Optional<Long> linkOwner(String link) {
        Matcher m = LINK.matcher(link);
        return m.matches() ? Optional.of(Long.parseLong(m.group(1))) : Optional.empty();
    }
}
