package dev.keepalive.netty.session;

import dev.keepalive.netty.session.internal.BinaryFrames;
import dev.keepalive.netty.session.internal.FrameCodec;
import dev.keepalive.netty.session.internal.LineFrames;

/**
 * How the session layer wraps application messages in the application's own framing. The session handler sits
 * above the frame decoder and encoder and the {@code KeepaliveHandler}, and below the application's message codec:
 * it carries payloads that are already encoded.
 *
 * <h2>{@link #binary()}: one frame per session frame (e.g. after {@code LengthFieldBasedFrameDecoder})</h2>
 * <pre>
 *   DATA     1 | seq (8 B) | ack (8 B) | payload        (17 B + payload)
 *   ACK      2 | ack (8 B)                               (9 B)
 *   HELLO    3 | 0 new, 1 resume | id (16 B) | delivered (8 B)   (26 B)
 *   RESUMED  4 | delivered (8 B)                         (9 B)
 *   EXPIRED  5 | id (16 B)                               (17 B)
 * </pre>
 * Numbers are big-endian. No session frame is 11 bytes long, so none is taken for a {@code BinaryProbe} frame.
 * Payloads are {@code ByteBuf}s.
 *
 * <h2>{@link #lines()}: one line per session frame (e.g. after {@code LineBasedFrameDecoder})</h2>
 * <pre>
 *   SD &lt;seq&gt; &lt;ack&gt; &lt;payload&gt;
 *   SA &lt;ack&gt;
 *   SH &lt;id&gt; new|resume &lt;delivered&gt;
 *   SR &lt;delivered&gt;
 *   SX &lt;id&gt;
 * </pre>
 * Inbound lines may be {@code ByteBuf}s or strings (after a {@code StringDecoder}), with or without their line end;
 * the payload is handed on in the same form. Outbound payloads are {@code ByteBuf}s or {@code CharSequence}s, one
 * line each (a missing {@code \n} is added). The keepalive probe's {@code PING}/{@code PONG}/{@code GOAWAY} lines
 * never reach the session handler.
 *
 * <p>In both: {@code seq} numbers one direction's messages from 1; {@code ack} and {@code delivered} are the
 * highest sequence number of the other direction handed to the application (cumulative); {@code id} is 32
 * lower-case hex digits chosen at random by the client.
 */
public final class SessionFraming {
    private static final SessionFraming BINARY = new SessionFraming(BinaryFrames.INSTANCE, "binary");
    private static final SessionFraming LINES = new SessionFraming(LineFrames.INSTANCE, "lines");

    final FrameCodec codec;
    private final String name;

    private SessionFraming(FrameCodec codec, String name) {
        this.codec = codec;
        this.name = name;
    }

    /** Session frames as binary frames of the application's framing; payloads are {@code ByteBuf}s. */
    public static SessionFraming binary() {
        return BINARY;
    }

    /** Session frames as text lines; payloads are {@code ByteBuf}s or {@code CharSequence}s. */
    public static SessionFraming lines() {
        return LINES;
    }

    @Override
    public String toString() {
        return "SessionFraming." + name + "()";
    }
}
