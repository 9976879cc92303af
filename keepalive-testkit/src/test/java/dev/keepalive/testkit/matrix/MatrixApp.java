package dev.keepalive.testkit.matrix;

import dev.keepalive.KeepaliveSettings;
import io.netty.buffer.ByteBuf;
import io.netty.channel.ChannelHandler;
import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.ChannelInboundHandlerAdapter;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.Arrays;
import java.util.concurrent.ScheduledFuture;
import java.util.concurrent.TimeUnit;
import java.util.function.Consumer;

/**
 * The matrix's application protocol, spoken by every server (in the test JVM and in a lab's peer JVM): a frame
 * {@code BIG <n>} is answered with one frame of {@code n} bytes; {@code TICK <ms>} makes the server send a
 * {@code tick} frame every {@code ms} milliseconds from then on; any other frame is echoed.
 */
final class MatrixApp {
    /** Frames longer than this are described by their length in logs and records, not by their content. */
    static final int SHOWN_LENGTH = 64;

    /**
     * The settings of a server's handler that only answers pings: it never pings on its own (within a test's
     * lifetime) and sets no kernel keepalive, so that it never keeps a flow alive or closes a control client.
     */
    static final KeepaliveSettings PONG_ONLY = KeepaliveSettings.builder()
            .pingInterval(Duration.ofHours(1))
            .tcpKeepAlive(false)
            .tcpUserTimeout(Duration.ZERO)
            .build();

    private MatrixApp() {
    }

    /** The text of a frame, or {@code <n bytes>} when it is long. */
    static String describe(ByteBuf frame) {
        int n = frame.readableBytes();
        return n > SHOWN_LENGTH ? "<" + n + " bytes>" : frame.toString(StandardCharsets.US_ASCII);
    }

    /** The server side of the protocol; {@code events} hears {@code RECEIVED <remote> <frame>} lines. */
    @ChannelHandler.Sharable
    static final class Server extends ChannelInboundHandlerAdapter {
        private final Framing framing;
        private final Consumer<String> events;

        Server(Framing framing, Consumer<String> events) {
            this.framing = framing;
            this.events = events;
        }

        @Override
        public void channelRead(ChannelHandlerContext ctx, Object msg) {
            ByteBuf frame = (ByteBuf) msg;
            try {
                String text = describe(frame);
                events.accept("RECEIVED " + ctx.channel().remoteAddress() + " " + text);
                if (text.startsWith("TICK ")) {
                    long every = Long.parseLong(text.substring(5).strip());
                    ScheduledFuture<?> ticks = ctx.executor().scheduleAtFixedRate(
                            () -> ctx.writeAndFlush(framing.encode(ctx.alloc(), "tick")), every, every,
                            TimeUnit.MILLISECONDS);
                    ctx.channel().closeFuture().addListener(f -> ticks.cancel(false));
                } else if (text.startsWith("BIG ")) {
                    byte[] big = new byte[Integer.parseInt(text.substring(4).strip())];
                    Arrays.fill(big, (byte) 'x');
                    ctx.writeAndFlush(framing.encode(ctx.alloc(), big));
                } else {
                    byte[] copy = new byte[frame.readableBytes()];
                    frame.getBytes(frame.readerIndex(), copy);
                    ctx.writeAndFlush(framing.encode(ctx.alloc(), copy));
                }
            } finally {
                frame.release();
            }
        }

        @Override
        public void exceptionCaught(ChannelHandlerContext ctx, Throwable cause) {
            events.accept("ERROR " + ctx.channel().remoteAddress() + " " + cause);
            ctx.close();
        }
    }
}
