/** The session state machine without I/O; not a public API. */
package dev.keepalive.session.internal;
