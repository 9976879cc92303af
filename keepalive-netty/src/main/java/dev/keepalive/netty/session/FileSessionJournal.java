package dev.keepalive.netty.session;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.nio.file.StandardOpenOption;
import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.zip.CRC32C;

/**
 * A {@link SessionJournal} in one append-only file: each call appends one record (length, CRC-32C, body) with one
 * {@code write}, so a process killed at any instant leaves every record whole or absent; a record cut short by a
 * crash of the host (or torn on disk) fails its check and is cut off, with everything after it, when the file is
 * next opened. When the file outgrows {@code compactAbove} bytes (and twice its size after the last compaction) it is
 * rewritten with only what is still needed (the open sessions and their unacknowledged messages), into a new file
 * that replaces the old one atomically. The compaction runs in the call that crossed the size, on that server's event
 * loop, and reads the whole file: on this project's 2-core test machine 100-210 ms for 64 MiB and 45-180 ms for
 * 16 MiB of 64-byte messages, the first in a JVM the slowest ({@code JournalCompactionBenchmark}); a smaller
 * {@code compactAbove} gives shorter, more frequent pauses.
 *
 * <table>
 *   <caption>Settings</caption>
 *   <tr><th>setting</th><th>default</th><th>meaning</th></tr>
 *   <tr><td>{@code compactAbove}</td><td>64 MiB</td><td>rewrite the file when it grows past this</td></tr>
 *   <tr><td>{@code forceToDisk}</td><td>off</td><td>{@code fsync} after each record: the sessions survive a crash
 *       of the host, not only of the process (each record then waits for the disk)</td></tr>
 * </table>
 *
 * <pre>{@code
 * SessionJournal journal = FileSessionJournal.builder(Path.of("/var/lib/myserver/sessions.journal")).build();
 * ServerSessions sessions = ServerSessions.builder(SessionFraming.binary()).journal(journal).build();
 * }</pre>
 * One server process at a time per file. Thread-safe: calls are serialised.
 */
public final class FileSessionJournal implements SessionJournal {
    /** Default {@code compactAbove}: 64 MiB. */
    public static final long DEFAULT_COMPACT_ABOVE = 64L << 20;

    private static final byte STARTED = 1;
    private static final byte RECORD = 2;
    private static final byte ENDED = 3;
    /** A record's header: its body's length and the body's CRC-32C. */
    private static final int HEADER = 8;
    /** How much of the file a scan reads at a time. */
    private static final int WINDOW = 1 << 20;
    /** No record is larger: a longer length field is a torn or foreign file. */
    private static final int MAX_RECORD = 1 << 30;

    private final Path file;
    private final long compactAbove;
    private final boolean forceToDisk;
    private FileChannel channel;
    private long size;
    /** The size right after the last compaction: the next waits until the file is twice that, so that a journal
     *  whose open sessions alone fill {@code compactAbove} is not rewritten at every record. */
    private long compactedSize;
    private boolean closed;

    private FileSessionJournal(Builder b) throws IOException {
        this.file = b.file;
        this.compactAbove = b.compactAbove;
        this.forceToDisk = b.forceToDisk;
        this.channel = FileChannel.open(file, StandardOpenOption.CREATE, StandardOpenOption.READ,
                StandardOpenOption.WRITE);
        long whole = scan(channel, null);
        if (whole < channel.size()) {
            channel.truncate(whole); // a record cut short by a crash: it never happened
        }
        this.size = whole;
        channel.position(whole);
    }

    /** A builder for a journal in {@code file} (created when absent). */
    public static Builder builder(Path file) {
        return new Builder(file);
    }

    /** The journal's file. */
    public Path file() {
        return file;
    }

    /** The file's size now, in bytes. */
    public synchronized long size() {
        return size;
    }

    @Override
    public synchronized List<Session> recover() throws IOException {
        checkOpen();
        Map<String, Replay> sessions = new LinkedHashMap<>();
        scan(channel, sessions);
        List<Session> out = new ArrayList<>(sessions.size());
        for (Replay r : sessions.values()) {
            out.add(r.toSession());
        }
        return out;
    }

    @Override
    public synchronized void started(String id) throws IOException {
        checkOpen();
        append(idOnly(STARTED, id));
    }

    @Override
    public synchronized void record(String id, long peerAcked, long delivered, List<Message> written)
            throws IOException {
        checkOpen();
        append(recordBody(id, peerAcked, delivered, written, written.size()));
    }

