package dev.keepalive.core;

import dev.keepalive.DeadPeerReason;
import dev.keepalive.KeepaliveSettings;
import dev.keepalive.KeepaliveStats;
import dev.keepalive.LivenessState;
import dev.keepalive.Ticker;

import java.util.Objects;
import java.util.function.DoubleSupplier;

/**
 * The liveness state machine of one connection. It does no I/O and keeps no timer: the transport feeds it events
 * and asks it for the next deadline and what to do.
 *
 * <h2>Contract</h2>
 * <ul>
 *   <li>Time comes only from the injected {@link Ticker} and from the {@code now} passed to
 *       {@link #onTimer(long)}; all comparisons are wrap-safe.</li>
 *   <li>The transport arms one timer for {@link #deadline()} (when {@link #hasDeadline()}) and calls
 *       {@link #onTimer(long)} when it fires. Calls before the deadline, or extra calls, do nothing; a timer that
 *       fires early (an older, earlier deadline) only re-computes. After an event that returns {@code true} or an
 *       action other than {@link Action#NONE}, re-arm.</li>
 *   <li>When an event returns {@link Action#SEND_PING}, the transport must send ping {@link #pingId()} at once; the
 *       monitor counts it as sent at that moment. When it returns {@link Action#RECHECK_AFTER_READ}, the transport
 *       lets its event loop read what is already in the socket (one more I/O pass) and then calls
 *       {@link #onTimer(long)} again. When it returns {@link Action#PEER_DEAD}, the transport reports
 *       {@link #deadReason()} and closes the connection.</li>
 *   <li>Not thread-safe: one owner thread (for Netty, the channel's event loop) makes every call.</li>
 * </ul>
 *
 * <h2>The hot path</h2>
 * {@link #onInbound()} runs for every message and only sets a flag. {@link #onReadComplete()} runs once per read
 * from the socket and reads the ticker once, so the time of the last inbound byte is known exactly. No timer is
 * rescheduled while traffic flows: when the timer fires and finds newer traffic, it sleeps again until a ping would
 * be due (as Netty's {@code IdleStateHandler} does). Any inbound traffic counts as liveness, so a busy connection
 * sends no pings.
 *
 * <h2>When a peer is declared dead: both edges</h2>
 * Let <i>silence</i> be the time since the last inbound byte (or since reads were last resumed, or since the
 * connection became active before its first byte). Every verdict has a least and a most silence:
 * <table>
 *   <caption>Least and most silence before each verdict</caption>
 *   <tr><th>verdict</th><th>never before</th><th>at the latest (healthy event loop)</th></tr>
 *   <tr><td>{@link DeadPeerReason#PING_TIMEOUT}</td><td>{@link KeepaliveSettings#idleDetectionBound()}, and
 *       {@code pingsMissedBeforeDead} pings unanswered</td><td>{@link KeepaliveSettings#idleDetectionBound()}
 *       + timer lateness</td></tr>
 *   <tr><td>{@link DeadPeerReason#READ_IDLE}</td><td>{@code readIdleTimeout}</td><td>{@code readIdleTimeout} +
 *       timer lateness</td></tr>
 *   <tr><td>{@link DeadPeerReason#FIRST_RESPONSE_TIMEOUT}</td><td>{@code firstResponseTimeout} since active,
 *       with no byte at all</td><td>{@code firstResponseTimeout} + timer lateness</td></tr>
 *   <tr><td>{@link DeadPeerReason#WRITE_STALL}</td><td>{@code writeStallTimeout} of flushed bytes not
 *       draining</td><td>{@code writeStallTimeout x 9/8} + timer lateness</td></tr>
 * </table>
 * On top of that:
 * <ul>
 *   <li>Before any verdict and before a ping is counted as missed, the transport lets its event loop read what is
 *       already in the socket ({@link Action#RECHECK_AFTER_READ}): a pong that arrived while the loop was busy is
 *       never ignored.</li>
 *   <li>While the event loop lags (timers on it fire {@link LoopHealth#LAG_THRESHOLD_NANOS} or more late), the
 *       silence-based verdicts wait as long again as the loop was stuck during the silence, at most their own
 *       bound again: a dead peer is declared dead within twice the bound, plus timer lateness, however slow the
 *       loop. A ping timeout that fires {@link KeepaliveSettings#localStallThreshold()} late re-probes instead of
 *       counting a miss, at most twice in a row.</li>
 *   <li>While reads are paused by the application ({@link #onReadsPaused(boolean)}), a missing pong proves
 *       nothing: no ping is counted as missed and no silence verdict is given; silence counts again from the
 *       moment reads resume. The kernel (TCP_USER_TIMEOUT) and the write-stall check still bound a dead peer.</li>
 *   <li>A new connection from which nothing has arrived yet is judged only by
 *       {@link KeepaliveSettings#firstResponseTimeout()}: pings go out, but missed ones and read idle do not
 *       count until the first byte.</li>
 * </ul>
 *
 * <h2>Pings</h2>
 * A ping goes out after {@code pingInterval x (1 - r x pingJitter)} of silence (r uniform in [0, 1)). On an idle
 * connection, where only our pings and their pongs pass, each ping is planned one steady period,
 * {@code pingInterval x (1 - pingJitter / 8)}, after the time the one before was planned for (not after it left, nor
 * after its pong), so that the connection pings about once an interval and keeps its place among the connections
 * spread evenly at their first ping, whatever its round trips and its loop's lateness; after a ping that was a retry,
 * or that left too late to keep its place (more than {@code pingInterval x 7 x pingJitter / 8} after its planned
 * time: the next would then follow it closer than the peer's flood rule allows), the wait from its pong is the steady
 * period less up to a sixteenth of the jitter. Retries go
 * out each ping timeout after a miss, and a write on a connection quiet for at least the ping interval, with no ping
 * outstanding, sends a ping at once (gRPC's A8 rule). The peer's pings are answered; a peer that pings more often
 * than {@code minPeerPingInterval} more than {@code peerPingStrikes} times in a row is closed, with at most one
 * strike per read from the socket (pings that queued while either side stalled and arrive together are a backlog,
 * not a flood).
 *
 * <p>One end pings: while none of our pings is outstanding, a ping from the peer makes our next ping wait a full
 * interval from it, without jitter ({@link #onPeerPing()}); when both ends run this monitor with the same interval,
 * the end that pinged first keeps pinging (its waits are shorter) and the other answers. With
 * {@link MonitorConfig#spreadingFirstPings}, a connection's first ping falls in its own slot of the steady period
 * counted on the clock, the slots of a loop spread evenly, so connections opened together do not ping in waves; the
 * connection's first bytes keep that slot (a late loop that reads them after it sends the ping at once), so the
 * accepting end, which waits a full interval from what it read, does not ping first. A read that carried an
 * answering pong or a peer's ping re-plans the next ping once ({@link #onReadComplete()}
 * returns {@code true}); other traffic is only recorded.
 *
 * <p>Per connection the monitor holds only its own state; what derives from the settings is in a
 * {@link MonitorConfig} shared by every monitor with the same settings.
 */
