package dev.keepalive.netty.client;

import dev.keepalive.DeadPeerReason;
import dev.keepalive.KeepaliveSettings;
import dev.keepalive.netty.KeepaliveProbe;
import dev.keepalive.reconnect.Backoff;
import dev.keepalive.reconnect.ClientClosedException;
import dev.keepalive.reconnect.ConnectionEvent;
import dev.keepalive.reconnect.ConnectionState;
import dev.keepalive.reconnect.DisconnectedWrites;
import dev.keepalive.reconnect.NotConnectedException;
import dev.keepalive.reconnect.ReconnectPolicy;
import dev.keepalive.reconnect.WriteBufferFullException;
import dev.keepalive.reconnect.WriteExpiredException;
import dev.keepalive.testsupport.LineServer;
import dev.keepalive.testsupport.Transport;
import dev.keepalive.KeepaliveListener;
import dev.keepalive.PeerDeadException;
import dev.keepalive.netty.KeepaliveHandler;
import io.netty.bootstrap.Bootstrap;
import io.netty.bootstrap.ServerBootstrap;
import io.netty.channel.ChannelInitializer;
import io.netty.channel.socket.SocketChannel;
import io.netty.channel.socket.nio.NioServerSocketChannel;
import io.netty.channel.Channel;
import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.EventLoopGroup;
import io.netty.channel.SimpleChannelInboundHandler;
import io.netty.channel.socket.nio.NioSocketChannel;
import io.netty.handler.codec.LineBasedFrameDecoder;
import io.netty.handler.codec.string.StringDecoder;
import io.netty.handler.codec.string.StringEncoder;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

import java.net.InetSocketAddress;
import java.net.ServerSocket;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.ArrayList;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionException;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import java.util.function.ToLongFunction;
import java.util.stream.Collectors;

import static java.time.Duration.ofMillis;
import static java.time.Duration.ofSeconds;
import static org.awaitility.Awaitility.await;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

class ReconnectingClientTest {
    private static final KeepaliveSettings KEEPALIVE = KeepaliveSettings.builder().detectWithin(ofSeconds(2)).build();
    private static final ReconnectPolicy FAST = ReconnectPolicy.builder()
            .backoff(Backoff.exponentialFullJitter(ofMillis(20), ofMillis(200))).connectTimeout(ofSeconds(1)).build();

    private final EventLoopGroup group = Transport.NIO.newGroup(2);
    private final List<ConnectionEvent> events = new CopyOnWriteArrayList<>();
    private final List<String> received = new CopyOnWriteArrayList<>();
    private final List<AutoCloseable> closeables = new ArrayList<>();

    @AfterEach
    void tearDown() throws Exception {
        for (AutoCloseable c : closeables) {
            c.close();
        }
        group.shutdownGracefully(0, 1, TimeUnit.SECONDS).sync();
    }

    private LineServer server(KeepaliveSettings settings) {
        LineServer s = new LineServer(group, settings).start();
        closeables.add(s::stop);
        return s;
    }

    /** A port on 127.0.0.1 where nothing listens. */
    private static InetSocketAddress refusedPort() throws Exception {
        try (ServerSocket s = new ServerSocket(0, 1, java.net.InetAddress.getLoopbackAddress())) {
            return new InetSocketAddress("127.0.0.1", s.getLocalPort());
        }
    }

    private ReconnectingClient.Builder client(InetSocketAddress... endpoints) {
        return ReconnectingClient.builder(new Bootstrap().group(group).channel(NioSocketChannel.class))
                .endpoints(List.of(endpoints))
                .pipeline((ch, keepalive) -> ch.pipeline().addLast(new LineBasedFrameDecoder(1 << 16),
                        new StringDecoder(StandardCharsets.UTF_8), new StringEncoder(StandardCharsets.UTF_8),
                        keepalive, new SimpleChannelInboundHandler<String>() {
                            @Override
                            protected void channelRead0(ChannelHandlerContext ctx, String line) {
                                received.add(line);
                            }
                        }))
                .keepalive(KEEPALIVE, KeepaliveProbe.lines())
                .policy(FAST)
                .listener(events::add);
    }

    private ReconnectingClient started(ReconnectingClient.Builder b) {
        ReconnectingClient c = b.build();
        closeables.add(c::close);
        return c.start();
    }

