/**
 * Resumable sessions over any framing the binary or line probe understands: {@link
 * dev.keepalive.netty.session.ClientSession} (with {@code ReconnectingClient}) and
 * {@link dev.keepalive.netty.session.ServerSessions}, with a pluggable {@link dev.keepalive.netty.session.SessionStore}.
 */
package dev.keepalive.netty.session;
