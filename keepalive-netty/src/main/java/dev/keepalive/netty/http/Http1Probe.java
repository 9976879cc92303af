package dev.keepalive.netty.http;

import dev.keepalive.KeepaliveSettings;
import dev.keepalive.PeerDeadException;
import dev.keepalive.netty.KeepaliveHandler;
import dev.keepalive.netty.KeepaliveProbe;
import io.netty.buffer.ByteBufAllocator;
import io.netty.buffer.Unpooled;
import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.ChannelPromise;
import io.netty.handler.codec.http.DefaultFullHttpRequest;
import io.netty.handler.codec.http.DefaultHttpHeaders;
import io.netty.handler.codec.http.FullHttpRequest;
import io.netty.handler.codec.http.HttpHeaderNames;
import io.netty.handler.codec.http.HttpHeaders;
import io.netty.handler.codec.http.HttpMethod;
import io.netty.handler.codec.http.HttpObject;
import io.netty.handler.codec.http.HttpRequest;
import io.netty.handler.codec.http.HttpResponse;
import io.netty.handler.codec.http.HttpResponseStatus;
import io.netty.handler.codec.http.HttpUtil;
import io.netty.handler.codec.http.HttpVersion;
import io.netty.handler.codec.http.LastHttpContent;
import io.netty.util.NetUtil;
import io.netty.util.ReferenceCountUtil;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import java.io.IOException;
import java.net.InetSocketAddress;
import java.net.SocketAddress;
import java.nio.channels.ClosedChannelException;
import java.util.ArrayDeque;
import java.util.Objects;

/**
 * Keeps an idle HTTP/1.1 client connection alive, as a connection pool holds them, and finds out that its server
 * or the path to it died before the application's next request does ({@code Connection reset},
 * {@code PrematureCloseException}).
 *
 * <p>While no request is in flight, a ping is one probe request, {@code OPTIONS *} unless configured otherwise; any
 * complete response (whatever its status) is its pong, and none of it reaches the application. HTTP/1.1 has no
 * multiplexing, so the probe never interleaves with the application:
 * <ul>
 *   <li>while an application request is in flight, no probe is sent; its response serves as the probe (any inbound
 *       byte counts as liveness, as always), so a server that sends nothing at all for the idle detection bound
 *       ({@code pingInterval + pingsMissedBeforeDead x pingTimeout}) in the middle of a request is declared dead
 *       ({@code PING_TIMEOUT}): choose the bound above your slowest response;</li>
 *   <li>a request that the application writes while a probe is in flight is held, and sent (in order, intact) as
 *       soon as the probe's response has ended; if the peer is declared dead meanwhile, it fails with that
 *       {@link PeerDeadException}, and it was never sent, so it is safe to retry;</li>
 *   <li>a server that answers the probe with {@code Connection: close} is retired cleanly: the connection is closed
 *       locally (no dead peer is reported) and held requests fail with a {@link ClosedChannelException};</li>
 *   <li>a server that announces {@code Connection: close} on an application response (or answers with HTTP/1.0
 *       without keep-alive) is not probed again, and its close is not reported as {@code CLOSED_BY_PEER}.</li>
 * </ul>
 *
 * <p><b>Idle eviction</b> ({@link Builder#idleEviction(boolean)}): instead of probing, the connection is closed
 * where the probe would have been sent, after {@code pingInterval} without inbound traffic and with no request in
 * flight. Set the ping interval below the middlebox's idle timeout
 * ({@link KeepaliveSettings.Builder#middleboxIdleTimeout} keeps it at most half of it); the pool then opens a fresh
 * connection instead of reusing one that the middlebox has forgotten. A pool may hand out a connection at the very
 * moment eviction closes it: that request then fails with a {@code ClosedChannelException} before anything was
 * sent, and is safe to retry on a fresh connection.
 *
 * <h2>Pipeline</h2>
 * Place the handler right after the {@code HttpClientCodec} (or after an {@code HttpObjectAggregator}):
 * <pre>{@code
 * KeepaliveSettings settings = KeepaliveSettings.builder()
 *         .middleboxIdleTimeout(Duration.ofMinutes(4))  // Azure LB: a probe every 2 min at most
 *         .pingTimeout(Duration.ofSeconds(5))
 *         .build();
 * KeepaliveHandler.Builder keepalive = KeepaliveHandler.builder(settings)
 *         .probe(Http1Probe.builder().head("/health").build());   // or Http1Probe.create(): OPTIONS *
 *
 * bootstrap.handler(new ChannelInitializer<SocketChannel>() {
 *     protected void initChannel(SocketChannel ch) {
 *         ch.pipeline().addLast(
 *                 new HttpClientCodec(),
 *                 keepalive.build(),                 // one per connection
 *                 new HttpObjectAggregator(1 << 20),
 *                 new MyClientHandler());            // never sees the probe's responses
 *     }
 * });
 * }</pre>
 * For client connections only. Instances are immutable and may be shared by any number of handlers.
 */
