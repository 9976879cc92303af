package dev.keepalive.netty.http;

import dev.keepalive.DeadPeerReason;
import dev.keepalive.KeepaliveListener;
import dev.keepalive.KeepaliveSettings;
import dev.keepalive.PeerDeadException;
import dev.keepalive.netty.KeepaliveHandler;
import dev.keepalive.testsupport.Transport;
import io.netty.bootstrap.Bootstrap;
import io.netty.buffer.Unpooled;
import io.netty.channel.Channel;
import io.netty.channel.ChannelFuture;
import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.ChannelInitializer;
import io.netty.channel.ChannelOption;
import io.netty.channel.EventLoopGroup;
import io.netty.channel.SimpleChannelInboundHandler;
import io.netty.channel.socket.SocketChannel;
import io.netty.handler.codec.http.DefaultFullHttpRequest;
import io.netty.handler.codec.http.FullHttpRequest;
import io.netty.handler.codec.http.FullHttpResponse;
import io.netty.handler.codec.http.HttpClientCodec;
import io.netty.handler.codec.http.HttpHeaderNames;
import io.netty.handler.codec.http.HttpMethod;
import io.netty.handler.codec.http.HttpObjectAggregator;
import io.netty.handler.codec.http.HttpUtil;
import io.netty.handler.codec.http.HttpVersion;
import io.netty.util.Version;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.mockserver.configuration.Configuration;
import org.mockserver.integration.ClientAndServer;
import org.mockserver.model.HttpError;
import org.mockserver.model.HttpRequest;
import org.slf4j.event.Level;

import java.net.InetSocketAddress;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicLong;
import java.util.concurrent.atomic.AtomicReference;

import static java.time.Duration.ofMillis;
import static java.time.Duration.ofSeconds;
import static org.awaitility.Awaitility.await;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.mockserver.model.HttpRequest.request;
import static org.mockserver.model.HttpResponse.response;

/**
 * The HTTP/1.1 probe on a pooled-style client connection to a MockServer started in this JVM on loopback, which
 * answers, delays or drops the probe as each test sets it up.
 */
class Http1ProbeMockServerTest {
    /** Lateness allowed on top of a configured bound on a loaded two-core machine. */
    private static final Duration TOLERANCE = ofMillis(400);
    private static final Duration I = ofMillis(300);
    private static final Duration T = ofMillis(300);

    private static ClientAndServer mockServer;
    private static EventLoopGroup group;
    private final List<Channel> channels = new ArrayList<>();

    @BeforeAll
    static void startMockServer() {
        mockServer = ClientAndServer.startClientAndServer(Configuration.configuration()
                .localBoundIP("127.0.0.1").logLevel(Level.WARN).nioEventLoopThreadCount(2)
                .actionHandlerThreadCount(2).metricsEnabled(false), 0);
        group = Transport.NIO.newGroup(1);
    }

    @AfterAll
    static void stopMockServer() {
        if (mockServer != null) {
            mockServer.stop();
        }
        if (group != null) {
            group.shutdownGracefully(0, 2, TimeUnit.SECONDS).awaitUninterruptibly(10, TimeUnit.SECONDS);
        }
    }

    @BeforeEach
    void resetExpectations() {
        mockServer.reset();
    }

    @AfterEach
    void closeClients() {
        for (Channel ch : channels) {
            ch.close().awaitUninterruptibly(5, TimeUnit.SECONDS);
        }
    }

    private static KeepaliveSettings settings(Duration interval, Duration timeout) {
        return KeepaliveSettings.builder().pingInterval(interval).pingTimeout(timeout).pingsMissedBeforeDead(1)
                .pingJitter(0).build();
    }

    /** Records the client's keepalive events and the responses its application receives. */
    static final class Events implements KeepaliveListener {
        final CompletableFuture<PeerDeadException> death = new CompletableFuture<>();
        final AtomicLong pongs = new AtomicLong();
        final AtomicReference<Runnable> onPingSent = new AtomicReference<>();
        final List<String> responses = new CopyOnWriteArrayList<>();
        volatile long deadAt;

