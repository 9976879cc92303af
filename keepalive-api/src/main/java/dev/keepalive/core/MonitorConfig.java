package dev.keepalive.core;

import dev.keepalive.KeepaliveSettings;
import dev.keepalive.Ticker;

import java.util.Objects;
import java.util.concurrent.atomic.AtomicReferenceArray;
import java.util.function.DoubleSupplier;

/**
 * What every {@link LivenessMonitor} built from the same settings shares: the values derived from the settings (in
 * nanoseconds), the ticker, the random source and whether the protocol can be pinged. Build one per settings
 * instance and pass it to every monitor: a connection then holds only its own state (a transport watching thousands
 * of idle connections keeps this once, not once per connection). Immutable and thread-safe.
 */
public final class MonitorConfig {
    /**
     * Recently used instances, direct-mapped by the settings' hash: bounded (an application has a few kinds of
     * connection), thread-safe (a race only makes one more instance), and no leak however many settings are made.
     */
    private static final AtomicReferenceArray<MonitorConfig> RECENT = new AtomicReferenceArray<>(32);

    final KeepaliveSettings settings;
    final Ticker ticker;
    final DoubleSupplier random;
    final boolean activeProbing;
    final long intervalNanos;
    final double jitter;
    final long timeoutMaxNanos;
    /** The adaptive timeout's floor, or -1 when the timeout is fixed. */
    final long timeoutMinNanos;
    final int missedBeforeDead;
    /** Least silence before PING_TIMEOUT: pingInterval + pingsMissedBeforeDead x pingTimeout. */
    final long pingBoundNanos;
    /** -1: off. */
    final long readIdleNanos;
    final long firstResponseNanos;
    /** -1: off. */
    final long writeStallNanos;
    final long writeStallStepNanos;
    final long stallThresholdNanos;
    final long minPeerPingNanos;
    final int peerPingStrikesAllowed;
    /** Whether a connection's first idle wait is spread over one steady ping period ({@link #spreadingFirstPings}). */
    final boolean spreadFirstPings;
    /** Where the spread's phases come from; {@code null}: the event loop's {@link LoopHealth#nextPhase()}. */
    final DoubleSupplier phases;
    /** See {@link #timerTickNanos()}. */
    private final long timerTickNanos;

    /** The finest and coarsest tick timers are rounded up to (see {@link #timerTickNanos()}). */
    static final long MIN_TICK_NANOS = 1_000_000L;
    static final long MAX_TICK_NANOS = 5_000_000L;

    private MonitorConfig(KeepaliveSettings settings, Ticker ticker, boolean activeProbing, DoubleSupplier random,
                          boolean spreadFirstPings, DoubleSupplier phases) {
        this(settings, ticker, activeProbing, random, spreadFirstPings, phases, -1);
    }

    /** {@code tick}: the timer tick, or -1 for the one the ticker and interval call for. */
    private MonitorConfig(KeepaliveSettings settings, Ticker ticker, boolean activeProbing, DoubleSupplier random,
                          boolean spreadFirstPings, DoubleSupplier phases, long tick) {
        this.settings = Objects.requireNonNull(settings, "settings");
        this.ticker = Objects.requireNonNull(ticker, "ticker");
        this.random = Objects.requireNonNull(random, "random");
        this.activeProbing = activeProbing;
        this.spreadFirstPings = spreadFirstPings;
        this.phases = phases;
        this.intervalNanos = settings.pingInterval().toNanos();
        this.jitter = settings.pingJitter();
        this.timeoutMaxNanos = settings.pingTimeout().toNanos();
        this.timeoutMinNanos = settings.pingTimeoutMin().map(d -> d.toNanos()).orElse(-1L);
        this.missedBeforeDead = settings.pingsMissedBeforeDead();
        this.pingBoundNanos = settings.idleDetectionBound().toNanos();
        this.readIdleNanos = settings.readIdleTimeout().map(d -> d.toNanos())
                .orElse(activeProbing ? -1L : settings.idleDetectionBound().toNanos());
        this.firstResponseNanos = settings.firstResponseTimeout().toNanos();
        this.writeStallNanos = settings.writeStallTimeout().map(d -> d.toNanos()).orElse(-1L);
        this.writeStallStepNanos = writeStallNanos < 0 ? -1
                : Math.max(1, writeStallNanos / LivenessMonitor.CHECK_STEPS);
        this.stallThresholdNanos = settings.localStallThreshold().toNanos();
        this.minPeerPingNanos = settings.minPeerPingInterval().toNanos();
        this.peerPingStrikesAllowed = settings.peerPingStrikes();
        this.timerTickNanos = tick >= 0 ? tick : ticker != Ticker.system() ? 0
                : Math.max(MIN_TICK_NANOS, Math.min(MAX_TICK_NANOS, intervalNanos / 200));
    }

    /**
     * The same, with timers rounded up to {@code tickNanos} whatever the ticker (0: exact deadlines): for tests of
     * a transport that rounds.
     *
     * @throws IllegalArgumentException if {@code tickNanos} is negative
     */
    public MonitorConfig withTimerTick(long tickNanos) {
        if (tickNanos < 0) {
            throw new IllegalArgumentException("tickNanos must be >= 0, but was " + tickNanos);
        }
        return new MonitorConfig(settings, ticker, activeProbing, random, spreadFirstPings, phases, tickNanos);
    }

