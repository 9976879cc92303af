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

    /** The golden ratio's fractional part: adding it modulo 1 gives the most evenly spread sequence of phases. */
    private static final double GOLDEN = 0.6180339887498949;

    private long stalledNanos;
    private long coveredUntil;
    private boolean covered;
    private double phase;

    /** Health of a loop whose phase sequence ({@link #nextPhase()}) starts at 0. */
    public LoopHealth() {
        this(0);
    }

    /**
     * Health of a loop whose phase sequence starts at {@code firstPhase} (give each loop its own start, so that the
     * connections of different loops do not get the same phases in the same order).
     *
     * @throws IllegalArgumentException if {@code firstPhase} is not in [0, 1)
     */
    public LoopHealth(double firstPhase) {
        if (!(firstPhase >= 0 && firstPhase < 1)) {
            throw new IllegalArgumentException("firstPhase must be in [0, 1), but was " + firstPhase);
        }
        this.phase = firstPhase;
    }

    /**
     * The next phase in [0, 1) for a connection's first ping on this loop: the additive golden-ratio sequence (each
     * phase lands in the largest gap the earlier ones left), so connections opened together are spread evenly over
     * a ping period however many there are. Deterministic.
     */
    public double nextPhase() {
        double p = phase;
        double next = p + GOLDEN;
        phase = next >= 1 ? next - 1 : next;
        return p;
    }

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