public final class LivenessMonitor {

    /** What the transport must do after an event. */
    public enum Action {
        /** Nothing. */
        NONE,
        /** Send ping {@link #pingId()} now. */
        SEND_PING,
        /** The deadline moved earlier: re-arm the timer. */
        REARM,
        /**
         * A verdict or a missed ping is due: first let the event loop read what is already in the socket (one more
         * I/O pass), then call {@link #onTimer(long)} again. The deadline is now.
         */
        RECHECK_AFTER_READ,
        /** The peer is dead for {@link #deadReason()}: report it and close the connection. */
        PEER_DEAD
    }

    /** Why the current ping was sent. */
    public enum PingCause {
        /** No inbound traffic for the ping interval. */
        IDLE,
        /** The previous ping was missed; probing again. */
        RETRY_AFTER_MISS,
        /** The timer fired so late that the local process stalled; probing again instead of counting a miss. */
        LOCAL_STALL,
        /** The application wrote on a connection quiet for longer than the ping interval. */
        WRITE_AFTER_QUIET
    }

    /** What a pong was. */
    public enum PongResult {
        /** It answered the current ping: a round trip was measured. */
        ANSWERED,
        /** It answered an older ping: ignored. */
        STALE,
        /** It answered a ping that was already answered: ignored. */
        DUPLICATE,
        /** Its id was never sent: ignored. */
        UNSOLICITED
    }

    /** What to do with a ping from the peer. */
    public enum PeerPingVerdict {
        /** Answer it. */
        ANSWER,
        /**
         * The peer pings too often: tell it where the protocol can and close with
         * {@link DeadPeerReason#PEER_PINGED_TOO_OFTEN}.
         */
        TOO_MANY_PINGS
    }

    /** Consecutive local-stall re-probes allowed before a late timeout counts as a miss. */
    static final int MAX_STALL_REPROBES = 2;
    /** While writes flow, the write-stall check looks at this fraction of its timeout. */
    static final int CHECK_STEPS = 8;
    /** A lagging event loop delays a silence verdict to at most this many times its bound. */
    public static final int MAX_LAG_FACTOR = 2;

    /** Shared by every monitor with the same settings: the settings-derived values, ticker and random source. */
    private final MonitorConfig config;
    private LoopHealth loopHealth;

    /**
     * The monitor's yes-or-no state, a bit each, and in bits 20 to 28 its {@link LivenessState}, the last ping's
     * {@link PingCause} and the {@link DeadPeerReason}: 4 bytes where sixteen booleans and three references took 28.
     */
    private int flags = FIRST_SILENCE | LAST_PING_ANSWERED;
    /** A message arrived whose read has not completed yet (its time is taken at {@link #onReadComplete()}). */
    private static final int INBOUND_PENDING = 1;
    /** Some byte has arrived since the connection became active. */
    private static final int PROVEN = 1 << 1;
    /** {@link #currentIntervalNanos} holds the idle wait drawn for the silence that started at {@link #quietFrom}. */
    private static final int INTERVAL_DRAWN = 1 << 2;
    /** The next idle wait is a full interval, without jitter: the peer pinged us (it is the end that pings). */
    private static final int FULL_WAIT_NEXT = 1 << 3;
    /** No idle wait has been drawn past the connection's first silence (activation, then its first read). */
    private static final int FIRST_SILENCE = 1 << 4;
    /** The next idle wait is spread as a first one: the last ping went out with a stalled loop's backlog. */
    private static final int RESPREAD_NEXT = 1 << 5;
    /** The next idle wait is the steady one: the silence starts at the pong that answered our ping. */
    private static final int STEADY_WAIT_NEXT = 1 << 6;
    /** The peer is the end expected to ping first (we accepted the connection): our first waits are full. */
    private static final int PEER_PINGS_FIRST = 1 << 7;
    /** A pong or a peer's ping in the read being processed changed the plan: re-plan when the read completes. */
    private static final int REPLAN_AFTER_READ = 1 << 8;
    /** The application paused reading ({@link #onReadsPaused}). */
    private static final int READS_PAUSED = 1 << 9;
    /** A write went out since the last timer call. */
    private static final int WRITE_SINCE_CHECK = 1 << 10;
    /** A verdict or miss asked for one more I/O pass; the next timer call decides. */
    private static final int RECHECKING = 1 << 11;
    /** Our last ping was answered (or none was sent). */
    private static final int LAST_PING_ANSWERED = 1 << 12;
    /** The peer has pinged us ({@link #lastPeerPingAt} is set). */
    private static final int PEER_PINGED = 1 << 13;
    /** The read being processed carried a ping of the peer already (one strike per read at most). */
    private static final int PEER_PING_IN_THIS_READ = 1 << 14;
    /** {@link #deadline} is set. */
    private static final int HAS_DEADLINE = 1 << 15;
    /**
     * {@link #currentIntervalNanos} ends at a time fixed on the clock (one steady period after our last ping, or the
     * connection's slot for its first ping): a read that moves the silence's start keeps that end.
     */
    private static final int ANCHORED_WAIT = 1 << 18;
    /**
     * Our last ping was the first of an end that expected the peer to ping first ({@link #letPeerPingFirst()}): it
     * took over pinging, at a place set by when the connection opened (connections open in bursts), so the next wait
     * is spread, not kept in place.
     */
    private static final int TOOK_OVER_PINGING = 1 << 19;
    /** Bits 20 to 22: the {@link LivenessState}'s ordinal (it starts {@code INACTIVE}, 0). */
    private static final int STATE_SHIFT = 20;
    private static final int STATE_MASK = 7;
    private static final LivenessState[] STATES = LivenessState.values();
    /** Bits 23 and 24: the ordinal of the last ping's {@link PingCause} ({@code IDLE}, 0, before any). */
    private static final int PING_CAUSE_SHIFT = 23;
    private static final int PING_CAUSE_MASK = 3;
    private static final PingCause[] PING_CAUSES = PingCause.values();
    /** Bits 25 to 28: the {@link DeadPeerReason}'s ordinal + 1, or 0 while the peer is not dead. */
    private static final int DEAD_REASON_SHIFT = 25;
    private static final int DEAD_REASON_MASK = 15;
    private static final DeadPeerReason[] DEAD_REASONS = DeadPeerReason.values();

