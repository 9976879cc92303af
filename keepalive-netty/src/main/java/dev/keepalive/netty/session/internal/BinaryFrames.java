package dev.keepalive.netty.session.internal;

import dev.keepalive.session.SessionProtocolException;
import io.netty.buffer.ByteBuf;
import io.netty.buffer.ByteBufAllocator;

/**
 * Session frames as binary frames of the application's framing (see {@code SessionFraming.binary()}). No frame is
 * 11 bytes long, so none is ever taken for a {@code BinaryProbe} frame.
 */
public final class BinaryFrames implements FrameCodec {
    public static final BinaryFrames INSTANCE = new BinaryFrames();

    static final byte DATA = 1;
    static final byte ACK = 2;
    static final byte HELLO = 3;
    static final byte RESUMED = 4;
    static final byte EXPIRED = 5;
    static final int DATA_HEADER = 17;

    private BinaryFrames() {
    }

    @Override
    public boolean accepts(Object msg) {
        return msg instanceof ByteBuf;
    }

    @Override
    public long size(Object payload) {
        return ((ByteBuf) payload).readableBytes();
    }

    @Override
    public Object data(ByteBufAllocator alloc, long seq, long ack, Object payload) {
        ByteBuf p = (ByteBuf) payload;
        int n = p.readableBytes();
        ByteBuf out = alloc.buffer(DATA_HEADER + n);
        out.writeByte(DATA).writeLong(seq).writeLong(ack);
        out.writeBytes(p, p.readerIndex(), n);
        return out;
    }

    @Override
    public Object ack(ByteBufAllocator alloc, long ack) {
        return alloc.buffer(9).writeByte(ACK).writeLong(ack);
    }

    @Override
    public Object hello(ByteBufAllocator alloc, String id, boolean resume, long delivered) {
        ByteBuf out = alloc.buffer(26).writeByte(HELLO).writeByte(resume ? 1 : 0);
        out.writeLong(Long.parseUnsignedLong(id.substring(0, 16), 16));
        out.writeLong(Long.parseUnsignedLong(id.substring(16), 16));
        return out.writeLong(delivered);
    }

    @Override
    public Object resumed(ByteBufAllocator alloc, long delivered) {
        return alloc.buffer(9).writeByte(RESUMED).writeLong(delivered);
    }

    @Override
    public Object expired(ByteBufAllocator alloc, String id) {
        ByteBuf out = alloc.buffer(17).writeByte(EXPIRED);
        out.writeLong(Long.parseUnsignedLong(id.substring(0, 16), 16));
        return out.writeLong(Long.parseUnsignedLong(id.substring(16), 16));
    }

    @Override
    public Frame decode(Object msg) throws SessionProtocolException {
        if (!(msg instanceof ByteBuf)) {
            throw new SessionProtocolException("a session frame must be a ByteBuf, but was a "
                    + (msg == null ? "null" : msg.getClass().getName()));
        }
        ByteBuf b = (ByteBuf) msg;
        int at = b.readerIndex();
        int n = b.readableBytes();
        if (n < 1) {
            throw new SessionProtocolException("an empty session frame");
        }
        byte type = b.getByte(at);
        switch (type) {
            case DATA:
                check(n >= DATA_HEADER, "DATA", n);
                long seq = b.getLong(at + 1);
                long ack = b.getLong(at + 9);
                checkNumbers(seq >= 1 && ack >= 0, "DATA seq " + seq + " ack " + ack);
                return new Frame(Frame.Type.DATA, seq, ack, null, false,
                        b.retainedSlice(at + DATA_HEADER, n - DATA_HEADER));
            case ACK:
                check(n == 9, "ACK", n);
                return new Frame(Frame.Type.ACK, 0, nonNegative(b.getLong(at + 1), "ACK"), null, false, null);
            case HELLO:
                check(n == 26, "HELLO", n);
                byte flags = b.getByte(at + 1);
                checkNumbers(flags == 0 || flags == 1, "HELLO flags " + flags);
                return new Frame(Frame.Type.HELLO, 0, nonNegative(b.getLong(at + 18), "HELLO"),
                        id(b.getLong(at + 2), b.getLong(at + 10)), flags == 1, null);
            case RESUMED:
                check(n == 9, "RESUMED", n);
                return new Frame(Frame.Type.RESUMED, 0, nonNegative(b.getLong(at + 1), "RESUMED"), null, false, null);
            case EXPIRED:
                check(n == 17, "EXPIRED", n);
                return new Frame(Frame.Type.EXPIRED, 0, 0, id(b.getLong(at + 1), b.getLong(at + 9)), false, null);
            default:
                throw new SessionProtocolException("unknown session frame type " + type + " (" + n + " bytes)");
        }
    }

    private static String id(long high, long low) {
        String h = Long.toHexString(high);
        String l = Long.toHexString(low);
        return "0".repeat(16 - h.length()) + h + "0".repeat(16 - l.length()) + l;
    }

    private static void check(boolean ok, String type, int length) throws SessionProtocolException {
        if (!ok) {
            throw new SessionProtocolException(type + " frame of " + length + " bytes has the wrong length");
        }
    }

    private static void checkNumbers(boolean ok, String what) throws SessionProtocolException {
        if (!ok) {
            throw new SessionProtocolException("invalid " + what);
        }
    }

    private static long nonNegative(long v, String type) throws SessionProtocolException {
        if (v < 0) {
            throw new SessionProtocolException("invalid " + type + " number " + v);
        }
        return v;
    }
}
