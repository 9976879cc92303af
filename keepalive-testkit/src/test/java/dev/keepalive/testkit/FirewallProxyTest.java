package dev.keepalive.testkit;

import static org.awaitility.Awaitility.await;
import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.io.InputStream;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.ServerSocket;
import java.net.Socket;
import java.nio.ByteBuffer;
import java.nio.channels.SocketChannel;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Random;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.extension.ExtendWith;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.EnumSource;

/** Each control of {@link FirewallProxy}, proven with real loopback sockets. */
@ExtendWith(FaultLabExtension.class)
@Timeout(30)
class FirewallProxyTest {
    private static final Duration WAIT = Duration.ofSeconds(5);
    /** How long "nothing happens" is watched; long enough for loopback, where bytes take microseconds. */
    private static final Duration QUIET = Duration.ofMillis(400);

    private RecordingServer server;
    private final List<RecordingSocket> clients = new ArrayList<>();

    @BeforeEach
    void startServer() {
        server = new RecordingServer();
    }

    @AfterEach
    void stopAll() {
        clients.forEach(RecordingSocket::close);
        server.close();
    }

    private RecordingSocket connect(FirewallProxy proxy) {
        RecordingSocket c = RecordingSocket.connect(proxy.address());
        clients.add(c);
        return c;
    }

    private static byte[] bytes(int n, int seed) {
        byte[] b = new byte[n];
        new Random(seed).nextBytes(b);
        return b;
    }

    @Test
    void forwardsBothWaysAndCounts(FirewallProxyFactory proxies) {
        FirewallProxy proxy = proxies.start(server.address());
        RecordingSocket client = connect(proxy);
        Flow flow = proxy.awaitFlow(0, WAIT).awaitState(FlowState.OPEN, WAIT);
        RecordingSocket upstream = server.awaitConnection(0);

        byte[] request = bytes(1000, 1);
        byte[] answer = bytes(500, 2);
        client.write(request);
        await().atMost(WAIT).until(() -> upstream.receivedCount() == 1000);
        upstream.write(answer);
        await().atMost(WAIT).until(() -> client.receivedCount() == 500);

        assertArrayEquals(request, upstream.receivedBytes());
        assertArrayEquals(answer, client.receivedBytes());
        await().atMost(WAIT).until(() -> flow.counters().equals(new FlowCounters(1000, 500, 0, 0)));
        assertEquals(new FlowCounters(1000, 500, 0, 0), proxy.counters());
        assertEquals(FlowState.OPEN, flow.state());
        assertEquals(upstream.socket().getRemoteSocketAddress(), flow.upstreamLocalAddress().orElseThrow());
        assertEquals(client.socket().getLocalSocketAddress(), flow.clientAddress());
        assertEquals(0, flow.id());
        assertEquals(List.of(flow), proxy.flows());
    }

    @Test
    void blackHoleDropsBothWaysWithoutFinOrRst(FirewallProxyFactory proxies) {
        FirewallProxy proxy = proxies.start(server.address());
        RecordingSocket client = connect(proxy);
        Flow flow = proxy.awaitFlow(0, WAIT).awaitState(FlowState.OPEN, WAIT);
        RecordingSocket upstream = server.awaitConnection(0);

        flow.blackHole();
        assertEquals(FlowState.BLACK_HOLED, flow.state());
        assertEquals(List.of(Fault.blackHole()), flow.activeFaults());

        client.write(bytes(300, 3));
        upstream.write(bytes(200, 4));
        // The proxy read and discarded them, so they can never arrive later.
        await().atMost(WAIT).until(() -> flow.counters().equals(new FlowCounters(0, 0, 300, 200)));
        assertEquals(0, upstream.receivedCount());
        assertEquals(0, client.receivedCount());

        // The server closes: the proxy sees it, the client must not.
        upstream.shutdownOutput();
        await().atMost(WAIT).until(flow::serverClosed);
        await().during(QUIET).atMost(QUIET.plusSeconds(2)).until(() -> !client.sawClose());

        // The client closes: the server must not see it.
        client.shutdownOutput();
        await().atMost(WAIT).until(flow::clientClosed);
        await().during(QUIET).atMost(QUIET.plusSeconds(2)).until(() -> !upstream.sawClose());
        assertTrue(client.socket().isConnected() && !client.socket().isClosed());
        assertEquals(FlowState.BLACK_HOLED, flow.state());
    }