    static {
        if (STATES.length > STATE_MASK + 1 || PING_CAUSES.length > PING_CAUSE_MASK + 1
                || DEAD_REASONS.length > DEAD_REASON_MASK) {
            throw new AssertionError("LivenessMonitor's flag bits cannot hold every state, cause and reason");
        }
    }
    /** Bits 16 and 17: re-probes sent in a row because the loop stalled (at most {@link #MAX_STALL_REPROBES}). */
    private static final int STALL_REPROBES_SHIFT = 16;
    private static final int STALL_REPROBES_MASK = 3 << STALL_REPROBES_SHIFT;

    // Inbound. Before the first byte (not proven), lastInboundAt is the moment the connection became active and
    // lagAtQuietFrom the loop's lag then: the first-response allowance counts from there.
    /** The exact time of the last completed read with bytes (or of activation). */
    private long lastInboundAt;
    /** Silence counts from here: the last inbound byte, or the moment reads resumed after a pause. */
    private long quietFrom;
    private long lagAtQuietFrom;
    /** The idle wait drawn for the silence that started at {@link #quietFrom}, valid while INTERVAL_DRAWN. */
    private long currentIntervalNanos;

    // Our pings.
    /** Unsigned: ids run to 2^32 - 1 (a ping a second for 136 years). */
    private int lastPingId;
    private long lastPingSentAt;
    /** The ping timeout counts from here: when it was sent, or when reads resumed. */
    private long pingClockFrom;
    private short missed;
    /** How late the last timer check ran, in microseconds (to 35 minutes). */
    private int lastLatenessMicros;


    // The peer's pings.
    private short peerStrikes;
    private long lastPeerPingAt;

    private long deadline;

    // Round trips (RFC 6298 smoothing).
    // In microseconds (to 35 minutes), -1 before the first: 4 bytes each where nanoseconds took 8.
    private int lastRttMicros = -1;
    private int smoothedRttMicros = -1;
    private int rttVarMicros;

    // Counters of what every connection sees (unsigned ints); the rarer ones are in uncommon, made on first use.
    private int pingsSent;
    private int pongsReceived;
    private int peerPingsReceived;
    /** What a healthy connection rarely needs; made on first use (at once with a write-stall timeout). */
    private Uncommon uncommon;

    /**
     * What a healthy connection rarely needs, in one object made on first use: the counters of anomalies, and the
     * outbound queue as last sampled (the write-stall check; made at once with a write-stall timeout).
     */
    private static final class Uncommon {
        int pingsMissedTotal;
        int stalePongs;
        int duplicatePongs;
        int unsolicitedPongs;
        int peerPingStrikes;
        int malformedProbeFrames;
        int localStalls;
        int probeErrors;
        /** Outbound bytes were pending at the last sample. */
        boolean pending;
        long stalledSince;
        long progressToken;
    }

    /**
     * @param settings      the validated settings
     * @param ticker        the time source
     * @param activeProbing {@code false} for protocols that cannot be pinged: only read idle (defaulting to the
     *                      idle detection bound), write stall, the first response and peer pings are watched
     * @param random        uniform values in [0, 1) for jitter
     */
    public LivenessMonitor(KeepaliveSettings settings, Ticker ticker, boolean activeProbing, DoubleSupplier random) {
        this(MonitorConfig.of(settings, ticker, activeProbing, random));
    }

    /** The shared part: settings, ticker and the values derived from them. */
    public MonitorConfig config() {
        return config;
    }

    /** A monitor with the shared part {@code config} (one per settings, for every connection). */
    public LivenessMonitor(MonitorConfig config) {
        this.config = Objects.requireNonNull(config, "config");
        if (config.writeStallNanos >= 0) {
            this.uncommon = new Uncommon();
        }
    }

    private Uncommon uncommon() {
        Uncommon u = uncommon;
        if (u == null) {
            u = new Uncommon();
            uncommon = u;
        }
        return u;
    }

    /** The outbound progress, sampled: only with a write-stall timeout, else {@code null}. */
    private Uncommon outbound() {
        return config.writeStallNanos >= 0 ? uncommon : null;
    }

    private LivenessState currentState() {
        return STATES[(flags >>> STATE_SHIFT) & STATE_MASK];
    }

    private void state(LivenessState state) {
        flags = (flags & ~(STATE_MASK << STATE_SHIFT)) | (state.ordinal() << STATE_SHIFT);
    }

    private void pingCause(PingCause cause) {
        flags = (flags & ~(PING_CAUSE_MASK << PING_CAUSE_SHIFT)) | (cause.ordinal() << PING_CAUSE_SHIFT);
    }

    /**
     * Shares the event loop's health with every other monitor on the same loop (see {@link LoopHealth}). Without
     * it, the monitor keeps one of its own. Call before {@link #onActive()}.
     */
    public void useLoopHealth(LoopHealth health) {
        this.loopHealth = Objects.requireNonNull(health, "health");
    }

    /**
     * This end accepted the connection: the connecting end, whose first wait is spread evenly
     * ({@link MonitorConfig#spreadingFirstPings}), is the one expected to ping. Our waits during the connection's
     * first silence are then full intervals, without jitter or spread, so that its ping comes first and it stays
     * the end that pings (were both first waits spread, the earlier of the two would bunch the pings near the
     * moments connections opened). Call before {@link #onActive()}. Verdicts do not change: they count silence.
     */
    public void letPeerPingFirst() {
        set(PEER_PINGS_FIRST, true);
    }