    private long count(ConnectionEvent.Type type) {
        return events.stream().filter(e -> e.type() == type).count();
    }

    private static Throwable failure(CompletableFuture<?> f) {
        CompletionException e = assertThrows(CompletionException.class, f::join);
        return e.getCause();
    }

    @Test
    void reconnectsAfterThePeerClosesAndKeepsSending() {
        LineServer server = server(KEEPALIVE);
        ReconnectingClient client = started(client(server.address()));
        await().atMost(ofSeconds(5)).until(() -> client.state() == ConnectionState.CONNECTED);
        client.send("one\n").join();
        await().atMost(ofSeconds(5)).until(() -> server.lines.contains("one"));

        server.dropConnections();
        await().atMost(ofSeconds(5)).until(() -> count(ConnectionEvent.Type.CONNECTED) == 2);
        ConnectionEvent lost = events.stream().filter(e -> e.type() == ConnectionEvent.Type.DISCONNECTED)
                .findFirst().orElseThrow();
        assertEquals(DeadPeerReason.CLOSED_BY_PEER, lost.reason());
        ConnectionEvent retry = events.stream().filter(e -> e.type() == ConnectionEvent.Type.RECONNECTING)
                .findFirst().orElseThrow();
        assertEquals(2, retry.attempt(), "a connection shorter than backoffResetAfter keeps the sequence going");
        assertTrue(retry.delay().compareTo(ofMillis(20)) <= 0, "first delay within the backoff's first step");
        client.send("two\n").join();
        await().atMost(ofSeconds(5)).until(() -> server.lines.contains("two"));
        var stats = client.stats();
        assertEquals(2, stats.successes());
        assertEquals(1L, stats.deaths().get(DeadPeerReason.CLOSED_BY_PEER));
        assertEquals(ConnectionState.CONNECTED, stats.state());
    }

    @Test
    void onConnectedHookRunsBeforeQueuedSendsWhichKeepTheirOrder() throws Exception {
        LineServer server = server(KEEPALIVE);
        server.stop();
        ReconnectingClient client = started(client(server.address())
                .whileDisconnected(DisconnectedWrites.queue(100, 1 << 20, ofSeconds(20)))
                .onConnected(ch -> {
                    ch.writeAndFlush("LOGIN\n");
                    CompletableFuture<Void> loggedIn = new CompletableFuture<>();
                    ch.eventLoop().schedule(() -> loggedIn.complete(null), 100, TimeUnit.MILLISECONDS);
                    return loggedIn;
                }));
        await().atMost(ofSeconds(5)).until(() -> count(ConnectionEvent.Type.CONNECT_FAILED) >= 1);
        List<CompletableFuture<Void>> sends = new ArrayList<>();
        for (String s : List.of("a", "b", "c")) {
            sends.add(client.send(s + "\n"));
        }
        assertEquals(3, client.stats().queuedMessages());
        server.start();
        CompletableFuture.allOf(sends.toArray(new CompletableFuture[0])).get(10, TimeUnit.SECONDS);
        await().atMost(ofSeconds(5)).until(() -> server.lines.size() >= 4);
        assertEquals(List.of("LOGIN", "a", "b", "c"), server.lines);
    }

    @Test
    void failFastRefusesSendsWhileDisconnected() {
        ReconnectingClient client = started(client(new InetSocketAddress("127.0.0.1", 1)));
        Throwable e = failure(client.send("x\n"));
        assertInstanceOf(NotConnectedException.class, e);
        assertTrue(e.getMessage().startsWith("not connected"), e.getMessage());
    }