    @ParameterizedTest
    @EnumSource(value = Direction.class, names = {"CLIENT_TO_SERVER", "SERVER_TO_CLIENT"})
    void blackHoleOneDirection(Direction dropped, FirewallProxyFactory proxies) {
        FirewallProxy proxy = proxies.start(server.address());
        RecordingSocket client = connect(proxy);
        Flow flow = proxy.awaitFlow(0, WAIT).awaitState(FlowState.OPEN, WAIT);
        RecordingSocket upstream = server.awaitConnection(0);

        flow.blackHole(dropped);
        client.write(bytes(100, 5));
        upstream.write(bytes(70, 6));

        if (dropped == Direction.CLIENT_TO_SERVER) {
            await().atMost(WAIT).until(() -> client.receivedCount() == 70);
            await().atMost(WAIT).until(() -> flow.counters().equals(new FlowCounters(0, 70, 100, 0)));
            assertEquals(0, upstream.receivedCount());
        } else {
            await().atMost(WAIT).until(() -> upstream.receivedCount() == 100);
            await().atMost(WAIT).until(() -> flow.counters().equals(new FlowCounters(100, 0, 0, 70)));
            assertEquals(0, client.receivedCount());
        }
        assertEquals(FlowState.BLACK_HOLED, flow.state());
    }

    @Test
    void restoreLetsBytesPassAgainAndDeliversAHeldBackFin(FirewallProxyFactory proxies) {
        FirewallProxy proxy = proxies.start(server.address());
        RecordingSocket client = connect(proxy);
        Flow flow = proxy.awaitFlow(0, WAIT).awaitState(FlowState.OPEN, WAIT);
        RecordingSocket upstream = server.awaitConnection(0);

        flow.blackHole();
        client.write("lost");
        await().atMost(WAIT).until(() -> flow.counters().dropped(Direction.CLIENT_TO_SERVER) == 4);
        flow.restore();
        assertEquals(FlowState.OPEN, flow.state());
        assertEquals(List.of(), flow.activeFaults());
        client.write("kept");
        await().atMost(WAIT).until(() -> upstream.receivedString().equals("kept"));

        flow.blackHole(Direction.CLIENT_TO_SERVER);
        client.shutdownOutput();
        await().atMost(WAIT).until(flow::clientClosed);
        assertFalse(upstream.sawClose());
        flow.restore(); // TCP would retransmit the FIN; the proxy delivers it now
        await().atMost(WAIT).until(upstream::eof);
    }

    @Test
    void forgetsAnIdleFlowAndLetsNewFlowsPass(FirewallProxyFactory proxies) {
        Duration idle = Duration.ofMillis(400);
        FirewallProxy proxy = proxies.builder(server.address()).forgetIdleFlowsAfter(idle).start();
        RecordingSocket client = connect(proxy);
        Flow flow = proxy.awaitFlow(0, WAIT).awaitState(FlowState.OPEN, WAIT);
        RecordingSocket upstream = server.awaitConnection(0);

        long lastTraffic = System.nanoTime();
        client.write("hello");
        await().atMost(WAIT).until(() -> upstream.receivedCount() == 5);
        flow.awaitState(FlowState.FORGOTTEN, Duration.ofSeconds(5));
        Duration idleFor = Duration.ofNanos(System.nanoTime() - lastTraffic);
        assertTrue(idleFor.compareTo(idle) >= 0, "forgotten after " + idleFor + ", before the idle timeout " + idle);

        // The old flow is dead both ways, silently.
        client.write("after");
        upstream.write("answer");
        await().atMost(WAIT).until(() -> flow.counters().dropped(Direction.BOTH) == 11);
        assertEquals(5, upstream.receivedCount());
        assertEquals(0, client.receivedCount());
        assertFalse(client.sawClose());
        assertFalse(upstream.sawClose());

        // A new connection passes.
        RecordingSocket second = connect(proxy);
        Flow flow2 = proxy.awaitFlow(1, WAIT).awaitState(FlowState.OPEN, WAIT);
        RecordingSocket upstream2 = server.awaitConnection(1);
        second.write("new");
        await().atMost(WAIT).until(() -> upstream2.receivedString().equals("new"));
        assertEquals(FlowState.OPEN, flow2.state());
        assertEquals(FlowState.FORGOTTEN, flow.state());
    }

