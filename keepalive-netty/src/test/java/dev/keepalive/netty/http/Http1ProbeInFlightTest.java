package dev.keepalive.netty.http;

import ch.qos.logback.classic.Level;
import ch.qos.logback.classic.Logger;
import ch.qos.logback.classic.spi.ILoggingEvent;
import ch.qos.logback.core.read.ListAppender;
import dev.keepalive.DeadPeerReason;
import dev.keepalive.KeepaliveListener;
import dev.keepalive.KeepaliveSettings;
import dev.keepalive.ManualTicker;
import dev.keepalive.PeerDeadException;
import dev.keepalive.netty.KeepaliveHandler;
import dev.keepalive.testsupport.EmbeddedTime;
import io.netty.buffer.ByteBuf;
import io.netty.buffer.Unpooled;
import io.netty.channel.ChannelFuture;
import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.ChannelInboundHandlerAdapter;
import io.netty.channel.embedded.EmbeddedChannel;
import io.netty.handler.codec.http.DefaultFullHttpRequest;
import io.netty.handler.codec.http.DefaultHttpResponse;
import io.netty.handler.codec.http.DefaultLastHttpContent;
import io.netty.handler.codec.http.FullHttpRequest;
import io.netty.handler.codec.http.HttpHeaderNames;
import io.netty.handler.codec.http.HttpHeaderValues;
import io.netty.handler.codec.http.HttpMethod;
import io.netty.handler.codec.http.HttpObject;
import io.netty.handler.codec.http.HttpResponse;
import io.netty.handler.codec.http.HttpResponseStatus;
import io.netty.handler.codec.http.HttpVersion;
import io.netty.handler.codec.http.LastHttpContent;
import io.netty.util.ReferenceCountUtil;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.slf4j.LoggerFactory;

import java.net.SocketAddress;
import java.nio.channels.ClosedChannelException;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.stream.Collectors;

import static java.time.Duration.ofMillis;
import static java.time.Duration.ofSeconds;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertSame;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * The HTTP/1.1 probe while something is in flight: the response allowance of a request, upgrades, held writes,
 * the server's treatment of the probe, and removal of the handler. {@link EmbeddedChannel} carrying HTTP objects,
 * with exact time.
 */
class Http1ProbeInFlightTest {
    private static final Duration I = ofSeconds(10);
    private static final Duration T = ofSeconds(2);
    /** pingInterval + 2 x pingTimeout. */
    private static final Duration BOUND = I.plus(T).plus(T);

    private final ManualTicker ticker = new ManualTicker(0);
    private final List<DeadPeerReason> deaths = new ArrayList<>();
    private final List<String> retirements = new ArrayList<>();
    private EmbeddedChannel ch;
    private EmbeddedTime time;
    private KeepaliveHandler handler;
    private ListAppender<ILoggingEvent> logs;

    @AfterEach
    void releaseEverything() {
        if (ch != null) {
            ch.finishAndReleaseAll();
        }
        if (logs != null) {
            ((Logger) LoggerFactory.getLogger(Http1Probe.class)).detachAppender(logs);
        }
    }

    private void start(Http1Probe probe, KeepaliveSettings.Builder settings) {
        handler = KeepaliveHandler.builder(settings.pingInterval(I).pingTimeout(T).pingsMissedBeforeDead(2)
                        .pingJitter(0).build())
                .probe(probe).ticker(ticker).random(() -> 0.0).listener(new KeepaliveListener() {
                    @Override
                    public void onPeerDead(PeerDeadException cause) {
                        deaths.add(cause.reason());
                    }

                    @Override
                    public void onPeerRetired(SocketAddress remote, String how) {
                        retirements.add(how);
                    }
                }).build();
        ch = new EmbeddedChannel();
        time = new EmbeddedTime(ticker, ch);
        ch.pipeline().addLast("codec", new ChannelInboundHandlerAdapter()); // stands where HttpClientCodec is
        ch.pipeline().addLast("keepalive", handler);
    }

    private void start() {
        start(Http1Probe.create(), KeepaliveSettings.builder());
    }

    private static HttpResponse response(HttpResponseStatus status) {
        return new DefaultHttpResponse(HttpVersion.HTTP_1_1, status);
    }

    private static FullHttpRequest appRequest(String path, int bodyBytes) {
        return new DefaultFullHttpRequest(HttpVersion.HTTP_1_1, HttpMethod.POST, path,
                Unpooled.wrappedBuffer(new byte[bodyBytes]));
    }

    private void answer(HttpObject... parts) {
        for (HttpObject part : parts) {
            ch.writeInbound(part);
        }
    }

    private void sendRequest(String path) {
        ch.writeAndFlush(appRequest(path, 16));
        ReferenceCountUtil.release(ch.readOutbound());
    }

    private FullHttpRequest readProbe() {
        FullHttpRequest probe = assertInstanceOf(FullHttpRequest.class, ch.readOutbound(), "a probe went out");
        probe.release();
        return probe;
    }

    private ListAppender<ILoggingEvent> captureLogs() {
        logs = new ListAppender<>();
        logs.start();
        ((Logger) LoggerFactory.getLogger(Http1Probe.class)).addAppender(logs);
        return logs;
    }

