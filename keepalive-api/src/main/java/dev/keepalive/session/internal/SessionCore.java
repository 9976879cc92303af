package dev.keepalive.session.internal;

import dev.keepalive.session.SessionBufferFullException;
import dev.keepalive.session.SessionProtocolException;
import dev.keepalive.session.SessionSettings;

import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.Iterator;
import java.util.List;
import java.util.Objects;

/**
 * One end of a resumable session, without I/O: per-direction sequence numbers, the buffer of messages the peer has
 * not acknowledged, what was delivered, and when a standalone acknowledgement is due.
 *
 * <ul>
 *   <li>Outbound messages are numbered 1, 2, 3, ... and kept until the peer's cumulative acknowledgement covers
 *       them ({@link #onAck}); then their token {@linkplain Completion#acked completes}.</li>
 *   <li>Inbound data must carry the next sequence number: an older one is a duplicate (dropped and counted), a newer
 *       one a gap, which the caller treats as a broken connection ({@link SessionProtocolException}).</li>
 *   <li>On a resume the peer says what it delivered last; {@link #resume} acknowledges up to there and returns the
 *       rest of the buffer, in order, to be written again.</li>
 *   <li>Acknowledgements ride on outbound data ({@link #piggybackAck}); otherwise one standalone acknowledgement is
 *       due at most once per {@link SessionSettings#ackInterval()} ({@link #ackDue}, {@link #ackDeadline}).</li>
 * </ul>
 * Times are {@code Ticker} nanoseconds compared wrap-safely. Not thread-safe: one owner makes every call.
 *
 * @param <P> what completes a write (a promise)
 */
public final class SessionCore<P> {

    /** Completes writes and releases messages. */
    public interface Completion<P> {
        /** The peer acknowledged the message written with {@code token}; its message was released before. */
        void acked(P token);

        /** The message written with {@code token} will never be acknowledged: {@code cause} says why. */
        void failed(P token, Throwable cause);

        /** Releases a message the session lets go of. */
        void release(Object msg);
    }

    /** What to do with inbound data. */
    public enum Verdict {
        /** The next message: hand it to the application. */
        DELIVER,
        /** Delivered before (a re-send that overlapped): drop it. */
        DUPLICATE
    }

    /** One message kept until the peer acknowledges it. */
    public static final class Entry<P> {
        final long seq;
        final Object msg;
        final long size;
        final P token;

        Entry(long seq, Object msg, long size, P token) {
            this.seq = seq;
            this.msg = msg;
            this.size = size;
            this.token = token;
        }

        /** Its sequence number. */
        public long seq() {
            return seq;
        }

        /** The payload, owned by the session. */
        public Object message() {
            return msg;
        }

        /** Its payload size in bytes. */
        public long size() {
            return size;
        }
    }

    private final SessionSettings settings;
    private final long ackIntervalNanos;
    private final Completion<P> completion;
    private final ArrayDeque<Entry<P>> unacked = new ArrayDeque<>();
    private long nextSeq = 1;
    private long bytes;
    private long peerAcked;
    private long delivered;
    private long ackSent;
    /** Whether delivered > ackSent, since {@link #pendingSince}. */
    private boolean ackPending;
    private long pendingSince;
    private boolean standaloneSent;
    private long lastStandaloneAt;
    private long peakBytes;
    private int peakMessages;
    private long duplicates;
    private long resentMessages;
    private long resentBytes;

    /** A fresh session end: nothing sent, nothing delivered. */
    public SessionCore(SessionSettings settings, Completion<P> completion) {
        this.settings = Objects.requireNonNull(settings, "settings");
        this.ackIntervalNanos = settings.ackInterval().toNanos();
        this.completion = Objects.requireNonNull(completion, "completion");
    }