    @Test
    void trafficKeepsAFlowRemembered(FirewallProxyFactory proxies) throws Exception {
        FirewallProxy proxy = proxies.builder(server.address()).forgetIdleFlowsAfter(Duration.ofMillis(500)).start();
        RecordingSocket client = connect(proxy);
        Flow flow = proxy.awaitFlow(0, WAIT).awaitState(FlowState.OPEN, WAIT);
        RecordingSocket upstream = server.awaitConnection(0);

        ScheduledExecutorService ticker = Executors.newSingleThreadScheduledExecutor();
        AtomicInteger sent = new AtomicInteger();
        try {
            ticker.scheduleAtFixedRate(() -> {
                client.write("x");
                sent.incrementAndGet();
            }, 0, 100, TimeUnit.MILLISECONDS);
            // 15 ticks = 1.5 s, three times the idle timeout.
            await().atMost(Duration.ofSeconds(10)).until(() -> sent.get() >= 15);
            assertEquals(FlowState.OPEN, flow.state());
        } finally {
            ticker.shutdownNow();
            assertTrue(ticker.awaitTermination(5, TimeUnit.SECONDS));
        }
        await().atMost(WAIT).until(() -> upstream.receivedCount() == sent.get());
        flow.awaitState(FlowState.FORGOTTEN, Duration.ofSeconds(5));
    }

    @Test
    void resetSendsRstToBothSides(FirewallProxyFactory proxies) {
        FirewallProxy proxy = proxies.start(server.address());
        RecordingSocket client = connect(proxy);
        Flow flow = proxy.awaitFlow(0, WAIT).awaitState(FlowState.OPEN, WAIT);
        RecordingSocket upstream = server.awaitConnection(0);

        flow.reset();
        await().atMost(WAIT).until(() -> client.error() != null && upstream.error() != null);
        assertTrue(client.error().getMessage().contains("reset"), client.error().toString());
        assertTrue(upstream.error().getMessage().contains("reset"), upstream.error().toString());
        assertFalse(client.eof());
        assertEquals(FlowState.RESET, flow.state());
    }

    @Test
    void closeSendsFinToBothSides(FirewallProxyFactory proxies) {
        FirewallProxy proxy = proxies.start(server.address());
        RecordingSocket client = connect(proxy);
        Flow flow = proxy.awaitFlow(0, WAIT).awaitState(FlowState.OPEN, WAIT);
        RecordingSocket upstream = server.awaitConnection(0);

        flow.close();
        await().atMost(WAIT).until(() -> client.eof() && upstream.eof());
        assertNull(client.error());
        assertNull(upstream.error());
        assertEquals(FlowState.CLOSED, flow.state());
    }

