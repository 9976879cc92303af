package dev.keepalive.netty.session.internal;

import dev.keepalive.session.SessionProtocolException;
import io.netty.buffer.ByteBuf;
import io.netty.buffer.ByteBufAllocator;
import io.netty.buffer.Unpooled;
import io.netty.util.ReferenceCountUtil;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

import java.nio.charset.StandardCharsets;
import java.util.List;
import java.util.Random;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

class FrameCodecTest {
    private static final ByteBufAllocator ALLOC = ByteBufAllocator.DEFAULT;
    private static final String ID = "0123456789abcdef0123456789abcdef";

    @Test
    void everyFrameRoundTripsInBothFramings() throws Exception {
        for (FrameCodec codec : List.of(BinaryFrames.INSTANCE, LineFrames.INSTANCE)) {
            ByteBuf payload = Unpooled.copiedBuffer("hello", StandardCharsets.UTF_8);
            Object[] frames = {codec.data(ALLOC, 7, 3, payload), codec.ack(ALLOC, 9), codec.hello(ALLOC, ID, true, 4),
                    codec.resumed(ALLOC, 5), codec.expired(ALLOC, ID)};
            payload.release();
            Frame data = decode(codec, frames[0]);
            assertEquals(Frame.Type.DATA, data.type);
            assertEquals(7, data.seq);
            assertEquals(3, data.ack);
            String text = ((ByteBuf) data.payload).toString(StandardCharsets.UTF_8);
            assertEquals(codec == LineFrames.INSTANCE ? "hello\n" : "hello", text);
            ReferenceCountUtil.release(data.payload);
            assertEquals(9, decode(codec, frames[1]).ack);
            Frame hello = decode(codec, frames[2]);
            assertEquals(ID, hello.id);
            assertTrue(hello.resume);
            assertEquals(4, hello.ack);
            assertEquals(5, decode(codec, frames[3]).ack);
            assertEquals(ID, decode(codec, frames[4]).id);
        }
    }

    private static Frame decode(FrameCodec codec, Object frame) throws SessionProtocolException {
        try {
            return codec.decode(frame);
        } finally {
            ReferenceCountUtil.release(frame);
        }
    }

    @Test
    void noBinarySessionFrameIsElevenBytesLongLikeABinaryProbeFrame() {
        ByteBuf empty = Unpooled.EMPTY_BUFFER;
        for (Object f : List.of(BinaryFrames.INSTANCE.data(ALLOC, 1, 0, empty), BinaryFrames.INSTANCE.ack(ALLOC, 1),
                BinaryFrames.INSTANCE.hello(ALLOC, ID, false, 0), BinaryFrames.INSTANCE.resumed(ALLOC, 0),
                BinaryFrames.INSTANCE.expired(ALLOC, ID))) {
            assertTrue(((ByteBuf) f).readableBytes() != 11);
            ReferenceCountUtil.release(f);
        }
    }

    @ParameterizedTest
    @ValueSource(strings = {"", "SD", "SD 1", "SD 1 2", "SD x 0 p", "SD 0 0 p", "SD 1 -1 p", "SA", "SA x", "SA 1 2",
            "SR", "SX nothex", "SH " + ID, "SH " + ID + " maybe 0", "SH short new 0", "PING 1", "hello"})
    void malformedLinesAreProtocolErrorsAsStringsAndAsBuffers(String line) {
        assertThrows(SessionProtocolException.class, () -> LineFrames.INSTANCE.decode(line));
        ByteBuf b = Unpooled.copiedBuffer(line, StandardCharsets.UTF_8);
        try {
            assertThrows(SessionProtocolException.class, () -> LineFrames.INSTANCE.decode(b));
        } finally {
            b.release();
        }
    }

    /** Random bytes are session frames or protocol errors, never another exception; nothing leaks. */
    @Test
    void randomBytesNeverThrowAnythingButAProtocolError() {
        Random random = new Random(11);
        for (int i = 0; i < 20_000; i++) {
            byte[] bytes = new byte[random.nextInt(40)];
            random.nextBytes(bytes);
            if (bytes.length > 0 && random.nextBoolean()) {
                bytes[0] = (byte) (1 + random.nextInt(5)); // a known type, often the wrong length
            }
            for (FrameCodec codec : List.of(BinaryFrames.INSTANCE, LineFrames.INSTANCE)) {
                ByteBuf b = Unpooled.wrappedBuffer(bytes);
                try {
                    Frame f = codec.decode(b);
                    ReferenceCountUtil.release(f.payload);
                } catch (SessionProtocolException expected) {
                    // counted and dropped by the handler
                } finally {
                    b.release();
                }
            }
        }
    }
}