    /**
     * A session end as a journal recorded it, for a server that restarted: {@code delivered} inbound messages were
     * delivered, the peer acknowledged outbound messages up to {@code peerAcked}, the next outbound message is
     * numbered {@code nextSeq}, and {@code kept} (in order, numbered after {@code peerAcked} and before
     * {@code nextSeq}, each as {@code {seq, message, size}}) are kept with a {@code null} token: no write of this
     * process waits for them.
     *
     * @throws IllegalArgumentException if the numbers contradict each other
     */
    public static <P> SessionCore<P> restored(SessionSettings settings, Completion<P> completion, long delivered,
                                              long peerAcked, long nextSeq, List<Entry<P>> kept) {
        if (delivered < 0 || peerAcked < 0 || nextSeq <= peerAcked) {
            throw new IllegalArgumentException("inconsistent session: delivered " + delivered + ", peer acknowledged "
                    + peerAcked + ", next message " + nextSeq);
        }
        SessionCore<P> core = new SessionCore<>(settings, completion);
        core.delivered = delivered;
        core.ackSent = delivered;
        core.peerAcked = peerAcked;
        core.nextSeq = nextSeq;
        long expect = peerAcked + 1;
        for (Entry<P> e : kept) {
            if (e.seq != expect || e.seq >= nextSeq) {
                throw new IllegalArgumentException("kept message " + e.seq + " out of order: expected " + expect
                        + " (next message " + nextSeq + ")");
            }
            expect++;
            core.unacked.add(e);
            core.bytes += e.size;
        }
        if (expect != nextSeq) {
            throw new IllegalArgumentException("kept messages end at " + (expect - 1) + " but the next message is "
                    + nextSeq);
        }
        core.peakBytes = core.bytes;
        core.peakMessages = core.unacked.size();
        return core;
    }

    /** A kept message as a journal recorded it, for {@link #restored}; its token is {@code null}. */
    public static <P> Entry<P> keptEntry(long seq, Object msg, long size) {
        return new Entry<>(seq, msg, size, null);
    }

    // ---- outbound ----------------------------------------------------------------------------------------------

    /**
     * Whether a message of {@code size} bytes fits; if not, the exception to fail its write with (naming the bound),
     * else {@code null}.
     */
    public SessionBufferFullException checkRoom(long size) {
        if (unacked.size() + 1 > settings.maxUnackedMessages()) {
            return new SessionBufferFullException(SessionBufferFullException.Bound.MESSAGES, "the session holds "
                    + unacked.size() + " messages the peer has not acknowledged, the maximum (maxUnackedMessages "
                    + settings.maxUnackedMessages() + ")");
        }
        if (bytes + size > settings.maxUnackedBytes()) {
            return new SessionBufferFullException(SessionBufferFullException.Bound.BYTES, "the session holds "
                    + bytes + " bytes the peer has not acknowledged and this message has " + size
                    + " (maxUnackedBytes " + settings.maxUnackedBytes() + ")");
        }
        return null;
    }

    /** Numbers a message that {@link #checkRoom fits} and keeps it until acknowledged. @return its entry */
    public Entry<P> append(Object msg, long size, P token) {
        Entry<P> e = new Entry<>(nextSeq++, msg, size, token);
        unacked.add(e);
        bytes += size;
        if (bytes > peakBytes) {
            peakBytes = bytes;
        }
        if (unacked.size() > peakMessages) {
            peakMessages = unacked.size();
        }
        return e;
    }

    /**
     * The peer acknowledged everything up to {@code ack}: those writes complete. An older acknowledgement does
     * nothing.
     *
     * @return how many writes completed
     * @throws SessionProtocolException if {@code ack} covers a message never sent
     */
    public int onAck(long ack) throws SessionProtocolException {
        if (ack >= nextSeq) {
            throw new SessionProtocolException("the peer acknowledged message " + ack + " but only "
                    + (nextSeq - 1) + " were sent");
        }
        int done = 0;
        while (!unacked.isEmpty() && unacked.peek().seq <= ack) {
            Entry<P> e = unacked.poll();
            bytes -= e.size;
            completion.release(e.msg);
            completion.acked(e.token);
            done++;
        }
        if (ack > peerAcked) {
            peerAcked = ack;
        }
        return done;
    }

    /**
     * The peer resumed the session, having delivered up to {@code peerDelivered}: acknowledges up to there, counts
     * the rest as re-sent, and returns it in order, to be written again (the entries stay in the buffer).
     *
     * @throws SessionProtocolException if {@code peerDelivered} is a message never sent, or older than an
     *                                  acknowledgement the peer gave before (it lost what it had delivered)
     */
    public List<Entry<P>> resume(long peerDelivered) throws SessionProtocolException {
        if (peerDelivered < peerAcked) {
            throw new SessionProtocolException("the peer resumes from message " + peerDelivered
                    + " but had acknowledged " + peerAcked + " before");
        }
        onAck(peerDelivered);
        List<Entry<P>> again = new ArrayList<>(unacked);
        for (Entry<P> e : again) {
            resentMessages++;
            resentBytes += e.size;
        }
        return again;
    }

