package dev.keepalive.netty.session.internal;

import dev.keepalive.session.SessionProtocolException;
import io.netty.buffer.ByteBuf;
import io.netty.buffer.ByteBufAllocator;
import io.netty.buffer.ByteBufUtil;

import java.nio.charset.StandardCharsets;

/**
 * Session frames as text lines (see {@code SessionFraming.lines()}): {@code SD <seq> <ack> <payload>},
 * {@code SA <ack>}, {@code SH <id> new|resume <delivered>}, {@code SR <delivered>}, {@code SX <id>}. Inbound lines
 * may be buffers or strings, with or without their line end; outbound frames are buffers ending in {@code \n}.
 */
public final class LineFrames implements FrameCodec {
    public static final LineFrames INSTANCE = new LineFrames();
    /** Header lines (everything but DATA) are never longer. */
    private static final int MAX_CONTROL_LINE = 80;

    private LineFrames() {
    }

    @Override
    public boolean accepts(Object msg) {
        return msg instanceof ByteBuf || msg instanceof CharSequence;
    }

    @Override
    public long size(Object payload) {
        return payload instanceof ByteBuf ? ((ByteBuf) payload).readableBytes()
                : ByteBufUtil.utf8Bytes((CharSequence) payload);
    }

    @Override
    public Object data(ByteBufAllocator alloc, long seq, long ack, Object payload) {
        String header = "SD " + seq + ' ' + ack + ' ';
        if (payload instanceof ByteBuf) {
            ByteBuf p = (ByteBuf) payload;
            int n = p.readableBytes();
            boolean ends = n > 0 && p.getByte(p.readerIndex() + n - 1) == '\n';
            ByteBuf out = alloc.buffer(header.length() + n + 1);
            out.writeCharSequence(header, StandardCharsets.US_ASCII);
            out.writeBytes(p, p.readerIndex(), n);
            if (!ends) {
                out.writeByte('\n');
            }
            return out;
        }
        CharSequence s = (CharSequence) payload;
        boolean ends = s.length() > 0 && s.charAt(s.length() - 1) == '\n';
        ByteBuf out = alloc.buffer(header.length() + ByteBufUtil.utf8MaxBytes(s) + 1);
        out.writeCharSequence(header, StandardCharsets.US_ASCII);
        out.writeCharSequence(s, StandardCharsets.UTF_8);
        if (!ends) {
            out.writeByte('\n');
        }
        return out;
    }

    private static ByteBuf line(ByteBufAllocator alloc, String text) {
        ByteBuf out = alloc.buffer(text.length() + 1);
        out.writeCharSequence(text, StandardCharsets.US_ASCII);
        return out.writeByte('\n');
    }

    @Override
    public Object ack(ByteBufAllocator alloc, long ack) {
        return line(alloc, "SA " + ack);
    }

    @Override
    public Object hello(ByteBufAllocator alloc, String id, boolean resume, long delivered) {
        return line(alloc, "SH " + id + (resume ? " resume " : " new ") + delivered);
    }

    @Override
    public Object resumed(ByteBufAllocator alloc, long delivered) {
        return line(alloc, "SR " + delivered);
    }

    @Override
    public Object expired(ByteBufAllocator alloc, String id) {
        return line(alloc, "SX " + id);
    }

