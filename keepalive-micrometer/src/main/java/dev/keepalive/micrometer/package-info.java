/**
 * Micrometer meters: {@link dev.keepalive.micrometer.KeepaliveMetrics} for handlers (aggregated, as their listener)
 * and {@link dev.keepalive.micrometer.ReconnectingClientMetrics} for a reconnecting client.
 */
package dev.keepalive.micrometer;
