/**
 * The keepalive API, free of any network library: {@link dev.keepalive.KeepaliveSettings},
 * {@link dev.keepalive.DeadPeerReason}, {@link dev.keepalive.PeerDiagnosis}, {@link dev.keepalive.PeerDeadException},
 * {@link dev.keepalive.KeepaliveListener}
 * and the injected {@link dev.keepalive.Ticker}. The liveness state machine itself is in {@code dev.keepalive.core}.
 */
package dev.keepalive;
