package dev.keepalive.netty;

import io.netty.buffer.ByteBuf;
import io.netty.buffer.ByteBufAllocator;

/**
 * A compact binary probe for protocols the application owns: every probe is one frame of exactly
 * {@value #FRAME_LENGTH} bytes,
 * <pre>
 *   +----------------+--------+----------------------------+
 *   | marker (2 B)   | type   | ping id (8 B, big-endian)  |
 *   +----------------+--------+----------------------------+
 *   type: 1 = PING, 2 = PONG, 3 = GOAWAY (id 1: too many pings)
 * </pre>
 * Place {@link KeepaliveHandler} after the application's frame decoder and frame encoder (for example
 * {@code LengthFieldBasedFrameDecoder} and {@code LengthFieldPrepender}), so that probes travel as frames of the
 * application's own protocol. An inbound frame of exactly 11 bytes that starts with the marker is a probe frame; the
 * application must not send such frames itself (choose another marker with {@link #withMarker(int)} if it does).
 */
public final class BinaryProbe implements KeepaliveProbe {
    /** The length of every probe frame. */
    public static final int FRAME_LENGTH = 11;
    /** The default marker: the ASCII bytes {@code "KA"}. */
    public static final int DEFAULT_MARKER = 0x4B41;
    static final BinaryProbe DEFAULT = new BinaryProbe(DEFAULT_MARKER);

    static final byte TYPE_PING = 1;
    static final byte TYPE_PONG = 2;
    static final byte TYPE_GOAWAY = 3;
    static final long GOAWAY_TOO_MANY_PINGS = 1;

    private final short marker;

    private BinaryProbe(int marker) {
        this.marker = (short) marker;
    }

    /**
     * The same probe with another two-byte marker.
     *
     * @throws IllegalArgumentException if {@code marker} is not in 0..0xFFFF
     */
    public static BinaryProbe withMarker(int marker) {
        if (marker < 0 || marker > 0xFFFF) {
            throw new IllegalArgumentException("marker must be in 0..0xFFFF, but was " + marker);
        }
        return new BinaryProbe(marker);
    }

    @Override
    public Object newPing(ByteBufAllocator alloc, long pingId) {
        return frame(alloc, TYPE_PING, pingId);
    }

    @Override
    public Object newPong(ByteBufAllocator alloc, long pingId) {
        return frame(alloc, TYPE_PONG, pingId);
    }

    @Override
    public Object newTooManyPings(ByteBufAllocator alloc) {
        return frame(alloc, TYPE_GOAWAY, GOAWAY_TOO_MANY_PINGS);
    }

    private ByteBuf frame(ByteBufAllocator alloc, byte type, long id) {
        return alloc.buffer(FRAME_LENGTH, FRAME_LENGTH).writeShort(marker).writeByte(type).writeLong(id);
    }

    @Override
    public boolean consume(Object msg, Sink sink) {
        if (!(msg instanceof ByteBuf)) {
            return false;
        }
        ByteBuf buf = (ByteBuf) msg;
        int at = buf.readerIndex();
        if (buf.readableBytes() != FRAME_LENGTH || buf.getShort(at) != marker) {
            return false;
        }
        byte type = buf.getByte(at + 2);
        long id = buf.getLong(at + 3);
        switch (type) {
            case TYPE_PING:
                sink.pingReceived(id);
                break;
            case TYPE_PONG:
                sink.pongReceived(id);
                break;
            case TYPE_GOAWAY:
                if (id == GOAWAY_TOO_MANY_PINGS) {
                    sink.tooManyPingsReceived();
                } else {
                    sink.malformed("GOAWAY with unknown code " + id);
                }
                break;
            default:
                sink.malformed("probe frame of unknown type " + type);
        }
        return true;
    }

    @Override
    public String toString() {
        return "KeepaliveProbe.binary(marker=0x" + Integer.toHexString(marker & 0xFFFF) + ')';
    }
}