    /**
     * What is kept, in order, to be written on a connection where the session was just established new (nothing
     * of it reached the peer yet); not counted as re-sent.
     */
    public List<Entry<P>> pending() {
        return new ArrayList<>(unacked);
    }

    // ---- inbound -----------------------------------------------------------------------------------------------

    /**
     * Inbound data numbered {@code seq} at {@code now}: deliver it or drop it as a duplicate.
     *
     * @throws SessionProtocolException if {@code seq} skips ahead of the next expected number
     */
    public Verdict onData(long seq, long now) throws SessionProtocolException {
        if (seq <= delivered) {
            duplicates++;
            return Verdict.DUPLICATE;
        }
        if (seq != delivered + 1) {
            throw new SessionProtocolException("message " + seq + " arrived but " + (delivered + 1)
                    + " was expected next");
        }
        delivered = seq;
        if (!ackPending) {
            ackPending = true;
            pendingSince = now;
        }
        return Verdict.DELIVER;
    }

    /** The acknowledgement that outbound data carries: everything delivered. It clears any pending standalone one. */
    public long piggybackAck() {
        ackSent = delivered;
        ackPending = false;
        return delivered;
    }

    /** Whether a standalone acknowledgement should go out at {@code now}. */
    public boolean ackDue(long now) {
        return ackPending && now - ackDeadline() >= 0;
    }

    /** Whether an acknowledgement is pending (then {@link #ackDeadline()} is valid). */
    public boolean hasAckDeadline() {
        return ackPending;
    }

    /**
     * When the pending acknowledgement is due: at once, unless a standalone one went out less than
     * {@code ackInterval} before.
     */
    public long ackDeadline() {
        if (!standaloneSent) {
            return pendingSince;
        }
        long next = lastStandaloneAt + ackIntervalNanos;
        return next - pendingSince > 0 ? next : pendingSince;
    }

    /** A standalone acknowledgement goes out at {@code now}. @return what it acknowledges */
    public long standaloneAck(long now) {
        standaloneSent = true;
        lastStandaloneAt = now;
        return piggybackAck();
    }

    // ---- end ---------------------------------------------------------------------------------------------------

    /** Fails every kept write with {@code cause} and releases its message. @return how many failed */
    public int failAll(Throwable cause) {
        int n = 0;
        for (Iterator<Entry<P>> it = unacked.iterator(); it.hasNext(); ) {
            Entry<P> e = it.next();
            it.remove();
            completion.release(e.msg);
            completion.failed(e.token, cause);
            n++;
        }
        bytes = 0;
        return n;
    }

    /**
     * Starts over as a new session (the peer forgot the old one): fails what is kept with {@code cause}, and numbers
     * from 1 again in both directions.
     */
    public int restart(Throwable cause) {
        int n = failAll(cause);
        nextSeq = 1;
        peerAcked = 0;
        delivered = 0;
        ackSent = 0;
        ackPending = false;
        standaloneSent = false;
        return n;
    }

    // ---- state -------------------------------------------------------------------------------------------------

    /** The last message delivered to the application. */
    public long delivered() {
        return delivered;
    }

    /** The highest acknowledgement the peer gave. */
    public long peerAcked() {
        return peerAcked;
    }

    /** The sequence number the next outbound message gets. */
    public long nextSeq() {
        return nextSeq;
    }

    /** Messages kept unacknowledged. */
    public int messages() {
        return unacked.size();
    }

    /** Their payload bytes. */
    public long bytes() {
        return bytes;
    }

    /** The most bytes kept at once. */
    public long peakBytes() {
        return peakBytes;
    }

    /** The most messages kept at once. */
    public int peakMessages() {
        return peakMessages;
    }

    /** Inbound duplicates dropped. */
    public long duplicates() {
        return duplicates;
    }

    /** Messages re-sent on resumes. */
    public long resentMessages() {
        return resentMessages;
    }

    /** Their payload bytes. */
    public long resentBytes() {
        return resentBytes;
    }

    /** Whether the buffer is above three quarters of either bound (the channel should turn unwritable). */
    public boolean aboveHighWater() {
        return unacked.size() * 4L > settings.maxUnackedMessages() * 3L || bytes * 4 > settings.maxUnackedBytes() * 3;
    }

    /** Whether the buffer is below half of both bounds (the channel may turn writable again). */
    public boolean belowLowWater() {
        return unacked.size() * 2L < settings.maxUnackedMessages() && bytes * 2 < settings.maxUnackedBytes();
    }

    /** The settings. */
    public SessionSettings settings() {
        return settings;
    }
}
