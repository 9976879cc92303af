/**
 * Internal: the sans-I/O core of the reconnecting client (connection state, attempts, backoff, and the sends it
 * holds). Not API; it may change in any release.
 */
package dev.keepalive.reconnect.internal;
