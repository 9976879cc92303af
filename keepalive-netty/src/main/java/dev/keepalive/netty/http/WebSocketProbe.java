package dev.keepalive.netty.http;

import dev.keepalive.DeadPeerReason;
import dev.keepalive.netty.KeepaliveProbe;
import io.netty.buffer.ByteBuf;
import io.netty.buffer.ByteBufAllocator;
import io.netty.channel.ChannelHandler;
import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.ChannelPipeline;
import io.netty.handler.codec.http.websocketx.CloseWebSocketFrame;
import io.netty.handler.codec.http.websocketx.PingWebSocketFrame;
import io.netty.handler.codec.http.websocketx.PongWebSocketFrame;
import io.netty.handler.codec.http.websocketx.WebSocketClientProtocolHandler;
import io.netty.handler.codec.http.websocketx.WebSocketCloseStatus;
import io.netty.handler.codec.http.websocketx.WebSocketFrame;
import io.netty.handler.codec.http.websocketx.WebSocketFrameDecoder;
import io.netty.handler.codec.http.websocketx.WebSocketFrameEncoder;
import io.netty.handler.codec.http.websocketx.WebSocketServerProtocolHandler;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import java.util.Map;

/**
 * Pings a WebSocket with {@code PingWebSocketFrame}s and takes the matching {@code PongWebSocketFrame} as the pong;
 * for clients and servers.
 *
 * <ul>
 *   <li>Pings start only after the handshake has completed (once the pipeline holds WebSocket frame codecs); until
 *       then the handshake's own response serves as the probe.</li>
 *   <li>Any inbound frame counts as liveness, not only the pong (unlike OkHttp's WebSocket ping), so a busy socket
 *       is never pinged and a slow pong behind a large message is no false alarm.</li>
 *   <li>A ping carries 8 bytes: the marker {@code "KA"} and the ping id. Pongs that carry anything else belong to
 *       the application and are passed on.</li>
 *   <li>The peer's pings are answered with their own payload: by this probe when no
 *       {@code WebSocketClientProtocolHandler} / {@code WebSocketServerProtocolHandler} follows in the pipeline to
 *       answer them, and always for 8-byte pings. Every ping of the peer, whatever its payload and whoever
 *       answers it, counts towards {@code minPeerPingInterval}.</li>
 *   <li>A peer that pings too often is sent a close frame {@code 1008 too_many_pings}; the same close frame from the
 *       peer is reported as {@link DeadPeerReason#TOO_MANY_PINGS}. Any other close frame from the peer announces
 *       its close, which is then reported as a retirement
 *       ({@link dev.keepalive.KeepaliveListener#onPeerRetired}), not as {@code CLOSED_BY_PEER}.</li>
 * </ul>
 *
 * <h2>Pipeline</h2>
 * Place the handler <em>before</em> the WebSocket protocol handler, which drops pong frames by default: after the
 * handshake, the frame decoder takes the place of the HTTP codec, ahead of the keepalive handler.
 * <pre>{@code
 * KeepaliveHandler.Builder keepalive = KeepaliveHandler.builder(settings).probe(WebSocketProbe.create());
 *
 * bootstrap.handler(new ChannelInitializer<SocketChannel>() {
 *     protected void initChannel(SocketChannel ch) {
 *         ch.pipeline().addLast(
 *                 new HttpClientCodec(),
 *                 new HttpObjectAggregator(8192),
 *                 keepalive.build(),
 *                 new WebSocketClientProtocolHandler(WebSocketClientProtocolConfig.newBuilder()
 *                         .webSocketUri(uri).build()),
 *                 new MyFrameHandler());          // sees no probe pings or pongs
 *     }
 * });
 * }</pre>
 * A server places it the same way: {@code HttpServerCodec}, {@code HttpObjectAggregator}, the keepalive handler,
 * {@code WebSocketServerProtocolHandler}. Instances are immutable and shared.
 */
public final class WebSocketProbe implements KeepaliveProbe {
    private static final Logger log = LoggerFactory.getLogger(WebSocketProbe.class);
    private static final WebSocketProbe INSTANCE = new WebSocketProbe();
    /** The reason text of the close frame sent to a peer that pings too often. */
    static final String TOO_MANY_PINGS = "too_many_pings";

    private WebSocketProbe() {
    }

    /** The WebSocket probe. */
    public static WebSocketProbe create() {
        return INSTANCE;
    }

    @Override
    public KeepaliveProbe forConnection(ChannelHandlerContext ctx) {
        return new Connection(ctx);
    }

    /** Not called: the handler asks the probe of each connection (see {@link #forConnection}). */
    @Override
    public Object newPing(ByteBufAllocator alloc, long pingId) {
        throw new IllegalStateException("WebSocketProbe pings through the probe of each connection");
    }

    @Override
    public Object newPong(ByteBufAllocator alloc, long pingId) {
        return pong(alloc, pingId);
    }