    @Test
    void queueBoundsFailTheMessageNamingTheBound() throws Exception {
        InetSocketAddress nowhere = refusedPort();
        ReconnectingClient byCount = started(client(nowhere)
                .whileDisconnected(DisconnectedWrites.queue(2, 1 << 20, ofSeconds(30))));
        CompletableFuture<Void> first = byCount.send("1\n");
        byCount.send("2\n");
        WriteBufferFullException full = assertInstanceOf(WriteBufferFullException.class,
                failure(byCount.send("3\n")));
        assertEquals(WriteBufferFullException.Bound.MESSAGES, full.bound());
        assertTrue(full.getMessage().contains("maxMessages 2"), full.getMessage());
        byCount.close();
        assertInstanceOf(ClientClosedException.class, failure(first), "close fails what is queued");

        ReconnectingClient byBytes = started(client(nowhere)
                .whileDisconnected(DisconnectedWrites.queue(100, 5, ofSeconds(30))));
        WriteBufferFullException bytes = assertInstanceOf(WriteBufferFullException.class,
                failure(byBytes.send("too long\n")));
        assertEquals(WriteBufferFullException.Bound.BYTES, bytes.bound());
        assertTrue(bytes.getMessage().contains("maxBytes 5"), bytes.getMessage());

        ReconnectingClient byAge = started(client(nowhere)
                .whileDisconnected(DisconnectedWrites.queue(100, 1 << 20, ofMillis(200))));
        long start = System.nanoTime();
        WriteExpiredException expired = assertInstanceOf(WriteExpiredException.class,
                failure(byAge.send("late\n")));
        assertTrue(System.nanoTime() - start >= ofMillis(200).toNanos());
        assertTrue(expired.getMessage().contains("maxQueueTime PT0.2S"), expired.getMessage());
        assertEquals(0, byAge.stats().queuedMessages());
    }

    @Test
    void failsOverToTheNextEndpoint() throws Exception {
        LineServer server = server(KEEPALIVE);
        InetSocketAddress refused = refusedPort();
        ReconnectingClient client = started(client(refused, server.address()));
        await().atMost(ofSeconds(5)).until(() -> client.state() == ConnectionState.CONNECTED);
        ConnectionEvent failed = events.stream().filter(e -> e.type() == ConnectionEvent.Type.CONNECT_FAILED)
                .findFirst().orElseThrow();
        assertEquals(refused, failed.remote());
        ConnectionEvent connected = events.stream().filter(e -> e.type() == ConnectionEvent.Type.CONNECTED)
                .findFirst().orElseThrow();
        assertEquals(server.address(), connected.remote());
    }

    @Test
    void givesUpAfterMaxAttemptsAndFailsWhatIsQueued() throws Exception {
        ReconnectingClient client = started(client(refusedPort())
                .policy(ReconnectPolicy.builder().backoff(Backoff.fixed(ofMillis(10))).maxAttempts(3).build())
                .whileDisconnected(DisconnectedWrites.queue(10, 1000, ofSeconds(30))));
        CompletableFuture<Void> queued = client.send("x\n");
        await().atMost(ofSeconds(5)).until(() -> client.state() == ConnectionState.CLOSED);
        assertEquals(1, count(ConnectionEvent.Type.GAVE_UP));
        assertEquals(3, count(ConnectionEvent.Type.CONNECTING));
        Throwable e = failure(queued);
        assertInstanceOf(ClientClosedException.class, e);
        assertTrue(e.getMessage().contains("gave up after 3 attempts (maxAttempts 3)"), e.getMessage());
        assertInstanceOf(ClientClosedException.class, failure(client.send("after\n")));
    }

    @Test
    void unacknowledgedMessagesAreResentInOrderAfterReconnect() throws Exception {
        LineServer server = server(KEEPALIVE);
        ReconnectingClient client = started(client(server.address())
                .whileDisconnected(DisconnectedWrites.queue(1000, 1 << 20, ofSeconds(20)))
                .acknowledgements(
                        msg -> Long.parseLong(((String) msg).split(" ")[1].trim()),
                        in -> in instanceof String && ((String) in).startsWith("ACK ")
                                ? Long.parseLong(((String) in).substring(4).trim()) : -1));
        await().atMost(ofSeconds(5)).until(() -> client.state() == ConnectionState.CONNECTED);
        List<CompletableFuture<Void>> sends = new ArrayList<>();
        server.ack(true);
        for (int id = 1; id <= 20; id++) {
            sends.add(client.send("MSG " + id + "\n"));
        }
        await().atMost(ofSeconds(5)).until(() -> sends.stream().allMatch(CompletableFuture::isDone));
        server.ack(false); // the next ones arrive but are never acknowledged ...
        for (int id = 21; id <= 40; id++) {
            sends.add(client.send("MSG " + id + "\n"));
        }
        await().atMost(ofSeconds(5)).until(() -> server.lines.size() >= 40);
        assertEquals(20, client.stats().queuedMessages(), "20 kept for re-sending");
        server.ack(true);
        server.dropConnections(); // ... and the connection dies
        for (int id = 41; id <= 60; id++) {
            sends.add(client.send("MSG " + id + "\n")); // while reconnecting: queued behind the unacknowledged
        }
        CompletableFuture.allOf(sends.toArray(new CompletableFuture[0])).get(10, TimeUnit.SECONDS);
        List<Integer> ids = server.lines.stream().map(l -> Integer.parseInt(l.split(" ")[1]))
                .collect(Collectors.toList());
        assertEquals(80, ids.size(), "40 + 20 re-sent + 20 new");
        assertEquals(new ArrayList<>(new LinkedHashSet<>(ids)),
                java.util.stream.IntStream.rangeClosed(1, 60).boxed().collect(Collectors.toList()),
                "after de-duplication by id: every message, in order");
        assertEquals(java.util.stream.IntStream.rangeClosed(21, 60).boxed().collect(Collectors.toList()),
                ids.subList(40, 80), "the re-sent ones first, in their original order, then the queued ones");
        assertEquals(0, client.stats().queuedMessages());
    }