    @Override
    public synchronized void ended(String id) throws IOException {
        checkOpen();
        append(idOnly(ENDED, id));
    }

    /** The body of a record that carries only its type and a session id. */
    private static ByteBuffer idOnly(byte type, String id) {
        byte[] name = id.getBytes(StandardCharsets.UTF_8);
        return ByteBuffer.allocate(1 + 2 + name.length).put(type).putShort((short) name.length).put(name);
    }

    /** The body of a RECORD. */
    private static ByteBuffer recordBody(String id, long peerAcked, long delivered, Iterable<Message> written,
                                         int count) throws IOException {
        byte[] name = id.getBytes(StandardCharsets.UTF_8);
        long length = 1 + 2 + name.length + 8 + 8 + 4;
        for (Message m : written) {
            length += 8 + 4 + m.payload().length;
        }
        if (length > MAX_RECORD) {
            throw new IOException("a journal record of " + length + " bytes is larger than the most a record may be ("
                    + MAX_RECORD + ")");
        }
        ByteBuffer body = ByteBuffer.allocate((int) length);
        body.put(RECORD).putShort((short) name.length).put(name).putLong(peerAcked).putLong(delivered).putInt(count);
        for (Message m : written) {
            body.putLong(m.seq()).putInt(m.payload().length).put(m.payload());
        }
        return body;
    }

    @Override
    public synchronized void close() throws IOException {
        if (!closed) {
            closed = true;
            channel.close();
        }
    }

    private void checkOpen() throws IOException {
        if (closed) {
            throw new IOException("the session journal " + file + " is closed");
        }
    }

    private void append(ByteBuffer body) throws IOException {
        appendRaw(body);
        if (forceToDisk) {
            channel.force(false);
        }
        if (size > compactAbove && size > 2 * compactedSize) {
            compact();
        }
    }

    /** Rewrites the file with only the open sessions and their unacknowledged messages. */
    private void compact() throws IOException {
        Map<String, Replay> sessions = new LinkedHashMap<>();
        scan(channel, sessions);
        Path tmp = file.resolveSibling(file.getFileName() + ".compacting");
        FileChannel old = channel;
        try (FileChannel out = FileChannel.open(tmp, StandardOpenOption.CREATE, StandardOpenOption.WRITE,
                StandardOpenOption.TRUNCATE_EXISTING)) {
            channel = out;
            size = 0;
            for (Replay r : sessions.values()) {
                appendRaw(idOnly(STARTED, r.id));
                // The kept messages with their numbers: nextSeq follows from the last one, or from peerAcked when
                // none is kept (every message written was acknowledged).
                appendRaw(recordBody(r.id, r.peerAcked, r.delivered, r.kept, r.kept.size()));
            }
            out.force(true);
        } finally {
            channel = old;
        }
        Files.move(tmp, file, StandardCopyOption.REPLACE_EXISTING, StandardCopyOption.ATOMIC_MOVE);
        old.close();
        channel = FileChannel.open(file, StandardOpenOption.READ, StandardOpenOption.WRITE);
        size = channel.size();
        compactedSize = size;
        channel.position(size);
    }

    private void appendRaw(ByteBuffer body) throws IOException {
        body.flip();
        CRC32C crc = new CRC32C();
        crc.update(body.duplicate());
        ByteBuffer record = ByteBuffer.allocate(HEADER + body.remaining());
        record.putInt(body.remaining()).putInt((int) crc.getValue()).put(body).flip();
        int n = record.remaining();
        while (record.hasRemaining()) {
            channel.write(record);
        }
        size += n;
    }

    /**
     * Reads the whole records of {@code ch} from its start, replaying them into {@code sessions} when not null.
     * The file is read through a window of {@value #WINDOW} bytes, not with a read per record.
     *
     * @return where the whole records end
     */
    private static long scan(FileChannel ch, Map<String, Replay> sessions) throws IOException {
        long end = ch.size();
        long at = 0;
        Window window = new Window(ch, end);
        CRC32C crc = new CRC32C();
        while (at + HEADER <= end) {
            ByteBuffer header = window.view(at, HEADER);
            int length = header.getInt();
            int sum = header.getInt();
            if (length <= 0 || length > MAX_RECORD || at + HEADER + length > end) {
                break;
            }
            ByteBuffer body = window.view(at + HEADER, length);
            crc.reset();
            crc.update(body.duplicate());
            if ((int) crc.getValue() != sum) {
                break;
            }
            if (sessions != null) {
                replay(body, sessions);
            }
            at += HEADER + length;
        }
        return at;
    }

