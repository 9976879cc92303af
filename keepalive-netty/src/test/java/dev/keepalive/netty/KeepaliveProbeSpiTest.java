package dev.keepalive.netty;

import dev.keepalive.DeadPeerReason;
import dev.keepalive.KeepaliveListener;
import dev.keepalive.KeepaliveSettings;
import dev.keepalive.LivenessState;
import dev.keepalive.ManualTicker;
import dev.keepalive.PeerDeadException;
import dev.keepalive.testsupport.EmbeddedTime;
import io.netty.buffer.ByteBufAllocator;
import io.netty.channel.ChannelFuture;
import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.ChannelPipelineException;
import io.netty.channel.ChannelPromise;
import io.netty.channel.embedded.EmbeddedChannel;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

import java.net.SocketAddress;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;

import static java.time.Duration.ofSeconds;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertSame;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** The per-connection extension of {@link KeepaliveProbe}, with a scripted probe of plain string messages. */
class KeepaliveProbeSpiTest {
    private static final Duration I = ofSeconds(10);
    private static final Duration T = ofSeconds(2);

    private final ManualTicker ticker = new ManualTicker(0);
    private final List<String> events = new ArrayList<>();
    private EmbeddedChannel ch;
    private EmbeddedTime time;

    @AfterEach
    void releaseEverything() {
        if (ch != null) {
            ch.finishAndReleaseAll();
        }
    }

    /** Pings "ping:id" unless told it cannot; swallows "pong:id"; holds writes while {@link #hold} is set. */
    static class ScriptedProbe implements KeepaliveProbe {
        final List<ScriptedProbe> bound = new ArrayList<>();
        ChannelHandlerContext ctx;
        boolean canPing = true;
        boolean hold;
        boolean announced;
        String retirement;
        boolean pongsAnsweredElsewhere;
        final List<Object> held = new ArrayList<>();
        final List<Object> intercepted = new ArrayList<>();
        final List<String> ended = new ArrayList<>();

        @Override
        public KeepaliveProbe forConnection(ChannelHandlerContext ctx) {
            ScriptedProbe p = new ScriptedProbe();
            p.ctx = ctx;
            bound.add(p);
            return p;
        }

        @Override
        public boolean interceptsWrites() {
            return ctx != null;
        }

        @Override
        public void write(ChannelHandlerContext ctx, Object msg, ChannelPromise promise) {
            intercepted.add(msg);
            if (hold) {
                held.add(promise);
            } else {
                ctx.write(msg, promise);
            }
        }

        @Override
        public void connectionEnded(PeerDeadException deadCause) {
            ended.add(deadCause == null ? "closed" : deadCause.reason().name());
            for (Object p : held) {
                ((ChannelPromise) p).tryFailure(deadCause != null ? deadCause : new IllegalStateException("closed"));
            }
            held.clear();
        }

        @Override
        public boolean closeAnnounced() {
            return announced;
        }

        @Override
        public String peerRetirement() {
            return retirement != null ? retirement : KeepaliveProbe.super.peerRetirement();
        }

        @Override
        public Object newPing(ByteBufAllocator alloc, long pingId) {
            return canPing ? "ping:" + pingId : null;
        }

        @Override
        public Object newPong(ByteBufAllocator alloc, long pingId) {
            return pongsAnsweredElsewhere ? null : "pong:" + pingId;
        }

        @Override
        public boolean consume(Object msg, Sink sink) {
            if (msg instanceof String && ((String) msg).startsWith("pong:")) {
                sink.pongReceived(Long.parseLong(((String) msg).substring(5)));
                return true;
            }
            if (msg instanceof String && ((String) msg).startsWith("ping:")) {
                sink.pingReceived(Long.parseLong(((String) msg).substring(5)));
                return true;
            }
            return false;
        }
    }

    private final ScriptedProbe shared = new ScriptedProbe();

    private KeepaliveHandler start() {
        KeepaliveHandler handler = KeepaliveHandler.builder(KeepaliveSettings.builder().pingInterval(I)
                        .pingTimeout(T).pingsMissedBeforeDead(2).pingJitter(0).build())
                .probe(shared).ticker(ticker).random(() -> 0.0).listener(new KeepaliveListener() {
                    @Override
                    public void onPingSent(SocketAddress remote, long pingId) {
                        events.add("sent:" + pingId);
                    }

                    @Override
                    public void onPeerDead(PeerDeadException cause) {
                        events.add("dead:" + cause.reason());
                    }

                    @Override
                    public void onPeerRetired(SocketAddress remote, String how) {
                        events.add("retired:" + how);
                    }
                }).build();
        ch = new EmbeddedChannel();
        time = new EmbeddedTime(ticker, ch);
        ch.pipeline().addLast(handler);
        ch.pipeline().fireChannelReadComplete(); // the peer's first bytes: the connection has proven itself
        return handler;
    }

    private ScriptedProbe probe() {
        assertEquals(1, shared.bound.size(), "bound once, to this channel");
        return shared.bound.get(0);
    }

