package dev.keepalive.netty;

import io.netty.buffer.ByteBuf;
import io.netty.buffer.ByteBufAllocator;

import java.nio.charset.StandardCharsets;
import java.util.Objects;

/**
 * A probe for line-based text protocols: {@code PING <id>}, {@code PONG <id>} and {@code GOAWAY too_many_pings}
 * lines, with configurable words.
 *
 * <p>Place {@link KeepaliveHandler} after the line decoder ({@code LineBasedFrameDecoder}, optionally followed by a
 * {@code StringDecoder}): inbound lines may be {@link ByteBuf}s or {@link CharSequence}s, with or without their line
 * end. Probes are written as {@link ByteBuf}s that already end with the line separator, so they pass through string
 * encoders untouched. Lines that start with one of the words and a space are reserved for the probe: one that does
 * not carry a valid id is counted as malformed and dropped.
 */
public final class LineProbe implements KeepaliveProbe {
    static final LineProbe DEFAULT = new LineProbe("PING", "PONG", "GOAWAY", "\n");
    static final String TOO_MANY_PINGS = "too_many_pings";
    /** Lines longer than this are never probe lines. */
    private static final int MAX_PROBE_LINE = 64;

    private final String pingWord;
    private final String pongWord;
    private final String goAwayWord;
    private final String lineSeparator;
    private final byte[] pingPrefix;
    private final byte[] pongPrefix;
    private final byte[] goAwayPrefix;

    private LineProbe(String pingWord, String pongWord, String goAwayWord, String lineSeparator) {
        this.pingWord = word("pingWord", pingWord);
        this.pongWord = word("pongWord", pongWord);
        this.goAwayWord = word("goAwayWord", goAwayWord);
        if (pingWord.equals(pongWord) || pingWord.equals(goAwayWord) || pongWord.equals(goAwayWord)) {
            throw new IllegalArgumentException("pingWord, pongWord and goAwayWord must differ, but were "
                    + pingWord + ", " + pongWord + ", " + goAwayWord);
        }
        Objects.requireNonNull(lineSeparator, "lineSeparator");
        if (!lineSeparator.equals("\n") && !lineSeparator.equals("\r\n")) {
            throw new IllegalArgumentException("lineSeparator must be \\n or \\r\\n, but was "
                    + lineSeparator.replace("\r", "\\r").replace("\n", "\\n"));
        }
        this.lineSeparator = lineSeparator;
        this.pingPrefix = (pingWord + ' ').getBytes(StandardCharsets.US_ASCII);
        this.pongPrefix = (pongWord + ' ').getBytes(StandardCharsets.US_ASCII);
        this.goAwayPrefix = (goAwayWord + ' ').getBytes(StandardCharsets.US_ASCII);
    }

    private static String word(String name, String word) {
        Objects.requireNonNull(word, name);
        if (!word.matches("[A-Za-z_][A-Za-z0-9_]{0,15}")) {
            throw new IllegalArgumentException(name + " must be 1..16 ASCII letters, digits or _ (not starting "
                    + "with a digit), but was \"" + word + "\"");
        }
        return word;
    }

    /** The same probe with other words, for example {@code words("HEARTBEAT", "HEARTBEAT_ACK", "BYE")}. */
    public LineProbe withWords(String pingWord, String pongWord, String goAwayWord) {
        return new LineProbe(pingWord, pongWord, goAwayWord, lineSeparator);
    }

    /** The same probe ending its lines with {@code "\n"} or {@code "\r\n"}. */
    public LineProbe withLineSeparator(String lineSeparator) {
        return new LineProbe(pingWord, pongWord, goAwayWord, lineSeparator);
    }

    @Override
    public Object newPing(ByteBufAllocator alloc, long pingId) {
        return line(alloc, pingWord + ' ' + pingId);
    }

    @Override
    public Object newPong(ByteBufAllocator alloc, long pingId) {
        return line(alloc, pongWord + ' ' + pingId);
    }

