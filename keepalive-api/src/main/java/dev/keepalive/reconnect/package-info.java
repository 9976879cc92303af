/**
 * Reconnect policies and the vocabulary of a reconnecting client: {@link dev.keepalive.reconnect.Backoff} (built on
 * resilience4j's {@code IntervalFunction}, jitter applied after the cap), {@link dev.keepalive.reconnect.ReconnectPolicy},
 * {@link dev.keepalive.reconnect.DisconnectedWrites}, states, events and the exceptions a send can fail with. The
 * client itself is {@code dev.keepalive.netty.client.ReconnectingClient}.
 */
package dev.keepalive.reconnect;