    @Test
    void aPeerClosingIsPassedOn(FirewallProxyFactory proxies) {
        FirewallProxy proxy = proxies.start(server.address());
        RecordingSocket client = connect(proxy);
        Flow flow = proxy.awaitFlow(0, WAIT).awaitState(FlowState.OPEN, WAIT);
        RecordingSocket upstream = server.awaitConnection(0);

        client.write("bye");
        client.shutdownOutput();
        await().atMost(WAIT).until(upstream::eof);
        assertEquals("bye", upstream.receivedString());
        upstream.write("ok");
        upstream.shutdownOutput();
        await().atMost(WAIT).until(client::eof);
        assertEquals("ok", client.receivedString());
        flow.awaitState(FlowState.CLOSED, WAIT);
    }

    @Test
    void latencyDelaysEachDirectionAndKeepsOrder(FirewallProxyFactory proxies) throws Exception {
        EchoServer echo = proxies.echoServer();
        FirewallProxy proxy = proxies.start(echo.address());
        try (Socket client = new Socket()) {
            client.setTcpNoDelay(true);
            client.setSoTimeout(10_000);
            client.connect(proxy.address());
            Flow flow = proxy.awaitFlow(0, WAIT).awaitState(FlowState.OPEN, WAIT);
            assertEquals(1, roundTrip(client).length);

            flow.latency(Direction.CLIENT_TO_SERVER, Duration.ofMillis(200));
            flow.latency(Direction.SERVER_TO_CLIENT, Duration.ofMillis(100));
            long start = System.nanoTime();
            roundTrip(client);
            Duration rtt = Duration.ofNanos(System.nanoTime() - start);
            // Lower bound exact (timers never fire early); upper bound allows 1.5 s of scheduling noise.
            assertTrue(rtt.toMillis() >= 300, "round trip " + rtt + " shorter than the 300 ms added");
            assertTrue(rtt.toMillis() <= 1800, "round trip " + rtt + " far beyond the 300 ms added");

            // Order is kept, also when the latency shrinks while bytes are queued.
            StringBuilder expected = new StringBuilder();
            for (int i = 0; i < 40; i++) {
                String s = i + ",";
                expected.append(s);
                client.getOutputStream().write(s.getBytes(StandardCharsets.US_ASCII));
                if (i == 20) {
                    flow.latency(Direction.CLIENT_TO_SERVER, Duration.ZERO);
                }
            }
            client.getOutputStream().flush();
            byte[] echoed = client.getInputStream().readNBytes(expected.length());
            assertEquals(expected.toString(), new String(echoed, StandardCharsets.US_ASCII));
            assertEquals(List.of(Fault.latency(Direction.SERVER_TO_CLIENT, Duration.ofMillis(100))),
                    flow.activeFaults());
        }
    }

    private static byte[] roundTrip(Socket s) throws IOException {
        s.getOutputStream().write('p');
        s.getOutputStream().flush();
        return s.getInputStream().readNBytes(1);
    }

    @Test
    void bandwidthCapMakesBytesTrickle(FirewallProxyFactory proxies) {
        FirewallProxy proxy = proxies.start(server.address());
        RecordingSocket client = connect(proxy);
        Flow flow = proxy.awaitFlow(0, WAIT).awaitState(FlowState.OPEN, WAIT);
        RecordingSocket upstream = server.awaitConnection(0);

        long rate = 10_000;
        int total = 20_000;
        flow.bandwidth(Direction.CLIENT_TO_SERVER, rate);
        long start = System.nanoTime();
        client.write(bytes(total, 7));
        // Halfway in time, well short of everything: the bytes trickle.
        await().atMost(WAIT).until(() -> upstream.receivedCount() > 0);
        await().atMost(Duration.ofSeconds(20)).until(() -> upstream.receivedCount() == total);
        Duration took = Duration.ofNanos(System.nanoTime() - start);
        // The first 50 ms chunk (500 B) may go at once: at least (20000 - 500) / 10000 = 1.95 s; we allow 10 % less
        // for timer granularity, and at most 4 s more for a slow machine.
        assertTrue(took.toMillis() >= 1750, "20 kB at 10 kB/s took only " + took);
        assertTrue(took.toMillis() <= 6000, "20 kB at 10 kB/s took " + took);
        assertEquals(total, flow.counters().forwarded(Direction.CLIENT_TO_SERVER));
    }

