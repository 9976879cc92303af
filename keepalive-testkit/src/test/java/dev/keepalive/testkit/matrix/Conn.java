package dev.keepalive.testkit.matrix;

import dev.keepalive.KeepaliveListener;
import dev.keepalive.KeepaliveSettings;
import dev.keepalive.PeerDeadException;
import dev.keepalive.netty.KeepaliveHandler;
import dev.keepalive.netty.KeepaliveProbe;
import io.netty.buffer.ByteBuf;
import io.netty.channel.ChannelDuplexHandler;
import io.netty.channel.ChannelFuture;
import io.netty.channel.ChannelHandler;
import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.ChannelInboundHandlerAdapter;
import io.netty.channel.socket.SocketChannel;
import java.time.Duration;
import java.util.List;
import java.util.concurrent.BlockingQueue;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicLong;

/**
 * One connection of the matrix, client or server side, with what its application sees: frames, errors, the close,
 * and — with a {@link KeepaliveHandler} — when and why the peer was declared dead. Without a handler it is a
 * control: a plain Netty connection. All times are {@link System#nanoTime()} values, 0 while not happened.
 *
 * <p>Pipeline: a raw byte counter, the framing, the keepalive handler (if any), the server's application (if
 * any), the recorder.
 */
final class Conn {
    final String name;
    final Framing framing;
    private final KeepaliveHandler keepalive;
    private final BlockingQueue<String> frames = new LinkedBlockingQueue<>();
    private final AtomicLong rawBytes = new AtomicLong();
    private final AtomicLong framesReceived = new AtomicLong();
    private final List<Throwable> errors = new CopyOnWriteArrayList<>();
    private volatile SocketChannel channel;
    private volatile PeerDeadException deadCause;
    private volatile long deadAt;
    private volatile long closedAt;
    private volatile long lastFrameAt;

    private Conn(String name, Framing framing, KeepaliveSettings settings, KeepaliveProbe probe) {
        this.name = name;
        this.framing = framing;
        this.keepalive = settings == null ? null : KeepaliveHandler.builder(settings).probe(probe)
                .listener(new KeepaliveListener() {
                    @Override
                    public void onPeerDead(PeerDeadException e) {
                        deadAt = System.nanoTime();
                        deadCause = e;
                    }
                }).build();
    }

    /** A connection guarded by a keepalive handler with {@code settings} and the framing's probe. */
    static Conn keepalive(String name, Framing framing, KeepaliveSettings settings) {
        return new Conn(name, framing, settings, framing.probe());
    }

    /** A connection guarded by a keepalive handler with {@code settings} and {@code probe}. */
    static Conn keepalive(String name, Framing framing, KeepaliveSettings settings, KeepaliveProbe probe) {
        return new Conn(name, framing, settings, probe);
    }

    /** A control: no keepalive handler. */
    static Conn plain(String name, Framing framing) {
        return new Conn(name, framing, null, null);
    }

    /** Builds the pipeline of {@code ch}; call from its initializer. */
    void init(SocketChannel ch) {
        init(ch, null);
    }

    /**
     * Builds the pipeline of {@code ch} with {@code app} (which consumes frames) before the recorder; call from its
     * initializer.
     */
    void init(SocketChannel ch, ChannelHandler app) {
        this.channel = ch;
        ch.closeFuture().addListener(f -> closedAt = System.nanoTime());
        ch.pipeline().addLast(new ChannelInboundHandlerAdapter() {
            @Override
            public void channelRead(ChannelHandlerContext ctx, Object msg) {
                rawBytes.addAndGet(((ByteBuf) msg).readableBytes());
                ctx.fireChannelRead(msg);
            }
        });
        framing.install(ch.pipeline());
        if (keepalive != null) {
            ch.pipeline().addLast(keepalive);
        }
        if (app != null) {
            ch.pipeline().addLast(app);
        }
        ch.pipeline().addLast(new ChannelDuplexHandler() {
            @Override
            public void channelRead(ChannelHandlerContext ctx, Object msg) {
                ByteBuf frame = (ByteBuf) msg;
                try {
                    // Counted before it is queued: a test that polled the frame sees the counters include it.
                    lastFrameAt = System.nanoTime();
                    framesReceived.incrementAndGet();
                    frames.add(MatrixApp.describe(frame));
                } finally {
                    frame.release();
                }
            }

            @Override
            public void exceptionCaught(ChannelHandlerContext ctx, Throwable cause) {
                errors.add(cause);
                ctx.close();
            }
        });
    }

    SocketChannel channel() {
        return channel;
    }

    /** The keepalive handler, or {@code null} for a control. */
    KeepaliveHandler keepalive() {
        return keepalive;
    }

    /** Writes one frame; returns the write's future. */
    ChannelFuture send(String text) {
        return channel.writeAndFlush(framing.encode(channel.alloc(), text));
    }

    /** Writes one frame and waits until the kernel took it (it is on the wire, unacknowledged or not). */
    long sendNow(String text) {
        send(text).syncUninterruptibly();
        return System.nanoTime();
    }

    /** The next frame received, or {@code null} if none came within {@code timeout}. */
    String pollFrame(Duration timeout) throws InterruptedException {
        return frames.poll(timeout.toNanos(), TimeUnit.NANOSECONDS);
    }

    long framesReceived() {
        return framesReceived.get();
    }

    /** When the latest frame arrived. */
    long lastFrameAt() {
        return lastFrameAt;
    }

    /** Bytes read off the socket, before any decoding. */
    long rawBytes() {
        return rawBytes.get();
    }

    List<Throwable> errors() {
        return List.copyOf(errors);
    }

    boolean isActive() {
        SocketChannel ch = channel;
        return ch != null && ch.isActive();
    }

    /** Whether the channel was still open at {@code nanoTime}. */
    boolean openAt(long nanoTime) {
        long c = closedAt;
        return channel != null && (c == 0 || c - nanoTime > 0);
    }

    long closedAt() {
        return closedAt;
    }

    /** Why the handler declared the peer dead, or {@code null}. */
    PeerDeadException deadCause() {
        return deadCause;
    }

    long deadAt() {
        return deadAt;
    }

    boolean isDead() {
        return deadCause != null;
    }

    @Override
    public String toString() {
        SocketChannel ch = channel;
        return name + (ch == null ? "" : " " + ch.localAddress() + "->" + ch.remoteAddress())
                + (deadCause == null ? "" : " dead: " + deadCause.reason())
                + (keepalive == null ? " (control)" : " " + keepalive.stats());
    }
}