    @Override
    public Object newTooManyPings(ByteBufAllocator alloc) {
        return line(alloc, goAwayWord + ' ' + TOO_MANY_PINGS);
    }

    private ByteBuf line(ByteBufAllocator alloc, String text) {
        byte[] bytes = (text + lineSeparator).getBytes(StandardCharsets.US_ASCII);
        return alloc.buffer(bytes.length, bytes.length).writeBytes(bytes);
    }

    @Override
    public boolean consume(Object msg, Sink sink) {
        if (msg instanceof ByteBuf) {
            ByteBuf buf = (ByteBuf) msg;
            int length = buf.readableBytes();
            if (length > MAX_PROBE_LINE || length < 2) {
                return false;
            }
            int at = buf.readerIndex();
            byte first = buf.getByte(at);
            if (first != pingPrefix[0] && first != pongPrefix[0] && first != goAwayPrefix[0]) {
                return false;
            }
            byte[] prefix = startsWith(buf, at, length, pingPrefix) ? pingPrefix
                    : startsWith(buf, at, length, pongPrefix) ? pongPrefix
                    : startsWith(buf, at, length, goAwayPrefix) ? goAwayPrefix : null;
            if (prefix == null) {
                return false;
            }
            return dispatch(prefix, buf.toString(at, length, StandardCharsets.US_ASCII), sink);
        }
        if (msg instanceof CharSequence) {
            CharSequence s = (CharSequence) msg;
            int length = s.length();
            if (length > MAX_PROBE_LINE || length < 2) {
                return false;
            }
            char first = s.charAt(0);
            if (first != pingPrefix[0] && first != pongPrefix[0] && first != goAwayPrefix[0]) {
                return false;
            }
            String line = s.toString();
            byte[] prefix = line.startsWith(pingWord + ' ') ? pingPrefix
                    : line.startsWith(pongWord + ' ') ? pongPrefix
                    : line.startsWith(goAwayWord + ' ') ? goAwayPrefix : null;
            return prefix != null && dispatch(prefix, line, sink);
        }
        return false;
    }

    private boolean dispatch(byte[] prefix, String line, Sink sink) {
        String argument = stripLineEnd(line.substring(prefix.length));
        if (prefix == goAwayPrefix) {
            if (argument.equals(TOO_MANY_PINGS)) {
                sink.tooManyPingsReceived();
            } else {
                sink.malformed(goAwayWord + " with unknown reason \"" + argument + '"');
            }
            return true;
        }
        long id = parseId(argument);
        if (id < 0) {
            sink.malformed("probe line without a valid id: \"" + stripLineEnd(line) + '"');
        } else if (prefix == pingPrefix) {
            sink.pingReceived(id);
        } else {
            sink.pongReceived(id);
        }
        return true;
    }

    private static boolean startsWith(ByteBuf buf, int at, int length, byte[] prefix) {
        if (length < prefix.length) {
            return false;
        }
        for (int i = 0; i < prefix.length; i++) {
            if (buf.getByte(at + i) != prefix[i]) {
                return false;
            }
        }
        return true;
    }

    private static String stripLineEnd(String s) {
        int end = s.length();
        while (end > 0 && (s.charAt(end - 1) == '\n' || s.charAt(end - 1) == '\r')) {
            end--;
        }
        return s.substring(0, end);
    }

    /** Parses a non-negative decimal id of at most 18 digits; returns -1 when it is not one. */
    private static long parseId(String s) {
        if (s.isEmpty() || s.length() > 18) {
            return -1;
        }
        long id = 0;
        for (int i = 0; i < s.length(); i++) {
            char c = s.charAt(i);
            if (c < '0' || c > '9') {
                return -1;
            }
            id = id * 10 + (c - '0');
        }
        return id;
    }

    @Override
    public String toString() {
        return "KeepaliveProbe.lines(" + pingWord + '/' + pongWord + '/' + goAwayWord + ')';
    }
}
