package dev.keepalive.benchmarks;

import dev.keepalive.netty.session.FileSessionJournal;
import dev.keepalive.netty.session.SessionJournal;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Locale;

/**
 * How long a {@link FileSessionJournal} compaction holds the calling event loop: one session records 64-byte
 * messages, each acknowledging the one before (as the soak's server does), until the file has been compacted
 * {@code rounds} times; each compaction's call is timed.
 *
 * <pre>java -cp benchmarks/target/benchmarks.jar dev.keepalive.benchmarks.JournalCompactionBenchmark [MiB] [rounds]</pre>
 */
public final class JournalCompactionBenchmark {
    private JournalCompactionBenchmark() {
    }

    public static void main(String[] args) throws Exception {
        long mib = args.length > 0 ? Long.parseLong(args[0]) : 64;
        int rounds = args.length > 1 ? Integer.parseInt(args[1]) : 3;
        Path dir = Files.createTempDirectory("journal-compaction");
        Path file = dir.resolve("sessions.journal");
        try (FileSessionJournal journal = FileSessionJournal.builder(file).compactAbove(mib << 20).build()) {
            String id = "0123456789abcdef0123456789abcdef";
            journal.started(id);
            byte[] payload = new byte[64];
            long seq = 1;
            for (int round = 1; round <= rounds; round++) {
                long before = journal.size();
                // Bounded: the file shrinks at the latest once it passes the limit, about (MiB << 20) / 100 records.
                for (long n = 0; n < (mib << 20); n++) {
                    long start = System.nanoTime();
                    journal.record(id, seq - 1, seq, List.of(new SessionJournal.Message(seq, payload)));
                    long took = System.nanoTime() - start;
                    seq++;
                    if (journal.size() < before) {
                        System.out.printf(Locale.ROOT, "compaction %d of a %d MiB journal: %.1f ms (at record %,d)%n",
                                round, mib, took / 1e6, seq - 1);
                        break;
                    }
                    before = journal.size();
                }
            }
        } finally {
            Files.deleteIfExists(file);
            Files.deleteIfExists(dir);
        }
    }
}
