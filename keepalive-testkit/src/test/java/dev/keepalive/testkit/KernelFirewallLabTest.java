package dev.keepalive.testkit;

import static org.awaitility.Awaitility.await;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.keepalive.testkit.internal.Commands;
import dev.keepalive.testkit.internal.LabJanitor;
import java.io.IOException;
import java.io.InputStream;
import java.io.UncheckedIOException;
import java.net.Socket;
import java.net.SocketTimeoutException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.Optional;
import java.util.Set;
import java.util.concurrent.Executors;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicReference;
import java.util.regex.MatchResult;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.extension.ExtendWith;

/**
 * The kernel lab behaves like a cloud stateful firewall. Runs as root with ip and nft; skipped otherwise (failed
 * with {@code KEEPALIVE_FAULT_LAB=required}).
 */
@ExtendWith(FaultLabExtension.class)
@Timeout(60)
class KernelFirewallLabTest {
    /** A JVM start on a busy 2-core machine. */
    private static final Duration JVM_START = Duration.ofSeconds(30);
    private static final String TIMEOUT_SYSCTL = "/proc/sys/net/netfilter/nf_conntrack_tcp_timeout_established";

    private record Peer(PeerProcess process, int port) {
        /** @return whether the server logged RECEIVED at or after line {@code mark} */
        boolean receivedSince(int mark) {
            List<String> lines = process.lines();
            return lines.subList(Math.min(mark, lines.size()), lines.size()).stream()
                    .anyMatch(l -> l.startsWith("RECEIVED"));
        }
    }

    private static Peer echoPeer(KernelFirewallLab lab) {
        PeerProcess p = lab.startJava(EchoServer.class, lab.peerAddress().getHostAddress(), "0");
        MatchResult m = p.awaitLine("LISTENING \\S+ (\\d+)", JVM_START);
        return new Peer(p, Integer.parseInt(m.group(1)));
    }

    private static Socket connect(KernelFirewallLab lab, Peer peer) throws IOException {
        Socket s = new Socket();
        s.setTcpNoDelay(true);
        s.setSoTimeout(5_000);
        s.connect(lab.peerSocketAddress(peer.port()), 5_000);
        return s;
    }

    private static void assertEcho(Socket s, int b) throws IOException {
        s.getOutputStream().write(b);
        s.getOutputStream().flush();
        assertEquals(b, s.getInputStream().read());
    }

    private static Optional<ConntrackEntry> entryOf(KernelFirewallLab lab, Socket s) {
        return lab.conntrackEntries().stream()
                .filter(e -> e.source().getPort() == s.getLocalPort() && e.protocol().equals("tcp"))
                .findFirst();
    }

    /** Reads with a timeout; true if nothing came (SocketTimeoutException). */
    private static boolean silentFor(Socket s, Duration d) throws IOException {
        s.setSoTimeout((int) d.toMillis());
        try {
            int b = s.getInputStream().read();
            throw new AssertionError("expected silence, but read " + b);
        } catch (SocketTimeoutException expected) {
            return true;
        }
    }

    @Test
    void anIdleFlowIsForgottenAndTheSocketIsLeftHalfOpen(
            @KernelLabSettings(conntrackTimeoutSeconds = 3) KernelFirewallLab lab) throws IOException {
        Peer peer = echoPeer(lab);
        try (Socket s = connect(lab, peer)) {
            assertEcho(s, 'a');
            ConntrackEntry entry = entryOf(lab, s).orElseThrow();
            assertEquals("ESTABLISHED", entry.state());
            assertTrue(entry.secondsLeft() <= 3, entry.toString());
            assertEquals(lab.peerSocketAddress(peer.port()), entry.destination());

            long idleSince = System.nanoTime();
            await().atMost(Duration.ofSeconds(3 + 6)).pollInterval(Duration.ofMillis(200))
                    .until(() -> entryOf(lab, s).isEmpty());
            Duration idle = Duration.ofNanos(System.nanoTime() - idleSince);
            assertTrue(idle.toMillis() >= 2_000, "entry gone after only " + idle + " with a 3 s timeout");

            int mark = peer.process().lineCount();
            s.getOutputStream().write('b');
            s.getOutputStream().flush();
            assertTrue(silentFor(s, Duration.ofMillis(2_500)));
            assertFalse(peer.receivedSince(mark), "the server got bytes of a forgotten flow");
            assertTrue(entryOf(lab, s).isEmpty(), "with tcp_loose = 0 a mid-stream packet must not re-create the entry");
            assertTrue(peer.process().lines().stream().noneMatch(l -> l.startsWith("CLOSED")),
                    "the server must still believe the connection open: " + peer.process().lines());
        }
    }

