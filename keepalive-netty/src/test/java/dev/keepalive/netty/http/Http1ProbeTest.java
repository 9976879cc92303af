package dev.keepalive.netty.http;

import dev.keepalive.DeadPeerReason;
import dev.keepalive.KeepaliveListener;
import dev.keepalive.KeepaliveSettings;
import dev.keepalive.LivenessState;
import dev.keepalive.ManualTicker;
import dev.keepalive.PeerDeadException;
import dev.keepalive.netty.KeepaliveHandler;
import dev.keepalive.testsupport.EmbeddedTime;
import io.netty.buffer.ByteBuf;
import io.netty.buffer.Unpooled;
import io.netty.channel.ChannelFuture;
import io.netty.channel.embedded.EmbeddedChannel;
import io.netty.handler.codec.DecoderResult;
import io.netty.handler.codec.http.DefaultFullHttpRequest;
import io.netty.handler.codec.http.DefaultHttpContent;
import io.netty.handler.codec.http.DefaultHttpRequest;
import io.netty.handler.codec.http.DefaultHttpResponse;
import io.netty.handler.codec.http.DefaultLastHttpContent;
import io.netty.handler.codec.http.FullHttpRequest;
import io.netty.handler.codec.http.HttpContent;
import io.netty.handler.codec.http.HttpHeaderNames;
import io.netty.handler.codec.http.HttpHeaderValues;
import io.netty.handler.codec.http.HttpMethod;
import io.netty.handler.codec.http.HttpObject;
import io.netty.handler.codec.http.HttpRequest;
import io.netty.handler.codec.http.HttpResponse;
import io.netty.handler.codec.http.HttpResponseStatus;
import io.netty.handler.codec.http.HttpVersion;
import io.netty.handler.codec.http.LastHttpContent;
import io.netty.util.ReferenceCountUtil;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

import java.nio.channels.ClosedChannelException;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;

import static java.time.Duration.ofMillis;
import static java.time.Duration.ofSeconds;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertSame;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** The HTTP/1.1 probe on an {@link EmbeddedChannel} carrying HTTP objects, with exact time. */
class Http1ProbeTest {
    private static final Duration I = ofSeconds(10);
    private static final Duration T = ofSeconds(2);

    private final ManualTicker ticker = new ManualTicker(0);
    private final List<DeadPeerReason> deaths = new ArrayList<>();
    private final List<Duration> rtts = new ArrayList<>();
    private EmbeddedChannel ch;
    private EmbeddedTime time;
    private KeepaliveHandler handler;

    @AfterEach
    void releaseEverything() {
        if (ch != null) {
            ch.finishAndReleaseAll();
        }
    }

    private void start(Http1Probe probe) {
        handler = KeepaliveHandler.builder(KeepaliveSettings.builder().pingInterval(I).pingTimeout(T)
                        .pingsMissedBeforeDead(2).pingJitter(0).build())
                .probe(probe).ticker(ticker).random(() -> 0.0).listener(new KeepaliveListener() {
                    @Override
                    public void onPongReceived(java.net.SocketAddress remote, long pingId, Duration rtt) {
                        rtts.add(rtt);
                    }

                    @Override
                    public void onPeerDead(PeerDeadException cause) {
                        deaths.add(cause.reason());
                    }
                }).build();
        ch = new EmbeddedChannel();
        time = new EmbeddedTime(ticker, ch);
        ch.pipeline().addLast(handler);
        ch.pipeline().fireChannelReadComplete(); // the peer's first bytes: the connection has proven itself
    }

    private static HttpResponse response(HttpResponseStatus status) {
        return new DefaultHttpResponse(HttpVersion.HTTP_1_1, status);
    }

    private static FullHttpRequest appRequest(String path) {
        return new DefaultFullHttpRequest(HttpVersion.HTTP_1_1, HttpMethod.POST, path,
                Unpooled.copiedBuffer("body of " + path, StandardCharsets.US_ASCII));
    }

    /** Reads the probe request that went out, checks it, and releases it. */
    private FullHttpRequest readProbe() {
        Object out = ch.readOutbound();
        FullHttpRequest probe = assertInstanceOf(FullHttpRequest.class, out, "a probe request was written");
        probe.release();
        return probe;
    }

    private void answer(HttpObject... parts) {
        for (HttpObject part : parts) {
            ch.writeInbound(part);
        }
    }

