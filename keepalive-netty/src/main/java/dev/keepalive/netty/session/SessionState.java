package dev.keepalive.netty.session;

import dev.keepalive.session.SessionSettings;
import dev.keepalive.session.internal.SessionCore;
import io.netty.buffer.ByteBuf;
import io.netty.buffer.ByteBufUtil;
import io.netty.buffer.Unpooled;
import io.netty.channel.ChannelPromise;
import io.netty.util.ReferenceCountUtil;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.List;

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
    /** Where the server records the session as it changes, or null (a client, or a server without a journal). */
    final SessionJournal journal;
    /**
     * A message is being handed to the application: what it writes meanwhile is recorded with the delivery, and
     * written to the network after that. Guarded by this.
     */
    boolean delivering;
    /** The writes held while {@link #delivering}, in order. Guarded by this. */
    final List<SessionCore.Entry<ChannelPromise>> held;
    private final SessionCounters counters;

    SessionState(String id, SessionSettings settings, SessionCounters counters) {
        this(id, settings, counters, null);
    }

    SessionState(String id, SessionSettings settings, SessionCounters counters, SessionJournal journal) {
        this.id = id;
        this.counters = counters;
        this.journal = journal;
        this.held = journal == null ? null : new ArrayList<>();
        this.core = new SessionCore<>(settings, this);
    }

    /** A session read back from {@code journal} by a server that (re)started. */
    SessionState(SessionJournal.Session recovered, SessionSettings settings, SessionCounters counters,
                 SessionJournal journal) {
        this.id = recovered.id();
        this.counters = counters;
        this.journal = journal;
        this.held = new ArrayList<>();
        List<SessionCore.Entry<ChannelPromise>> kept = new ArrayList<>(recovered.kept().size());
        for (SessionJournal.Message m : recovered.kept()) {
            kept.add(SessionCore.keptEntry(m.seq(), Unpooled.wrappedBuffer(m.payload()), m.payload().length));
        }
        this.core = SessionCore.restored(settings, this, recovered.delivered(), recovered.peerAcked(),
                recovered.nextSeq(), kept);
    }

    /** The payload's bytes, as a journal keeps them. */
    static byte[] bytesOf(Object payload) {
        if (payload instanceof ByteBuf) {
            ByteBuf b = (ByteBuf) payload;
            return ByteBufUtil.getBytes(b, b.readerIndex(), b.readableBytes());
        }
        return payload.toString().getBytes(StandardCharsets.UTF_8);
    }

    /** Journal messages of {@code entries}. */
    static List<SessionJournal.Message> messagesOf(List<SessionCore.Entry<ChannelPromise>> entries) {
        List<SessionJournal.Message> out = new ArrayList<>(entries.size());
        for (SessionCore.Entry<ChannelPromise> e : entries) {
            out.add(new SessionJournal.Message(e.seq(), bytesOf(e.message())));
        }
        return out;
    }

    @Override
    public void acked(ChannelPromise token) {
        if (token != null) { // null: a message recovered from a journal, written by an earlier process
            token.trySuccess();
        }
    }

    @Override
    public void failed(ChannelPromise token, Throwable cause) {
        if (token != null) {
            token.tryFailure(cause);
        }
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