    @Test
    void aFlowWithTrafficEverySecondOutlivesTheTimeout(
            @KernelLabSettings(conntrackTimeoutSeconds = 3) KernelFirewallLab lab) throws Exception {
        Peer peer = echoPeer(lab);
        try (Socket s = connect(lab, peer)) {
            AtomicInteger answered = new AtomicInteger();
            AtomicReference<Throwable> failure = new AtomicReference<>();
            ScheduledExecutorService ticker = Executors.newSingleThreadScheduledExecutor();
            long start = System.nanoTime();
            try {
                ticker.scheduleAtFixedRate(() -> {
                    try {
                        assertEcho(s, 'k');
                        answered.incrementAndGet();
                    } catch (Throwable t) {
                        failure.compareAndSet(null, t);
                        throw new IllegalStateException(t);
                    }
                }, 0, 1, TimeUnit.SECONDS);
                // 6 round trips, 1 s apart: 5 s, well past the 3 s timeout.
                await().atMost(Duration.ofSeconds(20)).until(() -> answered.get() >= 6 || failure.get() != null);
            } finally {
                ticker.shutdownNow();
                assertTrue(ticker.awaitTermination(5, TimeUnit.SECONDS));
            }
            assertEquals(null, failure.get());
            assertTrue(Duration.ofNanos(System.nanoTime() - start).toMillis() >= 4_500);
            assertEquals("ESTABLISHED", entryOf(lab, s).orElseThrow().state());
        }
    }

    @Test
    void aBlackHoleDropsEstablishedTrafficUntilRestored(KernelFirewallLab lab) throws IOException {
        Peer peer = echoPeer(lab);
        try (Socket s = connect(lab, peer)) {
            assertEcho(s, 'a');
            lab.blackHole();
            assertEquals(Set.of(Traffic.TO_PEER, Traffic.FROM_PEER), lab.blackHoled());

            int mark = peer.process().lineCount();
            s.getOutputStream().write('c');
            s.getOutputStream().flush();
            assertTrue(silentFor(s, Duration.ofMillis(1_500)));
            assertFalse(peer.receivedSince(mark));

            lab.restore();
            assertEquals(Set.of(), lab.blackHoled());
            s.setSoTimeout(20_000); // TCP retransmits with backoff; the next try comes within a few seconds
            assertEquals('c', s.getInputStream().read());
        }
    }

    @Test
    void aOneWayBlackHoleLetsRequestsInButNoAnswersOut(KernelFirewallLab lab) throws IOException {
        Peer peer = echoPeer(lab);
        try (Socket s = connect(lab, peer)) {
            assertEcho(s, 'a');
            lab.blackHole(Traffic.FROM_PEER);
            int mark = peer.process().lineCount();
            s.getOutputStream().write('d');
            s.getOutputStream().flush();
            peer.process().awaitLine(mark, "RECEIVED", Duration.ofSeconds(10));
            assertTrue(silentFor(s, Duration.ofMillis(1_000)));

            lab.restore();
            s.setSoTimeout(20_000);
            assertEquals('d', s.getInputStream().read());
        }
    }