    @Override
    public Object newTooManyPings(ByteBufAllocator alloc) {
        return new CloseWebSocketFrame(WebSocketCloseStatus.POLICY_VIOLATION.code(), TOO_MANY_PINGS);
    }

    /** Recognises nothing: only the probe of each connection knows whether its handshake is done. */
    @Override
    public boolean consume(Object msg, Sink sink) {
        return false;
    }

    private static PongWebSocketFrame pong(ByteBufAllocator alloc, long payload) {
        return new PongWebSocketFrame(alloc.buffer(8, 8).writeLong(payload));
    }

    @Override
    public String toString() {
        return "WebSocketProbe";
    }

    /** The probe of one connection. Event-loop confined. */
    private static final class Connection implements KeepaliveProbe {
        private final ChannelHandlerContext ctx;
        /** The handshake has completed: frames can be written. */
        private boolean open;
        /** Whether a protocol handler in the pipeline answers pings; {@code null} until first needed. */
        private Boolean pipelineAnswersPings;
        private boolean closeAnnounced;
        private String closeStatus;

        Connection(ChannelHandlerContext ctx) {
            this.ctx = ctx;
            for (Map.Entry<String, ChannelHandler> e : ctx.pipeline()) {
                if (e.getValue() == ctx.handler()) {
                    break;
                }
                if (dropsPongs(e.getValue())) {
                    log.warn("{} comes before the keepalive handler in {}: it drops pong frames by default, so "
                            + "the keepalive handler would never see its pongs; add the keepalive handler before "
                            + "it", e.getKey(), ctx.channel());
                }
            }
        }

        private static boolean dropsPongs(Object handler) {
            return handler instanceof WebSocketClientProtocolHandler
                    || handler instanceof WebSocketServerProtocolHandler;
        }

        @Override
        public Object newPing(ByteBufAllocator alloc, long pingId) {
            if (!open) {
                ChannelPipeline p = ctx.pipeline();
                open = p.get(WebSocketFrameDecoder.class) != null && p.get(WebSocketFrameEncoder.class) != null;
                if (!open) {
                    return null; // the handshake is not done: its response is the probe
                }
            }
            return new PingWebSocketFrame(alloc.buffer(8, 8).writeLong(ProbePayload.encode(pingId)));
        }

        @Override
        public Object newPong(ByteBufAllocator alloc, long pingId) {
            return pong(alloc, pingId);
        }

        @Override
        public Object newTooManyPings(ByteBufAllocator alloc) {
            return INSTANCE.newTooManyPings(alloc);
        }

        @Override
        public boolean consume(Object msg, Sink sink) {
            if (!(msg instanceof WebSocketFrame)) {
                return false;
            }
            open = true;
            if (msg instanceof PongWebSocketFrame) {
                ByteBuf data = ((PongWebSocketFrame) msg).content();
                if (data.readableBytes() == 8 && ProbePayload.isProbe(data.getLong(data.readerIndex()))) {
                    sink.pongReceived(ProbePayload.id(data.getLong(data.readerIndex())));
                    return true;
                }
                return false;
            }
            if (msg instanceof PingWebSocketFrame) {
                ByteBuf data = ((PingWebSocketFrame) msg).content();
                if (data.readableBytes() == 8) {
                    sink.pingReceived(data.getLong(data.readerIndex())); // answered by newPong, echoing it
                    return true;
                }
                sink.pingAnsweredElsewhere(); // counted for the flood check like any other ping
                if (!ctx.channel().isActive()) {
                    return true; // it pinged too often: closed, nothing to answer
                }
                if (pipelineAnswersPings == null) {
                    pipelineAnswersPings = answersPings(ctx.pipeline());
                }
                if (pipelineAnswersPings) {
                    return false;
                }
                ctx.writeAndFlush(new PongWebSocketFrame(data.retainedDuplicate()));
                return true;
            }
            if (msg instanceof CloseWebSocketFrame) {
                CloseWebSocketFrame close = (CloseWebSocketFrame) msg;
                if (close.statusCode() == WebSocketCloseStatus.POLICY_VIOLATION.code()
                        && TOO_MANY_PINGS.equals(close.reasonText())) {
                    sink.tooManyPingsReceived();
                    return true;
                }
                closeAnnounced = true;
                closeStatus = close.statusCode() + (close.reasonText().isEmpty() ? "" : " " + close.reasonText());
            }
            return false;
        }

        private static boolean answersPings(ChannelPipeline p) {
            for (Map.Entry<String, ChannelHandler> e : p) {
                if (dropsPongs(e.getValue())) {
                    return true;
                }
            }
            return false;
        }

        @Override
        public boolean closeAnnounced() {
            return closeAnnounced;
        }

        @Override
        public String peerRetirement() {
            return closeAnnounced ? "it sent a close frame (" + closeStatus + ")" : null;
        }

        @Override
        public String toString() {
            return "WebSocketProbe{open=" + open + '}';
        }
    }
}
