package dev.keepalive.netty.http;

import dev.keepalive.DeadPeerReason;
import dev.keepalive.KeepaliveListener;
import dev.keepalive.KeepaliveSettings;
import dev.keepalive.ManualTicker;
import dev.keepalive.PeerDeadException;
import dev.keepalive.netty.KeepaliveHandler;
import dev.keepalive.testsupport.EmbeddedTime;
import io.netty.buffer.Unpooled;
import io.netty.channel.embedded.EmbeddedChannel;
import io.netty.handler.codec.http2.DefaultHttp2GoAwayFrame;
import io.netty.handler.codec.http2.DefaultHttp2PingFrame;
import io.netty.handler.codec.http2.DefaultHttp2SettingsFrame;
import io.netty.handler.codec.http2.Http2Error;
import io.netty.handler.codec.http2.Http2GoAwayFrame;
import io.netty.handler.codec.http2.Http2PingFrame;
import io.netty.handler.codec.http2.Http2Settings;
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

/** The HTTP/2 probe on an {@link EmbeddedChannel} carrying frames, as after an {@code Http2FrameCodec}. */
class Http2ProbeTest {
    private static final Duration I = ofSeconds(10);
    private static final Duration T = ofSeconds(2);

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

    private void start(KeepaliveSettings.Builder settings, Http2Probe probe) {
        handler = KeepaliveHandler.builder(settings.build()).probe(probe).ticker(ticker).random(() -> 0.0)
                .listener(new KeepaliveListener() {
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

    @Test
    void pingsWithTheIdInItsOpaqueDataAndSwallowsTheAck() {
        start(settings(), Http2Probe.create());
        time.advance(I);
        Http2PingFrame ping = assertInstanceOf(Http2PingFrame.class, ch.readOutbound());
        assertFalse(ping.ack());
        assertEquals(ProbePayload.encode(1), ping.content());
        time.advance(ofMillis(3));
        ch.writeInbound(new DefaultHttp2PingFrame(ping.content(), true));
        assertNull(ch.readInbound(), "the ACK does not reach the application");
        assertEquals(1, handler.stats().pongsReceived());
        assertEquals(ofMillis(3).toNanos(), handler.stats().lastRttNanos());
    }

    @Test
    void acksOfTheApplicationsPingsAndOtherFramesPassAndCountAsLiveness() {
        start(settings(), Http2Probe.create());
        for (int i = 0; i < 9; i++) {
            time.advance(I.dividedBy(3));
            DefaultHttp2SettingsFrame settings = new DefaultHttp2SettingsFrame(new Http2Settings());
            ch.writeInbound(settings);
            assertSame(settings, ch.readInbound());
        }
        assertNull(ch.readOutbound(), "a busy connection is not pinged");
        DefaultHttp2PingFrame appAck = new DefaultHttp2PingFrame(12345L, true);
        ch.writeInbound(appAck);
        assertSame(appAck, ch.readInbound());
    }

    @Test
    void thePeersPingsAreCountedAndLeftToTheCodecOrAckedWhenAsked() {
        start(settings(), Http2Probe.create());
        ch.writeInbound(new DefaultHttp2PingFrame(99L));
        assertNull(ch.readOutbound(), "the codec acknowledges it (autoAckPingFrame)");
        assertNull(ch.readInbound(), "not passed on");
        assertEquals(1, handler.stats().peerPingsReceived());
        ch.finishAndReleaseAll();

        start(settings(), Http2Probe.create().withPeerPingAcks(true));
        ch.writeInbound(new DefaultHttp2PingFrame(99L));
        Http2PingFrame ack = assertInstanceOf(Http2PingFrame.class, ch.readOutbound());
        assertTrue(ack.ack());
        assertEquals(99L, ack.content(), "the ACK echoes the data");
    }

    @Test
    void goAwayEnhanceYourCalmFromThePeerIsTooManyPings() {
        start(settings(), Http2Probe.create());
        ch.pipeline().fireChannelRead(new DefaultHttp2GoAwayFrame(Http2Error.ENHANCE_YOUR_CALM,
                Unpooled.copiedBuffer("too_many_pings", StandardCharsets.US_ASCII)));
        assertEquals(List.of(DeadPeerReason.TOO_MANY_PINGS), deaths);
        assertFalse(ch.isOpen());
        assertEquals(DeadPeerReason.TOO_MANY_PINGS,
                assertThrows(PeerDeadException.class, ch::checkException).reason());
        assertNull(ch.readInbound());
    }

    @Test
    void anyOtherGoAwayPassesAndAnnouncesTheClose() {
        start(settings(), Http2Probe.create());
        DefaultHttp2GoAwayFrame goAway = new DefaultHttp2GoAwayFrame(Http2Error.NO_ERROR);
        ch.writeInbound(goAway);
        assertSame(goAway, ch.readInbound());
        goAway.release();
        ch.pipeline().fireChannelInactive();
        assertEquals(List.of(), deaths, "the peer had said it would close");
        assertEquals(List.of("it sent GOAWAY NO_ERROR"), retirements, "a retirement");
    }

    @Test
    void enhanceYourCalmIsTooManyPingsOnlyWhenItsDebugDataSaysSo() {
        start(settings(), Http2Probe.create());
        DefaultHttp2GoAwayFrame calm = new DefaultHttp2GoAwayFrame(Http2Error.ENHANCE_YOUR_CALM,
                Unpooled.copiedBuffer("too many resets", StandardCharsets.US_ASCII));
        ch.writeInbound(calm);
        assertSame(calm, ch.readInbound(), "passed on, as any GOAWAY");
        calm.release();
        assertTrue(ch.isOpen());
        ch.pipeline().fireChannelInactive();
        assertEquals(List.of(), deaths, "not TOO_MANY_PINGS: the peer did not say that pings were the reason");
        assertEquals(List.of("it sent GOAWAY ENHANCE_YOUR_CALM"), retirements);
        ch.finishAndReleaseAll();

        start(settings(), Http2Probe.create());
        DefaultHttp2GoAwayFrame bare = new DefaultHttp2GoAwayFrame(Http2Error.ENHANCE_YOUR_CALM);
        ch.writeInbound(bare);
        assertSame(bare, ch.readInbound());
        bare.release();
        assertEquals(List.of(), deaths, "no debug data: not TOO_MANY_PINGS either");
    }

    @Test
    void aPeerThatPingsTooOftenIsToldEnhanceYourCalm() {
        start(settings().minPeerPingInterval(ofSeconds(1)).peerPingStrikes(0), Http2Probe.create());
        ch.writeInbound(new DefaultHttp2PingFrame(1L));
        time.advance(ofMillis(10));
        ch.pipeline().fireChannelRead(new DefaultHttp2PingFrame(2L));
        Http2GoAwayFrame goAway = assertInstanceOf(Http2GoAwayFrame.class, ch.readOutbound());
        assertEquals(Http2Error.ENHANCE_YOUR_CALM.code(), goAway.errorCode());
        assertEquals("too_many_pings", goAway.content().toString(StandardCharsets.US_ASCII));
        goAway.release();
        assertFalse(ch.isOpen());
        assertEquals(List.of(DeadPeerReason.PEER_PINGED_TOO_OFTEN), deaths);
        assertThrows(PeerDeadException.class, ch::checkException);
    }

    @Test
    void aPeerThatNeverAcksIsDeadAtTheBound() {
        start(settings(), Http2Probe.create());
        time.advance(I.plus(T).plus(T));
        assertEquals(ProbePayload.encode(1), ((Http2PingFrame) ch.readOutbound()).content());
        assertEquals(ProbePayload.encode(2), ((Http2PingFrame) ch.readOutbound()).content(), "retried once");
        assertFalse(ch.isOpen());
        assertEquals(List.of(DeadPeerReason.PING_TIMEOUT), deaths);
        assertThrows(PeerDeadException.class, ch::checkException);
    }
}