    private List<String> warnings() {
        return logs.list.stream().filter(e -> e.getLevel() == Level.WARN).map(ILoggingEvent::getFormattedMessage)
                .collect(Collectors.toList());
    }

    // ---- the response allowance ----------------------------------------------------------------------------

    @Test
    void aSlowResponseGetsTheFullBoundFromItsRequestNotFromTheLastInboundByte() {
        start();
        time.advance(ofSeconds(9)); // idle; the idle ping would be due at 10 s
        sendRequest("/slow");
        time.advance(BOUND.minus(ofMillis(100))); // the response is slow: 13.9 s
        assertEquals(List.of(), deaths, "a response within the bound from its request is not late");
        assertTrue(ch.isOpen());
        assertNull(ch.readOutbound(), "and no probe interleaved with the request");
        answer(response(HttpResponseStatus.OK), LastHttpContent.EMPTY_LAST_CONTENT);
        assertInstanceOf(HttpResponse.class, ch.readInbound());
        assertSame(LastHttpContent.EMPTY_LAST_CONTENT, ch.readInbound());
        assertEquals(0, handler.stats().pingsSent());
    }

    @Test
    void aServerSilentAfterALateRequestIsDeadExactlyAtTheBoundFromTheRequest() {
        start();
        sendRequest("/first"); // the server has answered once: proven alive, then quiet from 0 s
        answer(response(HttpResponseStatus.OK), LastHttpContent.EMPTY_LAST_CONTENT);
        ch.readInbound();
        ch.readInbound();
        time.advance(ofSeconds(9));
        sendRequest("/hangs");
        time.advance(BOUND.minusNanos(1));
        assertEquals(List.of(), deaths);
        time.advance(Duration.ofNanos(1));
        assertEquals(List.of(DeadPeerReason.PING_TIMEOUT), deaths, "dead at request + bound, not later");
        assertFalse(ch.isOpen());
        assertThrows(PeerDeadException.class, ch::checkException);
    }

    @Test
    void aResponseThatTricklesGetsTheBoundAgainFromEachByte() {
        start();
        sendRequest("/stream");
        time.advance(BOUND.minus(ofSeconds(1)));
        answer(response(HttpResponseStatus.OK)); // the head, then nothing for a while
        ReferenceCountUtil.release(ch.readInbound());
        time.advance(BOUND.minusNanos(1));
        assertEquals(List.of(), deaths, "the bound runs again from the last byte of the response");
        time.advance(Duration.ofNanos(1));
        assertEquals(List.of(DeadPeerReason.PING_TIMEOUT), deaths, "and not longer");
        assertThrows(PeerDeadException.class, ch::checkException);
    }

    // ---- upgrades ------------------------------------------------------------------------------------------

    @Test
    void afterAnUpgradeNoProbeGoesOutAndNoPingTimeoutComesWithoutAPingSent() {
        start();
        FullHttpRequest upgrade = new DefaultFullHttpRequest(HttpVersion.HTTP_1_1, HttpMethod.GET, "/chat");
        upgrade.headers().set(HttpHeaderNames.UPGRADE, HttpHeaderValues.WEBSOCKET)
                .set(HttpHeaderNames.CONNECTION, HttpHeaderValues.UPGRADE);
        ch.writeAndFlush(upgrade);
        ReferenceCountUtil.release(ch.readOutbound());
        answer(response(HttpResponseStatus.SWITCHING_PROTOCOLS), LastHttpContent.EMPTY_LAST_CONTENT);
        ch.readInbound();
        ch.readInbound();
        ch.writeInbound(Unpooled.copiedBuffer("frames of the new protocol", StandardCharsets.US_ASCII));
        ReferenceCountUtil.release(ch.readInbound());
        time.advance(BOUND.multipliedBy(10));
        assertNull(ch.readOutbound(), "no HTTP/1.1 probe on a connection that speaks another protocol");
        assertEquals(List.of(), deaths, "no PING_TIMEOUT for pings that could never be sent");
        assertEquals(0, handler.stats().pingsSent());
        assertTrue(ch.isOpen());
    }

    @Test
    void afterAnUpgradeReadIdleStillFindsASilentPeer() {
        start(Http1Probe.create(), KeepaliveSettings.builder().readIdleTimeout(ofSeconds(40)));
        ch.writeAndFlush(new DefaultFullHttpRequest(HttpVersion.HTTP_1_1, HttpMethod.GET, "/chat"));
        ReferenceCountUtil.release(ch.readOutbound());
        answer(response(HttpResponseStatus.SWITCHING_PROTOCOLS), LastHttpContent.EMPTY_LAST_CONTENT);
        ch.readInbound();
        ch.readInbound();
        time.advance(ofSeconds(60));
        assertEquals(List.of(DeadPeerReason.READ_IDLE), deaths);
        assertThrows(PeerDeadException.class, ch::checkException);
    }

    // ---- held writes ---------------------------------------------------------------------------------------

