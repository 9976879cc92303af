package dev.keepalive.netty;

import dev.keepalive.DeadPeerReason;
import dev.keepalive.PeerDeadException;
import dev.keepalive.Ticker;
import io.netty.buffer.ByteBufAllocator;
import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.ChannelPromise;

import java.util.OptionalLong;

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
 * Probes for HTTP/1.1, WebSocket and HTTP/2 are in {@code dev.keepalive.netty.http} (they need Netty's HTTP codecs,
 * which this package does not).
 *
 * <p>Implementations are stateless or immutable, shared by all channels, and called on the channel's event loop.
 * {@link #consume} runs for every inbound message: it must reject application messages cheaply and without
 * allocating.
 *
 * <h2>Probes with per-connection state</h2>
 * On some protocols a ping cannot go out at any moment: HTTP/1.1 has no multiplexing, so a probe request may not
 * interleave with the application's requests, and a WebSocket cannot be pinged before its handshake. Such a probe
 * returns a per-connection object from {@link #forConnection}, which may
 * <ul>
 *   <li>return {@code null} from {@link #newPing} when it cannot ping now (the ping counts as sent, and any inbound
 *       message answers it, as always);</li>
 *   <li>{@link #interceptsWrites() intercept} the application's writes, to track what is in flight and to hold
 *       writes while its own probe is unanswered, failing them with {@link #connectionEnded}'s cause;</li>
 *   <li>say that the peer {@link #closeAnnounced() announced its close}, or {@link #peerRetirement() retired} the
 *       connection as its protocol allows, so that the close is not a dead peer;</li>
 *   <li>say, when it could not ping, that the peer {@link #awaitedSince() owes an answer} to a request of the
 *       application, or that the connection {@link #canCarryPings() can no longer carry pings}.</li>
 * </ul>
 * Every one of these has a default that keeps the handler's per-message path exactly as for a stateless probe.
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

        /**
         * The peer sent a ping that the probe or the pipeline answers itself (a WebSocket ping whose payload is not
         * a probe id): the handler sends no pong, but counts it towards {@code minPeerPingInterval}, and closes a
         * peer that pings too often as for {@link #pingReceived}. The default does nothing, for sinks that do not
         * police the peer's pings.
         */
        default void pingAnsweredElsewhere() {
        }
    }

    /** Whether this probe sends pings; a passive probe only watches. */
    default boolean sendsPings() {
        return true;
    }

    /**
     * Builds the ping carrying {@code pingId} (a positive, increasing number), to be written to the channel. A
     * probe that cannot ping at this moment (an HTTP/1.1 request is in flight, a WebSocket handshake is not done)
     * returns {@code null}: nothing is written, the ping still counts as sent, and any inbound message answers it.
     */
    Object newPing(ByteBufAllocator alloc, long pingId);

    /**
     * Builds the answer to the peer's ping {@code pingId}, or returns {@code null} when the pipeline already
     * answers the peer's pings (the ping still counts towards {@code minPeerPingInterval}).
     */
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

    /**
     * The probe for one connection, asked once by each handler when it is added to a pipeline. A probe without
     * per-connection state returns itself (the default). One that must know what is in flight on its connection, or
     * see the application's writes, returns a new object that keeps {@code ctx}: the handler's context, through
     * which its writes go towards the codec, and through whose {@code ctx.channel().close()} it may retire the
     * connection (a local close, not a dead peer). The result must answer {@link #sendsPings()} as this probe does.
     */
    default KeepaliveProbe forConnection(ChannelHandlerContext ctx) {
        return this;
    }

    /**
     * As {@link #forConnection(ChannelHandlerContext)}, for a probe that must time what happens on its connection
     * with the handler's clock ({@code ticker}, the one the handler's deadlines use), as {@link #awaitedSince()}
     * does. The handler calls this one; the default calls {@link #forConnection(ChannelHandlerContext)}.
     */
    default KeepaliveProbe forConnection(ChannelHandlerContext ctx, Ticker ticker) {
        return forConnection(ctx);
    }

    /**
     * Whether the handler passes the application's outbound messages through {@link #write}. Asked once, of the
     * probe that {@link #forConnection} returned; with {@code false}, the default, the handler's write path is
     * unchanged.
     */
    default boolean interceptsWrites() {
        return false;
    }

    /**
     * An outbound application message, for a probe that {@link #interceptsWrites() intercepts writes}: pass it on
     * with {@code ctx.write(msg, promise)}, or hold it and write it later (while the probe's own request is
     * unanswered on a protocol without multiplexing). Pings and pongs that the handler writes do not come here.
     * The default passes the message on.
     */
    default void write(ChannelHandlerContext ctx, Object msg, ChannelPromise promise) {
        ctx.write(msg, promise);
    }

    /**
     * The handler stops driving this connection's probe. With {@code deadCause}, the peer was declared dead: fail
     * every held write with it. Without one ({@code null}), the connection was closed locally (fail held writes with
     * a {@code ClosedChannelException}) or the handler was removed from an open channel (write them on). May be
     * called more than once; later calls find nothing held. The default does nothing.
     */
    default void connectionEnded(PeerDeadException deadCause) {
    }

    /**
     * Whether the peer has announced that it closes the connection (an HTTP/1.1 {@code Connection: close}, an
     * HTTP/2 GOAWAY, a WebSocket close frame), so that its close is expected and not reported as
     * {@link DeadPeerReason#CLOSED_BY_PEER}. Asked when the channel becomes inactive. Default: {@code false}.
     */
    default boolean closeAnnounced() {
        return false;
    }

    /**
     * Whether the peer's close, now that the channel became inactive without a local close, is a retirement that
     * its protocol allows with nothing in flight, and if so, what the peer did, in words for a log line. The
     * handler then tells {@link dev.keepalive.KeepaliveListener#onPeerRetired} instead of declaring the peer dead.
     * Default: {@code "it announced its close"} when {@link #closeAnnounced()}, otherwise {@code null}: a
     * {@link DeadPeerReason#CLOSED_BY_PEER}.
     *
     * <p>The binary and line probes keep the default, so a plain FIN there is {@code CLOSED_BY_PEER}: on a
     * protocol that the application owns (a chat session, a message stream), the client holds the connection to be
     * told things, and nothing in the protocol lets a server close it quietly, so a close it did not announce (its
     * line probe's {@code GOAWAY} word) is the loss of the session, which the application must act on. HTTP is
     * different: a client asks, and a server may close an idle connection at any time (RFC 9112 section 9.6).
     */
    default String peerRetirement() {
        return closeAnnounced() ? "it announced its close" : null;
    }

    /**
     * Asked when {@link #newPing} returned {@code null}: whether the peer owes an answer to a request that the
     * application wrote, and if so the {@code ticker} time (of {@link #forConnection(ChannelHandlerContext, Ticker)})
     * at which its last part was written. That answer then gets the full idle detection bound
     * ({@code pingInterval + pingsMissedBeforeDead x pingTimeout}) from that time, and the ping's timeout runs only
     * from {@code pingInterval} after it. Default: empty, the timeout runs from now.
     */
    default OptionalLong awaitedSince() {
        return OptionalLong.empty();
    }

    /**
     * Asked when {@link #newPing} returned {@code null}: whether this connection can still carry pings. A
     * connection that switched to another protocol (an HTTP/1.1 {@code 101} upgrade) cannot: the handler then
     * stops active probing on it (the unsent ping never times out; inbound traffic, read idle, write stalls and TCP
     * keepalive are still watched). Default: {@code true}.
     */
    default boolean canCarryPings() {
        return true;
    }

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