    @Test
    void aSuspendedPeerIsAckedByItsKernelButNeverAnswers(KernelFirewallLab lab) throws IOException {
        Peer peer = echoPeer(lab);
        try (Socket s = connect(lab, peer)) {
            assertEcho(s, 'a');
            peer.process().suspend();
            assertTrue(peer.process().isSuspended());

            s.getOutputStream().write(new byte[100]);
            s.getOutputStream().flush();
            // The bytes wait, acknowledged, in the server socket's receive queue inside the namespace.
            await().atMost(Duration.ofSeconds(5)).until(() -> recvQueue(lab, peer.port()) == 100);
            assertTrue(silentFor(s, Duration.ofMillis(1_000)));

            peer.process().resume();
            s.setSoTimeout(10_000);
            assertEquals(100, s.getInputStream().readNBytes(100).length);
        }
    }

    /** The Recv-Q of the established socket on local port {@code port} inside the lab, from {@code ss}. */
    private static int recvQueue(KernelFirewallLab lab, int port) {
        for (String line : lab.run("ss", "-tnH", "state", "established").split("\n")) {
            String[] f = line.strip().split("\\s+");
            if (f.length >= 4 && f[2].endsWith(":" + port)) {
                return Integer.parseInt(f[0]);
            }
        }
        return -1;
    }

    @Test
    void aKilledPeerClosesItsConnections(KernelFirewallLab lab) throws IOException {
        Peer peer = echoPeer(lab);
        try (Socket s = connect(lab, peer)) {
            assertEcho(s, 'a');
            peer.process().kill();
            assertFalse(peer.process().isAlive());
            s.setSoTimeout(10_000);
            InputStream in = s.getInputStream();
            try {
                assertEquals(-1, in.read());
            } catch (IOException reset) {
                assertTrue(reset.getMessage().contains("reset"), reset.toString());
            }
        }
    }

    @Test
    void aProxyCanSitInFrontOfALabPeer(KernelFirewallLab lab, FirewallProxyFactory proxies) throws IOException {
        Peer peer = echoPeer(lab);
        FirewallProxy proxy = proxies.start(lab.peerSocketAddress(peer.port()));
        try (Socket s = new Socket()) {
            s.setSoTimeout(10_000);
            s.connect(proxy.address(), 5_000);
            Flow flow = proxy.awaitFlow(0, Duration.ofSeconds(5)).awaitState(FlowState.OPEN, Duration.ofSeconds(5));
            assertEcho(s, 'a');
            int upstreamPort = flow.upstreamLocalAddress().orElseThrow().getPort();
            assertTrue(lab.conntrackEntries().stream().anyMatch(e -> e.source().getPort() == upstreamPort));

            peer.process().kill();
            await().atMost(Duration.ofSeconds(10)).until(flow::serverClosed);
            try {
                assertEquals(-1, s.getInputStream().read()); // the proxy passed the server's close on
            } catch (IOException reset) {
                assertTrue(reset.getMessage().contains("reset"), reset.toString());
            }
        }
    }

    @Test
    void aPeerInTheNamespaceCanBeTheClient(KernelFirewallLab lab) {
        try (EchoServer server = EchoServer.start(lab.hostSocketAddress(0))) {
            PeerProcess client = lab.startJava(LabClientMain.class, lab.hostAddress().getHostAddress(),
                    Integer.toString(server.address().getPort()));
            client.awaitLine("ECHO ping", JVM_START);
            assertEquals(0, client.awaitExit(Duration.ofSeconds(10)));
            assertEquals(4, server.bytesReceived());
        }
    }

