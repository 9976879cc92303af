/** The session layer's wire formats; not a public API. */
package dev.keepalive.netty.session.internal;
