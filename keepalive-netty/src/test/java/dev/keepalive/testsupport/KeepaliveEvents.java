package dev.keepalive.testsupport;

import dev.keepalive.KeepaliveListener;
import dev.keepalive.PeerDeadException;

import java.net.SocketAddress;
import java.time.Duration;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.atomic.AtomicLong;

/** Records a connection's pongs and its death (when, and why), for real-socket tests. */
public final class KeepaliveEvents implements KeepaliveListener {
    public final CompletableFuture<PeerDeadException> death = new CompletableFuture<>();
    public final AtomicLong pongs = new AtomicLong();
    public volatile long deadAt;

    @Override
    public void onPongReceived(SocketAddress remote, long pingId, Duration rtt) {
        pongs.incrementAndGet();
    }

    @Override
    public void onPeerDead(PeerDeadException e) {
        deadAt = System.nanoTime();
        death.complete(e);
    }
}
