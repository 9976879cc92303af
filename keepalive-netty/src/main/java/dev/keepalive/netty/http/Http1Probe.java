package dev.keepalive.netty.http;

import dev.keepalive.KeepaliveSettings;
import dev.keepalive.PeerDeadException;
import dev.keepalive.Ticker;
import dev.keepalive.netty.KeepaliveHandler;
import dev.keepalive.netty.KeepaliveProbe;
import io.netty.buffer.ByteBufAllocator;
import io.netty.buffer.Unpooled;
import io.netty.channel.ChannelHandlerContext;
import io.netty.handler.codec.http.DefaultFullHttpRequest;
import io.netty.handler.codec.http.DefaultHttpHeaders;
import io.netty.handler.codec.http.FullHttpRequest;
import io.netty.handler.codec.http.HttpHeaderNames;
import io.netty.handler.codec.http.HttpHeaders;
import io.netty.handler.codec.http.HttpMethod;
import io.netty.handler.codec.http.HttpVersion;

import java.nio.channels.ClosedChannelException;
import java.util.Objects;

/**
 * Keeps an idle HTTP/1.1 client connection alive, as a connection pool holds them, and finds out that its server
 * or the path to it died before the application's next request does ({@code Connection reset},
 * {@code PrematureCloseException}).
 *
 * <p>While no request is in flight, a ping is one probe request, {@code HEAD /} unless configured otherwise; any
 * complete response (whatever its status) is its pong, and none of it reaches the application. HTTP/1.1 has no
 * multiplexing, so the probe never interleaves with the application:
 * <ul>
 *   <li>while an application request is in flight, no probe is sent; its response serves as the probe (any inbound
 *       byte counts as liveness, as always). The response gets the full idle detection bound
 *       ({@code pingInterval + pingsMissedBeforeDead x pingTimeout}) from the moment the request's last part was
 *       written, and again from each part of it that arrives: a server that sends nothing at all for that long is
 *       declared dead ({@code PING_TIMEOUT}), never earlier. Choose the bound above your slowest response;</li>
 *   <li>a request that the application writes while a probe is in flight is held, and sent (in order, intact) as
 *       soon as the probe's response has ended; held requests count towards the channel's writability (its
 *       write-buffer high water mark), as queued writes do. If the peer is declared dead meanwhile, they fail with
 *       that {@link PeerDeadException}; if the connection ends otherwise, with a {@link ClosedChannelException};
 *       either way they were never sent, so they are safe to retry. A write that comes after the connection ended
 *       is never held;</li>
 *   <li>a server that answers the probe with {@code Connection: close} is retired cleanly: the connection is closed
 *       locally, held requests fail with a {@link ClosedChannelException}, and the listener hears
 *       {@link dev.keepalive.KeepaliveListener#onPeerRetired onPeerRetired}, not of a dead peer;</li>
 *   <li>a server that announces {@code Connection: close} on an application response (or answers with HTTP/1.0
 *       without keep-alive) is not probed again, and its close is a retirement;</li>
 *   <li>a server that closes the connection with nothing in flight (no request of the application unanswered, no
 *       probe), as servers do with idle keep-alive connections (nginx's {@code keepalive_timeout}, Apache's
 *       {@code KeepAliveTimeout}; RFC 9112 section 9.6), retires it: {@code onPeerRetired}, not
 *       {@code CLOSED_BY_PEER}. A close while a request or the probe is in flight is {@code CLOSED_BY_PEER};</li>
 *   <li>a server that answers the probe with a 4xx or 5xx status, or closes the connection on it, is logged at WARN
 *       once per connection: any answer proves it alive, but a server that rejects the probe may close on it or
 *       count it as an error;</li>
 *   <li>after a {@code 101 Switching Protocols} the connection no longer speaks HTTP/1.1: active probing stops (read
 *       idle, write stalls and TCP keepalive still apply; swap in the probe of the new protocol, as
 *       {@link WebSocketProbe});</li>
 *   <li>when the handler is removed while its probe is in flight, the rest of the probe's response is dropped by a
 *       handler that takes its place until that response has ended: the application never receives it.</li>
 * </ul>
 *
 * <h2>The default probe: {@code HEAD /}</h2>
 * Chosen by sending the candidates to real servers (the interop tests in {@code keepalive-testkit} run them on every
 * build, against the distribution's packages with the test's own configuration):
 * <table>
 *   <caption>How servers answer probe requests</caption>
 *   <tr><th>server</th><th>{@code OPTIONS *}</th><th>{@code HEAD /}</th></tr>
 *   <tr><td>nginx 1.22</td><td>{@code 400 Bad Request} with {@code Connection: close}: every probe would retire
 *       the connection</td><td>{@code 200}, kept alive</td></tr>
 *   <tr><td>Apache httpd 2.4</td><td>{@code 200}, kept alive</td><td>{@code 200}, kept alive</td></tr>
 *   <tr><td>Netty's {@code HttpServerCodec}</td><td>passed to the application, which answers as it
 *       likes</td><td>the same</td></tr>
 * </table>
 * {@code HEAD /} is answered everywhere with a status and no body. It does run the server's handler for
 * {@code /}: where that is expensive, or answers 4xx (an API without a root resource: still a valid pong, with a
 * WARN), configure {@code head("/health")} or the like.
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
 *         .probe(Http1Probe.builder().head("/health").build());   // or Http1Probe.create(): HEAD /
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

    /** The probe that sends {@code HEAD /} (see the table above for why). */
    public static Http1Probe create() {
        return DEFAULT;
    }

    /** A builder, starting from {@code HEAD /} with probing on. */
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

    /** A probe for {@code ctx}'s connection that times requests with the system ticker. */
    @Override
    public KeepaliveProbe forConnection(ChannelHandlerContext ctx) {
        return new Http1Connection(this, ctx, Ticker.system());
    }

    @Override
    public KeepaliveProbe forConnection(ChannelHandlerContext ctx, Ticker ticker) {
        return new Http1Connection(this, ctx, ticker);
    }

    /** The configured Host header, or {@code null} for the remote address. */
    String host() {
        return host;
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
        private HttpMethod method = HttpMethod.HEAD;
        private String uri = "/";
        private String host;
        private final HttpHeaders headers = new DefaultHttpHeaders();
        private boolean idleEviction;

        private Builder() {
        }

        /**
         * Probes with {@code OPTIONS *}, which asks the server about itself and touches no resource; nginx rejects
         * it (400 and Connection: close), so it is not the default.
         */
        public Builder options() {
            this.method = HttpMethod.OPTIONS;
            this.uri = "*";
            return this;
        }

        /**
         * Probes with {@code HEAD path}. Default: {@code HEAD /}.
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
}