    /**
     * When a timer for {@code deadline} runs: the deadline rounded up to the next multiple of {@code tick} (as it
     * is with a tick of 0, or on a tick).
     */
    public static long roundUpToTick(long deadline, long tick) {
        if (tick <= 0) {
            return deadline;
        }
        long past = Math.floorMod(deadline, tick);
        return past == 0 ? deadline : deadline + (tick - past);
    }

    /**
     * The shared part of monitors with these arguments (see
     * {@link LivenessMonitor#LivenessMonitor(KeepaliveSettings, Ticker, boolean, DoubleSupplier)}). Each idle wait
     * is {@code pingInterval x (1 - r x pingJitter)}, the first one too.
     */
    public static MonitorConfig of(KeepaliveSettings settings, Ticker ticker, boolean activeProbing,
                                   DoubleSupplier random) {
        return new MonitorConfig(settings, ticker, activeProbing, random, false, null);
    }

    /**
     * The same, except that a connection's first idle wait (the one that starts when the connection becomes active
     * or with its first read, whichever is later; no later one) ends in the connection's slot of one steady ping
     * period {@code P = pingInterval x (1 - pingJitter / 8)} counted on the clock: at the first time {@code t}, at
     * least {@code pingInterval - P} into the silence, with {@code t mod P = u x P}; {@code u} in [0, 1) comes from
     * {@code phases}, or, when {@code phases} is {@code null}, from the event loop's {@link LoopHealth#nextPhase()}
     * (a low-discrepancy sequence: the connections of a loop get slots spread evenly, not in clumps as random ones,
     * however unevenly they opened). They then ping evenly spread from their first ping on, and keep their slots
     * (see {@link LivenessMonitor}), instead of pinging in waves until the jitter drifts them apart. The wait after an idle ping that went out {@link LoopHealth#LAG_THRESHOLD_NANOS} or more late takes
     * its cut within the usual jitter range from the same phases: such a ping went out together with every other
     * that came due while the loop was stuck, and those connections would ping in a wave from then on (never closer
     * to the previous ping than {@code pingInterval x (1 - pingJitter)}, so the peer's flood rule is not tripped). A
     * ping that comes early changes no verdict: every silence verdict waits for its full bound of silence. With
     * {@code pingJitter} 0 nothing is spread.
     */
    public MonitorConfig spreadingFirstPings(DoubleSupplier phases) {
        return new MonitorConfig(settings, ticker, activeProbing, random, true, phases);
    }

    /**
     * {@link #of} (then {@link #spreadingFirstPings} with {@code phases} when {@code spreadFirstPings}), shared: the
     * same instance as an earlier call with equal settings and the same ticker, random source, phases and choices,
     * while it stays in a small cache of recent ones. For transports that build a monitor per connection.
     */
    public static MonitorConfig shared(KeepaliveSettings settings, Ticker ticker, boolean activeProbing,
                                       DoubleSupplier random, boolean spreadFirstPings, DoubleSupplier phases) {
        int hash = settings.hashCode() * 31 + System.identityHashCode(random);
        int slot = (hash ^ hash >>> 16) & (RECENT.length() - 1);
        MonitorConfig c = RECENT.get(slot);
        if (c != null && c.ticker == ticker && c.random == random && c.phases == phases
                && c.activeProbing == activeProbing && c.spreadFirstPings == spreadFirstPings
                && c.settings.equals(settings)) {
            return c;
        }
        c = new MonitorConfig(settings, ticker, activeProbing, random, spreadFirstPings, phases);
        RECENT.set(slot, c);
        return c;
    }

    /**
     * The tick a transport may round its timer deadlines up to, so that the timers of many connections due within
     * one tick run in one wake-up of the event loop instead of one each (evenly spread pings would otherwise wake
     * the loop once per connection): {@code pingInterval / 200}, between 1 ms and 5 ms, well below the lateness
     * {@link LoopHealth} counts as a stall, and fine enough that pings stay spread over any 10 ms. Timers run at
     * most this much later than their deadline, never earlier; the monitor measures a timer's lateness (what
     * {@link LoopHealth} may count as a stall) from the tick it was due at, not from its deadline.
     * 0 with a ticker other than {@link Ticker#system()} (tests keep exact deadlines; see {@link #withTimerTick}).
     */
    public long timerTickNanos() {
        return timerTickNanos;
    }

    /** The settings the values come from. */
    public KeepaliveSettings settings() {
        return settings;
    }

    /** The time source. */
    public Ticker ticker() {
        return ticker;
    }

    /** Whether the protocol can be pinged. */
    public boolean activeProbing() {
        return activeProbing;
    }

    @Override
    public String toString() {
        return "MonitorConfig{" + settings + (activeProbing ? "" : ", passive")
                + (spreadFirstPings ? ", first pings spread" : "") + '}';
    }
}