    @Test
    void neverProbesInTheMiddleOfARequestBodyEvenAfterAnEarlyAnswer() {
        start(Http1Probe.create());
        HttpRequest head = new DefaultHttpRequest(HttpVersion.HTTP_1_1, HttpMethod.POST, "/upload");
        head.headers().set(HttpHeaderNames.TRANSFER_ENCODING, HttpHeaderValues.CHUNKED);
        ch.write(head);
        ch.writeAndFlush(new DefaultHttpContent(Unpooled.copiedBuffer("part 1", StandardCharsets.US_ASCII)));
        ReferenceCountUtil.release(ch.readOutbound());
        ReferenceCountUtil.release(ch.readOutbound());
        // The server answers early (413) and keeps the connection; the upload is still open.
        answer(response(HttpResponseStatus.REQUEST_ENTITY_TOO_LARGE), LastHttpContent.EMPTY_LAST_CONTENT);
        ReferenceCountUtil.release(ch.readInbound());
        ReferenceCountUtil.release(ch.readInbound());
        time.advance(I.plus(T).minus(ofMillis(1))); // the idle ping is due at I, but the request is open
        for (Object out = ch.readOutbound(); out != null; out = ch.readOutbound()) {
            boolean isProbe = out instanceof HttpRequest;
            ReferenceCountUtil.release(out);
            assertFalse(isProbe, "no probe request between the chunks of an open request");
        }
        ch.writeAndFlush(new DefaultLastHttpContent());
        ReferenceCountUtil.release(ch.readOutbound());
        assertEquals(0, handler.stats().pingsSent(), "pings the protocol could not carry are not counted as sent");
        time.advance(ofMillis(2)); // the retry after the missed (skipped) ping: now it may go out
        assertEquals(HttpMethod.HEAD, readProbe().method());
        assertEquals(1, handler.stats().pingsSent());
        assertTrue(ch.isOpen());
    }

    @Test
    void probesAnIdleConnectionWithHeadSlashAndSwallowsTheResponse() {
        start(Http1Probe.create());
        time.advance(I.minusNanos(1));
        assertNull(ch.readOutbound());
        time.advance(Duration.ofNanos(1));
        FullHttpRequest probe = readProbe();
        assertEquals(HttpMethod.HEAD, probe.method());
        assertEquals("/", probe.uri());
        assertEquals(HttpVersion.HTTP_1_1, probe.protocolVersion());
        assertTrue(probe.headers().contains(HttpHeaderNames.HOST), "HTTP/1.1 requires Host");
        time.advance(ofMillis(7));
        answer(response(HttpResponseStatus.NOT_FOUND), new DefaultLastHttpContent(
                Unpooled.copiedBuffer("no such resource", StandardCharsets.US_ASCII)));
        assertNull(ch.readInbound(), "the probe's response never reaches the application");
        assertEquals(List.of(ofMillis(7)), rtts, "any complete response is the pong, whatever its status");
        assertEquals(LivenessState.WATCHING, handler.stats().state());
        time.advance(I);
        readProbe();
        assertTrue(ch.isOpen());
    }

    @Test
    void sendsNoProbeWhileARequestIsInFlightAndItsResponseAnswers() {
        start(Http1Probe.create());
        time.advance(ofSeconds(1));
        ch.writeAndFlush(appRequest("/slow"));
        ReferenceCountUtil.release(ch.readOutbound());
        time.advance(I);
        assertNull(ch.readOutbound(), "no probe interleaves with a request in flight");
        assertEquals(LivenessState.PING_OUTSTANDING, handler.stats().state(), "the response is the probe");
        answer(response(HttpResponseStatus.OK), LastHttpContent.EMPTY_LAST_CONTENT);
        assertInstanceOf(HttpResponse.class, ch.readInbound(), "application responses pass");
        assertSame(LastHttpContent.EMPTY_LAST_CONTENT, ch.readInbound());
        time.advance(T);
        assertEquals(LivenessState.WATCHING, handler.stats().state());
        time.advance(I);
        assertEquals(HttpMethod.HEAD, readProbe().method(), "idle again: probed");
    }

    @Test
    void aServerSilentThroughARequestIsDeadAtTheBound() {
        start(Http1Probe.create());
        ch.writeAndFlush(appRequest("/hangs"));
        ReferenceCountUtil.release(ch.readOutbound());
        time.advance(I.plus(T).plus(T));
        assertFalse(ch.isOpen());
        assertEquals(List.of(DeadPeerReason.PING_TIMEOUT), deaths);
        assertThrows(PeerDeadException.class, ch::checkException);
    }

