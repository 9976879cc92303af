package dev.keepalive.netty;

import io.netty.buffer.ByteBufAllocator;

/**
 * How {@link KeepaliveHandler} pings a peer on a given protocol: how to build a ping and a pong, how to recognise
 * them among inbound messages, and how to tell a peer that it pings too often.
 *
 * <p>Built in:
 * <ul>
 *   <li>{@link #binary()}: a compact 11-byte frame for binary protocols the application owns, placed after the
 *       application's frame decoder and encoder;</li>
 *   <li>{@link #lines()}: {@code PING <id>} / {@code PONG <id>} lines for text protocols, placed after a line
 *       decoder;</li>
 *   <li>{@link #passive()}: never pings; only watches inbound traffic, for protocols with a heartbeat of their own
 *       (set a read-idle timeout that the heartbeat keeps satisfied).</li>
 * </ul>
 *
 * <p>Implementations are stateless or immutable, shared by all channels, and called on the channel's event loop.
 * {@link #consume} runs for every inbound message: it must reject application messages cheaply and without
 * allocating.
 */
public interface KeepaliveProbe {

    /** Receives the probe frames that {@link #consume} recognises. */
    interface Sink {
        /** The peer sent a ping carrying {@code pingId}: the handler answers it. */
        void pingReceived(long pingId);

        /** The peer answered our ping {@code pingId}. */
        void pongReceived(long pingId);

        /** The peer said that we ping too often and that it closes the connection. */
        void tooManyPingsReceived();

        /** A probe frame that could not be decoded: counted and dropped. */
        void malformed(String description);
    }

    /** Whether this probe sends pings; a passive probe only watches. */
    default boolean sendsPings() {
        return true;
    }

    /** Builds the ping carrying {@code pingId} (a positive, increasing number), to be written to the channel. */
    Object newPing(ByteBufAllocator alloc, long pingId);

    /** Builds the answer to the peer's ping {@code pingId}. */
    Object newPong(ByteBufAllocator alloc, long pingId);

    /**
     * Builds the message that tells a peer it pings too often before the connection is closed, or returns
     * {@code null} when the protocol has no way to say it.
     */
    default Object newTooManyPings(ByteBufAllocator alloc) {
        return null;
    }

    /**
     * Looks at one inbound message. When it is a probe frame, reports it to {@code sink} and returns {@code true}:
     * the handler then releases the message and does not pass it on. Application messages return {@code false}
     * untouched.
     */
    boolean consume(Object msg, Sink sink);

    /** The binary frame probe with its default marker. */
    static BinaryProbe binary() {
        return BinaryProbe.DEFAULT;
    }

    /** The line probe with {@code PING} / {@code PONG} / {@code GOAWAY} words and {@code \n} line ends. */
    static LineProbe lines() {
        return LineProbe.DEFAULT;
    }

    /** The probe that never pings and only watches inbound traffic. */
    static KeepaliveProbe passive() {
        return PassiveProbe.INSTANCE;
    }
}
