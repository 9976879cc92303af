package dev.keepalive.testkit.matrix;

import static dev.keepalive.testkit.matrix.Matrix.TOLERANCE;
import static dev.keepalive.testkit.matrix.Matrix.WAIT;
import static org.awaitility.Awaitility.await;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import dev.keepalive.DeadPeerReason;
import dev.keepalive.KeepaliveSettings;
import dev.keepalive.PeerDeadException;
import dev.keepalive.testkit.Direction;
import dev.keepalive.testkit.FaultLabExtension;
import dev.keepalive.testkit.Fault;
import dev.keepalive.testkit.FirewallProxy;
import dev.keepalive.testkit.FirewallProxyFactory;
import dev.keepalive.testkit.Flow;
import dev.keepalive.testsupport.Transport;
import io.netty.channel.ChannelFuture;
import io.netty.channel.ChannelOption;
import java.io.IOException;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.extension.ExtendWith;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.EnumSource;

/**
 * The fault matrix, part one: faults a {@link FirewallProxy} injects on loopback. No root needed. The proxy
 * terminates TCP, so the clients' kernels see every byte acknowledged: only the application layer can notice.
 * Each case runs a client with a {@code KeepaliveHandler} and a control (plain Netty, no handler, SO_KEEPALIVE
 * off) through the same fault at the same time.
 */
@ExtendWith(FaultLabExtension.class)
@Timeout(60)
class ProxyFaultMatrixTest {
    private static final InetSocketAddress LOOPBACK = new InetSocketAddress(InetAddress.getLoopbackAddress(), 0);
    /** Pings after 1 s of inbound silence, dead after two unanswered 500 ms pings: bound 2 s. */
    private static final KeepaliveSettings FAST = KeepaliveSettings.builder()
            .pingInterval(Duration.ofSeconds(1)).pingTimeout(Duration.ofMillis(500)).pingsMissedBeforeDead(2)
            .build();
    /**
     * "At once": a reset on loopback reaches the client in microseconds and the handler reacts to the read that
     * fails; this allows for a loaded machine and is far below any ping timer (the reset case pings every 30 s).
     */
    private static final Duration AT_ONCE = Duration.ofMillis(300);

    private final MatrixNet net = new MatrixNet();

    @AfterEach
    void close() {
        net.close();
    }

    @Test
    void oneWayBlackHoleServerToClientIsAPingTimeout(FirewallProxyFactory proxies) throws Exception {
        String scenario = "proxy one-way black hole (server->client)";
        MatrixNet.Server server = net.server("server", Transport.NIO, LOOPBACK, Framing.BINARY,
                MatrixApp.PONG_ONLY);
        FirewallProxy proxy = proxies.start(server.address());
        Conn keepalive = net.keepaliveClient("keepalive", Transport.NIO, proxy.address(), FAST);
        Conn control = net.plainClient("control", Transport.NIO, proxy.address());
        Flow controlFlow = proxy.awaitFlow(1, WAIT);
        Matrix.assertEcho(keepalive);
        Matrix.assertEcho(control);

        long faultAt = System.nanoTime();
        proxy.injectAll(Fault.blackHole(Direction.SERVER_TO_CLIENT));
        long sentBefore = controlFlow.counters().forwarded(Direction.CLIENT_TO_SERVER);
        keepalive.send("request");
        control.send("request");

        Duration bound = FAST.idleDetectionBound();
        Matrix.awaitDeaths(List.of(keepalive), bound.plus(TOLERANCE).plus(WAIT));
        Matrix.assertDetected(scenario, keepalive, DeadPeerReason.PING_TIMEOUT, faultAt, bound);

        long watched = Matrix.watchUntil(faultAt + bound.plus(TOLERANCE).plus(Matrix.CONTROL_MARGIN).toNanos(),
                control::isActive);
        Matrix.assertStillOpen(scenario, control, faultAt, watched, bound);
        // The fault is real and one-way: the request went through, its answer was dropped.
        assertTrue(controlFlow.counters().forwarded(Direction.CLIENT_TO_SERVER) > sentBefore);
        assertTrue(controlFlow.counters().dropped(Direction.SERVER_TO_CLIENT) > 0, controlFlow.toString());
        assertNull(control.pollFrame(Duration.ZERO), "no answer reached the control");
    }