public final class Http1Probe implements KeepaliveProbe {
    private static final Logger log = LoggerFactory.getLogger(Http1Probe.class);
    private static final Http1Probe DEFAULT = builder().build();

    private final HttpMethod method;
    private final String uri;
    private final String host;
    private final HttpHeaders headers;
    private final boolean idleEviction;

    private Http1Probe(Builder b) {
        this.method = b.method;
        this.uri = b.uri;
        this.host = b.host;
        this.headers = b.headers.copy();
        this.idleEviction = b.idleEviction;
    }

    /** The probe that sends {@code OPTIONS *}. */
    public static Http1Probe create() {
        return DEFAULT;
    }

    /** A builder, starting from {@code OPTIONS *} with probing on. */
    public static Builder builder() {
        return new Builder();
    }

    /** The probe's method: OPTIONS, HEAD or GET. */
    public HttpMethod method() {
        return method;
    }

    /** The probe's request target: {@code *} or a path. */
    public String uri() {
        return uri;
    }

    /** Whether idle connections are retired instead of probed. */
    public boolean idleEviction() {
        return idleEviction;
    }

    @Override
    public KeepaliveProbe forConnection(ChannelHandlerContext ctx) {
        return new Connection(this, ctx);
    }

    /** Not called: the handler asks the probe of each connection (see {@link #forConnection}). */
    @Override
    public Object newPing(ByteBufAllocator alloc, long pingId) {
        throw new IllegalStateException("Http1Probe pings through the probe of each connection");
    }

    /** Not called: an HTTP/1.1 server never pings. */
    @Override
    public Object newPong(ByteBufAllocator alloc, long pingId) {
        throw new UnsupportedOperationException("HTTP/1.1 servers do not ping");
    }

    /** Recognises nothing: only the probe of each connection knows which response is the probe's. */
    @Override
    public boolean consume(Object msg, Sink sink) {
        return false;
    }

    FullHttpRequest newRequest(String hostHeader) {
        FullHttpRequest request = new DefaultFullHttpRequest(HttpVersion.HTTP_1_1, method, uri,
                Unpooled.EMPTY_BUFFER);
        request.headers().set(HttpHeaderNames.HOST, hostHeader).add(headers);
        return request;
    }

    @Override
    public String toString() {
        return "Http1Probe(" + (idleEviction ? "idle eviction" : method + " " + uri) + ')';
    }

    /** Builds {@link Http1Probe}s; reusable. */
    public static final class Builder {
        private HttpMethod method = HttpMethod.OPTIONS;
        private String uri = "*";
        private String host;
        private final HttpHeaders headers = new DefaultHttpHeaders();
        private boolean idleEviction;

        private Builder() {
        }

        /** Probes with {@code OPTIONS *}, which asks the server about itself and touches no resource (default). */
        public Builder options() {
            this.method = HttpMethod.OPTIONS;
            this.uri = "*";
            return this;
        }

        /**
         * Probes with {@code HEAD path}, for servers that do not answer {@code OPTIONS *}.
         *
         * @throws IllegalArgumentException if {@code path} does not start with {@code /}
         */
        public Builder head(String path) {
            this.uri = path("head", path);
            this.method = HttpMethod.HEAD;
            return this;
        }

        /**
         * Probes with {@code GET path}; its response body is read and dropped, so choose a small resource.
         *
         * @throws IllegalArgumentException if {@code path} does not start with {@code /}
         */
        public Builder get(String path) {
            this.uri = path("get", path);
            this.method = HttpMethod.GET;
            return this;
        }