    /**
     * The connection became active: watching starts now. Extra calls do nothing.
     *
     * @return {@link Action#NONE}
     */
    public Action onActive() {
        if (currentState() != LivenessState.INACTIVE) {
            return Action.NONE;
        }
        if (loopHealth == null) {
            loopHealth = new LoopHealth();
        }
        long now = config.ticker.nanoTime();
        state(LivenessState.WATCHING);
        lastInboundAt = now;
        quietFrom = now;
        lagAtQuietFrom = loopHealth.stalledNanos();
        computeDeadline(now, false);
        return Action.NONE;
    }

    /**
     * A message arrived (any message, including pings and pongs). Hot path: sets a flag; the time is taken once
     * per read, at {@link #onReadComplete()}. Traffic never needs the timer re-armed.
     */
    public void onInbound() {
        set(INBOUND_PENDING, true);
    }

    /**
     * A read from the socket with at least one byte completed (whether or not it completed a message: the bytes of
     * a large message still arriving prove the peer alive too). Reads the ticker once, so the time of the last
     * inbound byte is exact, and ends the read batch of the ping-flood rule. Not for the empty read at end of
     * stream.
     *
     * @return {@code true} for the connection's first bytes, whose arrival may bring the deadline earlier (read
     *         idle starts to count), and after a read that carried an answering pong or a peer's ping (the next ping
     *         is due at a new time, usually later): move the timer to {@link #deadline()} then, later or earlier.
     *         Other traffic never moves it.
     */
    public boolean onReadComplete() {
        long now = config.ticker.nanoTime();
        set(INBOUND_PENDING, false);
        set(PEER_PING_IN_THIS_READ, false);
        boolean replan = is(REPLAN_AFTER_READ);
        set(REPLAN_AFTER_READ, false);
        if (!isWatching()) {
            return false;
        }
        boolean first = !is(PROVEN);
        boolean drawn = is(INTERVAL_DRAWN);
        long quietBefore = quietFrom;
        recordInbound(now);
        // The wait drawn at the pong or peer ping holds for the silence after this read. So does the first ping's slot
        // at the connection's first bytes (typically the answer to what it sent on connecting): drawn again from this
        // read, the ping would move a whole period later whenever our loop read the answer late (it was busy opening
        // other connections), past the full interval that the accepting end waits from reading what we sent, and that
        // end would ping first and keep pinging. An anchored wait keeps its end: a late loop that read the bytes
        // after it sends the ping at once.
        if (replan || (first && is(ANCHORED_WAIT) && currentState() == LivenessState.WATCHING)) {
            set(INTERVAL_DRAWN, drawn);
            if (drawn && is(ANCHORED_WAIT)) {
                currentIntervalNanos = Math.max(0, currentIntervalNanos - (quietFrom - quietBefore)); // same end
            }
        }
        if (first || replan) {
            computeDeadline(now, false);
            return true;
        }
        return false;
    }

    private void recordInbound(long now) {
        if (is(PROVEN)) {
            set(FIRST_SILENCE, false); // the second read: the connection's opening exchange is over
        }
        set(PROVEN, true);
        lastInboundAt = now;
        if (now - quietFrom > 0) {
            quietFrom = now;
            lagAtQuietFrom = loopHealth.stalledNanos();
            set(INTERVAL_DRAWN, false);
        }
    }

    /**
     * Reads from the socket were paused by the application ({@code autoRead} off and no read requested), or
     * resumed. While paused, a missing pong proves nothing; once resumed, silence and the outstanding ping's timeout
     * count from that moment.
     *
     * @return {@code true} when the deadline changed and the timer must be re-armed
     */
    public boolean onReadsPaused(boolean paused) {
        if (paused == is(READS_PAUSED)) {
            return false;
        }
        set(READS_PAUSED, paused);
        if (!isWatching()) {
            return false;
        }
        long now = config.ticker.nanoTime();
        if (!paused) {
            if (now - quietFrom > 0) {
                quietFrom = now;
                set(INTERVAL_DRAWN, false);
                if (is(PROVEN)) { // before the first byte, the first-response allowance keeps its start
                    lagAtQuietFrom = loopHealth.stalledNanos();
                }
            }
            if (currentState() == LivenessState.PING_OUTSTANDING) {
                pingClockFrom = now;
                missed = 0;
            }
        }
        computeDeadline(now, false);
        return true;
    }

    /** Whether reads are paused by the application (see {@link #onReadsPaused(boolean)}). */
    public boolean readsPaused() {
        return is(READS_PAUSED);
    }

    /**
     * The application is writing. Hot path: sets a flag; only the first call after a timer check does more.
     *
     * @return {@link Action#SEND_PING} when the connection has been quiet for at least the ping interval and no
     *         ping is outstanding; {@link Action#REARM} when the write-stall check must come sooner than the
     *         timer; otherwise {@link Action#NONE}
     */
    public Action onWrite() {
        if (is(WRITE_SINCE_CHECK)) {
            return Action.NONE;
        }
        set(WRITE_SINCE_CHECK, true);
        if (!isWatching()) {
            return Action.NONE;
        }
        boolean canProbe = config.activeProbing && currentState() == LivenessState.WATCHING && !is(INBOUND_PENDING);
        if (!canProbe && outbound() == null) {
            return Action.NONE;
        }
        long now = config.ticker.nanoTime();
        if (canProbe && now - lastInboundAt >= config.intervalNanos) {
            sendPing(now, PingCause.WRITE_AFTER_QUIET);
            computeDeadline(now, true);
            return Action.SEND_PING;
        }
        if (outbound() != null) {
            long check = now + config.writeStallStepNanos;
            if (!is(HAS_DEADLINE) || deadline - check > 0) {
                deadline = check;
                set(HAS_DEADLINE, true);
                return Action.REARM;
            }
        }
        return Action.NONE;
    }

