/**
 * The liveness state machine, {@link dev.keepalive.core.LivenessMonitor}: no I/O, no clock of its own, no timer.
 * A transport adapter (such as {@code dev.keepalive.netty.KeepaliveHandler}) feeds it events and arms one timer for
 * its deadline; tests drive it with a {@link dev.keepalive.ManualTicker}.
 */
package dev.keepalive.core;
