package dev.keepalive.netty.http;

import dev.keepalive.PeerDeadException;
import dev.keepalive.Ticker;
import dev.keepalive.netty.KeepaliveProbe;
import io.netty.buffer.ByteBufAllocator;
import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.ChannelPipeline;
import io.netty.channel.ChannelPromise;
import io.netty.channel.PendingWriteQueue;
import io.netty.handler.codec.http.HttpObject;
import io.netty.handler.codec.http.HttpRequest;
import io.netty.handler.codec.http.HttpResponse;
import io.netty.handler.codec.http.HttpResponseStatus;
import io.netty.handler.codec.http.HttpUtil;
import io.netty.handler.codec.http.LastHttpContent;
import io.netty.util.NetUtil;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import java.io.IOException;
import java.net.InetSocketAddress;
import java.net.SocketAddress;
import java.nio.channels.ClosedChannelException;
import java.util.List;
import java.util.OptionalLong;

/**
 * The {@link Http1Probe} of one connection: what is in flight, the probe request awaiting its response, the writes
 * held meanwhile. Event-loop confined, like the handler that drives it.
 */
final class Http1Connection implements KeepaliveProbe {
    private static final Logger log = LoggerFactory.getLogger(Http1Probe.class);

    private final Http1Probe config;
    private final ChannelHandlerContext ctx;
    private final Ticker ticker;
    /** Application requests written whose final response has not ended yet. */
    private int requestsInFlight;
    /** The application has written a request's head but not yet its last content: never probe mid-request. */
    private boolean requestOpen;
    /** When the last part of an application request was written, in ticker time. */
    private long lastRequestWriteAt;
    /** When the last part of a response to an application request arrived, in ticker time. */
    private long lastResponseReadAt;
    /** The id of the probe request whose response is awaited; 0 when none. */
    private long probeInFlight;
    /** The name of the handler before ours when the probe went out ({@code null}: ours was first). */
    private String predecessor;
    /** The response being read is an interim (1xx) one: its end does not end the exchange. */
    private boolean interim;
    /** The probe's response asked to close the connection. */
    private boolean probeAnswerCloses;
    /** The server announced that it closes the connection: no more probes, and its close is expected. */
    private boolean closeAnnounced;
    /** How the server announced it, for the retirement event. */
    private String announcement;
    /** The connection switched protocols (101): it no longer speaks HTTP/1.1. */
    private boolean upgraded;
    /** Why this side retired the connection; {@code null} while it has not. */
    private String retiredBecause;
    /** Why the connection ended before held writes could go out; {@code null} while it has not. */
    private String endedBecause;
    /** The handler stopped driving this connection: writes pass straight on. */
    private boolean ended;
    /** A WARN about the server's treatment of the probe was logged for this connection. */
    private boolean warned;
    /** Application writes held while the probe is in flight; they count towards the channel's writability. */
    private PendingWriteQueue held;
    private String hostHeader;

    Http1Connection(Http1Probe config, ChannelHandlerContext ctx, Ticker ticker) {
        this.config = config;
        this.ctx = ctx;
        this.ticker = ticker;
    }

    @Override
    public Object newPing(ByteBufAllocator alloc, long pingId) {
        if (probeInFlight != 0 || requestsInFlight > 0 || requestOpen || closeAnnounced || upgraded
                || retiredBecause != null || ended || !ctx.channel().isActive()) {
            return null;
        }
        if (config.idleEviction()) {
            retire("idle for the ping interval (idle eviction)");
            return null;
        }
        probeInFlight = pingId;
        predecessor = predecessorName();
        return config.newRequest(hostHeader());
    }

    private String predecessorName() {
        List<String> names = ctx.pipeline().names();
        int i = names.indexOf(ctx.name());
        return i > 0 ? names.get(i - 1) : null;
    }

    private String hostHeader() {
        if (hostHeader == null) {
            SocketAddress remote = ctx.channel().remoteAddress();
            hostHeader = config.host() != null ? config.host()
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
        // Responses come in request order, and no application request goes out while the probe is in flight:
        // this is the probe's response.
        if (obj.decoderResult().isFailure()) {
            sink.malformed("undecodable response to the keepalive probe: " + obj.decoderResult().cause());
            probeInFlight = 0;
            retire("its response to the keepalive probe could not be decoded");
            return true;
        }
        if (obj instanceof HttpResponse) {
            HttpResponse response = (HttpResponse) obj;
            HttpResponseStatus status = response.status();
            interim = isInterim(status);
            if (!interim && (status.code() == 101 || !HttpUtil.isKeepAlive(response))) {
                probeAnswerCloses = true;
            }
            if (status.code() >= 400) {
                warnOnce("answered the keepalive probe " + config.method() + " " + config.uri() + " with " + status
                        + (probeAnswerCloses ? " and Connection: close" : ""));
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
                    announcement = "it answered the keepalive probe with Connection: close";
                    retire("it answered the keepalive probe with Connection: close");
                } else {
                    releaseHeld();
                }
            }
        }
        return true;
    }