    @Test
    void bandwidthCapIsReachedNotExceededMidway(FirewallProxyFactory proxies) {
        FirewallProxy proxy = proxies.start(server.address());
        RecordingSocket client = connect(proxy);
        Flow flow = proxy.awaitFlow(0, WAIT).awaitState(FlowState.OPEN, WAIT);
        RecordingSocket upstream = server.awaitConnection(0);

        flow.bandwidth(Direction.CLIENT_TO_SERVER, 5_000);
        long start = System.nanoTime();
        client.write(bytes(10_000, 8));
        await().atMost(WAIT).until(() -> upstream.receivedCount() >= 2_500);
        Duration took = Duration.ofNanos(System.nanoTime() - start);
        // 2500 B at 5000 B/s: at least (2500 - 250) / 5000 = 450 ms, with 10 % tolerance.
        assertTrue(took.toMillis() >= 400, "2.5 kB at 5 kB/s arrived after only " + took);
        flow.restore();
        await().atMost(WAIT).until(() -> upstream.receivedCount() == 10_000);
    }

    @Test
    void pauseBuildsBackpressureAndResumeDeliversEverything(FirewallProxyFactory proxies) throws Exception {
        FirewallProxy proxy = proxies.start(server.address());
        try (SocketChannel client = SocketChannel.open(proxy.address())) {
            Flow flow = proxy.awaitFlow(0, WAIT).awaitState(FlowState.OPEN, WAIT);
            RecordingSocket upstream = server.awaitConnection(0);
            flow.pause(Direction.CLIENT_TO_SERVER);

            client.configureBlocking(false);
            ByteBuffer chunk = ByteBuffer.allocate(64 * 1024);
            long written = 0;
            boolean blocked = false;
            // Bounded: at most 64 MiB; loopback buffers fill long before that.
            for (int i = 0; i < 1024 && !blocked; i++) {
                chunk.clear();
                int n = client.write(chunk);
                written += n;
                blocked = n == 0 || chunk.hasRemaining();
            }
            assertTrue(blocked, "the client could write " + written + " bytes without blocking");
            long writtenBeforeBlock = written;
            await().during(QUIET).atMost(QUIET.plusSeconds(2)).until(() -> upstream.receivedCount() == 0);
            assertEquals(0, flow.counters().forwarded(Direction.CLIENT_TO_SERVER));

            flow.resume();
            // Write the rest of the last chunk (blocking, bounded by the test timeout), then all must arrive.
            client.configureBlocking(true);
            while (chunk.hasRemaining()) {
                written += client.write(chunk);
            }
            long expected = written;
            assertTrue(expected >= writtenBeforeBlock);
            await().atMost(Duration.ofSeconds(15)).until(() -> upstream.receivedCount() == expected);
            assertEquals(expected, flow.counters().forwarded(Direction.CLIENT_TO_SERVER));
            assertEquals(0, flow.counters().dropped(Direction.BOTH));
        }
    }