    @Test
    void aPeerThatSaysTooManyPingsGetsPingedHalfAsOften() {
        LineServer server = server(KeepaliveSettings.builder().minPeerPingInterval(ofSeconds(10)).peerPingStrikes(0)
                .build());
        KeepaliveSettings eager = KeepaliveSettings.builder().pingInterval(ofMillis(150)).pingTimeout(ofSeconds(1))
                .pingJitter(0).build();
        ReconnectingClient client = started(client(server.address()).keepalive(eager, KeepaliveProbe.lines()));
        await().atMost(ofSeconds(5)).until(() -> events.stream().anyMatch(e ->
                e.type() == ConnectionEvent.Type.DISCONNECTED && e.reason() == DeadPeerReason.TOO_MANY_PINGS));
        assertEquals(ofMillis(300), client.keepaliveSettings().pingInterval());
        ConnectionEvent retry = events.stream().filter(e -> e.type() == ConnectionEvent.Type.RECONNECTING)
                .findFirst().orElseThrow();
        assertEquals(DeadPeerReason.TOO_MANY_PINGS, retry.reason(), "the cause is in the reconnect event");
    }

    @Test
    void reconnectNowDropsAndReconnectsWithoutBackoff() {
        LineServer server = server(KEEPALIVE);
        ReconnectingClient client = started(client(server.address())
                .policy(ReconnectPolicy.builder().backoff(Backoff.fixed(ofSeconds(30))).build()));
        await().atMost(ofSeconds(5)).until(() -> client.state() == ConnectionState.CONNECTED);
        client.reconnectNow();
        await().atMost(ofSeconds(5)).until(() -> count(ConnectionEvent.Type.CONNECTED) == 2);
        assertEquals(0, count(ConnectionEvent.Type.RECONNECTING), "no backoff");
        assertEquals(2, server.accepted.get());
    }

    @Test
    void closeCompletesEverythingAndRefusesLaterSends() throws Exception {
        LineServer server = server(KEEPALIVE);
        ReconnectingClient client = started(client(server.address()));
        await().atMost(ofSeconds(5)).until(() -> client.state() == ConnectionState.CONNECTED);
        client.close();
        assertEquals(ConnectionState.CLOSED, client.state());
        assertEquals(1, count(ConnectionEvent.Type.CLOSED));
        assertInstanceOf(ClientClosedException.class, failure(client.send("x\n")));
        await().atMost(ofSeconds(5)).until(() -> server.connections() == 0);
    }

    /**
     * A client that leaves with the server's bytes unread: closing the socket then makes the kernel send a reset, and
     * the server counts a dead client. The orderly close sends our FIN first and drops what is left until the server's
     * FIN. Here the application had paused reading (backpressure) when the server's message came, and the server
     * writes again before it reads the client's close (a chat server's broadcast): that write meets the reset.
     */
    @Test
    void closeWithThePeersBytesUnreadIsAnOrderlyCloseOnThePeersSide() throws Exception {
        assertEquals(List.of(DeadPeerReason.CLOSED_BY_PEER),
                serverSeesTheClientLeave(ReconnectingClient.Builder.DEFAULT_CLOSE_GRACE),
                "the server saw the client leave in order");
    }

