/**
 * Resumable sessions: the settings, events and exceptions of a session layer that keeps per-direction sequence
 * numbers and cumulative acknowledgements across connections, so that a connection that dies and comes back loses
 * nothing and repeats nothing. The Netty handlers are in {@code dev.keepalive.netty.session}; the state machine,
 * without I/O, is in {@code dev.keepalive.session.internal}.
 */
package dev.keepalive.session;
