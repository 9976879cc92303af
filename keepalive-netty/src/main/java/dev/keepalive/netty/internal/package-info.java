/** Internal helpers of the Netty adapter. Not API: they may change in any release. */
package dev.keepalive.netty.internal;