    @Test
    void heldWritesCountTowardsWritability() {
        start();
        time.advance(I);
        readProbe();
        assertTrue(ch.isWritable());
        FullHttpRequest big = appRequest("/upload", 256 * 1024); // past the default 64 KiB high water mark
        ChannelFuture write = ch.writeAndFlush(big);
        assertFalse(write.isDone(), "held while the probe is in flight");
        assertFalse(ch.isWritable(), "the held bytes count towards the high water mark");
        answer(response(HttpResponseStatus.OK), LastHttpContent.EMPTY_LAST_CONTENT);
        assertTrue(write.isSuccess());
        assertSame(big, ch.readOutbound());
        big.release();
        assertTrue(ch.isWritable(), "sent on: writable again");
    }

    @Test
    void aWriteRacingALocalCloseIsNeverHeldAndIsReleased() {
        start();
        time.advance(I);
        readProbe();
        FullHttpRequest late = appRequest("/late", 16);
        ChannelFuture[] write = new ChannelFuture[1];
        // The application writes while the channel goes inactive, after the keepalive handler has ended its probe.
        ch.pipeline().addLast(new ChannelInboundHandlerAdapter() {
            @Override
            public void channelInactive(ChannelHandlerContext ctx) {
                write[0] = ctx.channel().writeAndFlush(late);
                ctx.fireChannelInactive();
            }
        });
        ch.close();
        assertTrue(write[0].isDone(), "failed at once, not held for a probe response that never comes");
        assertInstanceOf(ClosedChannelException.class, write[0].cause());
        assertEquals(0, late.refCnt(), "released");
    }

    @Test
    void aWriteHeldWhenTheChannelClosesLocallyFailsAndIsReleased() {
        start();
        time.advance(I);
        readProbe();
        FullHttpRequest held = appRequest("/held", 16);
        ChannelFuture write = ch.writeAndFlush(held);
        ch.close();
        assertInstanceOf(ClosedChannelException.class, write.cause());
        assertEquals(0, held.refCnt());
    }

    // ---- how the server treats the probe -------------------------------------------------------------------

    @Test
    void aProbeRejectedWith4xxIsStillAPongAndWarnsOncePerConnection() {
        captureLogs();
        start();
        for (int i = 0; i < 3; i++) {
            time.advance(I);
            readProbe();
            answer(response(HttpResponseStatus.METHOD_NOT_ALLOWED), LastHttpContent.EMPTY_LAST_CONTENT);
        }
        assertEquals(3, handler.stats().pongsReceived(), "any answer proves the server alive");
        List<String> warnings = warnings();
        assertEquals(1, warnings.size(), "once per connection: " + warnings);
        assertTrue(warnings.get(0).contains("HEAD /") && warnings.get(0).contains("405"), warnings.get(0));
        assertTrue(warnings.get(0).contains("head(\"/health\")"), "says what to do: " + warnings.get(0));
        assertNull(ch.readInbound());
    }

    @Test
    void aProbeAnswered200DoesNotWarn() {
        captureLogs();
        start();
        time.advance(I);
        readProbe();
        answer(response(HttpResponseStatus.OK), LastHttpContent.EMPTY_LAST_CONTENT);
        assertEquals(List.of(), warnings());
    }

    @Test
    void aServerThatClosesOnTheProbeWarnsAndIsClosedByPeer() {
        captureLogs();
        start();
        time.advance(I);
        readProbe();
        // The server's FIN: the read that finds the end of the stream, then the transport's close.
        ch.unsafe().recvBufAllocHandle().lastBytesRead(-1);
        ch.pipeline().fireChannelReadComplete();
        ch.unsafe().close(ch.voidPromise());
        assertEquals(List.of(DeadPeerReason.CLOSED_BY_PEER), deaths, "a close with the probe in flight");
        assertEquals(List.of(), retirements);
        assertEquals(1, warnings().size(), warnings().toString());
    }

    // ---- removal -------------------------------------------------------------------------------------------

    @Test
    void removingTheHandlerMidProbeSwallowsTheProbesResponseAndSendsHeldWrites() {
        start();
        time.advance(I);
        readProbe();
        FullHttpRequest held = appRequest("/orders/42", 16);
        ChannelFuture write = ch.writeAndFlush(held);
        ch.pipeline().remove(handler);
        assertTrue(write.isSuccess(), "held writes go on once the handler is gone");
        assertSame(held, ch.readOutbound());
        held.release();
        ByteBuf body = Unpooled.copiedBuffer("probe body", StandardCharsets.US_ASCII);
        answer(response(HttpResponseStatus.OK), new DefaultLastHttpContent(body));
        assertNull(ch.readInbound(), "the application never receives the probe's response");
        assertEquals(0, body.refCnt(), "released");
        HttpResponse mine = response(HttpResponseStatus.CREATED);
        answer(mine, LastHttpContent.EMPTY_LAST_CONTENT);
        assertSame(mine, ch.readInbound(), "the application's own response passes");
        assertSame(LastHttpContent.EMPTY_LAST_CONTENT, ch.readInbound());
        assertNull(ch.pipeline().get(ProbeResponseSwallower.class), "it removed itself: " + ch.pipeline().names());
    }
}
