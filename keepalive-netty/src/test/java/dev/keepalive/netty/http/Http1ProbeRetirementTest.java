package dev.keepalive.netty.http;

import dev.keepalive.DeadPeerReason;
import dev.keepalive.KeepaliveListener;
import dev.keepalive.KeepaliveSettings;
import dev.keepalive.ManualTicker;
import dev.keepalive.PeerDeadException;
import dev.keepalive.netty.KeepaliveHandler;
import dev.keepalive.testsupport.EmbeddedTime;
import io.netty.buffer.Unpooled;
import io.netty.channel.ChannelFuture;
import io.netty.channel.embedded.EmbeddedChannel;
import io.netty.handler.codec.http.DefaultFullHttpRequest;
import io.netty.handler.codec.http.DefaultHttpResponse;
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

import java.net.SocketAddress;
import java.nio.channels.ClosedChannelException;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;

import static java.time.Duration.ofSeconds;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertNull;

/** Which closes of an HTTP/1.1 server are retirements (quiet, no death) and which are a dead peer. */
class Http1ProbeRetirementTest {
    private static final Duration I = ofSeconds(10);

    private final ManualTicker ticker = new ManualTicker(0);
    private final List<DeadPeerReason> deaths = new ArrayList<>();
    private final List<String> retirements = new ArrayList<>();
    private EmbeddedChannel ch;
    private EmbeddedTime time;
    private KeepaliveHandler handler;

    @AfterEach
    void releaseEverything() {
        if (ch != null) {
            ch.finishAndReleaseAll();
        }
    }

    private void start() {
        handler = KeepaliveHandler.builder(KeepaliveSettings.builder().pingInterval(I).pingTimeout(ofSeconds(2))
                        .pingsMissedBeforeDead(2).pingJitter(0).build())
                .probe(Http1Probe.create()).ticker(ticker).random(() -> 0.0).listener(new KeepaliveListener() {
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
        ch.pipeline().addLast(handler);
    }

    private static HttpResponse response(HttpResponseStatus status) {
        return new DefaultHttpResponse(HttpVersion.HTTP_1_1, status);
    }

    private static FullHttpRequest appRequest(String path) {
        return new DefaultFullHttpRequest(HttpVersion.HTTP_1_1, HttpMethod.GET, path, Unpooled.EMPTY_BUFFER);
    }

    private void answer(HttpObject... parts) {
        for (HttpObject part : parts) {
            ch.writeInbound(part);
        }
    }

    private void exchange(String path) {
        ch.writeAndFlush(appRequest(path));
        ReferenceCountUtil.release(ch.readOutbound());
        answer(response(HttpResponseStatus.OK), LastHttpContent.EMPTY_LAST_CONTENT);
        ReferenceCountUtil.release(ch.readInbound());
        ReferenceCountUtil.release(ch.readInbound());
    }

    @Test
    void aFinOnAnIdlePooledConnectionIsARetirementNotADeadPeer() {
        start();
        exchange("/a");
        time.advance(ofSeconds(3)); // the server's keepalive_timeout, shorter than our ping interval
        ch.pipeline().fireChannelInactive();
        assertEquals(List.of(), deaths, "an idle connection retired by its server is no dead peer");
        assertEquals(List.of("it closed the idle connection (nothing in flight)"), retirements);
        assertNull(handler.deadCause());
    }

    @Test
    void aFinWithARequestInFlightIsClosedByPeer() {
        start();
        ch.writeAndFlush(appRequest("/lost"));
        ReferenceCountUtil.release(ch.readOutbound());
        // The server's FIN: the read that finds the end of the stream, then the transport's close.
        ch.unsafe().recvBufAllocHandle().lastBytesRead(-1);
        ch.pipeline().fireChannelReadComplete();
        ch.unsafe().close(ch.voidPromise());
        assertEquals(List.of(DeadPeerReason.CLOSED_BY_PEER), deaths, "the request's response was lost");
        assertEquals(List.of(), retirements);
    }

    @Test
    void aFinAfterConnectionCloseIsARetirement() {
        start();
        ch.writeAndFlush(appRequest("/last"));
        ReferenceCountUtil.release(ch.readOutbound());
        HttpResponse closing = response(HttpResponseStatus.OK);
        closing.headers().set(HttpHeaderNames.CONNECTION, HttpHeaderValues.CLOSE);
        answer(closing, LastHttpContent.EMPTY_LAST_CONTENT);
        ch.readInbound();
        ch.readInbound();
        ch.pipeline().fireChannelInactive();
        assertEquals(List.of(), deaths);
        assertEquals(List.of("it answered a request with Connection: close"), retirements);
    }

    @Test
    void aProbeAnsweredWithConnectionCloseIsARetirementAndFailsHeldWritesAsRetryable() {
        start();
        time.advance(I);
        ReferenceCountUtil.release(ch.readOutbound());
        ChannelFuture held = ch.writeAndFlush(appRequest("/next"));
        HttpResponse closing = response(HttpResponseStatus.OK); // nginx at keepalive_requests
        closing.headers().set(HttpHeaderNames.CONNECTION, HttpHeaderValues.CLOSE);
        answer(closing, LastHttpContent.EMPTY_LAST_CONTENT);
        assertFalse(ch.isOpen());
        assertEquals(List.of(), deaths);
        assertEquals(List.of("it answered the keepalive probe with Connection: close"), retirements);
        assertInstanceOf(ClosedChannelException.class, held.cause(), "never sent: retry on a fresh connection");
    }

    @Test
    void aLocalCloseIsNeitherADeathNorARetirement() {
        start();
        exchange("/a");
        ch.close();
        assertEquals(List.of(), deaths);
        assertEquals(List.of(), retirements);
    }
}
