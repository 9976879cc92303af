/**
 * {@link dev.keepalive.netty.client.ReconnectingClient}: one logical connection kept up with the keepalive handler,
 * jittered backoff, failover and bounded, never-silent sends.
 */
package dev.keepalive.netty.client;