        private static String path(String name, String path) {
            Objects.requireNonNull(path, name);
            if (!path.startsWith("/") || path.chars().anyMatch(c -> c <= ' ' || c >= 0x7F)) {
                throw new IllegalArgumentException(name + " path must start with / and hold no spaces, control "
                        + "or non-ASCII characters, but was \"" + path + '"');
            }
            return path;
        }

        /**
         * The {@code Host} header of probe requests. Default: the remote address ({@code 10.0.0.7:8080}); set the
         * name the server expects when it routes by host.
         *
         * @throws IllegalArgumentException if blank
         */
        public Builder host(String host) {
            Objects.requireNonNull(host, "host");
            if (host.isBlank()) {
                throw new IllegalArgumentException("host must not be blank, but was \"" + host + '"');
            }
            this.host = host;
            return this;
        }

        /**
         * Adds a header to probe requests (a user agent, an authorization the health endpoint needs).
         *
         * @throws IllegalArgumentException if {@code name} is {@code Host} (use {@link #host}) or the header is not
         *                                  valid
         */
        public Builder header(CharSequence name, Object value) {
            Objects.requireNonNull(name, "name");
            Objects.requireNonNull(value, "value");
            if (HttpHeaderNames.HOST.contentEqualsIgnoreCase(name)) {
                throw new IllegalArgumentException("header name must not be Host (use host(String)), but was "
                        + name);
            }
            headers.add(name, value);
            return this;
        }

        /**
         * Retires idle connections instead of probing them: at the moment a probe would go out (after
         * {@code pingInterval} without inbound traffic, no request in flight), the connection is closed. Default:
         * {@code false}.
         */
        public Builder idleEviction(boolean evict) {
            this.idleEviction = evict;
            return this;
        }

        /** A new immutable probe. */
        public Http1Probe build() {
            return new Http1Probe(this);
        }
    }

    /** The probe of one connection. Event-loop confined, like the handler that drives it. */
    private static final class Connection implements KeepaliveProbe {
        private final Http1Probe config;
        private final ChannelHandlerContext ctx;
        /** Application requests written whose final response has not ended yet. */
        private int requestsInFlight;
        /** The application has written a request's head but not yet its last content: never probe mid-request. */
        private boolean requestOpen;
        /** The id of the probe request whose response is awaited; 0 when none. */
        private long probeInFlight;
        /** The response being read is an interim (1xx) one: its end does not end the exchange. */
        private boolean interim;
        /** The probe's response asked to close the connection. */
        private boolean probeAnswerCloses;
        /** The server announced that it closes the connection: no more probes, and its close is expected. */
        private boolean closeAnnounced;
        /** The connection switched protocols (101): it no longer speaks HTTP/1.1. */
        private boolean upgraded;
        /** Why this side retired the connection; {@code null} while it has not. */
        private String retiredBecause;
        /** Application writes held while the probe is in flight: message, promise, message, promise... */
        private ArrayDeque<Object> held;
        private String hostHeader;

        Connection(Http1Probe config, ChannelHandlerContext ctx) {
            this.config = config;
            this.ctx = ctx;
        }

        @Override
        public Object newPing(ByteBufAllocator alloc, long pingId) {
            if (probeInFlight != 0 || requestsInFlight > 0 || requestOpen || closeAnnounced || upgraded
                    || retiredBecause != null || !ctx.channel().isActive()) {
                return null;
            }
            if (config.idleEviction) {
                retire("idle for the ping interval (idle eviction)");
                return null;
            }
            probeInFlight = pingId;
            return config.newRequest(hostHeader());
        }

        private String hostHeader() {
            if (hostHeader == null) {
                SocketAddress remote = ctx.channel().remoteAddress();
                hostHeader = config.host != null ? config.host
                        : remote instanceof InetSocketAddress
                        ? NetUtil.toSocketAddressString((InetSocketAddress) remote) : "localhost";
            }
            return hostHeader;
        }

        @Override
        public Object newPong(ByteBufAllocator alloc, long pingId) {
            throw new UnsupportedOperationException("HTTP/1.1 servers do not ping");
        }