    /**
     * A pong arrived carrying {@code pingId}. Call {@link #onInbound()} for its bytes as for any message.
     *
     * @return what the pong was; only {@link PongResult#ANSWERED} changes anything
     */
    public PongResult onPong(long pingId) {
        long current = pingId();
        if (pingId != current || current == 0) {
            if (pingId > 0 && pingId < current) {
                uncommon().stalePongs++;
                return PongResult.STALE;
            }
            uncommon().unsolicitedPongs++;
            return PongResult.UNSOLICITED;
        }
        if (is(LAST_PING_ANSWERED)) {
            uncommon().duplicatePongs++;
            return PongResult.DUPLICATE;
        }
        long now = config.ticker.nanoTime();
        set(LAST_PING_ANSWERED, true);
        pongsReceived++;
        recordRtt(now - lastPingSentAt);
        if (isWatching()) {
            long planned = quietFrom + currentIntervalNanos; // the answered ping's planned time, if it was idle
            boolean keepsPlace = keepsPlace(planned) && !is(TOOK_OVER_PINGING);
            set(TOOK_OVER_PINGING, false);
            recordInbound(now);
            state(LivenessState.WATCHING);
            missed = 0;
            flags &= ~STALL_REPROBES_MASK;
            set(RECHECKING, false);
            set(INTERVAL_DRAWN, false);
            set(STEADY_WAIT_NEXT, true);
            if (keepsPlace) {
                // The next ping one steady period after the answered one's planned time (see keepsPlace).
                currentIntervalNanos = Math.max(0, planned + steadyWaitNanos(config.intervalNanos) - quietFrom);
                set(STEADY_WAIT_NEXT, false);
                set(RESPREAD_NEXT, false);
                set(ANCHORED_WAIT, true);
                set(INTERVAL_DRAWN, true);
            }
            replan(now);
        }
        return PongResult.ANSWERED;
    }

    /**
     * The next ping is due at a new time, from now; inside a read (after {@link #onInbound()}) again when the read
     * completes, from its time (the last inbound byte's), with the same draw.
     */
    private void replan(long now) {
        computeDeadline(now, false);
        if (is(INBOUND_PENDING)) {
            set(REPLAN_AFTER_READ, true);
        }
    }

    /**
     * The peer sent a ping. Call {@link #onInbound()} for its bytes as for any message. At most one ping per read
     * from the socket can be a strike: pings read together queued behind a stall, they are a backlog, not a flood.
     *
     * <p>While none of our pings is outstanding, our next ping waits a full interval, without jitter, from the read
     * that brought the peer's ping (from now, when called outside a read): a peer that pings at the same interval,
     * jittered and so a little more often, then always pings first, and one ping per interval keeps both ends
     * watched, instead of each end pinging the other. Verdicts do not change: they count silence, and the peer's
     * ping is inbound traffic. While our ping is outstanding, the peer's ping proves the peer alive as any inbound
     * message does, even if the pong to our ping comes late.
     *
     * @return whether to answer it, or to close the connection for pinging too often
     */
    public PeerPingVerdict onPeerPing() {
        peerPingsReceived++;
        if (!isWatching()) {
            return PeerPingVerdict.ANSWER;
        }
        long now = config.ticker.nanoTime();
        if (config.minPeerPingNanos > 0 && !is(PEER_PING_IN_THIS_READ)) {
            set(PEER_PING_IN_THIS_READ, true);
            if (is(PEER_PINGED) && now - lastPeerPingAt < config.minPeerPingNanos) {
                uncommon().peerPingStrikes++;
                if (++peerStrikes > config.peerPingStrikesAllowed) {
                    markDead(DeadPeerReason.PEER_PINGED_TOO_OFTEN);
                    return PeerPingVerdict.TOO_MANY_PINGS;
                }
            } else {
                peerStrikes = 0;
            }
            set(PEER_PINGED, true);
            lastPeerPingAt = now;
        }
        if (currentState() == LivenessState.WATCHING && config.activeProbing) {
            set(FULL_WAIT_NEXT, true);
            set(RESPREAD_NEXT, false);
            set(FIRST_SILENCE, false);
            recordInbound(now);
            set(INTERVAL_DRAWN, false); // a new wait, even within the read that set quietFrom
            replan(now);
        }
        return PeerPingVerdict.ANSWER;
    }

    /**
     * The protocol could not carry the ping just decided (for example an HTTP/1.1 request is in flight, or the
     * probe failed to build it): it is not counted as sent, but it stays outstanding, and whatever arrives next
     * answers it.
     */
    public void onPingNotSent() {
        if (pingsSent != 0) {
            pingsSent--;
        }
    }

    /**
     * The protocol could not carry the ping just decided, and the peer is not due to answer anything for
     * {@code delayNanos} yet (an HTTP/1.1 response still within its allowance; or, with a huge delay, a connection
     * that can no longer carry pings at all). The ping is not counted as sent; it stays outstanding, whatever arrives
     * next answers it, and its timeout runs from {@code delayNanos} after now. A delay of 0 is
     * {@link #onPingNotSent()}.
     */
    public void onPingDeferred(long delayNanos) {
        onPingNotSent();
        if (currentState() != LivenessState.PING_OUTSTANDING || delayNanos <= 0) {
            return;
        }
        long now = config.ticker.nanoTime();
        pingClockFrom = now + Math.min(delayNanos, Long.MAX_VALUE / 4);
        computeDeadline(now, false);
    }

    /** Building or writing a probe frame threw; it is counted (the transport logs it and carries on). */
    public void onProbeError() {
        uncommon().probeErrors++;
    }

    /** A probe frame from the peer could not be decoded; it is counted (the transport drops it). */
    public void onMalformedProbeFrame() {
        uncommon().malformedProbeFrames++;
    }

    /**
     * A sample of the outbound queue: {@code pendingBytes} flushed to the transport and not yet taken by the
     * kernel (bytes the application never flushed are not the peer's stall), and a token that changes whenever
     * the queue makes progress. The transport samples at each timer check (before {@link #onTimer(long)}) and when
     * writability changes. Ignored without a write-stall timeout.
     *
     * @return {@code true} when the deadline moved earlier and the timer must be re-armed
     */
    public boolean onOutboundSample(long pendingBytes, long progressToken) {
        Uncommon out = outbound();
        if (out == null || !isWatching()) {
            return false;
        }
        if (pendingBytes <= 0) {
            out.pending = false;
            return false;
        }
        long now = config.ticker.nanoTime();
        if (!out.pending || progressToken != out.progressToken) {
            out.stalledSince = now;
            out.progressToken = progressToken;
        }
        if (!out.pending) {
            out.pending = true;
            long check = now + config.writeStallStepNanos;
            if (!is(HAS_DEADLINE) || deadline - check > 0) {
                deadline = check;
                set(HAS_DEADLINE, true);
                return true;
            }
        }
        return false;
    }

