package dev.keepalive.netty.session.internal;

/**
 * One decoded session frame. {@link #payload} of a {@code DATA} frame is owned by the receiver (a retained slice of
 * a buffer, or a string); other frames have none.
 */
public final class Frame {
    /** The kinds of frame. */
    public enum Type {
        /** An application message: {@code seq}, {@code ack}, payload. */
        DATA,
        /** A standalone cumulative acknowledgement: {@code ack}. */
        ACK,
        /** Client to server: open or resume session {@code id}, having delivered up to {@code ack}. */
        HELLO,
        /** Server to client: the session is open; the server delivered up to {@code ack}. */
        RESUMED,
        /** Server to client: session {@code id} is unknown or expired. */
        EXPIRED
    }

    public final Type type;
    public final long seq;
    public final long ack;
    public final String id;
    public final boolean resume;
    public final Object payload;

    Frame(Type type, long seq, long ack, String id, boolean resume, Object payload) {
        this.type = type;
        this.seq = seq;
        this.ack = ack;
        this.id = id;
        this.resume = resume;
        this.payload = payload;
    }
}