        @Override
        public void onPingSent(java.net.SocketAddress remote, long pingId) {
            Runnable r = onPingSent.getAndSet(null);
            if (r != null) {
                r.run();
            }
        }

        @Override
        public void onPongReceived(java.net.SocketAddress remote, long pingId, Duration rtt) {
            pongs.incrementAndGet();
        }

        @Override
        public void onPeerDead(PeerDeadException e) {
            deadAt = System.nanoTime();
            death.complete(e);
        }
    }

    private Channel connect(KeepaliveSettings settings, Events events) {
        KeepaliveHandler.Builder keepalive = KeepaliveHandler.builder(settings).probe(Http1Probe.create())
                .listener(events);
        Channel ch = new Bootstrap().group(group).channel(Transport.NIO.socket())
                .option(ChannelOption.CONNECT_TIMEOUT_MILLIS, 5000)
                .handler(new ChannelInitializer<SocketChannel>() {
                    @Override
                    protected void initChannel(SocketChannel c) {
                        c.pipeline().addLast(new HttpClientCodec(), keepalive.build(),
                                new HttpObjectAggregator(1 << 16),
                                new SimpleChannelInboundHandler<FullHttpResponse>() {
                                    @Override
                                    protected void channelRead0(ChannelHandlerContext ctx, FullHttpResponse r) {
                                        events.responses.add(r.status().code() + " "
                                                + r.content().toString(StandardCharsets.UTF_8));
                                    }
                                });
                    }
                })
                .connect(new InetSocketAddress("127.0.0.1", mockServer.getLocalPort())).syncUninterruptibly()
                .channel();
        channels.add(ch);
        return ch;
    }

    private static FullHttpRequest post(String path, String body) {
        FullHttpRequest r = new DefaultFullHttpRequest(HttpVersion.HTTP_1_1, HttpMethod.POST, path,
                Unpooled.copiedBuffer(body, StandardCharsets.UTF_8));
        r.headers().set(HttpHeaderNames.HOST, "127.0.0.1").set(HttpHeaderNames.CONTENT_TYPE, "text/plain");
        HttpUtil.setContentLength(r, r.content().readableBytes());
        return r;
    }

    private static HttpRequest[] recorded(String method) {
        return mockServer.retrieveRecordedRequests(request().withMethod(method));
    }

    @Test
    void runsOnTheProjectsNettyVersion() {
        String expected = System.getProperty("keepalive.netty.version");
        assertTrue(expected != null && expected.startsWith("4.2."), "set by the POM: " + expected);
        Version.identify().forEach((artifact, version) -> {
            if (!artifact.startsWith("netty-tcnative") && !artifact.startsWith("netty-jni-util")) {
                assertEquals(expected, version.artifactVersion(), artifact + " on the test class path");
            }
        });
    }

    @Test
    void aServerThatAnswersKeepsTheIdleConnectionAlive() throws Exception {
        mockServer.when(request().withMethod("GET").withPath("/hello")).respond(response().withBody("hi"));
        Events events = new Events();
        Channel ch = connect(settings(I, T), events);
        // No expectation for the probe: MockServer answers 404, which is as good a pong as any.
        await().atMost(ofSeconds(15)).until(() -> events.pongs.get() >= 4);
        assertTrue(ch.isOpen());
        assertFalse(events.death.isDone());
        assertEquals(List.of(), events.responses, "the application saw none of the probe's responses");
        HttpRequest[] probes = recorded("HEAD");
        assertTrue(probes.length >= 4, "probes reached the server: " + probes.length);
        String clientPort = ":" + ((InetSocketAddress) ch.localAddress()).getPort();
        for (HttpRequest probe : probes) {
            assertTrue(probe.getRemoteAddress() == null || probe.getRemoteAddress().endsWith(clientPort),
                    "all probes on the one pooled connection: " + probe.getRemoteAddress());
        }
        FullHttpRequest get = new DefaultFullHttpRequest(HttpVersion.HTTP_1_1, HttpMethod.GET, "/hello");
        get.headers().set(HttpHeaderNames.HOST, "127.0.0.1");
        ch.writeAndFlush(get).sync();
        await().atMost(ofSeconds(5)).until(() -> events.responses.contains("200 hi"));
        assertEquals(List.of("200 hi"), events.responses);
    }

