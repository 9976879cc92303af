/**
 * The Netty adapter: {@link dev.keepalive.netty.KeepaliveHandler}, the {@link dev.keepalive.netty.KeepaliveProbe}
 * SPI with its built-in probes, and {@link dev.keepalive.netty.TcpKeepaliveOptions}. Classes under
 * {@code dev.keepalive.netty.internal} are not API.
 */
package dev.keepalive.netty;