    /**
     * The timer fired at {@code now}. A call before {@link #deadline()} does nothing.
     *
     * @return what to do; the new deadline is in {@link #deadline()}
     */
    public Action onTimer(long now) {
        if (!isWatching() || !is(HAS_DEADLINE) || now - deadline < 0) {
            return Action.NONE;
        }
        // Late from the tick the transport's timer was due at: the rounding up to the tick is not the loop's delay.
        long lateness = Math.max(0, now - MonitorConfig.roundUpToTick(deadline, config.timerTickNanos()));
        if (!is(RECHECKING)) {
            lastLatenessMicros = (int) Math.min(Integer.MAX_VALUE, lateness / 1000);
            loopHealth.recordLateness(now, lateness);
        }
        boolean sawWrite = is(WRITE_SINCE_CHECK);
        set(WRITE_SINCE_CHECK, false);
        if (is(INBOUND_PENDING)) {
            // Messages arrived but their read has not completed: the bytes are at most this old.
            set(INBOUND_PENDING, false);
            recordInbound(now);
        }
        Uncommon out = outbound();
        if (out != null && out.pending && now - out.stalledSince >= config.writeStallNanos) {
            return verdict(now, DeadPeerReason.WRITE_STALL);
        }
        if (!is(READS_PAUSED)) {
            if (!is(PROVEN)) {
                if (now - lastInboundAt >= config.firstResponseNanos + lagAllowance(config.firstResponseNanos)) {
                    return verdict(now, DeadPeerReason.FIRST_RESPONSE_TIMEOUT);
                }
            } else if (config.readIdleNanos >= 0
                    && now - quietFrom >= config.readIdleNanos + lagAllowance(config.readIdleNanos)) {
                return verdict(now, DeadPeerReason.READ_IDLE);
            }
        }
        Action action = Action.NONE;
        if (currentState() == LivenessState.PING_OUTSTANDING) {
            if (lastInboundAt - lastPingSentAt >= 0) {
                // The peer is alive, though its pong has not come (yet).
                state(LivenessState.WATCHING);
                missed = 0;
                flags &= ~STALL_REPROBES_MASK;
            } else if (is(READS_PAUSED)) {
                // A pong we are not reading proves nothing, and no miss counts. Ping on, once an interval: the
                // peer sees us alive (we cannot answer its pings now), and middleboxes keep the flow.
                if (now - lastPingSentAt >= config.intervalNanos) {
                    sendPing(now, PingCause.IDLE);
                    action = Action.SEND_PING;
                }
            } else if (is(PROVEN) && missed >= config.missedBeforeDead) {
                // Enough pings missed: the verdict waits for the full bound of silence.
                if (pingTimeoutDue(now)) {
                    return verdict(now, DeadPeerReason.PING_TIMEOUT);
                }
            } else if (now - pingClockFrom >= effectiveTimeoutNanos()) {
                int stallReprobes = (flags & STALL_REPROBES_MASK) >>> STALL_REPROBES_SHIFT;
                if (!is(RECHECKING) && lateness >= config.stallThresholdNanos && stallReprobes < MAX_STALL_REPROBES) {
                    flags = (flags & ~STALL_REPROBES_MASK) | ((stallReprobes + 1) << STALL_REPROBES_SHIFT);
                    uncommon().localStalls++;
                    sendPing(now, PingCause.LOCAL_STALL);
                    action = Action.SEND_PING;
                } else {
                    if (!is(RECHECKING)) {
                        return recheck(now);
                    }
                    set(RECHECKING, false);
                    if (missed < Short.MAX_VALUE) {
                        missed++;
                    }
                    uncommon().pingsMissedTotal++;
                    if (!is(PROVEN) || missed < config.missedBeforeDead) {
                        sendPing(now, PingCause.RETRY_AFTER_MISS);
                        action = Action.SEND_PING;
                    } else if (pingTimeoutDue(now)) {
                        return die(DeadPeerReason.PING_TIMEOUT);
                    }
                }
            }
        }
        set(RECHECKING, false);
        if (currentState() == LivenessState.WATCHING && config.activeProbing && now - quietFrom >= currentIntervalNanos) {
            boolean tookOver = config.spreadFirstPings && is(FIRST_SILENCE) && is(PEER_PINGS_FIRST);
            sendPing(now, PingCause.IDLE);
            action = Action.SEND_PING;
            // A ping the loop sent late went out with every other that came due during the stall: spread the
            // next wait again, or the connections bunched by the stall ping in a wave from now on. So too after
            // the first ping of an end that waited for the peer to ping first: its place came from the opening.
            set(RESPREAD_NEXT, config.spreadFirstPings && (tookOver || lateness >= LoopHealth.LAG_THRESHOLD_NANOS));
            set(TOOK_OVER_PINGING, tookOver);
        }
        computeDeadline(now, sawWrite);
        return action;
    }

    private boolean pingTimeoutDue(long now) {
        return now - quietFrom >= config.pingBoundNanos + lagAllowance(config.pingBoundNanos);
    }

    /** One more I/O pass before a verdict or a miss: a pong already in the socket must be read first. */
    private Action recheck(long now) {
        set(RECHECKING, true);
        deadline = now;
        set(HAS_DEADLINE, true);
        return Action.RECHECK_AFTER_READ;
    }

    private Action verdict(long now, DeadPeerReason reason) {
        if (!is(RECHECKING)) {
            return recheck(now);
        }
        set(RECHECKING, false);
        return die(reason);
    }

    /** How much longer a silence verdict waits because the event loop was stuck during the silence. */
    private long lagAllowance(long bound) {
        long lag = loopHealth.stalledNanos() - lagAtQuietFrom;
        return Math.max(0, Math.min(lag, bound * (MAX_LAG_FACTOR - 1)));
    }

    /**
     * The connection ended, or the transport learned of a death the monitor cannot see (a reset, a kernel timeout,
     * a close by the peer, a peer that told us to go away). Later events do nothing.
     *
     * @return {@code true} if this call declared the peer dead; {@code false} if it already was, or was closed
     */
    public boolean markDead(DeadPeerReason reason) {
        Objects.requireNonNull(reason, "reason");
        LivenessState s = currentState();
        if (s == LivenessState.DEAD || s == LivenessState.CLOSED) {
            return false;
        }
        state(LivenessState.DEAD);
        flags = (flags & ~(DEAD_REASON_MASK << DEAD_REASON_SHIFT)) | ((reason.ordinal() + 1) << DEAD_REASON_SHIFT);
        set(HAS_DEADLINE, false);
        return true;
    }

