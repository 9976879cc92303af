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
import io.netty.channel.ChannelInboundHandlerAdapter;
import io.netty.channel.ChannelOutboundHandlerAdapter;
import io.netty.channel.embedded.EmbeddedChannel;
import io.netty.handler.codec.http.websocketx.CloseWebSocketFrame;
import io.netty.handler.codec.http.websocketx.PingWebSocketFrame;
import io.netty.handler.codec.http.websocketx.PongWebSocketFrame;
import io.netty.handler.codec.http.websocketx.TextWebSocketFrame;
import io.netty.handler.codec.http.websocketx.WebSocketCloseStatus;
import io.netty.handler.codec.http.websocketx.WebSocketFrameDecoder;
import io.netty.handler.codec.http.websocketx.WebSocketFrameEncoder;
import io.netty.handler.codec.http.websocketx.WebSocketServerProtocolHandler;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

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

/** The WebSocket probe on an {@link EmbeddedChannel} carrying frames, with exact time. */
class WebSocketProbeTest {
    private static final Duration I = ofSeconds(10);
    private static final Duration T = ofSeconds(2);

    private final ManualTicker ticker = new ManualTicker(0);
    private final List<DeadPeerReason> deaths = new ArrayList<>();
    private final List<String> retirements = new ArrayList<>();
    private EmbeddedChannel ch;
    private EmbeddedTime time;
    private KeepaliveHandler handler;

    /** Stands for the frame codecs that a completed handshake puts in the pipeline; passes frames as they are. */
    static final class FrameDecoder extends ChannelInboundHandlerAdapter implements WebSocketFrameDecoder {
    }

    static final class FrameEncoder extends ChannelOutboundHandlerAdapter implements WebSocketFrameEncoder {
    }

    @AfterEach
    void releaseEverything() {
        if (ch != null) {
            ch.finishAndReleaseAll();
        }
    }

    private void start(KeepaliveSettings.Builder settings) {
        handler = KeepaliveHandler.builder(settings.build()).probe(WebSocketProbe.create()).ticker(ticker)
                .random(() -> 0.0).listener(new KeepaliveListener() {
                    @Override
                    public void onPeerDead(PeerDeadException cause) {
                        deaths.add(cause.reason());
                    }

                    @Override
                    public void onPeerRetired(java.net.SocketAddress remote, String how) {
                        retirements.add(how);
                    }
                }).build();
        ch = new EmbeddedChannel();
        time = new EmbeddedTime(ticker, ch);
        ch.pipeline().addLast(handler);
        ch.pipeline().fireChannelReadComplete(); // the peer's first bytes: the connection has proven itself
    }

    private static KeepaliveSettings.Builder settings() {
        return KeepaliveSettings.builder().pingInterval(I).pingTimeout(T).pingsMissedBeforeDead(2).pingJitter(0);
    }

    private void handshakeDone() {
        ch.pipeline().addFirst(new FrameDecoder(), new FrameEncoder());
    }

    private static PongWebSocketFrame pong(long payload) {
        return new PongWebSocketFrame(Unpooled.buffer(8).writeLong(payload));
    }

    /** Reads the next outbound ping, checks its 8-byte payload and returns it. */
    private long readPing() {
        PingWebSocketFrame ping = assertInstanceOf(PingWebSocketFrame.class, ch.readOutbound());
        try {
            assertEquals(8, ping.content().readableBytes());
            return ping.content().getLong(0);
        } finally {
            ping.release();
        }
    }

    @Test
    void pingsOnlyAfterTheHandshakeAndSwallowsItsPong() {
        start(settings());
        time.advance(I);
        assertNull(ch.readOutbound(), "no frame before the handshake");
        ch.writeInbound("the handshake response");
        assertEquals("the handshake response", ch.readInbound());
        handshakeDone();
        time.advance(T);
        assertEquals(LivenessState.WATCHING, handler.stats().state(), "the handshake answered");
        time.advance(I.minus(T));
        long payload = readPing();
        assertEquals(ProbePayload.MARKER | 2, payload, "marker KA and ping id 2");
        ch.writeInbound(pong(payload));
        assertNull(ch.readInbound(), "the pong does not reach the application");
        assertEquals(1, handler.stats().pongsReceived());
    }

    @Test
    void anyFrameCountsAsLivenessAndApplicationPongsPass() {
        start(settings());
        handshakeDone();
        for (int i = 0; i < 6; i++) {
            time.advance(I.dividedBy(2));
            ch.writeInbound(new TextWebSocketFrame("tick " + i));
            TextWebSocketFrame text = ch.readInbound();
            text.release();
        }
        assertNull(ch.readOutbound(), "a busy socket is not pinged");
        PongWebSocketFrame appPong = new PongWebSocketFrame(Unpooled.copiedBuffer("app", StandardCharsets.UTF_8));
        ch.writeInbound(appPong);
        assertSame(appPong, ch.readInbound(), "pongs without the marker belong to the application");
        appPong.release();
        PongWebSocketFrame unsolicited = pong(0x1122334455667788L);
        ch.writeInbound(unsolicited);
        assertSame(unsolicited, ch.readInbound());
        unsolicited.release();
    }

    @Test
    void answersThePeersPingsWithTheirPayload() {
        start(settings());
        handshakeDone();
        ch.writeInbound(new PingWebSocketFrame(Unpooled.buffer(8).writeLong(0xCAFEL)));
        PongWebSocketFrame answer = assertInstanceOf(PongWebSocketFrame.class, ch.readOutbound());
        assertEquals(0xCAFEL, answer.content().getLong(0));
        answer.release();
        assertEquals(1, handler.stats().peerPingsReceived());

        ch.writeInbound(new PingWebSocketFrame(Unpooled.copiedBuffer("hello", StandardCharsets.UTF_8)));
        PongWebSocketFrame echo = assertInstanceOf(PongWebSocketFrame.class, ch.readOutbound());
        assertEquals("hello", echo.content().toString(StandardCharsets.UTF_8), "any payload is echoed");
        echo.release();
        assertNull(ch.readInbound());
    }

