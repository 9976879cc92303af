package dev.keepalive.netty.http;

import dev.keepalive.DeadPeerReason;
import dev.keepalive.netty.KeepaliveProbe;
import io.netty.buffer.ByteBufAllocator;
import io.netty.buffer.ByteBufUtil;
import io.netty.channel.ChannelHandlerContext;
import io.netty.handler.codec.http2.DefaultHttp2GoAwayFrame;
import io.netty.handler.codec.http2.DefaultHttp2PingFrame;
import io.netty.handler.codec.http2.Http2Error;
import io.netty.handler.codec.http2.Http2GoAwayFrame;
import io.netty.handler.codec.http2.Http2PingFrame;

import java.nio.charset.StandardCharsets;

/**
 * Pings an HTTP/2 connection with PING frames on an {@code Http2FrameCodec} pipeline (with or without
 * {@code Http2MultiplexHandler}); for clients and servers.
 *
 * <ul>
 *   <li>A ping's 8 bytes of opaque data carry the marker {@code "KA"} and the ping id; its ACK is the pong. ACKs
 *       with other data answer the application's own pings and are passed on.</li>
 *   <li>Any inbound frame counts as liveness: HEADERS, DATA, SETTINGS, WINDOW_UPDATE, the peer's PINGs.</li>
 *   <li>The peer's PINGs count towards {@code minPeerPingInterval}, and are not passed on. The codec acknowledges
 *       them by default ({@code autoAckPingFrame}); for a codec built with {@code autoAckPingFrame(false)}, use
 *       {@link #withPeerPingAcks(boolean) withPeerPingAcks(true)} so that this probe does.</li>
 *   <li>A peer that pings too often is sent GOAWAY {@code ENHANCE_YOUR_CALM} with debug data
 *       {@code too_many_pings}, as gRPC servers do; a GOAWAY {@code ENHANCE_YOUR_CALM} from the peer is reported
 *       as {@link DeadPeerReason#TOO_MANY_PINGS} only when its debug data says {@code too_many_pings} (as gRPC
 *       reads it): the peer may calm a client down for other reasons (too many streams reset). Any other GOAWAY
 *       announces the peer's close (and is passed on), so that the close is reported as a retirement
 *       ({@link dev.keepalive.KeepaliveListener#onPeerRetired}), not as {@code CLOSED_BY_PEER}.</li>
 * </ul>
 *
 * <h2>Pipeline</h2>
 * Place the handler right after the frame codec, before the multiplex handler, so that it sees connection-level
 * frames and the frames of every stream:
 * <pre>{@code
 * KeepaliveHandler.Builder keepalive = KeepaliveHandler.builder(settings).probe(Http2Probe.create());
 *
 * bootstrap.handler(new ChannelInitializer<SocketChannel>() {
 *     protected void initChannel(SocketChannel ch) {
 *         ch.pipeline().addLast(
 *                 Http2FrameCodecBuilder.forClient().build(),
 *                 keepalive.build(),
 *                 new Http2MultiplexHandler(new MyStreamHandler()));
 *     }
 * });
 * }</pre>
 * A server places it the same way after {@code Http2FrameCodecBuilder.forServer().build()}. Instances are
 * immutable and shared.
 */
public final class Http2Probe implements KeepaliveProbe {
    private static final Http2Probe DEFAULT = new Http2Probe(false);
    /** The debug data of the GOAWAY sent to a peer that pings too often. */
    static final String TOO_MANY_PINGS = "too_many_pings";

    private final boolean peerPingAcks;

    private Http2Probe(boolean peerPingAcks) {
        this.peerPingAcks = peerPingAcks;
    }

    /** The HTTP/2 probe for codecs that acknowledge the peer's pings themselves (Netty's default). */
    public static Http2Probe create() {
        return DEFAULT;
    }

    /**
     * The same probe, acknowledging the peer's pings itself ({@code true}) or leaving that to the codec
     * ({@code false}, the default). Use {@code true} with {@code Http2FrameCodecBuilder.autoAckPingFrame(false)},
     * and only then: otherwise every ping is acknowledged twice.
     */
    public Http2Probe withPeerPingAcks(boolean acknowledge) {
        return acknowledge == peerPingAcks ? this : new Http2Probe(acknowledge);
    }

    /** Whether this probe acknowledges the peer's pings itself. */
    public boolean peerPingAcks() {
        return peerPingAcks;
    }

    @Override
    public KeepaliveProbe forConnection(ChannelHandlerContext ctx) {
        return new Connection(this);
    }

    @Override
    public Object newPing(ByteBufAllocator alloc, long pingId) {
        return new DefaultHttp2PingFrame(ProbePayload.encode(pingId));
    }

    @Override
    public Object newPong(ByteBufAllocator alloc, long pingId) {
        return peerPingAcks ? new DefaultHttp2PingFrame(pingId, true) : null;
    }

    @Override
    public Object newTooManyPings(ByteBufAllocator alloc) {
        return new DefaultHttp2GoAwayFrame(Http2Error.ENHANCE_YOUR_CALM, ByteBufUtil.writeAscii(alloc, TOO_MANY_PINGS));
    }

    @Override
    public boolean consume(Object msg, Sink sink) {
        return consume(msg, sink, null);
    }

    private static boolean consume(Object msg, Sink sink, Connection connection) {
        if (msg instanceof Http2PingFrame) {
            Http2PingFrame ping = (Http2PingFrame) msg;
            if (!ping.ack()) {
                sink.pingReceived(ping.content()); // its "id" is its data, which the ACK echoes
                return true;
            }
            if (ProbePayload.isProbe(ping.content())) {
                sink.pongReceived(ProbePayload.id(ping.content()));
                return true;
            }
            return false;
        }
        if (msg instanceof Http2GoAwayFrame) {
            Http2GoAwayFrame goAway = (Http2GoAwayFrame) msg;
            if (goAway.errorCode() == Http2Error.ENHANCE_YOUR_CALM.code()
                    && TOO_MANY_PINGS.equals(goAway.content().toString(StandardCharsets.US_ASCII))) {
                sink.tooManyPingsReceived();
                return true;
            }
            if (connection != null) {
                connection.goAwayReceived = true;
                connection.goAwayError = goAway.errorCode();
            }
        }
        return false;
    }

    @Override
    public String toString() {
        return "Http2Probe(peerPingAcks=" + peerPingAcks + ')';
    }

    /** The probe of one connection: remembers a GOAWAY, which announces the peer's close. Event-loop confined. */
    private static final class Connection implements KeepaliveProbe {
        private final Http2Probe config;
        private boolean goAwayReceived;
        private long goAwayError;

        Connection(Http2Probe config) {
            this.config = config;
        }

        @Override
        public Object newPing(ByteBufAllocator alloc, long pingId) {
            return config.newPing(alloc, pingId);
        }

        @Override
        public Object newPong(ByteBufAllocator alloc, long pingId) {
            return config.newPong(alloc, pingId);
        }

        @Override
        public Object newTooManyPings(ByteBufAllocator alloc) {
            return config.newTooManyPings(alloc);
        }

        @Override
        public boolean consume(Object msg, Sink sink) {
            return Http2Probe.consume(msg, sink, this);
        }

        @Override
        public boolean closeAnnounced() {
            return goAwayReceived;
        }

        @Override
        public String peerRetirement() {
            if (!goAwayReceived) {
                return null;
            }
            Http2Error error = Http2Error.valueOf(goAwayError);
            return "it sent GOAWAY " + (error != null ? error.name() : "error " + goAwayError);
        }

        @Override
        public String toString() {
            return config + "{goAwayReceived=" + goAwayReceived + '}';
        }
    }
}
