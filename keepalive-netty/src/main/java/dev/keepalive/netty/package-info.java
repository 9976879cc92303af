/**
 * The Netty adapter: {@link dev.keepalive.netty.KeepaliveHandler}, the {@link dev.keepalive.netty.KeepaliveProbe}
 * SPI with its built-in probes, and {@link dev.keepalive.netty.TcpKeepaliveOptions}. Probes for HTTP/1.1, WebSocket
 * and HTTP/2 are in {@code dev.keepalive.netty.http}, which needs Netty's optional HTTP codecs. Classes under
 * {@code dev.keepalive.netty.internal} are not API.
 */
package dev.keepalive.netty;