    /** Bytes of a file read a window at a time. */
    private static final class Window {
        private final FileChannel ch;
        private final long end;
        private final ByteBuffer buf = ByteBuffer.allocate(WINDOW);
        /** The file position of {@code buf}'s first byte; it holds {@code buf.limit()} bytes from there. */
        private long start;

        Window(FileChannel ch, long end) {
            this.ch = ch;
            this.end = end;
            buf.limit(0);
        }

        /** The {@code length} bytes at {@code position} (all within the file), positioned at their start. */
        ByteBuffer view(long position, int length) throws IOException {
            if (length > WINDOW) {
                ByteBuffer big = ByteBuffer.allocate(length);
                readFully(ch, big, position);
                return big.flip();
            }
            if (position < start || position + length > start + buf.limit()) {
                buf.clear();
                buf.limit((int) Math.min(WINDOW, end - position));
                readFully(ch, buf, position);
                buf.flip();
                start = position;
            }
            int from = (int) (position - start);
            return buf.duplicate().position(from).limit(from + length);
        }
    }

    private static void readFully(FileChannel ch, ByteBuffer into, long position) throws IOException {
        long at = position;
        while (into.hasRemaining()) {
            int n = ch.read(into, at);
            if (n < 0) {
                throw new IOException("the session journal ended inside a record");
            }
            at += n;
        }
    }

    private static void replay(ByteBuffer body, Map<String, Replay> sessions) throws IOException {
        byte type = body.get();
        byte[] name = new byte[body.getShort() & 0xffff];
        body.get(name);
        String id = new String(name, StandardCharsets.UTF_8);
        switch (type) {
            case STARTED:
                sessions.remove(id);
                sessions.put(id, new Replay(id));
                break;
            case RECORD: {
                Replay r = sessions.get(id);
                if (r == null) {
                    throw new IOException("the session journal records session " + id + " before it started");
                }
                r.peerAcked = Math.max(r.peerAcked, body.getLong());
                r.delivered = Math.max(r.delivered, body.getLong());
                if (r.nextSeq <= r.peerAcked) {
                    r.nextSeq = r.peerAcked + 1; // compacted: the numbers before the kept messages were acknowledged
                }
                int count = body.getInt();
                for (int i = 0; i < count; i++) {
                    long seq = body.getLong();
                    byte[] payload = new byte[body.getInt()];
                    body.get(payload);
                    if (seq != r.nextSeq) {
                        throw new IOException("the session journal records message " + seq + " of session " + id
                                + " where " + r.nextSeq + " was next");
                    }
                    r.kept.add(new Message(seq, payload));
                    r.nextSeq++;
                }
                while (!r.kept.isEmpty() && r.kept.peekFirst().seq() <= r.peerAcked) {
                    r.kept.pollFirst();
                }
                break;
            }
            case ENDED:
                sessions.remove(id);
                break;
            default:
                throw new IOException("the session journal holds a record of unknown type " + type);
        }
    }

    /** A session being read back. */
    private static final class Replay {
        final String id;
        long delivered;
        long peerAcked;
        long nextSeq = 1;
        final ArrayDeque<Message> kept = new ArrayDeque<>();

        Replay(String id) {
            this.id = id;
        }

        Session toSession() {
            return new Session(id, delivered, peerAcked, nextSeq, new ArrayList<>(kept));
        }
    }

    /** Builds a {@link FileSessionJournal}. */
    public static final class Builder {
        private final Path file;
        private long compactAbove = DEFAULT_COMPACT_ABOVE;
        private boolean forceToDisk;

        private Builder(Path file) {
            this.file = Objects.requireNonNull(file, "file");
        }

        /**
         * Rewrite the file when it grows past {@code bytes}. Default 64 MiB.
         *
         * @throws IllegalArgumentException if {@code bytes} is below 4 KiB
         */
        public Builder compactAbove(long bytes) {
            if (bytes < 4096) {
                throw new IllegalArgumentException("compactAbove must be at least 4096 bytes, but was " + bytes);
            }
            this.compactAbove = bytes;
            return this;
        }

        /** {@code fsync} after each record, so that sessions survive a crash of the host. Default off. */
        public Builder forceToDisk(boolean force) {
            this.forceToDisk = force;
            return this;
        }

        /**
         * Opens the journal, creating the file when absent and cutting off a record left incomplete by a crash.
         *
         * @throws IOException if the file cannot be opened
         */
        public FileSessionJournal build() throws IOException {
            return new FileSessionJournal(this);
        }
    }
}
