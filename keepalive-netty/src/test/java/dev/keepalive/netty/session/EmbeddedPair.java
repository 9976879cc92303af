package dev.keepalive.netty.session;

import io.netty.buffer.ByteBuf;
import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.ChannelInboundHandlerAdapter;
import io.netty.channel.embedded.EmbeddedChannel;
import io.netty.util.ReferenceCountUtil;

import dev.keepalive.ManualTicker;

import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.concurrent.TimeUnit;
import java.util.ArrayList;
import java.util.List;

/** A client and a server channel joined by hand: {@link #pump()} carries frames both ways until both are quiet. */
final class EmbeddedPair implements AutoCloseable {
    /** Longer than the default acknowledgement interval. */
    static final Duration ACK_WAIT = Duration.ofMillis(25);
    final EmbeddedChannel client;
    final EmbeddedChannel server;
    final Recorder clientApp = new Recorder();
    final Recorder serverApp = new Recorder();

    private final ManualTicker ticker;

    EmbeddedPair(ClientSession session, ServerSessions sessions, ManualTicker ticker) {
        this.ticker = ticker;
        server = new EmbeddedChannel();
        client = new EmbeddedChannel();
        server.freezeTime();
        client.freezeTime();
        server.pipeline().addLast(sessions.newHandler(), serverApp);
        client.pipeline().addLast(session.newHandler(), clientApp);
    }

    /**
     * Carries every frame written so far, and what answers cause, until nothing moves, letting the acknowledgement
     * interval pass (on the ticker and on both channels' clocks) when it is quiet. @return frames carried
     */
    int pump() {
        int carried = 0;
        boolean waited = false;
        for (int round = 0; round < 10_000; round++) {
            int moved = carry(client, server) + carry(server, client);
            if (moved == 0) {
                if (waited) {
                    return carried;
                }
                waited = true;
                ticker.advance(ACK_WAIT);
                for (EmbeddedChannel ch : List.of(client, server)) {
                    ch.advanceTimeBy(ACK_WAIT.toNanos(), TimeUnit.NANOSECONDS);
                    ch.runScheduledPendingTasks();
                }
                continue;
            }
            waited = false;
            carried += moved;
        }
        throw new AssertionError("still pumping after 10,000 rounds");
    }

    private static int carry(EmbeddedChannel from, EmbeddedChannel to) {
        int n = 0;
        for (Object m = from.readOutbound(); m != null; m = from.readOutbound()) {
            n++;
            if (to.isActive()) {
                to.writeInbound(m);
            } else {
                ReferenceCountUtil.release(m);
            }
        }
        return n;
    }

    /** The connection dies: frames in flight are lost, both channels close. */
    void cut() {
        drop(client);
        drop(server);
        client.close();
        server.close();
        drop(client);
        drop(server);
    }

    static void drop(EmbeddedChannel ch) {
        for (Object m = ch.readOutbound(); m != null; m = ch.readOutbound()) {
            ReferenceCountUtil.release(m);
        }
    }

    @Override
    public void close() {
        client.finishAndReleaseAll();
        server.finishAndReleaseAll();
        clientApp.release();
        serverApp.release();
    }

    static ByteBuf buf(String s) {
        return io.netty.buffer.Unpooled.copiedBuffer(s, StandardCharsets.UTF_8);
    }

    /** The application's end: records payloads (as text) and session events. */
    static final class Recorder extends ChannelInboundHandlerAdapter {
        final List<String> received = new ArrayList<>();
        final List<SessionEvent> events = new ArrayList<>();

        @Override
        public void channelRead(ChannelHandlerContext ctx, Object msg) {
            received.add(msg instanceof ByteBuf ? ((ByteBuf) msg).toString(StandardCharsets.UTF_8) : msg.toString());
            ReferenceCountUtil.release(msg);
        }

        @Override
        public void userEventTriggered(ChannelHandlerContext ctx, Object evt) {
            if (evt instanceof SessionEvent) {
                events.add((SessionEvent) evt);
            }
            ctx.fireUserEventTriggered(evt);
        }

        void release() {
        }
    }
}
