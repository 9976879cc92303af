package dev.keepalive.netty.session;

import dev.keepalive.session.SessionSettings;
import dev.keepalive.session.internal.SessionCore;
import io.netty.channel.ChannelPromise;
import io.netty.util.ReferenceCountUtil;

/**
 * One session's state across its connections: the sans-I/O core and the handler it is attached to. Guarded by its
 * own monitor: a server session may move between event loops when its client reconnects.
 */
final class SessionState implements SessionCore.Completion<ChannelPromise> {
    final String id;
    final SessionCore<ChannelPromise> core;
    /** The handler whose connection carries the session now, or null when detached. Guarded by this. */
    SessionHandler attached;
    /** The peer knows the session (client: a RESUMED arrived once). Guarded by this. */
    boolean established;
    /** Gone for good (expired, closed): writes fail. Guarded by this. */
    Throwable ended;
    private final SessionCounters counters;

    SessionState(String id, SessionSettings settings, SessionCounters counters) {
        this.id = id;
        this.counters = counters;
        this.core = new SessionCore<>(settings, this);
    }

    @Override
    public void acked(ChannelPromise token) {
        token.trySuccess();
    }

    @Override
    public void failed(ChannelPromise token, Throwable cause) {
        token.tryFailure(cause);
    }

    @Override
    public void release(Object msg) {
        ReferenceCountUtil.release(msg);
    }

    /** Records the core's peak in the shared counters; call after appending, under the monitor. */
    void notePeak() {
        counters.notePeak(core.bytes());
    }
}