    @ParameterizedTest
    @EnumSource(Transport.class)
    void resetByThePeerIsReportedAtOnce(Transport transport, FirewallProxyFactory proxies) throws Exception {
        assumeTrue(MatrixNet.available(transport), transport::unavailableBecause);
        String scenario = "proxy reset (" + transport + ")";
        KeepaliveSettings slowPings = KeepaliveSettings.builder().pingInterval(Duration.ofSeconds(30)).build();
        MatrixNet.Server server = net.server("server", Transport.NIO, LOOPBACK, Framing.BINARY,
                MatrixApp.PONG_ONLY);
        FirewallProxy proxy = proxies.start(server.address());
        Conn keepalive = net.keepaliveClient("keepalive", transport, proxy.address(), slowPings);
        Conn control = net.plainClient("control", transport, proxy.address());
        proxy.awaitFlow(1, WAIT);
        Matrix.assertEcho(keepalive);
        Matrix.assertEcho(control);

        long faultAt = System.nanoTime();
        proxy.injectAll(Fault.reset());

        Matrix.awaitDeaths(List.of(keepalive), AT_ONCE.plus(WAIT));
        Matrix.assertDetected(scenario, keepalive, DeadPeerReason.RESET_BY_PEER, faultAt, AT_ONCE, Duration.ZERO);
        assertInstanceOf(IOException.class, keepalive.deadCause().getCause(), "the transport's error is the cause");
        // The control shows the fault is a real reset (not a FIN): its application gets the bare I/O error.
        await().atMost(WAIT).until(() -> !control.errors().isEmpty());
        Throwable raw = control.errors().get(0);
        Matrix.note(scenario, "control: {}", raw.toString());
        assertInstanceOf(IOException.class, raw);
        assertTrue(raw.getMessage().toLowerCase().contains("reset"), raw.toString());
    }

    @Test
    void aSlowButAlivePeerIsNotDeclaredDead(FirewallProxyFactory proxies) throws Exception {
        String scenario = "proxy tarpit (server->client 2000 B/s)";
        // Pings after 500 ms of silence, dead after two unanswered 500 ms pings: bound 1.5 s.
        KeepaliveSettings settings = KeepaliveSettings.builder().pingInterval(Duration.ofMillis(500))
                .pingTimeout(Duration.ofMillis(500)).pingsMissedBeforeDead(2).build();
        Duration bound = settings.idleDetectionBound();
        int size = 12_000; // 6 s at 2000 B/s: four times the bound
        MatrixNet.Server server = net.server("server", Transport.NIO, LOOPBACK, Framing.BINARY,
                MatrixApp.PONG_ONLY);
        FirewallProxy proxy = proxies.start(server.address());
        Conn keepalive = net.keepaliveClient("keepalive", Transport.NIO, proxy.address(), settings);
        Conn control = net.plainClient("control", Transport.NIO, proxy.address());
        proxy.awaitFlow(1, WAIT);
        Matrix.assertEcho(keepalive);
        Matrix.assertEcho(control);

        proxy.injectAll(Fault.bandwidth(Direction.SERVER_TO_CLIENT, 2_000));
        long faultAt = System.nanoTime();
        long framesBefore = keepalive.framesReceived();
        keepalive.send("BIG " + size);
        control.send("BIG " + size);

        // The control shows the fault: bytes trickle in, but no message is complete for longer than the bound.
        long controlFrames = control.framesReceived();
        long controlBytes = control.rawBytes();
        long watched = Matrix.watchUntil(faultAt + bound.plus(TOLERANCE).plus(Matrix.CONTROL_MARGIN).toNanos(),
                () -> control.framesReceived() == controlFrames);
        Duration silent = Duration.ofNanos(watched - faultAt);
        Matrix.note(scenario, "control: no message for {} ms while {} bytes trickled in (bound {} ms)",
                silent.toMillis(), control.rawBytes() - controlBytes, bound.toMillis());
        assertTrue(silent.compareTo(bound.plus(TOLERANCE)) > 0 && control.rawBytes() > controlBytes,
                "no message for " + silent + ", " + (control.rawBytes() - controlBytes) + " bytes");

        await().atMost(Duration.ofSeconds(size / 2_000).plus(WAIT))
                .until(() -> keepalive.framesReceived() > framesBefore || keepalive.isDead());
        Duration took = Duration.ofNanos(keepalive.lastFrameAt() - faultAt);
        Matrix.note(scenario, "keepalive: the {}-byte answer took {} ms, not declared dead (bound {} ms); {}", size,
                took.toMillis(), bound.toMillis(), keepalive.keepalive().stats());
        assertFalse(keepalive.isDead(), () -> keepalive + ": " + keepalive.deadCause().getMessage());
        assertEquals("<" + size + " bytes>", keepalive.pollFrame(WAIT));
        assertTrue(took.compareTo(bound.multipliedBy(3)) > 0, "the answer was slow: " + took);
        // Whether it pinged meanwhile depends on where its timer checks fell between the chunks (it need not: bytes
        // arrive every 50 ms); a pong would wait behind the answer, and no ping may count as missed.
        assertEquals(0, keepalive.keepalive().stats().pingsMissed(), keepalive.keepalive().stats().toString());
        assertTrue(keepalive.isActive());
    }

