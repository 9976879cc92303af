package dev.keepalive.netty.session.internal;

import dev.keepalive.session.SessionProtocolException;
import io.netty.buffer.ByteBufAllocator;

/** Encodes and decodes session frames on one framing (binary frames or text lines). Stateless. */
public interface FrameCodec {
    /** Whether {@code msg} is a payload this framing can carry. */
    boolean accepts(Object msg);

    /** The payload's size in bytes, for the buffer's bounds. */
    long size(Object payload);

    /** A DATA frame around {@code payload} (not consumed: the session keeps it for re-sends). */
    Object data(ByteBufAllocator alloc, long seq, long ack, Object payload);

    /** A standalone acknowledgement. */
    Object ack(ByteBufAllocator alloc, long ack);

    /** The client's HELLO. */
    Object hello(ByteBufAllocator alloc, String id, boolean resume, long delivered);

    /** The server's RESUMED. */
    Object resumed(ByteBufAllocator alloc, long delivered);

    /** The server's SESSION_EXPIRED. */
    Object expired(ByteBufAllocator alloc, String id);

    /**
     * Decodes an inbound frame; {@code msg} is not released (the caller releases it).
     *
     * @throws SessionProtocolException if it is no session frame
     */
    Frame decode(Object msg) throws SessionProtocolException;

    /** Session ids are 32 lower-case hex digits. */
    static boolean isValidId(String id) {
        if (id == null || id.length() != 32) {
            return false;
        }
        for (int i = 0; i < 32; i++) {
            char c = id.charAt(i);
            if (!(c >= '0' && c <= '9' || c >= 'a' && c <= 'f')) {
                return false;
            }
        }
        return true;
    }
}