    /** The connection was closed locally; nothing more is watched. */
    public void onClosed() {
        if (currentState() != LivenessState.DEAD) {
            state(LivenessState.CLOSED);
        }
        set(HAS_DEADLINE, false);
    }

    private Action die(DeadPeerReason reason) {
        markDead(reason);
        return Action.PEER_DEAD;
    }

    private boolean isWatching() {
        LivenessState s = currentState();
        return s == LivenessState.WATCHING || s == LivenessState.PING_OUTSTANDING;
    }

    private void sendPing(long now, PingCause cause) {
        lastPingId++;
        set(TOOK_OVER_PINGING, false);
        set(FIRST_SILENCE, false);
        set(FULL_WAIT_NEXT, false);
        lastPingSentAt = now;
        pingClockFrom = now;
        set(LAST_PING_ANSWERED, false);
        pingCause(cause);
        pingsSent++;
        state(LivenessState.PING_OUTSTANDING);
    }

    /**
     * Whether the next ping keeps this connection's place: one steady period after the time the answered ping was
     * planned for ({@code planned}), not after it left, nor after its pong. Counted from the pong, each connection
     * would move by its own round trip every period, and counted from the departure by its own timer lateness: the
     * even places of the first waits would drift into clumps, and pings that a late loop sent together would stay
     * together. Only for an idle ping that left at most {@code period - interval x (1 - jitter)} after its planned
     * time, so that the pings stay at least {@code interval x (1 - jitter)} apart, as the peer's flood rule allows;
     * otherwise the pong's time counts (and a ping a stalled loop sent late is followed by a spread wait). Call
     * before the pong's {@link #recordInbound}.
     */
    private boolean keepsPlace(long planned) {
        if (pingCause() != PingCause.IDLE || !is(INTERVAL_DRAWN) || !config.activeProbing) {
            return false;
        }
        long interval = config.intervalNanos;
        long late = lastPingSentAt - planned;
        return late >= 0 && late <= steadyWaitNanos(interval) - (interval - (long) (interval * config.jitter));
    }

    private void recordRtt(long rttNanos) {
        int rtt = (int) Math.min(Integer.MAX_VALUE, Math.max(0, rttNanos) / 1000);
        lastRttMicros = rtt;
        if (smoothedRttMicros < 0) {
            smoothedRttMicros = rtt;
            rttVarMicros = rtt / 2;
        } else {
            rttVarMicros = (int) ((3L * rttVarMicros + Math.abs((long) smoothedRttMicros - rtt)) / 4);
            smoothedRttMicros = (int) ((7L * smoothedRttMicros + rtt) / 8);
        }
    }

    private static long nanos(int micros) {
        return micros < 0 ? -1 : micros * 1000L;
    }

    /** The ping timeout now in force: fixed, or adapted to the measured round trip within the configured bounds. */
    public long effectiveTimeoutNanos() {
        if (config.timeoutMinNanos < 0 || smoothedRttMicros < 0) {
            return config.timeoutMaxNanos;
        }
        long adaptive = 2 * (nanos(smoothedRttMicros) + 4 * nanos(rttVarMicros));
        return Math.max(config.timeoutMinNanos, Math.min(config.timeoutMaxNanos, adaptive));
    }

    private boolean is(int flag) {
        return (flags & flag) != 0;
    }

    private void set(int flag, boolean on) {
        flags = on ? flags | flag : flags & ~flag;
    }

    /** The idle wait before the next ping, drawn once for each new start of silence. */
    private long idleWaitNanos() {
        if (!is(INTERVAL_DRAWN)) {
            long interval = config.intervalNanos;
            boolean anchored = false;
            if (is(FULL_WAIT_NEXT)) {
                currentIntervalNanos = interval; // the peer pings: stand down for a full interval
                set(FULL_WAIT_NEXT, false);
            } else if (is(FIRST_SILENCE) && is(PEER_PINGS_FIRST)) {
                currentIntervalNanos = interval; // the peer is expected to ping first
            } else if (is(FIRST_SILENCE) && config.spreadFirstPings && config.jitter > 0) {
                // The first wait ends in this connection's slot of the steady ping period: a place in the period
                // counted on the clock itself, not from this connection's start, so that the connections of a loop
                // are evenly apart however unevenly they opened, and the steady waits that follow keep them so. It
                // lasts between the interval less one period and the interval. (No ping of ours came before it, so
                // it cannot look like a flood to the peer.)
                long period = steadyWaitNanos(interval);
                long shortest = interval - period;
                long slot = Math.max(0, Math.min((long) (period * phase()), period - 1));
                currentIntervalNanos = shortest + Math.floorMod(slot - (quietFrom + shortest), period);
                anchored = true;
            } else if (is(RESPREAD_NEXT) && config.jitter > 0) {
                // After a stall: the usual jitter range, with an evenly spread phase instead of a random one, so
                // that the pings the stall bunched spread out again at once (never closer to the last ping than
                // pingInterval x (1 - pingJitter), which the peer's flood rule allows).
                set(RESPREAD_NEXT, false);
                long cut = (long) (interval * config.jitter * phase());
                currentIntervalNanos = interval - Math.max(0, Math.min(cut, interval / 2));
            } else if (is(STEADY_WAIT_NEXT)) {
                // Nothing but our ping and its pong since the last wait, but that ping was off its schedule (a
                // retry, a re-probe, or sent too late to keep its place, see onPong): nearly the same wait again,
                // so that an idle connection pings about once an interval, with a small draw (a sixteenth of the
                // jitter) so that connections bunched together drift apart. It ends a little before the full
                // interval, which the peer waits after our ping, so the peer never pings too.
                long cut = (long) (interval * config.jitter / 16 * config.random.getAsDouble());
                currentIntervalNanos = steadyWaitNanos(interval) - Math.max(0, cut);
            } else {
                long cut = (long) (interval * config.jitter * config.random.getAsDouble());
                currentIntervalNanos = interval - Math.max(0, Math.min(cut, interval / 2));
            }
            set(STEADY_WAIT_NEXT, false);
            set(ANCHORED_WAIT, anchored);
            set(INTERVAL_DRAWN, true);
        }
        return currentIntervalNanos;
    }

