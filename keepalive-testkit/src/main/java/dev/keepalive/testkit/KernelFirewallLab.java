package dev.keepalive.testkit;

import dev.keepalive.testkit.internal.Commands;
import dev.keepalive.testkit.internal.ConntrackParser;
import dev.keepalive.testkit.internal.LabJanitor;
import dev.keepalive.testkit.internal.LabNames;
import dev.keepalive.testkit.internal.LabSubnets;
import java.io.IOException;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.EnumSet;
import java.util.List;
import java.util.Locale;
import java.util.Objects;
import java.util.Optional;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicInteger;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * A real Linux stateful firewall in a network namespace of its own, for tests that need the kernel's behaviour:
 * a connection idle for longer than the conntrack timeout is forgotten and from then on its packets are dropped
 * silently in both directions, exactly as a cloud NAT or firewall does. Needs root, {@code ip} (iproute2) and
 * {@code nft} (nftables).
 *
 * <p>Each lab creates:
 * <ul>
 *   <li>a namespace {@code kalab-<pid>-<n>} and a veth pair {@code kl<pid>h<n>} / {@code kl<pid>p<n>};</li>
 *   <li>a /30 of {@code 10.247.0.0/16} of its own (unique on the machine): the root end gets the first host address
 *       ({@link #hostAddress()}), the namespace end the second ({@link #peerAddress()});</li>
 *   <li>inside the namespace, an nftables {@code table inet kalab}: input and output chains with policy drop that
 *       accept loopback, {@code ct state established,related} and a new SYN
 *       ({@code tcp flags & (fin|syn|rst|ack) == syn ct state new}); plus the black-hole chains;</li>
 *   <li>inside the namespace only, {@code net.netfilter.nf_conntrack_tcp_timeout_established} = the
 *       {@linkplain Builder#conntrackTimeout conntrack timeout} and {@code net.netfilter.nf_conntrack_tcp_loose = 0}
 *       (a packet of a forgotten flow does not re-create its entry).</li>
 * </ul>
 * {@link #close()} kills the lab's processes and removes all of it. A shutdown hook closes labs still open when the
 * JVM exits, and creating a lab first removes the namespaces and links of earlier JVMs that died (their pid is gone).
 *
 * <pre>{@code
 * try (KernelFirewallLab lab = KernelFirewallLab.builder().conntrackTimeout(Duration.ofSeconds(5)).create()) {
 *     PeerProcess server = lab.startJava(EchoServer.class, lab.peerAddress().getHostAddress(), "7000");
 *     server.awaitLine("LISTENING", Duration.ofSeconds(20));
 *     Socket client = new Socket();
 *     client.connect(lab.peerSocketAddress(7000));  // from the test JVM, through the firewall
 *     // idle > 5 s: the flow is forgotten, the client's next write is never answered (half-open)
 *     lab.blackHole();         // or: the peer crashed (drop everything, established included)
 *     lab.restore();
 *     server.suspend();        // or: the application hangs while its kernel still ACKs
 * }
 * }</pre>
 *
 * <p>Methods may be called from any thread; they run {@code ip}/{@code nft} and return when done.
 */
public final class KernelFirewallLab implements AutoCloseable {
    private static final Logger LOG = LoggerFactory.getLogger(KernelFirewallLab.class);

    /** The default {@link Builder#conntrackTimeout}: 5 seconds. */
    public static final Duration DEFAULT_CONNTRACK_TIMEOUT = Duration.ofSeconds(5);
    /** The address range labs take their /30 subnets from. */
    public static final String ADDRESS_RANGE = LabSubnets.RANGE;
    /** The prefix of every lab namespace name; the owner pid follows. */
    public static final String NAMESPACE_PREFIX = LabNames.NAMESPACE_PREFIX;

    private static final String TABLE = "kalab";
    private static final String TIMEOUT_SYSCTL = "/proc/sys/net/netfilter/nf_conntrack_tcp_timeout_established";
    private static final String LOOSE_SYSCTL = "/proc/sys/net/netfilter/nf_conntrack_tcp_loose";
    private static final long PID = ProcessHandle.current().pid();
    private static final AtomicInteger NEXT_NUMBER = new AtomicInteger();
    private static final Set<KernelFirewallLab> OPEN = ConcurrentHashMap.newKeySet();
    private static final AtomicBoolean HOOK_INSTALLED = new AtomicBoolean();

    private final String ip;
    private final String sh;
    private final Duration conntrackTimeout;
    private final Object lock = new Object();
    private final List<PeerProcess> processes = new ArrayList<>(); // guarded by lock
    private final Set<Traffic> blackHoled = EnumSet.noneOf(Traffic.class); // guarded by lock
    private String namespace;
    private String hostLink;
    private String peerLink;
    private InetAddress hostAddress;
    private InetAddress peerAddress;
    private boolean closed; // guarded by lock

    private KernelFirewallLab(Builder b, String ip, String sh) {
        this.ip = ip;
        this.sh = sh;
        this.conntrackTimeout = b.conntrackTimeout;
    }

    /** @return a builder with the defaults */
    public static Builder builder() {
        return new Builder();
    }

    /**
     * Creates a lab with the default settings.
     *
     * @return the lab, ready
     * @throws LabUnavailableException if this machine cannot run it (see {@link #unavailableReason()})
     * @throws LabCommandException if setting it up failed otherwise
     */
    public static KernelFirewallLab create() {
        return builder().create();
    }

    /**
     * Why a lab cannot run here, checked cheaply (operating system, effective uid, {@code ip}, {@code nft},
     * {@code sh}); kernel support is checked by {@link Builder#create()}.
     *
     * @return empty if the checks pass, else one sentence naming the missing piece
     */
    public static Optional<String> unavailableReason() {
        String os = System.getProperty("os.name", "");
        if (!os.toLowerCase(Locale.ROOT).contains("linux")) {
            return Optional.of("KernelFirewallLab needs Linux (network namespaces and nftables), but this is " + os);
        }
        long uid = effectiveUid();
        if (uid != 0) {
            return Optional.of("KernelFirewallLab needs root (effective uid 0) to create network namespaces, veth "
                    + "pairs and nftables rules, but this JVM runs with effective uid " + uid);
        }
        if (Commands.find("ip").isEmpty()) {
            return Optional.of("KernelFirewallLab needs the 'ip' command (package iproute2), but it is neither on "
                    + "PATH nor in /usr/sbin or /sbin");
        }
        if (Commands.find("nft").isEmpty()) {
            return Optional.of("KernelFirewallLab needs the 'nft' command (package nftables), but it is neither on "
                    + "PATH nor in /usr/sbin or /sbin");
        }
        if (Commands.find("sh").isEmpty()) {
            return Optional.of("KernelFirewallLab needs 'sh', but it is neither on PATH nor in /bin");
        }
        return Optional.empty();
    }

    private static long effectiveUid() {
        try {
            for (String line : Files.readAllLines(Path.of("/proc/self/status"))) {
                if (line.startsWith("Uid:")) {
                    return Long.parseLong(line.substring(4).strip().split("\\s+")[1]);
                }
            }
        } catch (IOException | RuntimeException e) {
            LOG.debug("cannot read the effective uid", e);
        }
        return -1;
    }

    // ---------------------------------------------------------------- setup

    private void setUp() {
        try {
            LabSubnets.locked(() -> {
                LabJanitor.removeLeftovers(ip);
                List<String> namespaces = LabJanitor.namespaces(ip);
                List<String> links = LabJanitor.links(ip);
                int n;
                // Bounded: at most 1000 numbers are tried.
                for (int attempt = 0; ; attempt++) {
                    n = NEXT_NUMBER.getAndIncrement();
                    if (n > LabNames.MAX_LAB_NUMBER || attempt >= 1000) {
                        throw new TestkitException("no free lab number for pid " + PID + " (tried up to " + n + ")");
                    }
                    if (!namespaces.contains(LabNames.namespace(PID, n))
                            && !links.contains(LabNames.hostLink(PID, n))) {
                        break;
                    }
                }
                namespace = LabNames.namespace(PID, n);
                hostLink = LabNames.hostLink(PID, n);
                peerLink = LabNames.peerLink(PID, n);
                int subnet = LabSubnets.allocate(ip, (int) (PID * 37 + n));
                hostAddress = LabSubnets.address(subnet, 1);
                peerAddress = LabSubnets.address(subnet, 2);
                step("create network namespace " + namespace,
                        "network namespaces need CAP_SYS_ADMIN (in a container: --privileged)",
                        ip, "netns", "add", namespace);
                register(this);
                step("create veth pair " + hostLink + "/" + peerLink,
                        "veth pairs need CAP_NET_ADMIN and the veth module (modprobe veth)",
                        ip, "link", "add", hostLink, "type", "veth", "peer", "name", peerLink);
                step("move " + peerLink + " into " + namespace, "", ip, "link", "set", peerLink, "netns", namespace);
                step("address " + hostLink, "", ip, "addr", "add", hostAddress.getHostAddress() + "/30", "dev", hostLink);
                step("bring up " + hostLink, "", ip, "link", "set", hostLink, "up");
                return null;
            });
            step("address " + peerLink, "", ip, "-n", namespace, "addr", "add", peerAddress.getHostAddress() + "/30",
                    "dev", peerLink);
            step("bring up " + peerLink, "", ip, "-n", namespace, "link", "set", peerLink, "up");
            step("bring up lo in " + namespace, "", ip, "-n", namespace, "link", "set", "lo", "up");
            String rules = ruleset();
            stepWithInput("load the nftables ruleset into " + namespace,
                    "the kernel needs nf_tables with conntrack (modprobe nf_tables nft_ct nf_conntrack)", rules,
                    ip, "netns", "exec", namespace, Commands.find("nft").orElse("nft"), "-f", "-");
            step("read the conntrack sysctls of " + namespace,
                    "the kernel needs nf_conntrack (modprobe nf_conntrack)",
                    ip, "netns", "exec", namespace, sh, "-c", "cat " + TIMEOUT_SYSCTL + " " + LOOSE_SYSCTL);
            step("set the conntrack sysctls of " + namespace, "",
                    ip, "netns", "exec", namespace, sh, "-c",
                    "echo " + conntrackTimeout.getSeconds() + " > " + TIMEOUT_SYSCTL + " && echo 0 > " + LOOSE_SYSCTL);
            String values = step("check the conntrack sysctls of " + namespace, "",
                    ip, "netns", "exec", namespace, sh, "-c", "cat " + TIMEOUT_SYSCTL + " " + LOOSE_SYSCTL);
            String expected = conntrackTimeout.getSeconds() + "\n0";
            if (!values.strip().equals(expected)) {
                throw new TestkitException("conntrack sysctls of " + namespace + " are " + values.strip().replace('\n', ' ')
                        + " after setting them to " + expected.replace('\n', ' '));
            }
            LOG.info("lab {} ready: host {} <-> peer {}, conntrack timeout {}", namespace,
                    hostAddress.getHostAddress(), peerAddress.getHostAddress(), conntrackTimeout);
        } catch (RuntimeException e) {
            closeQuietly();
            throw e;
        } catch (Exception e) {
            closeQuietly();
            throw new TestkitException("cannot set up the lab: " + e, e);
        }
    }

    private String ruleset() {
        String syn = "tcp flags & (fin | syn | rst | ack) == syn ct state new accept";
        return String.join("\n",
                "table inet " + TABLE + " {",
                "  chain input {",
                "    type filter hook input priority filter; policy drop;",
                "    iif \"lo\" accept",
                "    ct state established,related accept",
                "    " + syn,
                "  }",
                "  chain output {",
                "    type filter hook output priority filter; policy drop;",
                "    oif \"lo\" accept",
                "    ct state established,related accept",
                "    " + syn,
                "  }",
                "  chain blackhole_in {",
                "    type filter hook input priority -10; policy accept;",
                "  }",
                "  chain blackhole_out {",
                "    type filter hook output priority -10; policy accept;",
                "  }",
                "}",
                "");
    }

    private String step(String what, String hint, String... command) {
        return stepWithInput(what, hint, "", command);
    }

    private String stepWithInput(String what, String hint, String stdin, String... command) {
        Commands.Result r = Commands.run(List.of(command), stdin, Commands.DEFAULT_TIMEOUT);
        if (r.ok()) {
            return r.stdout();
        }
        LabCommandException failure = new LabCommandException(r.command(), r.exitCode(), r.stderr());
        String err = r.stderr().toLowerCase(Locale.ROOT);
        boolean environmental = err.contains("operation not permitted") || err.contains("permission denied")
                || err.contains("not supported") || err.contains("no such file or directory")
                || err.contains("unknown device type") || err.contains("cannot open netlink socket")
                || err.contains("could not process rule");
        if (environmental && !hint.isEmpty()) {
            throw new LabUnavailableException("KernelFirewallLab cannot " + what + ": " + r.stderr().strip()
                    + " (" + hint + ")", failure);
        }
        throw failure;
    }

    private static void register(KernelFirewallLab lab) {
        OPEN.add(lab);
        if (HOOK_INSTALLED.compareAndSet(false, true)) {
            Runtime.getRuntime().addShutdownHook(new Thread(() -> {
                for (KernelFirewallLab l : List.copyOf(OPEN)) {
                    l.closeQuietly();
                }
            }, "kernel-firewall-lab-cleanup"));
        }
    }

    // ---------------------------------------------------------------- accessors

    /** @return the namespace name, e.g. {@code kalab-4711-0} */
    public String namespace() {
        return namespace;
    }

    /** @return the root namespace's end of the veth pair (the first host address of the lab's /30) */
    public InetAddress hostAddress() {
        return hostAddress;
    }

    /** @return the namespace's end of the veth pair (the second host address), where peer processes listen */
    public InetAddress peerAddress() {
        return peerAddress;
    }

    /**
     * @param port a port
     * @return {@code peerAddress():port}, to connect to a server inside the namespace
     */
    public InetSocketAddress peerSocketAddress(int port) {
        return new InetSocketAddress(peerAddress, port);
    }

    /**
     * @param port a port
     * @return {@code hostAddress():port}, for a peer in the namespace to reach a server in the test JVM (which must
     *     listen on that address or on the wildcard address)
     */
    public InetSocketAddress hostSocketAddress(int port) {
        return new InetSocketAddress(hostAddress, port);
    }

    /** @return the established-TCP conntrack timeout inside the namespace */
    public Duration conntrackTimeout() {
        return conntrackTimeout;
    }

    // ---------------------------------------------------------------- faults

    /** Drops every packet both ways, established flows included: the peer looks crashed. Same as {@code BOTH}. */
    public void blackHole() {
        blackHole(Traffic.BOTH);
    }

    /**
     * Drops every packet in the given direction(s), established flows included, in addition to what is already
     * black-holed. Conntrack still sees the packets (so it does not forget the flow meanwhile); TCP retransmits
     * them after {@link #restore()}.
     *
     * @param traffic which packets to drop
     * @throws LabCommandException if nft fails
     */
    public void blackHole(Traffic traffic) {
        Objects.requireNonNull(traffic, "traffic");
        synchronized (lock) {
            checkOpen();
            if (traffic.includes(Traffic.TO_PEER)) {
                blackHoled.add(Traffic.TO_PEER);
            }
            if (traffic.includes(Traffic.FROM_PEER)) {
                blackHoled.add(Traffic.FROM_PEER);
            }
            applyBlackHoles();
        }
    }

    /**
     * Removes every black hole. Does not bring back forgotten conntrack entries.
     *
     * @throws LabCommandException if nft fails
     */
    public void restore() {
        synchronized (lock) {
            checkOpen();
            blackHoled.clear();
            applyBlackHoles();
        }
    }

    /** @return the directions black-holed now */
    public Set<Traffic> blackHoled() {
        synchronized (lock) {
            return blackHoled.isEmpty() ? Set.of() : Set.copyOf(EnumSet.copyOf(blackHoled));
        }
    }

    private void applyBlackHoles() {
        StringBuilder script = new StringBuilder()
                .append("flush chain inet ").append(TABLE).append(" blackhole_in\n")
                .append("flush chain inet ").append(TABLE).append(" blackhole_out\n");
        if (blackHoled.contains(Traffic.TO_PEER)) {
            script.append("add rule inet ").append(TABLE).append(" blackhole_in iifname \"").append(peerLink)
                    .append("\" drop\n");
        }
        if (blackHoled.contains(Traffic.FROM_PEER)) {
            script.append("add rule inet ").append(TABLE).append(" blackhole_out oifname \"").append(peerLink)
                    .append("\" drop\n");
        }
        Commands.run(List.of(ip, "netns", "exec", namespace, Commands.find("nft").orElse("nft"), "-f", "-"),
                script.toString(), Commands.DEFAULT_TIMEOUT).check();
    }

    // ---------------------------------------------------------------- processes

    /**
     * Starts {@code command} inside the namespace ({@code ip netns exec <ns> command...}). The process is killed by
     * {@link #close()} at the latest.
     *
     * @param command the program and its arguments
     * @return the running process
     * @throws LabCommandException if it cannot be started
     */
    public PeerProcess exec(List<String> command) {
        Objects.requireNonNull(command, "command");
        if (command.isEmpty()) {
            throw new IllegalArgumentException("command must not be empty");
        }
        synchronized (lock) {
            checkOpen();
            List<String> full = new ArrayList<>(List.of(ip, "netns", "exec", namespace));
            full.addAll(command);
            Process p;
            try {
                p = new ProcessBuilder(full).redirectErrorStream(true).start();
            } catch (IOException e) {
                throw new LabCommandException(full, 127, "cannot start: " + e.getMessage());
            }
            PeerProcess peer = new PeerProcess(command, p, namespace);
            processes.add(peer);
            LOG.debug("lab {}: started {} as pid {}", namespace, command, p.pid());
            return peer;
        }
    }

    /**
     * Same as {@code exec(List.of(command))}.
     *
     * @param command the program and its arguments
     * @return the running process
     */
    public PeerProcess exec(String... command) {
        return exec(List.of(command));
    }

    /**
     * Starts {@code mainClass} in a new JVM inside the namespace, with this JVM's java binary and class path.
     *
     * @param mainClass a class with a {@code main} method on this JVM's class path
     * @param args its arguments
     * @return the running process
     */
    public PeerProcess startJava(Class<?> mainClass, String... args) {
        return exec(javaCommand(mainClass, args));
    }

    /**
     * The command line that runs {@code mainClass} with this JVM's java binary and class path, tuned for a fast
     * start ({@code -XX:TieredStopAtLevel=1 -XX:+UseSerialGC}). Modify it and pass it to {@link #exec(List)} for
     * other JVM options.
     *
     * @param mainClass the main class
     * @param args its arguments
     * @return a mutable command line
     */
    public static List<String> javaCommand(Class<?> mainClass, String... args) {
        List<String> cmd = new ArrayList<>();
        cmd.add(Path.of(System.getProperty("java.home"), "bin", "java").toString());
        cmd.add("-XX:TieredStopAtLevel=1");
        cmd.add("-XX:+UseSerialGC");
        cmd.add("-Xmx128m");
        cmd.add("-cp");
        cmd.add(System.getProperty("java.class.path"));
        cmd.add(mainClass.getName());
        cmd.addAll(List.of(args));
        return cmd;
    }

    /**
     * Runs a short command inside the namespace and returns its standard output, e.g.
     * {@code lab.run("ss", "-tni")} or {@code lab.run("nft", "list", "ruleset")}.
     *
     * @param command the program and its arguments
     * @return its standard output
     * @throws LabCommandException if it fails or takes longer than 20 seconds
     */
    public String run(String... command) {
        List<String> full = new ArrayList<>(List.of(ip, "netns", "exec", namespace));
        full.addAll(List.of(command));
        return Commands.run(full, "", Commands.DEFAULT_TIMEOUT).check().stdout();
    }

    /**
     * The connection tracking entries inside the namespace, read from {@code /proc/net/nf_conntrack} there or, if
     * the kernel lacks that file, from the {@code conntrack} tool.
     *
     * @return the entries; expired entries are not listed
     * @throws LabUnavailableException if neither source exists
     */
    public List<ConntrackEntry> conntrackEntries() {
        List<String> full = List.of(ip, "netns", "exec", namespace, sh, "-c",
                "test -r /proc/net/nf_conntrack && cat /proc/net/nf_conntrack");
        Commands.Result r = Commands.run(full, "", Commands.DEFAULT_TIMEOUT);
        if (r.ok()) {
            return ConntrackParser.parseAll(r.stdout());
        }
        Optional<String> tool = Commands.find("conntrack");
        if (tool.isPresent()) {
            return ConntrackParser.parseAll(run(tool.get(), "-L"));
        }
        throw new LabUnavailableException("cannot list conntrack entries: /proc/net/nf_conntrack is missing (kernel "
                + "without CONFIG_NF_CONNTRACK_PROCFS) and the conntrack tool is not installed (package conntrack)");
    }

    private void checkOpen() {
        if (closed) {
            throw new IllegalStateException("lab " + namespace + " is closed");
        }
    }

    // ---------------------------------------------------------------- cleanup

    /**
     * Kills the lab's processes and removes its namespace (with its nftables state and sysctls) and veth pair.
     * Idempotent.
     *
     * @throws TestkitException if the namespace could not be removed
     */
    @Override
    public void close() {
        if (!closeQuietly()) {
            throw new TestkitException("could not remove the lab namespace " + namespace + "; remove it with: ip netns "
                    + "pids " + namespace + " | xargs -r kill -9; ip netns del " + namespace);
        }
    }

    private boolean closeQuietly() {
        List<PeerProcess> toKill;
        synchronized (lock) {
            if (closed) {
                return true;
            }
            closed = true;
            toKill = List.copyOf(processes);
        }
        boolean ok = true;
        try {
            for (PeerProcess p : toKill) {
                p.kill();
            }
            if (namespace != null) {
                ok = LabJanitor.removeNamespace(ip, namespace);
            }
            if (hostLink != null && LabJanitor.links(ip).contains(hostLink)) {
                Commands.run(ip, "link", "del", hostLink);
            }
            LOG.debug("lab {} removed", namespace);
        } catch (RuntimeException e) {
            LOG.warn("cleaning up lab {} failed", namespace, e);
            ok = false;
        } finally {
            OPEN.remove(this);
        }
        return ok;
    }

    @Override
    public String toString() {
        return "KernelFirewallLab[" + namespace + ", host " + (hostAddress == null ? "?" : hostAddress.getHostAddress())
                + ", peer " + (peerAddress == null ? "?" : peerAddress.getHostAddress()) + ", conntrack timeout "
                + conntrackTimeout + "]";
    }

    /** Configures a {@link KernelFirewallLab}. */
    public static final class Builder {
        private Duration conntrackTimeout = DEFAULT_CONNTRACK_TIMEOUT;

        private Builder() {
        }

        /**
         * The established-TCP conntrack timeout inside the namespace. Default {@link #DEFAULT_CONNTRACK_TIMEOUT}.
         * The kernel counts whole seconds. An idle flow is forgotten this long after its last packet.
         *
         * @param timeout whole seconds, {@code >= 1s}
         * @return this builder
         * @throws IllegalArgumentException if shorter than a second or not whole seconds
         */
        public Builder conntrackTimeout(Duration timeout) {
            Objects.requireNonNull(timeout, "conntrackTimeout");
            if (timeout.getSeconds() < 1 || timeout.getNano() != 0) {
                throw new IllegalArgumentException("conntrackTimeout must be a whole number of seconds >= 1, but was "
                        + timeout);
            }
            this.conntrackTimeout = timeout;
            return this;
        }

        /**
         * Creates the namespace, veth pair, firewall and sysctls.
         *
         * @return the ready lab
         * @throws LabUnavailableException if this machine cannot run a lab; the message says why
         * @throws LabCommandException if a setup command failed for another reason
         */
        public KernelFirewallLab create() {
            Optional<String> reason = unavailableReason();
            if (reason.isPresent()) {
                throw new LabUnavailableException(reason.get());
            }
            KernelFirewallLab lab = new KernelFirewallLab(this, Commands.find("ip").orElseThrow(),
                    Commands.find("sh").orElseThrow());
            lab.setUp();
            return lab;
        }
    }
}
