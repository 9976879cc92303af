package dev.keepalive.core;

/**
 * How long an event loop (or any single thread that runs many connections' timers) has been stuck, shared by
 * every {@link LivenessMonitor} on that loop: each timer that fires late reports its lateness here, and the
 * stretches of time during which some timer was overdue are added up, each stretch once however many timers saw it.
 *
 * <p>A monitor compares this running total at the start of a peer's silence and at the moment it would declare the
 * peer dead: the difference is how long the local loop was stuck while the peer was silent, and the verdict waits
 * that much longer (at most the verdict's own bound again). As in HashiCorp's Lifeguard, a node that is itself slow
 * does not trust its own judgement of others.
 *
 * <p>Lateness below {@link #LAG_THRESHOLD_NANOS} is the ordinary jitter of a busy loop and is not counted.
 *
 * <p>Not thread-safe: one instance per event loop, used only from that loop's thread.
 */
public final class LoopHealth {

    /** Timer lateness below this (10 ms) is ordinary scheduling jitter, not a stall. */
    public static final long LAG_THRESHOLD_NANOS = 10_000_000L;

    private long stalledNanos;
    private long coveredUntil;
    private boolean covered;

    /**
     * A timer due at {@code now - latenessNanos} ran at {@code now}: the loop was stuck over that stretch.
     *
     * @param now           the ticker time the timer ran at
     * @param latenessNanos how late it ran; below {@link #LAG_THRESHOLD_NANOS} it is ignored
     */
    public void recordLateness(long now, long latenessNanos) {
        if (latenessNanos < LAG_THRESHOLD_NANOS) {
            return;
        }
        long from = now - latenessNanos;
        if (covered && coveredUntil - from > 0) {
            from = coveredUntil;
        }
        if (now - from > 0) {
            stalledNanos += now - from;
        }
        if (!covered || now - coveredUntil > 0) {
            coveredUntil = now;
            covered = true;
        }
    }

    /** The total time this loop has been seen stuck, in nanoseconds; only differences between two reads mean anything. */
    public long stalledNanos() {
        return stalledNanos;
    }

    @Override
    public String toString() {
        return "LoopHealth{stalled=" + stalledNanos / 1_000_000 + " ms}";
    }
}