    /**
     * The longest wait between the pings of an idle connection whose pings alone break the silence:
     * {@code pingInterval x (1 - pingJitter / 8)}, inside the jitter range the peer's flood rule allows, and far
     * enough before the full interval that the peer, which waits that after our ping, does not ping as well.
     */
    private long steadyWaitNanos(long interval) {
        return interval - (long) (interval * config.jitter / 8);
    }

    /** A phase in [0, 1) for a spread wait: from the configured source, else the event loop's sequence. */
    private double phase() {
        return config.phases != null ? config.phases.getAsDouble() : loopHealth.nextPhase();
    }

    private void computeDeadline(long now, boolean sawWrite) {
        if (!isWatching()) {
            set(HAS_DEADLINE, false);
            return;
        }
        long next = now + Long.MAX_VALUE / 4;
        if (currentState() == LivenessState.PING_OUTSTANDING && lastInboundAt - lastPingSentAt >= 0) {
            next = now; // answered by other traffic: settle it at once
        } else if (currentState() == LivenessState.PING_OUTSTANDING && is(READS_PAUSED)) {
            next = lastPingSentAt + config.intervalNanos; // the next ping while reads are paused
        } else if (currentState() == LivenessState.PING_OUTSTANDING) {
            next = is(PROVEN) && missed >= config.missedBeforeDead
                    ? quietFrom + config.pingBoundNanos + lagAllowance(config.pingBoundNanos)
                    : pingClockFrom + effectiveTimeoutNanos();
        } else if (config.activeProbing) {
            next = quietFrom + idleWaitNanos();
        }
        if (!is(PROVEN)) {
            next = earliest(next, lastInboundAt + config.firstResponseNanos + lagAllowance(config.firstResponseNanos));
        } else if (config.readIdleNanos >= 0) {
            next = earliest(next, quietFrom + config.readIdleNanos + lagAllowance(config.readIdleNanos));
        }
        Uncommon out = outbound();
        if (out != null) {
            if (out.pending) {
                next = earliest(next, earliest(out.stalledSince + config.writeStallNanos,
                        now + config.writeStallStepNanos));
            } else if (sawWrite) {
                next = earliest(next, now + config.writeStallStepNanos);
            } else if (is(WRITE_SINCE_CHECK)) {
                // A write asked for a check that has not run yet: keep it (a re-plan after a read never drops it).
                long check = now + config.writeStallStepNanos;
                next = earliest(next, is(HAS_DEADLINE) ? earliest(deadline, check) : check);
            }
        }
        if (is(READS_PAUSED) && next - (now + config.intervalNanos) > 0) {
            // Nothing is judged while reads are paused; look again within an interval (pings go on).
            next = now + config.intervalNanos;
        }
        // A deadline in the past fires at once; never ask for one before now.
        deadline = next - now < 0 ? now : next;
        set(HAS_DEADLINE, true);
    }

    private static long earliest(long a, long b) {
        return a - b <= 0 ? a : b;
    }

    /** Where liveness stands. */
    public LivenessState state() {
        return currentState();
    }

    /** Whether a timer should be armed. */
    public boolean hasDeadline() {
        return is(HAS_DEADLINE);
    }

    /** When {@link #onTimer(long)} should next be called, in ticker nanoseconds; valid if {@link #hasDeadline()}. */
    public long deadline() {
        return deadline;
    }

    /** The id of the most recent ping; the one to send after {@link Action#SEND_PING}. Ids start at 1. */
    public long pingId() {
        return Integer.toUnsignedLong(lastPingId);
    }

    /** Why the most recent ping was sent. */
    public PingCause pingCause() {
        return PING_CAUSES[(flags >>> PING_CAUSE_SHIFT) & PING_CAUSE_MASK];
    }

    /** Consecutive missed pings. */
    public int missedPings() {
        return missed;
    }

    /** Whether any byte has arrived from the peer since the connection became active. */
    public boolean proven() {
        return is(PROVEN);
    }

    /** How late the last timer check ran, in nanoseconds (to the microsecond). */
    public long lastTimerLatenessNanos() {
        return lastLatenessMicros * 1000L;
    }

    /** Why the peer was declared dead, or {@code null}. */
    public DeadPeerReason deadReason() {
        int r = (flags >>> DEAD_REASON_SHIFT) & DEAD_REASON_MASK;
        return r == 0 ? null : DEAD_REASONS[r - 1];
    }

    /** The last measured round trip in nanoseconds (to the microsecond), or -1. */
    public long lastRttNanos() {
        return nanos(lastRttMicros);
    }

    /**
     * How long since the last inbound byte as of {@code now} (since the connection became active, before the
     * first byte); 0 while a read is being processed.
     */
    public long sinceLastInboundNanos(long now) {
        if (currentState() == LivenessState.INACTIVE || is(INBOUND_PENDING)) {
            return 0;
        }
        return Math.max(0, now - lastInboundAt);
    }

    /** A snapshot of the counters. */
    public KeepaliveStats stats() {
        Uncommon a = uncommon != null ? uncommon : NO_ANOMALIES;
        return new KeepaliveStats(currentState(), u(pingsSent), u(pongsReceived), u(a.pingsMissedTotal), u(a.stalePongs),
                u(a.duplicatePongs), u(a.unsolicitedPongs), u(peerPingsReceived), u(a.peerPingStrikes),
                u(a.malformedProbeFrames), u(a.localStalls), nanos(lastRttMicros), nanos(smoothedRttMicros),
                u(a.probeErrors));
    }

    private static final Uncommon NO_ANOMALIES = new Uncommon();

    private static long u(int counter) {
        return Integer.toUnsignedLong(counter);
    }

    @Override
    public String toString() {
        DeadPeerReason deadReason = deadReason();
        return "LivenessMonitor{state=" + currentState() + ", lastPingId=" + lastPingId + ", missed=" + missed
                + (is(PROVEN) ? "" : ", unproven") + (deadReason == null ? "" : ", deadReason=" + deadReason) + '}';
    }
}