    @Test
    void aRequestWrittenDuringAProbeWaitsForItsResponseAndKeepsItsOrder() {
        start(Http1Probe.create());
        time.advance(I);
        readProbe();
        HttpRequest head = new DefaultHttpRequest(HttpVersion.HTTP_1_1, HttpMethod.PUT, "/upload");
        head.headers().set(HttpHeaderNames.TRANSFER_ENCODING, HttpHeaderValues.CHUNKED);
        HttpContent chunk = new DefaultHttpContent(Unpooled.copiedBuffer("chunk", StandardCharsets.US_ASCII));
        LastHttpContent last = new DefaultLastHttpContent();
        ChannelFuture f1 = ch.write(head);
        ChannelFuture f2 = ch.write(chunk);
        ChannelFuture f3 = ch.writeAndFlush(last);
        assertNull(ch.readOutbound(), "held while the probe is in flight");
        assertFalse(f1.isDone());
        answer(response(HttpResponseStatus.OK), LastHttpContent.EMPTY_LAST_CONTENT);
        assertSame(head, ch.readOutbound());
        assertSame(chunk, ch.readOutbound());
        assertSame(last, ch.readOutbound());
        chunk.release();
        assertTrue(f1.isSuccess() && f2.isSuccess() && f3.isSuccess());
        assertNull(ch.readInbound(), "the probe's response was swallowed");
        time.advance(I);
        assertNull(ch.readOutbound(), "the released request is in flight: no probe");
        answer(response(HttpResponseStatus.CREATED), LastHttpContent.EMPTY_LAST_CONTENT);
        assertEquals(HttpResponseStatus.CREATED, ((HttpResponse) ch.readInbound()).status());
        ch.readInbound();
    }

    @Test
    void aHeldRequestFailsWithTheDeadPeerCauseWhenTheProbeIsNeverAnswered() {
        start(Http1Probe.create());
        time.advance(I);
        readProbe();
        FullHttpRequest request = appRequest("/orders");
        ChannelFuture write = ch.writeAndFlush(request);
        time.advance(T.plus(T));
        assertFalse(ch.isOpen());
        PeerDeadException cause = assertInstanceOf(PeerDeadException.class, write.cause());
        assertEquals(DeadPeerReason.PING_TIMEOUT, cause.reason());
        assertEquals(0, request.refCnt(), "released");
        assertNull(ch.readOutbound(), "never sent, so safe to retry");
        assertThrows(PeerDeadException.class, ch::checkException);
    }

    @Test
    void connectionCloseOnTheProbeResponseRetiresTheConnectionCleanly() {
        start(Http1Probe.create());
        time.advance(I);
        readProbe();
        ChannelFuture write = ch.writeAndFlush(appRequest("/next"));
        HttpResponse closing = response(HttpResponseStatus.OK);
        closing.headers().set(HttpHeaderNames.CONNECTION, HttpHeaderValues.CLOSE);
        answer(closing, LastHttpContent.EMPTY_LAST_CONTENT);
        assertFalse(ch.isOpen(), "retired");
        assertEquals(List.of(), deaths, "a retired connection is no dead peer");
        ClosedChannelException cause = assertInstanceOf(ClosedChannelException.class, write.cause());
        assertTrue(cause.getCause().getMessage().contains("Connection: close"), cause.getCause().getMessage());
        assertNull(ch.readOutbound());
        assertNull(ch.readInbound());
    }

    @Test
    void connectionCloseOnAnApplicationResponseStopsProbingAndTheCloseIsNoDeadPeer() {
        start(Http1Probe.create());
        ch.writeAndFlush(appRequest("/last"));
        ReferenceCountUtil.release(ch.readOutbound());
        HttpResponse closing = response(HttpResponseStatus.OK);
        closing.headers().set(HttpHeaderNames.CONNECTION, HttpHeaderValues.CLOSE);
        answer(closing, LastHttpContent.EMPTY_LAST_CONTENT);
        assertSame(closing, ch.readInbound());
        ch.readInbound();
        time.advance(I);
        assertNull(ch.readOutbound(), "not probed: the server will close it");
        ch.pipeline().fireChannelInactive();
        assertEquals(List.of(), deaths, "the server had announced its close");
    }

    @Test
    void anUnannouncedCloseIsClosedByPeer() {
        start(Http1Probe.create());
        time.advance(I);
        readProbe();
        ChannelFuture write = ch.writeAndFlush(appRequest("/x"));
        ch.unsafe().recvBufAllocHandle().lastBytesRead(-1); // the read found the end of the stream
        ch.pipeline().fireChannelInactive();
        assertEquals(List.of(DeadPeerReason.CLOSED_BY_PEER), deaths);
        assertEquals(DeadPeerReason.CLOSED_BY_PEER,
                assertInstanceOf(PeerDeadException.class, write.cause()).reason());
    }