    @Test
    void aServerWhoseAnswerComesAfterThePingTimeoutIsDead() throws Exception {
        mockServer.when(request().withMethod("HEAD")).respond(response().withDelay(TimeUnit.SECONDS, 5));
        Events events = new Events();
        long before = System.nanoTime();
        // The probe is the first thing on this connection: a server that never answered it has proven nothing.
        KeepaliveSettings settings = settings(I, T).toBuilder()
                .firstResponseTimeout(settings(I, T).idleDetectionBound()).build();
        Channel ch = connect(settings, events);
        PeerDeadException e = events.death.get(10, TimeUnit.SECONDS);
        assertEquals(DeadPeerReason.FIRST_RESPONSE_TIMEOUT, e.reason());
        Duration took = Duration.ofNanos(events.deadAt - before);
        Duration bound = settings(I, T).idleDetectionBound();
        assertTrue(took.compareTo(bound.minus(ofMillis(20))) >= 0, "not before the bound: " + took);
        assertTrue(took.compareTo(bound.plus(TOLERANCE)) <= 0, "within " + bound + " + " + TOLERANCE + ": " + took);
        await().atMost(ofSeconds(5)).until(() -> !ch.isOpen());
        assertEquals(1, recorded("HEAD").length, "one probe, answered too late");
    }

    @Test
    void aServerThatDropsTheConnectionIsClosedByPeer() throws Exception {
        mockServer.when(request().withMethod("HEAD")).error(HttpError.error().withDropConnection(true));
        Events events = new Events();
        Channel ch = connect(settings(I, ofSeconds(5)), events);
        PeerDeadException e = events.death.get(10, TimeUnit.SECONDS);
        assertEquals(DeadPeerReason.CLOSED_BY_PEER, e.reason());
        assertTrue(e.sinceLastInbound().compareTo(I.plus(TOLERANCE)) <= 0, "dropped at the first probe: " + e);
        assertEquals(1, recorded("HEAD").length);
        await().atMost(ofSeconds(5)).until(() -> !ch.isOpen());
    }

    @Test
    void aRequestWrittenWhileTheProbeIsInFlightArrivesIntactAndInOrder() throws Exception {
        // The probe's answer takes 400 ms (within the 2 s timeout); the application writes during it.
        mockServer.when(request().withMethod("HEAD")).respond(response().withDelay(TimeUnit.MILLISECONDS, 400));
        mockServer.when(request().withMethod("POST").withPath("/orders"))
                .respond(response().withStatusCode(201).withBody("created"));
        Events events = new Events();
        CompletableFuture<ChannelFuture> write = new CompletableFuture<>();
        AtomicReference<Channel> channel = new AtomicReference<>();
        String body = "{\"order\":42,\"items\":[" + "\"x\",".repeat(2000) + "\"y\"]}";
        events.onPingSent.set(() -> channel.get().eventLoop().execute(
                () -> write.complete(channel.get().writeAndFlush(post("/orders", body)))));
        channel.set(connect(settings(I, ofSeconds(2)), events));
        ChannelFuture written = write.get(10, TimeUnit.SECONDS);
        await().atMost(ofSeconds(10)).until(() -> events.responses.contains("201 created"));
        assertTrue(written.isSuccess());
        assertEquals(List.of("201 created"), events.responses, "only the application's response reached it");
        HttpRequest[] all = mockServer.retrieveRecordedRequests(request());
        assertTrue(all.length >= 2, Arrays.toString(all));
        assertEquals("HEAD", all[0].getMethod().getValue(), "the probe first");
        assertEquals("POST", all[1].getMethod().getValue(), "then the held request");
        assertEquals("/orders", all[1].getPath().getValue());
        assertEquals(body, all[1].getBodyAsString(), "intact");
        assertTrue(events.pongs.get() >= 1);
        assertFalse(events.death.isDone());
    }
}