    @Test
    void injectAllCoversCurrentAndLaterFlowsUntilRestoreAll(FirewallProxyFactory proxies) {
        FirewallProxy proxy = proxies.start(server.address());
        RecordingSocket a = connect(proxy);
        RecordingSocket b = connect(proxy);
        Flow fa = proxy.awaitFlow(0, WAIT).awaitState(FlowState.OPEN, WAIT);
        Flow fb = proxy.awaitFlow(1, WAIT).awaitState(FlowState.OPEN, WAIT);

        proxy.injectAll(Fault.blackHole());
        RecordingSocket c = connect(proxy);
        Flow fc = proxy.awaitFlow(2, WAIT).awaitState(FlowState.BLACK_HOLED, WAIT);
        assertEquals(FlowState.BLACK_HOLED, fa.state());
        assertEquals(FlowState.BLACK_HOLED, fb.state());
        a.write("1");
        b.write("22");
        c.write("333");
        await().atMost(WAIT).until(() -> proxy.counters().dropped(Direction.CLIENT_TO_SERVER) == 6);

        proxy.restoreAll();
        a.write("a");
        b.write("b");
        c.write("c");
        await().atMost(WAIT).until(() -> proxy.counters().forwarded(Direction.CLIENT_TO_SERVER) == 3);
        assertEquals(new FlowCounters(3, 0, 6, 0), proxy.counters());
        assertEquals(proxy.counters(), fa.counters().plus(fb.counters()).plus(fc.counters()));

        proxy.injectAll(Fault.reset());
        await().atMost(WAIT).until(() -> a.error() != null && b.error() != null && c.error() != null);
        RecordingSocket d = connect(proxy);
        proxy.awaitFlow(3, WAIT).awaitState(FlowState.OPEN, WAIT); // one-shot faults do not stick
        assertFalse(d.sawClose());
    }

    @Test
    void controlsAreSafeFromManyThreadsWhileTrafficFlows(FirewallProxyFactory proxies) throws Exception {
        EchoServer echo = proxies.echoServer();
        FirewallProxy proxy = proxies.start(echo.address());
        try (Socket client = new Socket()) {
            client.setSoTimeout(20_000);
            client.connect(proxy.address());
            Flow flow = proxy.awaitFlow(0, WAIT).awaitState(FlowState.OPEN, WAIT);
            byte[] payload = bytes(200_000, 9);
            ExecutorService pool = Executors.newFixedThreadPool(5);
            try {
                Future<byte[]> reader = pool.submit(() -> client.getInputStream().readNBytes(payload.length));
                Future<?> writer = pool.submit(() -> {
                    client.getOutputStream().write(payload);
                    return null;
                });
                // Lossless faults only, so the echoed stream must come back intact.
                List<Fault> lossless = List.of(Fault.latency(Duration.ofMillis(2)), Fault.bandwidth(2_000_000),
                        Fault.pause(), Fault.pause(Direction.SERVER_TO_CLIENT), Fault.latency(Duration.ZERO));
                CountDownLatch go = new CountDownLatch(1);
                List<Future<?>> controllers = new ArrayList<>();
                for (int t = 0; t < 3; t++) {
                    int seed = t;
                    controllers.add(pool.submit(() -> {
                        go.await();
                        Random r = new Random(seed);
                        for (int i = 0; i < 60; i++) {
                            if (r.nextInt(3) == 0) {
                                flow.restore();
                            } else {
                                flow.inject(lossless.get(r.nextInt(lossless.size())));
                            }
                            flow.counters();
                            flow.state();
                        }
                        return null;
                    }));
                }
                go.countDown();
                for (Future<?> f : controllers) {
                    f.get(20, TimeUnit.SECONDS);
                }
                flow.restore();
                writer.get(20, TimeUnit.SECONDS);
                assertArrayEquals(payload, reader.get(20, TimeUnit.SECONDS));
                assertEquals(FlowState.OPEN, flow.state());
            } finally {
                pool.shutdownNow();
                assertTrue(pool.awaitTermination(5, TimeUnit.SECONDS));
            }
        }
    }

    @Test
    void anUnreachableServerResetsTheClient(FirewallProxyFactory proxies) throws Exception {
        InetSocketAddress closedPort;
        try (ServerSocket s = new ServerSocket(0, 1, InetAddress.getLoopbackAddress())) {
            closedPort = (InetSocketAddress) s.getLocalSocketAddress();
        }
        FirewallProxy proxy = proxies.start(closedPort);
        try (Socket client = new Socket()) {
            client.setSoTimeout(5_000);
            client.connect(proxy.address());
            Flow flow = proxy.awaitFlow(0, WAIT);
            InputStream in = client.getInputStream();
            assertThrows(IOException.class, () -> {
                // Bounded: a reset throws at once; EOF would return -1 and fail the assertion.
                if (in.read() < 0) {
                    return;
                }
            });
            flow.awaitState(FlowState.CLOSED, WAIT);
            assertTrue(flow.upstreamLocalAddress().isEmpty());
        }
    }

