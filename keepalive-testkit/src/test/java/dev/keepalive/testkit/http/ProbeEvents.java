package dev.keepalive.testkit.http;

import dev.keepalive.KeepaliveListener;
import dev.keepalive.PeerDeadException;

import java.net.SocketAddress;
import java.time.Duration;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.atomic.AtomicInteger;

/** Records one client's keepalive events. */
final class ProbeEvents implements KeepaliveListener {
    final AtomicInteger pingsSent = new AtomicInteger();
    final AtomicInteger pongs = new AtomicInteger();
    final CompletableFuture<PeerDeadException> death = new CompletableFuture<>();
    /** {@code System.nanoTime()} when the peer was declared dead. */
    volatile long deadAt;
    /** How the peer retired the connection, each time it was told (at most once per connection). */
    final List<String> retirements = new CopyOnWriteArrayList<>();
    final CompletableFuture<String> retired = new CompletableFuture<>();

    @Override
    public void onPingSent(SocketAddress remote, long pingId) {
        pingsSent.incrementAndGet();
    }

    @Override
    public void onPongReceived(SocketAddress remote, long pingId, Duration rtt) {
        pongs.incrementAndGet();
    }

    @Override
    public void onPeerDead(PeerDeadException cause) {
        deadAt = System.nanoTime();
        death.complete(cause);
    }

    @Override
    public void onPeerRetired(SocketAddress remote, String how) {
        retirements.add(how);
        retired.complete(how);
    }
}
