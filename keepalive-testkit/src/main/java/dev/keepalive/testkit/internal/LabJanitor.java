package dev.keepalive.testkit.internal;

import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;
import java.util.concurrent.TimeUnit;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/** Removes lab namespaces and links, the current lab's or those a crashed JVM left behind. */
public final class LabJanitor {
    private static final Logger LOG = LoggerFactory.getLogger(LabJanitor.class);
    private static final Duration KILL_WAIT = Duration.ofSeconds(5);

    private LabJanitor() {
    }

    /**
     * Removes namespaces and links named like a lab whose owner pid is not alive.
     *
     * @param ip path of the {@code ip} binary
     * @return the names removed
     */
    public static List<String> removeLeftovers(String ip) {
        List<String> removed = new ArrayList<>();
        for (String ns : namespaces(ip)) {
            Optional<Long> owner = LabNames.namespaceOwner(ns);
            if (owner.isPresent() && !alive(owner.get())) {
                LOG.info("removing namespace {} left behind by dead process {}", ns, owner.get());
                removeNamespace(ip, ns);
                removed.add(ns);
            }
        }
        for (String link : links(ip)) {
            Optional<Long> owner = LabNames.linkOwner(link);
            if (owner.isPresent() && !alive(owner.get())) {
                LOG.info("removing link {} left behind by dead process {}", link, owner.get());
                Commands.run(ip, "link", "del", link);
                removed.add(link);
            }
        }
        return removed;
    }

    /**
     * Lists network namespace names.
     *
     * @param ip path of the {@code ip} binary
     * @return the names
     */
    public static List<String> namespaces(String ip) {
        List<String> names = new ArrayList<>();
        for (String line : Commands.run(ip, "netns", "list").stdout().split("\n")) {
            String name = line.strip().split("\\s+")[0];
            if (!name.isEmpty()) {
                names.add(name);
            }
        }
        return names;
    }

    /**
     * Lists interface names of the root namespace.
     *
     * @param ip path of the {@code ip} binary
     * @return the names, without the {@code @peer} suffix
     */
    public static List<String> links(String ip) {
        List<String> names = new ArrayList<>();
        for (String line : Commands.run(ip, "-o", "link", "show").stdout().split("\n")) {
            String[] f = line.strip().split("\\s+");
            if (f.length > 1) {
                String name = f[1];
                int at = name.indexOf('@');
                name = at >= 0 ? name.substring(0, at) : name;
                if (name.endsWith(":")) {
                    name = name.substring(0, name.length() - 1);
                }
                names.add(name);
            }
        }
        return names;
    }

    /**
     * Kills every process in a namespace, then deletes it. Quiet if it does not exist.
     *
     * @param ip path of the {@code ip} binary
     * @param ns the namespace
     * @return whether the namespace is gone
     */
    public static boolean removeNamespace(String ip, String ns) {
        killAll(ip, ns);
        Commands.Result r = Commands.run(ip, "netns", "del", ns);
        if (!r.ok() && namespaces(ip).contains(ns)) {
            LOG.warn("cannot delete namespace {}: {}", ns, r.stderr().strip());
            return false;
        }
        return true;
    }

    /**
     * Kills (SIGKILL) every process running in a namespace and waits for them, at most a few seconds each.
     *
     * @param ip path of the {@code ip} binary
     * @param ns the namespace
     */
    public static void killAll(String ip, String ns) {
        Commands.Result pids = Commands.run(ip, "netns", "pids", ns);
        if (!pids.ok()) {
            return;
        }
        List<ProcessHandle> victims = new ArrayList<>();
        for (String s : pids.stdout().split("\\s+")) {
            if (!s.isBlank()) {
                ProcessHandle.of(Long.parseLong(s.strip())).ifPresent(victims::add);
            }
        }
        for (ProcessHandle h : victims) {
            LOG.debug("killing process {} in namespace {}", h.pid(), ns);
            h.destroyForcibly();
        }
        for (ProcessHandle h : victims) {
            try {
                h.onExit().get(KILL_WAIT.toMillis(), TimeUnit.MILLISECONDS);
            } catch (Exception e) {
                LOG.warn("process {} in namespace {} did not die within {}", h.pid(), ns, KILL_WAIT);
            }
        }
    }

    /**
     * @param pid a process id
     * @return whether such a process exists
     */
    public static boolean alive(long pid) {
        return ProcessHandle.of(pid).map(ProcessHandle::isAlive).orElse(false);
    }
}