    @Test
    void leavesOtherPingsToAProtocolHandlerThatAnswersThem() {
        start(settings());
        ch.pipeline().addLast(new WebSocketServerProtocolHandler("/ws"));
        handshakeDone();
        // What the handshake does: its handler leaves the pipeline.
        for (String name : ch.pipeline().names()) {
            if (name.contains("Handshake")) {
                ch.pipeline().remove(name);
            }
        }
        ch.writeInbound(new PingWebSocketFrame(Unpooled.copiedBuffer("hello", StandardCharsets.UTF_8)));
        PongWebSocketFrame echo = assertInstanceOf(PongWebSocketFrame.class, ch.readOutbound());
        assertEquals("hello", echo.content().toString(StandardCharsets.UTF_8));
        echo.release();
        assertNull(ch.readOutbound(), "answered once, by the protocol handler");
    }

    @Test
    void peerThatPingsTooOftenIsSentACloseFrame() {
        start(settings().minPeerPingInterval(ofSeconds(1)).peerPingStrikes(0));
        handshakeDone();
        ch.writeInbound(new PingWebSocketFrame(Unpooled.buffer(8).writeLong(1)));
        ((PongWebSocketFrame) ch.readOutbound()).release();
        time.advance(ofMillis(10));
        ch.pipeline().fireChannelRead(new PingWebSocketFrame(Unpooled.buffer(8).writeLong(2)));
        CloseWebSocketFrame close = assertInstanceOf(CloseWebSocketFrame.class, ch.readOutbound());
        assertEquals(1008, close.statusCode());
        assertEquals("too_many_pings", close.reasonText());
        close.release();
        assertFalse(ch.isOpen());
        assertEquals(List.of(DeadPeerReason.PEER_PINGED_TOO_OFTEN), deaths);
        assertThrows(PeerDeadException.class, ch::checkException);
    }

    @Test
    void pingsOfAnyPayloadCountTowardsTheFloodCheck() {
        start(settings().minPeerPingInterval(ofSeconds(1)).peerPingStrikes(0));
        handshakeDone();
        ch.writeInbound(new PingWebSocketFrame(Unpooled.copiedBuffer("hello", StandardCharsets.UTF_8)));
        ((PongWebSocketFrame) ch.readOutbound()).release();
        time.advance(ofSeconds(1));
        ch.writeInbound(new PingWebSocketFrame(Unpooled.copiedBuffer("at the limit", StandardCharsets.UTF_8)));
        ((PongWebSocketFrame) ch.readOutbound()).release();
        assertTrue(ch.isOpen(), "one ping a second is allowed");
        time.advance(ofMillis(10));
        ch.pipeline().fireChannelRead(new PingWebSocketFrame(Unpooled.copiedBuffer("flood", StandardCharsets.UTF_8)));
        CloseWebSocketFrame close = assertInstanceOf(CloseWebSocketFrame.class, ch.readOutbound());
        assertEquals("too_many_pings", close.reasonText());
        close.release();
        assertNull(ch.readOutbound(), "the flood ping is not answered");
        assertFalse(ch.isOpen());
        assertEquals(List.of(DeadPeerReason.PEER_PINGED_TOO_OFTEN), deaths);
        assertEquals(3, handler.stats().peerPingsReceived());
        assertThrows(PeerDeadException.class, ch::checkException);
    }

    @Test
    void closeFramesFromThePeerAnnounceItsCloseOrReportTooManyPings() {
        start(settings());
        handshakeDone();
        CloseWebSocketFrame normal = new CloseWebSocketFrame(WebSocketCloseStatus.NORMAL_CLOSURE);
        ch.writeInbound(normal);
        assertSame(normal, ch.readInbound(), "passed on");
        normal.release();
        ch.pipeline().fireChannelInactive();
        assertEquals(List.of(), deaths, "an announced close is no dead peer");
        assertEquals(List.of("it sent a close frame (1000 Bye)"), retirements, "but a retirement");
        ch.finishAndReleaseAll();

        start(settings());
        handshakeDone();
        ch.pipeline().fireChannelRead(new CloseWebSocketFrame(1008, "too_many_pings"));
        assertEquals(List.of(DeadPeerReason.TOO_MANY_PINGS), deaths);
        assertFalse(ch.isOpen());
        assertThrows(PeerDeadException.class, ch::checkException);
    }

    @Test
    void aSilentPeerIsDeadAtTheBound() {
        start(settings());
        handshakeDone();
        time.advance(I);
        readPing();
        time.advance(T);
        readPing();
        assertTrue(ch.isOpen());
        time.advance(T);
        assertFalse(ch.isOpen());
        assertEquals(List.of(DeadPeerReason.PING_TIMEOUT), deaths);
        assertThrows(PeerDeadException.class, ch::checkException);
    }

    @Test
    void payloadsCarryTheMarkerAndTheId() {
        assertTrue(ProbePayload.isProbe(ProbePayload.encode(1)));
        assertEquals(42, ProbePayload.id(ProbePayload.encode(42)));
        assertFalse(ProbePayload.isProbe(42));
        ByteBuf ka = Unpooled.buffer(8).writeLong(ProbePayload.encode(7));
        assertEquals("KA", ka.toString(0, 2, StandardCharsets.US_ASCII));
        ka.release();
    }
}
