/**
 * Keepalive probes for the protocols services speak without owning their wire format:
 * {@link dev.keepalive.netty.http.Http1Probe} (idle HTTP/1.1 client connections, as in connection pools),
 * {@link dev.keepalive.netty.http.WebSocketProbe} and {@link dev.keepalive.netty.http.Http2Probe}. Give one to
 * {@link dev.keepalive.netty.KeepaliveHandler.Builder#probe}.
 *
 * <p>These classes need {@code netty-codec-http} (and, for HTTP/2, {@code netty-codec-http2}), which
 * {@code keepalive-netty} declares as optional dependencies: an application that uses them has the codecs already,
 * and one that does not never loads this package.
 */
package dev.keepalive.netty.http;