    /** The other edge: with no grace the client closes at once, and the kernel's reset is what the server sees. */
    @Test
    void aZeroCloseGraceClosesAtOnceAndThePeerSeesTheReset() throws Exception {
        assertEquals(List.of(DeadPeerReason.RESET_BY_PEER), serverSeesTheClientLeave(Duration.ZERO));
    }

    @Test
    void closeGraceOutsideItsRangeFailsNamingIt() {
        for (Duration bad : List.of(ofMillis(-1), Duration.ofMinutes(1).plusMillis(1))) {
            IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
                    () -> client(new InetSocketAddress("127.0.0.1", 1)).closeGrace(bad));
            assertEquals("closeGrace must be in 0 .. 1 min, but was " + bad, e.getMessage());
        }
    }

    /** What the server's handler reports when the client, its application paused, closes with the given grace. */
    private List<DeadPeerReason> serverSeesTheClientLeave(Duration closeGrace) throws Exception {
        List<DeadPeerReason> serverSaw = new CopyOnWriteArrayList<>();
        List<Channel> serverSide = new CopyOnWriteArrayList<>();
        List<KeepaliveHandler> serverHandlers = new CopyOnWriteArrayList<>();
        EventLoopGroup serverGroup = Transport.NIO.newGroup(1);
        Channel server = new ServerBootstrap().group(serverGroup).channel(NioServerSocketChannel.class)
                .childHandler(new ChannelInitializer<SocketChannel>() {
                    @Override
                    protected void initChannel(SocketChannel ch) {
                        KeepaliveHandler keepalive = KeepaliveHandler.builder(KEEPALIVE).probe(KeepaliveProbe.lines())
                                .listener(new KeepaliveListener() {
                                    @Override
                                    public void onPeerDead(PeerDeadException e) {
                                        serverSaw.add(e.reason());
                                    }
                                }).build();
                        serverHandlers.add(keepalive);
                        serverSide.add(ch);
                        ch.pipeline().addLast(new LineBasedFrameDecoder(1 << 16),
                                new StringDecoder(StandardCharsets.UTF_8), new StringEncoder(StandardCharsets.UTF_8),
                                keepalive);
                    }
                }).bind(new InetSocketAddress("127.0.0.1", 0)).sync().channel();
        closeables.add(() -> serverGroup.shutdownGracefully(0, 1, TimeUnit.SECONDS).sync()); // closes the server
        List<Channel> clientSide = new CopyOnWriteArrayList<>();
        ReconnectingClient client = started(client((InetSocketAddress) server.localAddress())
                .pipeline((ch, keepalive) -> {
                    clientSide.add(ch);
                    ch.pipeline().addLast(new LineBasedFrameDecoder(1 << 16),
                            new StringDecoder(StandardCharsets.UTF_8), new StringEncoder(StandardCharsets.UTF_8),
                            keepalive, new SimpleChannelInboundHandler<String>() {
                                @Override
                                protected void channelRead0(ChannelHandlerContext ctx, String line) {
                                    received.add(line);
                                }
                            });
                })
                .closeGrace(closeGrace));
        await().atMost(ofSeconds(5)).until(() -> client.state() == ConnectionState.CONNECTED);
        Channel mine = clientSide.get(0);
        mine.eventLoop().submit(() -> mine.config().setAutoRead(false)).sync();
        serverSide.get(0).writeAndFlush("news nobody will read\n").sync();
        await().atMost(ofSeconds(5)).until(() -> unreadBytes(mine) > 0);

        CountDownLatch serverHeld = new CountDownLatch(1);
        CountDownLatch serverBusy = new CountDownLatch(1);
        serverGroup.execute(() -> {
            serverHeld.countDown();
            try {
                serverBusy.await(10, TimeUnit.SECONDS);
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
            }
            serverSide.get(0).writeAndFlush("and more news, sent before the server reads the client's close\n");
        });
        assertTrue(serverHeld.await(5, TimeUnit.SECONDS), "the server's loop is held before the client closes");
        CompletableFuture<Void> closed = client.closeAsync();
        // Our FIN has gone out (the orderly close); or, closing at once, the socket is gone and with it the reset.
        await().atMost(ofSeconds(5)).until(() -> closeGrace.isZero() ? socketLine(mine) == null : !established(mine));
        serverBusy.countDown();
        closed.get(5, TimeUnit.SECONDS);
        await().atMost(ofSeconds(5)).until(() -> serverHandlers.get(0).deadCause() != null);
        assertTrue(received.isEmpty(), "nothing reaches the application after close: " + received);
        return serverSaw;
    }

    /** Bytes in the kernel's receive queue of {@code ch}, from {@code /proc/net/tcp} and {@code tcp6} (Linux). */
    private static long unreadBytes(Channel ch) throws Exception {
        String[] f = socketLine(ch);
        if (f == null) {
            throw new AssertionError("no socket " + ch.localAddress() + " -> " + ch.remoteAddress() + " in /proc/net");
        }
        return Long.parseLong(f[4].substring(f[4].indexOf(':') + 1), 16);
    }

    /** Whether the kernel still has {@code ch}'s socket in state ESTABLISHED. */
    private static boolean established(Channel ch) throws Exception {
        String[] f = socketLine(ch);
        return f != null && f[3].equals("01");
    }

    /** The fields of {@code ch}'s line in {@code /proc/net/tcp} or {@code tcp6}, or null once the socket is gone. */
    private static String[] socketLine(Channel ch) throws Exception {
        String local = String.format(":%04X", ((InetSocketAddress) ch.localAddress()).getPort());
        String remote = String.format(":%04X", ((InetSocketAddress) ch.remoteAddress()).getPort());
        for (String table : List.of("/proc/net/tcp", "/proc/net/tcp6")) {
            for (String line : java.nio.file.Files.readAllLines(java.nio.file.Path.of(table))) {
                String[] f = line.trim().split("\\s+"); // sl local rem st tx_queue:rx_queue ...
                if (f.length > 4 && f[1].endsWith(local) && f[2].endsWith(remote)) {
                    return f;
                }
            }
        }
        return null;
    }

    @Test
    void bufferMessagesAreReleasedOnEveryPath() throws Exception {
        LineServer server = server(KEEPALIVE);
        ToLongFunction<Object> idOfBuffer = msg -> {
            String line = ((io.netty.buffer.ByteBuf) msg).toString(StandardCharsets.US_ASCII);
            return Long.parseLong(line.split(" ")[1].trim());
        };
        ReconnectingClient client = started(client(server.address())
                .whileDisconnected(DisconnectedWrites.queue(100, 1 << 20, ofSeconds(20)))
                .acknowledgements(idOfBuffer, in -> in instanceof String && ((String) in).startsWith("ACK ")
                        ? Long.parseLong(((String) in).substring(4).trim()) : -1));
        await().atMost(ofSeconds(5)).until(() -> client.state() == ConnectionState.CONNECTED);
        List<io.netty.buffer.ByteBuf> buffers = new ArrayList<>();
        List<CompletableFuture<Void>> sends = new ArrayList<>();
        for (int id = 1; id <= 10; id++) {
            io.netty.buffer.ByteBuf buf = io.netty.buffer.Unpooled.copiedBuffer("MSG " + id + "\n",
                    StandardCharsets.US_ASCII);
            buffers.add(buf);
            sends.add(client.send(buf)); // not acknowledged yet: kept for re-sending
        }
        await().atMost(ofSeconds(5)).until(() -> server.lines.size() == 10);
        server.ack(true);
        server.dropConnections();
        CompletableFuture.allOf(sends.toArray(new CompletableFuture[0])).get(10, TimeUnit.SECONDS);
        assertEquals(20, server.lines.size(), "re-sent whole after the reconnect");
        for (io.netty.buffer.ByteBuf buf : buffers) {
            assertEquals(0, buf.refCnt(), "released once acknowledged");
        }
        server.stop();
        await().atMost(ofSeconds(5)).until(() -> client.state() != ConnectionState.CONNECTED);
        io.netty.buffer.ByteBuf queued = io.netty.buffer.Unpooled.copiedBuffer("MSG 11\n", StandardCharsets.US_ASCII);
        CompletableFuture<Void> pending = client.send(queued);
        client.close();
        assertInstanceOf(ClientClosedException.class, failure(pending));
        assertEquals(0, queued.refCnt(), "released when failed");
    }

    @Test
    void hostNamesAreResolvedOnEachAttempt() {
        LineServer server = server(KEEPALIVE);
        ReconnectingClient client = started(client(InetSocketAddress.createUnresolved("localhost",
                server.address().getPort())));
        await().atMost(ofSeconds(5)).until(() -> client.state() == ConnectionState.CONNECTED);
        server.dropConnections();
        await().atMost(ofSeconds(5)).until(() -> count(ConnectionEvent.Type.CONNECTED) == 2);
        events.stream().filter(e -> e.type() == ConnectionEvent.Type.CONNECTING).forEach(e ->
                assertTrue(((InetSocketAddress) e.remote()).isUnresolved(), "the name, not a cached address"));
        assertEquals(2, server.accepted.get());
    }

    @Test
    void openCircuitBreakersStopDialingFailingEndpoints() throws Exception {
        io.github.resilience4j.circuitbreaker.CircuitBreakerConfig breaker =
                io.github.resilience4j.circuitbreaker.CircuitBreakerConfig.custom()
                        .slidingWindowSize(2).minimumNumberOfCalls(2).failureRateThreshold(50)
                        .waitDurationInOpenState(ofSeconds(30)).build();
        ReconnectingClient client = started(client(refusedPort(), refusedPort())
                .policy(ReconnectPolicy.builder().backoff(Backoff.fixed(ofMillis(20))).circuitBreaker(breaker)
                        .build()));
        await().atMost(ofSeconds(5)).until(() -> events.stream().anyMatch(e ->
                e.cause() instanceof io.github.resilience4j.circuitbreaker.CallNotPermittedException));
        long dials = count(ConnectionEvent.Type.CONNECTING);
        assertEquals(4, dials, "two failures per endpoint open its breaker");
        await().during(ofMillis(300)).atMost(ofSeconds(2)).until(() -> count(ConnectionEvent.Type.CONNECTING) == 4);
        assertEquals(ConnectionState.BACKING_OFF, client.state());
    }

    @Test
    void builderRefusesAMissingPipelineOrKeepaliveHandler() throws Exception {
        Bootstrap b = new Bootstrap().group(group).channel(NioSocketChannel.class);
        assertEquals("a pipeline initializer is required: call pipeline((ch, keepalive) -> ...)",
                assertThrows(IllegalStateException.class, () -> ReconnectingClient.builder(b)
                        .endpoint("localhost", 1).build()).getMessage());
        assertTrue(assertThrows(IllegalStateException.class, () -> ReconnectingClient.builder(
                new Bootstrap().group(group)).endpoint("localhost", 1).pipeline((ch, k) -> { }).build())
                .getMessage().startsWith("the bootstrap has no channel type: call bootstrap.channel("));
        assertTrue(assertThrows(IllegalStateException.class, () -> ReconnectingClient.builder(
                new Bootstrap().group(group).channel(NioSocketChannel.class).handler(new LineBasedFrameDecoder(1)))
                .endpoint("localhost", 1).pipeline((ch, k) -> { }).build())
                .getMessage().contains("the bootstrap already has a handler"));
        assertTrue(assertThrows(IllegalArgumentException.class, () -> ReconnectingClient.builder(
                new Bootstrap().channel(NioSocketChannel.class))).getMessage().startsWith("bootstrap must have its "
                + "event loop group set"));
        LineServer server = server(KEEPALIVE);
        ReconnectingClient client = started(ReconnectingClient.builder(b).endpoints(List.of(server.address()))
                .pipeline((Channel ch, dev.keepalive.netty.KeepaliveHandler k) -> { })
                .listener(events::add).policy(FAST)
                .policy(ReconnectPolicy.builder().maxAttempts(1).build()));
        await().atMost(ofSeconds(5)).until(() -> client.state() == ConnectionState.CLOSED);
        assertEquals(1, count(ConnectionEvent.Type.CONNECT_FAILED));
        assertTrue(String.valueOf(events.stream().filter(e -> e.type() == ConnectionEvent.Type.CONNECT_FAILED)
                .findFirst().orElseThrow().cause()).contains("did not add the KeepaliveHandler it is given"));
    }
}