    @Test
    void aWriteStallIsReportedAsWriteStall(FirewallProxyFactory proxies) throws Exception {
        String scenario = "proxy pause (client->server), peer still sending";
        Duration stall = Duration.ofSeconds(1);
        KeepaliveSettings settings = FAST.toBuilder().writeStallTimeout(stall).build();
        // Declared between the timeout and 9/8 of it after the queue stopped draining (LivenessMonitor's steps).
        Duration bound = stall.multipliedBy(9).dividedBy(8);
        MatrixNet.Server server = net.server("server", Transport.NIO, LOOPBACK, Framing.BINARY,
                MatrixApp.PONG_ONLY);
        FirewallProxy proxy = proxies.start(server.address());
        Conn keepalive = net.connect(Conn.keepalive("keepalive", Framing.BINARY, settings), Transport.NIO,
                proxy.address(), b -> b.option(ChannelOption.SO_SNDBUF, 64 * 1024));
        Conn control = net.plainClient("control", Transport.NIO, proxy.address(),
                b -> b.option(ChannelOption.SO_SNDBUF, 64 * 1024));
        proxy.awaitFlow(1, WAIT);
        for (Conn c : List.of(keepalive, control)) {
            c.send("TICK 100"); // the peer stays visibly alive: a frame every 100 ms
            await().atMost(WAIT).until(() -> c.framesReceived() >= 2);
        }

        proxy.injectAll(Fault.pause(Direction.CLIENT_TO_SERVER));
        List<ChannelFuture> keepaliveWrites = flood(keepalive);
        List<ChannelFuture> controlWrites = flood(control);
        // Timed from here, when 8 MiB are queued; the kernel may still take a last chunk a little later (a window
        // update of the paused socket, measured up to ~0.2 s), which the measurement then includes.
        long stalledAt = System.nanoTime();
        assertFalse(keepalive.channel().isWritable(), "the writes are queued");

        Matrix.awaitDeaths(List.of(keepalive), bound.plus(TOLERANCE).plus(WAIT));
        Duration took = Matrix.assertDetected(scenario, keepalive, DeadPeerReason.WRITE_STALL, stalledAt, bound);
        assertTrue(took.compareTo(stall.minus(Matrix.EARLY_SLACK)) >= 0, "not before the timeout: " + took);
        await().atMost(WAIT).until(() -> keepaliveWrites.stream().allMatch(ChannelFuture::isDone));
        ChannelFuture failed = keepaliveWrites.get(keepaliveWrites.size() - 1);
        PeerDeadException cause = assertInstanceOf(PeerDeadException.class, failed.cause(),
                "a pending write fails with the reason");
        assertEquals(DeadPeerReason.WRITE_STALL, cause.reason());

        long watched = Matrix.watchUntil(stalledAt + bound.plus(TOLERANCE).plus(Matrix.CONTROL_MARGIN).toNanos(),
                control::isActive);
        Matrix.assertStillOpen(scenario, control, stalledAt, watched, bound);
        assertFalse(controlWrites.get(controlWrites.size() - 1).isDone(), "the control's writes are still pending");
        assertTrue(control.framesReceived() > 10, "the peer kept sending to the control");
    }

    /** Queues 8 MiB in 64 KiB frames on the channel's event loop; returns the writes' futures. */
    private static List<ChannelFuture> flood(Conn c) throws Exception {
        return c.channel().eventLoop().submit(() -> {
            List<ChannelFuture> writes = new ArrayList<>();
            for (int i = 0; i < 128; i++) {
                writes.add(c.channel().writeAndFlush(c.channel().alloc().buffer(64 * 1024).writeZero(64 * 1024)));
            }
            return writes;
        }).get(WAIT.toMillis(), TimeUnit.MILLISECONDS);
    }
}
