package dev.keepalive.netty;

import dev.keepalive.DeadPeerReason;
import dev.keepalive.KeepaliveListener;
import dev.keepalive.core.LivenessMonitor.PeerPingVerdict;
import dev.keepalive.core.LivenessMonitor.PongResult;
import dev.keepalive.netty.internal.ReadBarrier;
import io.netty.channel.ChannelFuture;
import io.netty.channel.ChannelFutureListener;

import org.slf4j.Logger;

import java.time.Duration;

/**
 * What a {@link KeepaliveHandler} hands to others, in one object per connection instead of three: its timer entry
 * (linked into the event loop's {@link LoopTimer}, or a task of its own),
 * its close listener and the sink its probe reports frames to (a ping or pong of the peer, a peer that says we ping
 * too often, a malformed frame). Their methods would be public API on the handler itself. Runs on the channel's
 * event loop.
 */
final class HandlerEvents extends LoopTimer.Entry implements Runnable, ChannelFutureListener, KeepaliveProbe.Sink {
    /** The handler's logger: its messages read as the handler's. */
    private static final Logger log = KeepaliveHandler.log;
    private final KeepaliveHandler h;
    /** The event loop's timer this entry links into, resolved at the handler's first arm; {@code null} for a task of
     *  the connection's own. (Here rather than in the handler: it fits this object's padding.) */
    LoopTimer loopTimer;

    HandlerEvents(KeepaliveHandler handler) {
        this.h = handler;
    }

    @Override
    void fire() {
        h.onTimer();
    }

    @Override
    public void run() {
        h.onTimer();
    }

    @Override
    public void operationComplete(ChannelFuture future) {
        h.onChannelClosed(future);
    }

    @Override
    public void pingReceived(long pingId) {
        if (h.monitor.onPeerPing() == PeerPingVerdict.ANSWER) {
            Object pong;
            try {
                pong = h.probe.newPong(h.ctx.alloc(), pingId);
            } catch (Throwable t) {
                h.probeError(h.probe + " building pong " + pingId, t);
                return;
            }
            if (pong != null) {
                h.ctx.writeAndFlush(pong);
            }
            return;
        }
        closeForTooManyPings();
    }

    @Override
    public void pingAnsweredElsewhere() {
        if (h.monitor.onPeerPing() != PeerPingVerdict.ANSWER) {
            closeForTooManyPings();
        }
    }

    private void closeForTooManyPings() {
        if (!h.flag(KeepaliveHandler.TOO_MANY_PINGS_LOGGED)) {
            h.flag(KeepaliveHandler.TOO_MANY_PINGS_LOGGED, true);
            log.warn("Closing {}: it pinged more often than every {} more than {} times in a row "
                    + "(too many pings); {} pings received", h.ctx.channel().remoteAddress(),
                    h.config().settings().minPeerPingInterval(), h.config().settings().peerPingStrikes(),
                    h.monitor.stats().peerPingsReceived());
        }
        Object goAway = h.probe.newTooManyPings(h.ctx.alloc());
        if (goAway != null) {
            h.ctx.writeAndFlush(goAway).addListener(ChannelFutureListener.CLOSE);
        }
        h.declareDead(DeadPeerReason.PEER_PINGED_TOO_OFTEN);
    }

    @Override
    public void pongReceived(long pingId) {
        if (ReadBarrier.isBarrierId(pingId)) {
            ReadBarrier barrier = h.barrier();
            if (barrier != null && barrier.onPong(pingId)) {
                h.pumpBarrier();
            }
            return;
        }
        PongResult result = h.monitor.onPong(pingId);
        if (log.isDebugEnabled()) {
            log.debug("pong {} from {}: {}, RTT {} us", pingId, h.ctx.channel().remoteAddress(), result,
                    h.monitor.lastRttNanos() / 1000);
        }
        if (result == PongResult.ANSWERED) {
            if (h.listener != KeepaliveListener.NOOP) {
                try {
                    h.listener.onPongReceived(h.ctx.channel().remoteAddress(), pingId,
                            Duration.ofNanos(h.monitor.lastRttNanos()));
                } catch (RuntimeException e) {
                    log.warn("KeepaliveListener threw", e);
                }
            }
            h.arm();
        }
    }

    @Override
    public void tooManyPingsReceived() {
        if (h.monitor.markDead(DeadPeerReason.TOO_MANY_PINGS)) {
            log.warn("{} closes this connection because it was pinged too often; ping less often "
                    + "(pingInterval {})", h.ctx.channel().remoteAddress(), h.config().settings().pingInterval());
            h.declareDead(DeadPeerReason.TOO_MANY_PINGS);
        }
    }

    @Override
    public void malformed(String description) {
        h.monitor.onMalformedProbeFrame();
        log.debug("Dropped a malformed probe frame from {}: {}", h.ctx.channel().remoteAddress(), description);
    }
}
