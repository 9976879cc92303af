package dev.keepalive.netty.session;

import dev.keepalive.session.SessionStats;

import java.util.concurrent.atomic.AtomicLong;
import java.util.concurrent.atomic.LongAdder;

/** Counters shared by the handlers of one client session or one server. Thread-safe. */
final class SessionCounters {
    final LongAdder started = new LongAdder();
    final LongAdder resumed = new LongAdder();
    final LongAdder resentMessages = new LongAdder();
    final LongAdder resentBytes = new LongAdder();
    final LongAdder duplicates = new LongAdder();
    final LongAdder expired = new LongAdder();
    final LongAdder protocolErrors = new LongAdder();
    private final AtomicLong peakBytes = new AtomicLong();
    private volatile long peakSeen;

    void notePeak(long bytes) {
        if (bytes > peakSeen) {
            peakSeen = peakBytes.accumulateAndGet(bytes, Math::max);
        }
    }

    SessionStats snapshot(long unackedMessages, long unackedBytes) {
        return new SessionStats(started.sum(), resumed.sum(), resentMessages.sum(), resentBytes.sum(),
                duplicates.sum(), expired.sum(), protocolErrors.sum(), unackedMessages, unackedBytes,
                peakBytes.get());
    }
}