    @Test
    void interimResponsesDoNotEndTheProbe() {
        start(Http1Probe.create());
        time.advance(I);
        readProbe();
        ChannelFuture write = ch.writeAndFlush(appRequest("/after"));
        answer(response(HttpResponseStatus.CONTINUE), LastHttpContent.EMPTY_LAST_CONTENT);
        assertFalse(write.isDone(), "a 100 Continue does not end the probe's exchange");
        answer(response(HttpResponseStatus.NO_CONTENT), LastHttpContent.EMPTY_LAST_CONTENT);
        assertTrue(write.isSuccess());
        ReferenceCountUtil.release(ch.readOutbound());
        assertNull(ch.readInbound());
    }

    @Test
    void anUndecodableProbeResponseRetiresTheConnection() {
        start(Http1Probe.create());
        time.advance(I);
        readProbe();
        HttpResponse bad = response(HttpResponseStatus.OK);
        bad.setDecoderResult(DecoderResult.failure(new IllegalArgumentException("invalid header")));
        answer(bad);
        assertFalse(ch.isOpen());
        assertEquals(1, handler.stats().malformedProbeFrames());
        assertEquals(List.of(), deaths);
    }

    @Test
    void idleEvictionRetiresAnIdleConnectionInsteadOfProbingIt() {
        start(Http1Probe.builder().idleEviction(true).build());
        ch.writeAndFlush(appRequest("/a"));
        ReferenceCountUtil.release(ch.readOutbound());
        time.advance(I);
        assertTrue(ch.isOpen(), "never evicted with a request in flight");
        answer(response(HttpResponseStatus.OK), LastHttpContent.EMPTY_LAST_CONTENT);
        ch.readInbound();
        ch.readInbound();
        time.advance(I.minusNanos(1));
        assertTrue(ch.isOpen());
        time.advance(I);
        assertFalse(ch.isOpen(), "retired after the ping interval of idleness");
        assertNull(ch.readOutbound(), "without a probe");
        assertEquals(List.of(), deaths);
    }

    @Test
    void headAndGetProbesCarryTheConfiguredHostAndHeadersAndSwallowTheBody() {
        start(Http1Probe.builder().get("/health").host("api.example.com").header("User-Agent", "keepalive")
                .build());
        time.advance(I);
        FullHttpRequest probe = readProbe();
        assertEquals(HttpMethod.GET, probe.method());
        assertEquals("/health", probe.uri());
        assertEquals("api.example.com", probe.headers().get(HttpHeaderNames.HOST));
        assertEquals("keepalive", probe.headers().get(HttpHeaderNames.USER_AGENT));
        ByteBuf body = Unpooled.copiedBuffer("{\"status\":\"UP\"}", StandardCharsets.US_ASCII);
        answer(response(HttpResponseStatus.OK), new DefaultHttpContent(body), LastHttpContent.EMPTY_LAST_CONTENT);
        assertNull(ch.readInbound());
        assertEquals(0, body.refCnt(), "released");
        assertEquals(1, handler.stats().pongsReceived());

        Http1Probe head = Http1Probe.builder().head("/ping").build();
        assertEquals(HttpMethod.HEAD, head.method());
        assertEquals("Http1Probe(HEAD /ping)", head.toString());
        assertEquals("Http1Probe(OPTIONS *)", Http1Probe.builder().head("/x").options().build().toString());
    }

    @Test
    void builderRejectsBadValuesNamingThem() {
        assertEquals("get path must start with / and hold no spaces, control or non-ASCII characters, but was "
                + "\"health\"", assertThrows(IllegalArgumentException.class,
                () -> Http1Probe.builder().get("health")).getMessage());
        assertEquals("head path must start with / and hold no spaces, control or non-ASCII characters, but was "
                + "\"/a b\"", assertThrows(IllegalArgumentException.class,
                () -> Http1Probe.builder().head("/a b")).getMessage());
        assertEquals("host must not be blank, but was \" \"", assertThrows(IllegalArgumentException.class,
                () -> Http1Probe.builder().host(" ")).getMessage());
        assertEquals("header name must not be Host (use host(String)), but was host",
                assertThrows(IllegalArgumentException.class,
                        () -> Http1Probe.builder().header("host", "x")).getMessage());
    }
}
