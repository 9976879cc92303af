package dev.keepalive.netty.session;

import java.io.IOException;
import java.util.List;
import java.util.Objects;

/**
 * Where a server writes its sessions as they change, so that a server process that is killed and started again
 * (or another process on the same journal) resumes them: a client that comes back loses nothing and gets nothing
 * twice. Without a journal ({@link ServerSessions.Builder#journal}), sessions live in the process's memory and die
 * with it.
 *
 * <p>What a server writes, and when:
 * <ul>
 *   <li>{@link #started}: a new session, before the client hears of it;</li>
 *   <li>{@link #record}: the session moved on, in one atomic step: inbound messages up to {@code delivered} were
 *       handed to the application <em>and</em> the application's handler returned, the outbound messages it wrote
 *       meanwhile (its replies) were numbered, and the client acknowledged up to {@code peerAcked}. The replies go to
 *       the network only after this returns, and acknowledgements never run ahead of it. So a server killed at any
 *       instant either recorded a message together with its replies, or neither: after the restart, the client
 *       re-sends what is not recorded, and the application handles it as if for the first time. A message's effects
 *       are exactly-once when they are its replies on the session; other effects (a database write) must be
 *       idempotent, or be committed by the application together with the message;</li>
 *   <li>{@link #ended}: the session expired or was replaced; forget it.</li>
 * </ul>
 * Calls come from the servers' event loops, one at a time per session; implementations are thread-safe. A call
 * that throws ends the session (its connection closes and its writes fail with the error): a session that cannot
 * be recorded cannot be resumed after a crash, and saying otherwise would be a lie. {@link FileSessionJournal} is
 * the implementation for one host; a shared database or log makes the sessions resumable on other hosts too.
 */
public interface SessionJournal extends AutoCloseable {

    /** An outbound message the client had not acknowledged: its number and its payload's bytes. */
    record Message(long seq, byte[] payload) {
        public Message {
            Objects.requireNonNull(payload, "payload");
        }
    }

    /**
     * A session as the journal holds it: inbound messages up to {@code delivered} were handled; the client
     * acknowledged outbound messages up to {@code peerAcked}; {@code kept} are the rest, numbered from
     * {@code peerAcked + 1} up to {@code nextSeq - 1}.
     */
    record Session(String id, long delivered, long peerAcked, long nextSeq, List<Message> kept) {
        public Session {
            Objects.requireNonNull(id, "id");
            kept = List.copyOf(kept);
        }
    }

    /** The sessions recorded and not ended, read once by a server built on this journal. */
    List<Session> recover() throws IOException;

    /** A new session {@code id} begins; whatever was recorded under this id before is void. */
    void started(String id) throws IOException;

    /**
     * Session {@code id} moved on, atomically (see the class comment).
     *
     * @param peerAcked the client's acknowledgement: outbound messages up to here may be forgotten
     * @param delivered inbound messages up to here were handled by the application
     * @param written   outbound messages written since the last record, in order, numbered after the last one
     */
    void record(String id, long peerAcked, long delivered, List<Message> written) throws IOException;

    /** Session {@code id} is over (expired, or replaced by a new one); forget it. */
    void ended(String id) throws IOException;

    /** Closes the journal; what was recorded stays for the next server. */
    @Override
    void close() throws IOException;
}