    @Override
    public Frame decode(Object msg) throws SessionProtocolException {
        if (msg instanceof ByteBuf) {
            ByteBuf b = (ByteBuf) msg;
            int at = b.readerIndex();
            int n = b.readableBytes();
            if (n >= 3 && b.getByte(at) == 'S' && b.getByte(at + 1) == 'D' && b.getByte(at + 2) == ' ') {
                int s1 = b.indexOf(at + 3, at + Math.min(n, 64), (byte) ' ');
                int s2 = s1 < 0 ? -1 : b.indexOf(s1 + 1, at + Math.min(n, 64), (byte) ' ');
                if (s2 < 0) {
                    throw malformed(b.toString(at, Math.min(n, MAX_CONTROL_LINE), StandardCharsets.UTF_8));
                }
                long seq = number(b.toString(at + 3, s1 - at - 3, StandardCharsets.US_ASCII));
                long ack = number(b.toString(s1 + 1, s2 - s1 - 1, StandardCharsets.US_ASCII));
                if (seq < 1 || ack < 0) {
                    throw malformed(b.toString(at, s2 - at, StandardCharsets.US_ASCII));
                }
                return new Frame(Frame.Type.DATA, seq, ack, null, false, b.retainedSlice(s2 + 1, at + n - s2 - 1));
            }
            if (n > MAX_CONTROL_LINE) {
                throw malformed(b.toString(at, MAX_CONTROL_LINE, StandardCharsets.UTF_8) + "...");
            }
            return control(b.toString(at, n, StandardCharsets.UTF_8));
        }
        if (msg instanceof CharSequence) {
            String line = msg.toString();
            if (line.startsWith("SD ")) {
                int s1 = line.indexOf(' ', 3);
                int s2 = s1 < 0 ? -1 : line.indexOf(' ', s1 + 1);
                if (s2 < 0 || s2 > 64) {
                    throw malformed(line.substring(0, Math.min(line.length(), MAX_CONTROL_LINE)));
                }
                long seq = number(line.substring(3, s1));
                long ack = number(line.substring(s1 + 1, s2));
                if (seq < 1 || ack < 0) {
                    throw malformed(line.substring(0, s2));
                }
                return new Frame(Frame.Type.DATA, seq, ack, null, false, line.substring(s2 + 1));
            }
            if (line.length() > MAX_CONTROL_LINE) {
                throw malformed(line.substring(0, MAX_CONTROL_LINE) + "...");
            }
            return control(line);
        }
        throw new SessionProtocolException("a session line must be a ByteBuf or a CharSequence, but was a "
                + (msg == null ? "null" : msg.getClass().getName()));
    }

    private static Frame control(String raw) throws SessionProtocolException {
        String line = stripLineEnd(raw);
        String[] w = line.split(" ", -1);
        switch (w[0]) {
            case "SA":
                if (w.length == 2 && number(w[1]) >= 0) {
                    return new Frame(Frame.Type.ACK, 0, number(w[1]), null, false, null);
                }
                break;
            case "SR":
                if (w.length == 2 && number(w[1]) >= 0) {
                    return new Frame(Frame.Type.RESUMED, 0, number(w[1]), null, false, null);
                }
                break;
            case "SX":
                if (w.length == 2 && FrameCodec.isValidId(w[1])) {
                    return new Frame(Frame.Type.EXPIRED, 0, 0, w[1], false, null);
                }
                break;
            case "SH":
                if (w.length == 4 && FrameCodec.isValidId(w[1]) && (w[2].equals("new") || w[2].equals("resume"))
                        && number(w[3]) >= 0) {
                    return new Frame(Frame.Type.HELLO, 0, number(w[3]), w[1], w[2].equals("resume"), null);
                }
                break;
            default:
                break;
        }
        throw malformed(line);
    }

    private static SessionProtocolException malformed(String line) {
        return new SessionProtocolException("not a session line: \"" + stripLineEnd(line) + '"');
    }

    private static String stripLineEnd(String s) {
        int end = s.length();
        while (end > 0 && (s.charAt(end - 1) == '\n' || s.charAt(end - 1) == '\r')) {
            end--;
        }
        return s.substring(0, end);
    }

    /** A non-negative decimal of at most 18 digits, or -1. */
    private static long number(String s) {
        if (s.isEmpty() || s.length() > 18) {
            return -1;
        }
        long v = 0;
        for (int i = 0; i < s.length(); i++) {
            char c = s.charAt(i);
            if (c < '0' || c > '9') {
                return -1;
            }
            v = v * 10 + (c - '0');
        }
        return v;
    }
}