    private void observeApplicationResponse(HttpObject obj) {
        if (requestsInFlight > 0) {
            lastResponseReadAt = ticker.nanoTime(); // the response's allowance runs again from here
        }
        if (obj instanceof HttpResponse) {
            HttpResponse response = (HttpResponse) obj;
            interim = isInterim(response.status());
            if (response.status().code() == 101) {
                upgraded = true;
            } else if (!interim && !HttpUtil.isKeepAlive(response)) {
                closeAnnounced = true;
                announcement = "it answered a request with Connection: close";
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

    static boolean isInterim(HttpResponseStatus status) {
        int code = status.code();
        return code >= 100 && code < 200 && code != 101;
    }

    private void warnOnce(String what) {
        if (!warned) {
            warned = true;
            log.warn("{} {}: choose a probe this server accepts, for example "
                            + "Http1Probe.builder().head(\"/health\")", ctx.channel().remoteAddress(), what);
        }
    }

    @Override
    public boolean interceptsWrites() {
        return true;
    }

    @Override
    public void write(ChannelHandlerContext ctx, Object msg, ChannelPromise promise) {
        if (!ended && (probeInFlight != 0 || (held != null && !held.isEmpty()))) {
            if (held == null) {
                held = new PendingWriteQueue(ctx);
            }
            held.add(msg, promise); // counted as pending outbound bytes: the channel's writability sees it
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
        if (msg instanceof HttpObject && (requestOpen || requestsInFlight > 0)) {
            lastRequestWriteAt = ticker.nanoTime();
        }
    }

    /** Sends what the application wrote while the probe was in flight, in order. */
    private void releaseHeld() {
        if (held == null || held.isEmpty()) {
            return;
        }
        for (int i = held.size(); i > 0; i--) {
            Object msg = held.current();
            if (msg == null) {
                break;
            }
            track(msg);
            held.removeAndWrite();
        }
        ctx.flush();
    }

    private void failHeld(Throwable cause) {
        if (held != null) {
            held.removeAndFailAll(cause);
        }
    }

    private void retire(String because) {
        if (retiredBecause != null) {
            return;
        }
        retiredBecause = because;
        endedBecause = "the connection to " + ctx.channel().remoteAddress() + " was retired before this request "
                + "was sent: " + because;
        log.debug("Retiring the connection to {}: {}", ctx.channel().remoteAddress(), because);
        failHeld(closedCause());
        ctx.channel().close();
    }

    private ClosedChannelException closedCause() {
        ClosedChannelException e = new ClosedChannelException();
        if (endedBecause != null) {
            e.initCause(new IOException(endedBecause));
        }
        return e;
    }

    @Override
    public void connectionEnded(PeerDeadException deadCause) {
        if (ended) {
            return;
        }
        ended = true;
        if (deadCause != null) {
            failHeld(deadCause);
        } else if (retiredBecause != null || !ctx.channel().isActive()) {
            failHeld(closedCause());
        } else {
            // The handler was removed from an open channel: the probe's response must not reach the application.
            if (probeInFlight != 0) {
                swallowProbeResponse();
            }
            releaseHeld();
        }
    }

    private void swallowProbeResponse() {
        ChannelPipeline p = ctx.pipeline();
        ProbeResponseSwallower swallower = new ProbeResponseSwallower(interim);
        if (predecessor == null) {
            p.addFirst(swallower);
        } else if (p.context(predecessor) != null) {
            p.addAfter(predecessor, null, swallower);
        } else {
            log.warn("The keepalive handler was removed from {} while its probe was in flight, and {} that came "
                    + "before it is gone: the probe's response may reach the application", ctx.channel(),
                    predecessor);
        }
        probeInFlight = 0;
    }

    @Override
    public boolean closeAnnounced() {
        return closeAnnounced;
    }

    /**
     * An announced close, or a FIN with nothing in flight (no request of the application unanswered, no probe), is
     * the server retiring its idle connection (RFC 9112 section 9.6). A close while the probe is in flight is not:
     * the server either rejects the probe or died with it, so it stays {@code CLOSED_BY_PEER}, with a WARN.
     */
    @Override
    public String peerRetirement() {
        if (closeAnnounced) {
            return announcement;
        }
        if (upgraded || requestsInFlight > 0 || requestOpen) {
            return null;
        }
        if (probeInFlight != 0) {
            warnOnce("closed the connection while the keepalive probe " + config.method() + " " + config.uri()
                    + " was in flight");
            return null;
        }
        endedBecause = "the server at " + ctx.channel().remoteAddress() + " closed the idle connection before this "
                + "request was sent";
        return "it closed the idle connection (nothing in flight)";
    }

    @Override
    public OptionalLong awaitedSince() {
        if (requestsInFlight == 0 && !requestOpen) {
            return OptionalLong.empty();
        }
        return OptionalLong.of(lastResponseReadAt - lastRequestWriteAt > 0 ? lastResponseReadAt : lastRequestWriteAt);
    }

    @Override
    public boolean canCarryPings() {
        return !upgraded;
    }

    @Override
    public String toString() {
        return config + "{requestsInFlight=" + requestsInFlight + ", probeInFlight=" + probeInFlight
                + (retiredBecause == null ? "" : ", retired: " + retiredBecause) + '}';
    }
}