    @Test
    void eachHandlerBindsItsOwnProbeToItsContext() {
        start();
        assertSame(ch.pipeline().firstContext(), probe().ctx);
        ch.writeAndFlush("request");
        assertEquals(List.of("request"), probe().intercepted, "application writes pass through the probe");
        assertEquals("request", ch.readOutbound());
        time.advance(I);
        assertEquals("ping:1", ch.readOutbound());
        assertEquals(List.of("request"), probe().intercepted, "the handler's own pings do not");
    }

    @Test
    void aPingThatCannotGoOutWritesNothingAndAnyInboundAnswersIt() {
        KeepaliveHandler handler = start();
        probe().canPing = false;
        time.advance(I);
        assertNull(ch.readOutbound(), "nothing written");
        assertEquals(List.of(), events, "no ping reported as sent");
        assertEquals(LivenessState.PING_OUTSTANDING, handler.stats().state());
        ch.writeInbound("response");
        assertEquals("response", ch.readInbound());
        time.advance(T);
        assertEquals(LivenessState.WATCHING, handler.stats().state(), "the inbound message answered it");
        assertTrue(ch.isOpen());
    }

    @Test
    void silenceWhileNoPingCanGoOutIsStillDeath() {
        start();
        probe().canPing = false;
        time.advance(I.plus(T).plus(T));
        assertFalse(ch.isOpen());
        assertEquals(List.of("dead:PING_TIMEOUT"), events);
        assertEquals(DeadPeerReason.PING_TIMEOUT, assertThrows(PeerDeadException.class, ch::checkException)
                .reason());
    }

    @Test
    void heldWritesFailWithTheDeadPeerCause() {
        start();
        probe().hold = true;
        ChannelFuture write = ch.writeAndFlush("request");
        assertFalse(write.isDone(), "held by the probe");
        time.advance(I.plus(T).plus(T));
        PeerDeadException cause = assertInstanceOf(PeerDeadException.class, write.cause());
        assertEquals(DeadPeerReason.PING_TIMEOUT, cause.reason());
        assertEquals("PING_TIMEOUT", probe().ended.get(0));
        assertThrows(PeerDeadException.class, ch::checkException);
    }

    @Test
    void aLocalCloseEndsTheProbeWithoutACause() {
        start();
        ch.close();
        assertEquals(List.of("closed"), probe().ended, "told once");
        assertEquals(List.of(), events);
    }

    @Test
    void anAnnouncedCloseIsNotADeadPeer() {
        start();
        probe().announced = true;
        ch.pipeline().fireChannelInactive();
        assertEquals(List.of("retired:it announced its close"), events, "a retirement, by default");
        assertEquals(List.of("closed"), probe().ended);
    }

    @Test
    void aLocalCloseAfterThePeerAnnouncedItsOwnIsStillARetirement() {
        start();
        probe().announced = true;
        ch.close();
        assertEquals(List.of("retired:it announced its close"), events);
    }

    @Test
    void aRetirementTheProbeRecognisesIsToldOnceAndIsNoDeath() {
        KeepaliveHandler handler = start();
        probe().retirement = "it closed the idle session";
        ch.pipeline().fireChannelInactive();
        ch.pipeline().fireChannelInactive();
        assertEquals(List.of("retired:it closed the idle session"), events);
        assertNull(handler.deadCause());
        assertEquals(List.of("closed"), probe().ended);
    }

    @Test
    void anUnannouncedCloseIsOneAndEndsTheProbeWithIt() {
        start();
        ch.unsafe().recvBufAllocHandle().lastBytesRead(-1); // the read found the end of the stream
        ch.pipeline().fireChannelInactive();
        assertEquals(List.of("dead:CLOSED_BY_PEER"), events);
        assertEquals(List.of("CLOSED_BY_PEER"), probe().ended);
    }

    @Test
    void peerPingsAnsweredElsewhereAreCountedButNotAnswered() {
        KeepaliveHandler handler = start();
        probe().pongsAnsweredElsewhere = true;
        ch.writeInbound("ping:7");
        assertNull(ch.readOutbound());
        assertNull(ch.readInbound());
        assertEquals(1, handler.stats().peerPingsReceived());
    }

    @Test
    void aBoundProbeMustPingAsTheSharedOneDoes() {
        KeepaliveProbe passiveBinding = new ScriptedProbe() {
            @Override
            public KeepaliveProbe forConnection(ChannelHandlerContext ctx) {
                return KeepaliveProbe.passive();
            }
        };
        KeepaliveHandler handler = KeepaliveHandler.builder(KeepaliveSettings.defaults()).probe(passiveBinding)
                .build();
        EmbeddedChannel other = new EmbeddedChannel();
        try {
            other.pipeline().addLast(handler);
            Throwable e = assertThrows(ChannelPipelineException.class, other::checkException).getCause();
            assertInstanceOf(IllegalStateException.class, e);
            assertTrue(e.getMessage().contains("must return a probe that sends pings as it does"), e.getMessage());
            assertNull(other.pipeline().get(KeepaliveHandler.class), "removed");
        } finally {
            other.finishAndReleaseAll();
        }
    }
}