        @Override
        public boolean consume(Object msg, Sink sink) {
            if (!(msg instanceof HttpObject)) {
                return false;
            }
            HttpObject obj = (HttpObject) msg;
            if (probeInFlight == 0) {
                observeApplicationResponse(obj);
                return false;
            }
            // Responses come in request order, and no application request goes out while the probe is in
            // flight: this is the probe's response.
            if (obj.decoderResult().isFailure()) {
                sink.malformed("undecodable response to the keepalive probe: " + obj.decoderResult().cause());
                probeInFlight = 0;
                retire("its response to the keepalive probe could not be decoded");
                return true;
            }
            if (obj instanceof HttpResponse) {
                HttpResponseStatus status = ((HttpResponse) obj).status();
                interim = isInterim(status);
                if (!interim && (status.code() == 101 || !HttpUtil.isKeepAlive((HttpResponse) obj))) {
                    probeAnswerCloses = true;
                }
            }
            if (obj instanceof LastHttpContent) {
                if (interim) {
                    interim = false;
                } else {
                    long id = probeInFlight;
                    probeInFlight = 0;
                    sink.pongReceived(id);
                    if (probeAnswerCloses) {
                        closeAnnounced = true;
                        retire("it answered the keepalive probe with Connection: close");
                    } else {
                        releaseHeld();
                    }
                }
            }
            return true;
        }

        private void observeApplicationResponse(HttpObject obj) {
            if (obj instanceof HttpResponse) {
                HttpResponse response = (HttpResponse) obj;
                interim = isInterim(response.status());
                if (response.status().code() == 101) {
                    upgraded = true;
                } else if (!interim && !HttpUtil.isKeepAlive(response)) {
                    closeAnnounced = true;
                }
            }
            if (obj instanceof LastHttpContent) {
                if (interim) {
                    interim = false;
                } else if (requestsInFlight > 0) {
                    requestsInFlight--;
                }
            }
        }

        private static boolean isInterim(HttpResponseStatus status) {
            int code = status.code();
            return code >= 100 && code < 200 && code != 101;
        }

        @Override
        public boolean interceptsWrites() {
            return true;
        }

        @Override
        public void write(ChannelHandlerContext ctx, Object msg, ChannelPromise promise) {
            if (probeInFlight != 0 || (held != null && !held.isEmpty())) {
                if (held == null) {
                    held = new ArrayDeque<>();
                }
                held.add(msg);
                held.add(promise);
                return;
            }
            track(msg);
            ctx.write(msg, promise);
        }

        /** Follows the application's request stream: a request is open from its head until its last content. */
        private void track(Object msg) {
            if (msg instanceof HttpRequest) {
                requestsInFlight++;
                requestOpen = true;
            }
            if (msg instanceof LastHttpContent) {
                requestOpen = false;
            }
        }

        /** Sends what the application wrote while the probe was in flight, in order. */
        private void releaseHeld() {
            if (held == null || held.isEmpty()) {
                return;
            }
            while (!held.isEmpty()) {
                Object msg = held.poll();
                ChannelPromise promise = (ChannelPromise) held.poll();
                track(msg);
                ctx.write(msg, promise);
            }
            ctx.flush();
        }

        private void failHeld(Throwable cause) {
            while (held != null && !held.isEmpty()) {
                Object msg = held.poll();
                ChannelPromise promise = (ChannelPromise) held.poll();
                ReferenceCountUtil.release(msg);
                promise.tryFailure(cause);
            }
        }

        private void retire(String because) {
            if (retiredBecause != null) {
                return;
            }
            retiredBecause = because;
            log.debug("Retiring the connection to {}: {}", ctx.channel().remoteAddress(), because);
            failHeld(closedCause());
            ctx.channel().close();
        }

        private ClosedChannelException closedCause() {
            ClosedChannelException e = new ClosedChannelException();
            if (retiredBecause != null) {
                e.initCause(new IOException("the connection to " + ctx.channel().remoteAddress() + " was retired "
                        + "before this request was sent: " + retiredBecause));
            }
            return e;
        }

        @Override
        public void connectionEnded(PeerDeadException deadCause) {
            if (held == null || held.isEmpty()) {
                return;
            }
            if (deadCause != null) {
                failHeld(deadCause);
            } else if (retiredBecause != null || !ctx.channel().isActive()) {
                failHeld(closedCause());
            } else {
                releaseHeld(); // the handler was removed from an open channel
            }
        }

        @Override
        public boolean closeAnnounced() {
            return closeAnnounced;
        }

        @Override
        public String toString() {
            return config + "{requestsInFlight=" + requestsInFlight + ", probeInFlight=" + probeInFlight
                    + (retiredBecause == null ? "" : ", retired: " + retiredBecause) + '}';
        }
    }
}
