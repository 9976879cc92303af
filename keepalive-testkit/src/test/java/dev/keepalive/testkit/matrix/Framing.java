package dev.keepalive.testkit.matrix;

import dev.keepalive.netty.KeepaliveProbe;
import io.netty.buffer.ByteBuf;
import io.netty.buffer.ByteBufAllocator;
import io.netty.channel.ChannelPipeline;
import io.netty.handler.codec.LengthFieldBasedFrameDecoder;
import io.netty.handler.codec.LengthFieldPrepender;
import io.netty.handler.codec.LineBasedFrameDecoder;
import java.nio.charset.StandardCharsets;

/** How the matrix's little application protocol frames its messages, and the probe that goes with it. */
enum Framing {
    /** A 4-byte length prefix per frame; the binary probe. */
    BINARY {
        @Override
        void install(ChannelPipeline p) {
            p.addLast(new LengthFieldBasedFrameDecoder(1 << 20, 0, 4, 0, 4), new LengthFieldPrepender(4));
        }

        @Override
        KeepaliveProbe probe() {
            return KeepaliveProbe.binary();
        }

        @Override
        ByteBuf encode(ByteBufAllocator alloc, byte[] payload) {
            return alloc.buffer(payload.length).writeBytes(payload);
        }
    },
    /** Lines ending with {@code \n}; the line probe. */
    LINES {
        @Override
        void install(ChannelPipeline p) {
            p.addLast(new LineBasedFrameDecoder(1 << 20));
        }

        @Override
        KeepaliveProbe probe() {
            return KeepaliveProbe.lines();
        }

        @Override
        ByteBuf encode(ByteBufAllocator alloc, byte[] payload) {
            return alloc.buffer(payload.length + 1).writeBytes(payload).writeByte('\n');
        }
    };

    /** Adds the frame decoder (and encoder) to {@code p}. */
    abstract void install(ChannelPipeline p);

    /** The keepalive probe that travels in this framing. */
    abstract KeepaliveProbe probe();

    /** One frame carrying {@code payload}, ready to write after {@link #install}. */
    abstract ByteBuf encode(ByteBufAllocator alloc, byte[] payload);

    ByteBuf encode(ByteBufAllocator alloc, String text) {
        return encode(alloc, text.getBytes(StandardCharsets.US_ASCII));
    }
}