    @Test
    void labsAreIsolatedFromEachOtherAndFromTheRootNamespace(KernelFirewallLab lab) throws IOException {
        String rootTimeout = Files.readString(Path.of(TIMEOUT_SYSCTL)).strip();
        String ip = Commands.find("ip").orElseThrow();
        String second;
        try (KernelFirewallLab other = KernelFirewallLab.builder().conntrackTimeout(Duration.ofSeconds(7)).create()) {
            second = other.namespace();
            assertNotEquals(lab.namespace(), other.namespace());
            assertNotEquals(lab.peerAddress(), other.peerAddress());
            assertNotEquals(lab.hostAddress(), other.hostAddress());
            assertTrue(other.namespace().startsWith("kalab-" + ProcessHandle.current().pid() + "-"));
            assertTrue(other.hostAddress().getHostAddress().startsWith("10.247."));
            assertEquals("5", lab.run("cat", TIMEOUT_SYSCTL).strip());
            assertEquals("7", other.run("cat", TIMEOUT_SYSCTL).strip());
            assertEquals("0", other.run("cat", "/proc/sys/net/netfilter/nf_conntrack_tcp_loose").strip());
            assertEquals(rootTimeout, Files.readString(Path.of(TIMEOUT_SYSCTL)).strip());
            String rules = other.run("nft", "list", "ruleset");
            assertTrue(rules.contains("policy drop") && rules.contains("ct state established,related accept"), rules);
            assertEquals(Duration.ofSeconds(7), other.conntrackTimeout());
            assertTrue(LabJanitor.namespaces(ip).contains(second));
        }
        assertFalse(LabJanitor.namespaces(ip).contains(second));
        assertFalse(LabJanitor.links(ip).contains("kl" + ProcessHandle.current().pid() + "h" + second.split("-")[2]));
        assertEquals(rootTimeout, Files.readString(Path.of(TIMEOUT_SYSCTL)).strip());
    }

    @Test
    void leftoversOfAKilledJvmAreRemovedByTheNextLab(KernelFirewallLab lab) {
        String ip = Commands.find("ip").orElseThrow();
        PeerProcess holder = startHolder();
        MatchResult ready = holder.awaitLine("READY (\\S+) (\\d+)", JVM_START);
        String namespace = ready.group(1);
        long sleeper = Long.parseLong(ready.group(2));
        // SIGKILL to the holder JVM alone (PeerProcess.kill() would also kill its descendants): no shutdown hook
        // runs, and the process it started inside the namespace outlives it, as after a real crash.
        ProcessHandle.of(holder.pid()).ifPresent(ProcessHandle::destroyForcibly);
        holder.awaitExit(Duration.ofSeconds(10));
        assertTrue(LabJanitor.namespaces(ip).contains(namespace), "the killed JVM left its namespace");
        assertTrue(LabJanitor.alive(sleeper));

        KernelFirewallLab.create().close();

        assertFalse(LabJanitor.namespaces(ip).contains(namespace), "leftover namespace " + namespace + " not removed");
        await().atMost(Duration.ofSeconds(5)).until(() -> !LabJanitor.alive(sleeper));
    }

    @Test
    void theShutdownHookRemovesTheLabsOfAJvmThatExits(KernelFirewallLab lab) throws Exception {
        String ip = Commands.find("ip").orElseThrow();
        PeerProcess holder = startHolder();
        MatchResult ready = holder.awaitLine("READY (\\S+) (\\d+)", JVM_START);
        String namespace = ready.group(1);
        long sleeper = Long.parseLong(ready.group(2));
        assertTrue(LabJanitor.namespaces(ip).contains(namespace));
        // SIGTERM: the JVM exits normally and runs its shutdown hooks.
        assertTrue(ProcessHandle.of(holder.pid()).orElseThrow().destroy());
        holder.awaitExit(Duration.ofSeconds(20));
        assertFalse(LabJanitor.namespaces(ip).contains(namespace));
        assertFalse(LabJanitor.alive(sleeper));
    }

    private static PeerProcess startHolder() {
        List<String> cmd = KernelFirewallLab.javaCommand(LabHolderMain.class);
        try {
            Process p = new ProcessBuilder(cmd).redirectErrorStream(true).start();
            return new PeerProcess(cmd, p, "root");
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    @Test
    void validationMessagesNameTheSetting() {
        assertEquals("conntrackTimeout must be a whole number of seconds >= 1, but was PT1.5S",
                assertThrows(IllegalArgumentException.class,
                        () -> KernelFirewallLab.builder().conntrackTimeout(Duration.ofMillis(1_500))).getMessage());
        assertEquals("conntrackTimeout must be a whole number of seconds >= 1, but was PT0S",
                assertThrows(IllegalArgumentException.class,
                        () -> KernelFirewallLab.builder().conntrackTimeout(Duration.ZERO)).getMessage());
    }
}