    @Test
    void builderFaultsApplyFromTheFirstByte(FirewallProxyFactory proxies) {
        FirewallProxy proxy = proxies.builder(server.address())
                .fault(Fault.blackHole(Direction.SERVER_TO_CLIENT))
                .start();
        RecordingSocket client = connect(proxy);
        Flow flow = proxy.awaitFlow(0, WAIT).awaitState(FlowState.BLACK_HOLED, WAIT);
        server.awaitConnection(0).write("x");
        await().atMost(WAIT).until(() -> flow.counters().dropped(Direction.SERVER_TO_CLIENT) == 1);
        assertEquals(0, client.receivedCount());
    }

    @Test
    void awaitFlowTimesOutWithAMessage() {
        try (FirewallProxy proxy = FirewallProxy.start(server.address())) {
            AwaitTimeoutException e = assertThrows(AwaitTimeoutException.class,
                    () -> proxy.awaitFlow(0, Duration.ofMillis(50)));
            assertEquals("flow #0 not accepted within PT0.05S; 0 flow(s) so far", e.getMessage());
            assertEquals(Duration.ofMillis(50), e.timeout());
        }
    }

    @Test
    void closingTheProxyClosesItsFlowsAndIsIdempotent() {
        FirewallProxy proxy = FirewallProxy.start(server.address());
        RecordingSocket client = connect(proxy);
        Flow flow = proxy.awaitFlow(0, WAIT).awaitState(FlowState.OPEN, WAIT);
        RecordingSocket upstream = server.awaitConnection(0);
        proxy.close();
        proxy.close();
        await().atMost(WAIT).until(() -> client.sawClose() && upstream.sawClose());
        assertEquals(FlowState.CLOSED, flow.state());
        flow.blackHole(); // a no-op once the proxy is gone
        assertThrows(IllegalStateException.class, proxy::start);
        assertNotNull(proxy.toString());
    }

    @Test
    void validationMessagesNameTheSettingAndValue() {
        assertEquals("delay must be >= 0, but was PT-1S",
                assertThrows(IllegalArgumentException.class, () -> Fault.latency(Duration.ofSeconds(-1))).getMessage());
        assertEquals("bytesPerSecond must be > 0, but was 0",
                assertThrows(IllegalArgumentException.class, () -> Fault.bandwidth(0)).getMessage());
        FirewallProxy.Builder b = FirewallProxy.builder(server.address());
        assertEquals("idleTimeout must be >= 0 (0 = never forget), but was PT-1S",
                assertThrows(IllegalArgumentException.class, () -> b.forgetIdleFlowsAfter(Duration.ofSeconds(-1)))
                        .getMessage());
        assertEquals("connectTimeout must be > 0, but was PT0S",
                assertThrows(IllegalArgumentException.class, () -> b.connectTimeout(Duration.ZERO)).getMessage());
        assertEquals("fault must be lasting (black hole, latency, bandwidth or pause), but was reset()",
                assertThrows(IllegalArgumentException.class, () -> b.fault(Fault.reset())).getMessage());
        try (FirewallProxy proxy = FirewallProxy.start(server.address())) {
            assertEquals("index must be >= 0, but was -1",
                    assertThrows(IllegalArgumentException.class, () -> proxy.awaitFlow(-1, WAIT)).getMessage());
        }
        assertEquals("bandwidth(SERVER_TO_CLIENT, 10 B/s)", Fault.bandwidth(Direction.SERVER_TO_CLIENT, 10).toString());
        assertEquals(Fault.pause(), Fault.pause(Direction.BOTH));
    }
}
