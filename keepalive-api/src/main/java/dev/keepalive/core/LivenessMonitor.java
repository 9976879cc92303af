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
 * A ping goes out after {@code pingInterval x (1 - r x pingJitter)} of silence (r uniform in [0, 1)), retries go
 * out each ping timeout after a miss, and a write on a connection quiet for at least the ping interval, with no ping
 * outstanding, sends a ping at once (gRPC's A8 rule). The peer's pings are answered; a peer that pings more often
 * than {@code minPeerPingInterval} more than {@code peerPingStrikes} times in a row is closed, with at most one
 * strike per read from the socket (pings that queued while either side stalled and arrive together are a backlog,
 * not a flood).
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

    private final Ticker ticker;
    private final DoubleSupplier random;
    private final boolean activeProbing;
    private final long intervalNanos;
    private final double jitter;
    private final long timeoutMaxNanos;
    private final long timeoutMinNanos;
    private final int missedBeforeDead;
    /** Least silence before PING_TIMEOUT: pingInterval + pingsMissedBeforeDead x pingTimeout. */
    private final long pingBoundNanos;
    private final long readIdleNanos;
    private final long firstResponseNanos;
    private final long writeStallNanos;
    private final long writeStallStepNanos;
    private final long stallThresholdNanos;
    private final long minPeerPingNanos;
    private final int peerPingStrikesAllowed;
    private LoopHealth loopHealth = new LoopHealth();

    private LivenessState state = LivenessState.INACTIVE;
    private DeadPeerReason deadReason;

    // Inbound.
    private long activeAt;
    private long lagAtActive;
    /** A message arrived whose read has not completed yet (its time is taken at {@link #onReadComplete()}). */
    private boolean inboundPending;
    /** Some byte has arrived since the connection became active. */
    private boolean proven;
    /** The exact time of the last completed read with bytes (or of activation). */
    private long lastInboundAt;
    /** Silence counts from here: the last inbound byte, or the moment reads resumed after a pause. */
    private long quietFrom;
    private long lagAtQuietFrom;
    private long currentIntervalNanos;
    private boolean intervalDrawn;
    private long intervalDrawnFor;
    private boolean readsPaused;
    private boolean writeSinceCheck;
    /** A verdict or miss asked for one more I/O pass; the next timer call decides. */
    private boolean rechecking;

    // Our pings.
    private long lastPingId;
    private long lastPingSentAt;
    /** The ping timeout counts from here: when it was sent, or when reads resumed. */
    private long pingClockFrom;
    private boolean lastPingAnswered = true;
    private PingCause pingCause = PingCause.IDLE;
    private int missed;
    private int stallReprobes;
    private long lastLatenessNanos;

    // Outbound progress, sampled.
    private boolean outboundPending;
    private long outboundStalledSince;
    private long outboundProgressToken;

    // The peer's pings.
    private boolean peerPinged;
    private boolean peerPingInThisRead;
    private long lastPeerPingAt;
    private int peerStrikes;

    private boolean hasDeadline;
    private long deadline;

    // Round trips (RFC 6298 smoothing).
    private long lastRttNanos = -1;
    private long smoothedRttNanos = -1;
    private long rttVarNanos;

    // Counters.
    private long pingsSent;
    private long pongsReceived;
    private long pingsMissedTotal;
    private long stalePongs;
    private long duplicatePongs;
    private long unsolicitedPongs;
    private long peerPingsReceived;
    private long peerPingStrikesTotal;
    private long malformedProbeFrames;
    private long localStalls;
    private long probeErrors;

    /**
     * @param settings      the validated settings
     * @param ticker        the time source
     * @param activeProbing {@code false} for protocols that cannot be pinged: only read idle (defaulting to the
     *                      idle detection bound), write stall, the first response and peer pings are watched
     * @param random        uniform values in [0, 1) for jitter
     */
    public LivenessMonitor(KeepaliveSettings settings, Ticker ticker, boolean activeProbing, DoubleSupplier random) {
        Objects.requireNonNull(settings, "settings");
        this.ticker = Objects.requireNonNull(ticker, "ticker");
        this.random = Objects.requireNonNull(random, "random");
        this.activeProbing = activeProbing;
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
        this.writeStallStepNanos = writeStallNanos < 0 ? -1 : Math.max(1, writeStallNanos / CHECK_STEPS);
        this.stallThresholdNanos = settings.localStallThreshold().toNanos();
        this.minPeerPingNanos = settings.minPeerPingInterval().toNanos();
        this.peerPingStrikesAllowed = settings.peerPingStrikes();
    }

    /**
     * Shares the event loop's health with every other monitor on the same loop (see {@link LoopHealth}). Without
     * it, the monitor keeps one of its own. Call before {@link #onActive()}.
     */
    public void useLoopHealth(LoopHealth health) {
        this.loopHealth = Objects.requireNonNull(health, "health");
    }

    /**
     * The connection became active: watching starts now. Extra calls do nothing.
     *
     * @return {@link Action#NONE}
     */
    public Action onActive() {
        if (state != LivenessState.INACTIVE) {
            return Action.NONE;
        }
        long now = ticker.nanoTime();
        state = LivenessState.WATCHING;
        activeAt = now;
        lagAtActive = loopHealth.stalledNanos();
        lastInboundAt = now;
        quietFrom = now;
        lagAtQuietFrom = lagAtActive;
        computeDeadline(now, false);
        return Action.NONE;
    }

    /**
     * A message arrived (any message, including pings and pongs). Hot path: sets a flag; the time is taken once
     * per read, at {@link #onReadComplete()}. Traffic never needs the timer re-armed.
     */
    public void onInbound() {
        inboundPending = true;
    }

    /**
     * A read from the socket with at least one byte completed (whether or not it completed a message: the bytes of
     * a large message still arriving prove the peer alive too). Reads the ticker once, so the time of the last
     * inbound byte is exact, and ends the read batch of the ping-flood rule. Not for the empty read at end of
     * stream.
     *
     * @return {@code true} only for the connection's first bytes, whose arrival may bring the deadline earlier
     *         (read idle starts to count): re-arm the timer then
     */
    public boolean onReadComplete() {
        long now = ticker.nanoTime();
        inboundPending = false;
        peerPingInThisRead = false;
        if (!isWatching()) {
            return false;
        }
        boolean first = !proven;
        recordInbound(now);
        if (first) {
            computeDeadline(now, false);
        }
        return first;
    }

    private void recordInbound(long now) {
        proven = true;
        lastInboundAt = now;
        if (now - quietFrom > 0) {
            quietFrom = now;
            lagAtQuietFrom = loopHealth.stalledNanos();
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
        if (paused == readsPaused) {
            return false;
        }
        readsPaused = paused;
        if (!isWatching()) {
            return false;
        }
        long now = ticker.nanoTime();
        if (!paused) {
            if (now - quietFrom > 0) {
                quietFrom = now;
                lagAtQuietFrom = loopHealth.stalledNanos();
            }
            if (state == LivenessState.PING_OUTSTANDING) {
                pingClockFrom = now;
                missed = 0;
            }
        }
        computeDeadline(now, false);
        return true;
    }

    /** Whether reads are paused by the application (see {@link #onReadsPaused(boolean)}). */
    public boolean readsPaused() {
        return readsPaused;
    }

    /**
     * The application is writing. Hot path: sets a flag; only the first call after a timer check does more.
     *
     * @return {@link Action#SEND_PING} when the connection has been quiet for at least the ping interval and no
     *         ping is outstanding; {@link Action#REARM} when the write-stall check must come sooner than the
     *         timer; otherwise {@link Action#NONE}
     */
    public Action onWrite() {
        if (writeSinceCheck) {
            return Action.NONE;
        }
        writeSinceCheck = true;
        if (!isWatching()) {
            return Action.NONE;
        }
        boolean canProbe = activeProbing && state == LivenessState.WATCHING && !inboundPending;
        if (!canProbe && writeStallNanos < 0) {
            return Action.NONE;
        }
        long now = ticker.nanoTime();
        if (canProbe && now - lastInboundAt >= intervalNanos) {
            sendPing(now, PingCause.WRITE_AFTER_QUIET);
            computeDeadline(now, true);
            return Action.SEND_PING;
        }
        if (writeStallNanos >= 0) {
            long check = now + writeStallStepNanos;
            if (!hasDeadline || deadline - check > 0) {
                deadline = check;
                hasDeadline = true;
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
        if (pingId != lastPingId || lastPingId == 0) {
            if (pingId > 0 && pingId < lastPingId) {
                stalePongs++;
                return PongResult.STALE;
            }
            unsolicitedPongs++;
            return PongResult.UNSOLICITED;
        }
        if (lastPingAnswered) {
            duplicatePongs++;
            return PongResult.DUPLICATE;
        }
        long now = ticker.nanoTime();
        lastPingAnswered = true;
        pongsReceived++;
        recordRtt(now - lastPingSentAt);
        if (isWatching()) {
            recordInbound(now);
            state = LivenessState.WATCHING;
            missed = 0;
            stallReprobes = 0;
            rechecking = false;
            intervalDrawn = false;
            computeDeadline(now, false);
        }
        return PongResult.ANSWERED;
    }

    /**
     * The peer sent a ping. Call {@link #onInbound()} for its bytes as for any message. At most one ping per read
     * from the socket can be a strike: pings read together queued behind a stall, they are a backlog, not a flood.
     *
     * @return whether to answer it, or to close the connection for pinging too often
     */
    public PeerPingVerdict onPeerPing() {
        peerPingsReceived++;
        if (minPeerPingNanos == 0 || !isWatching() || peerPingInThisRead) {
            return PeerPingVerdict.ANSWER;
        }
        peerPingInThisRead = true;
        long now = ticker.nanoTime();
        if (peerPinged && now - lastPeerPingAt < minPeerPingNanos) {
            peerStrikes++;
            peerPingStrikesTotal++;
            if (peerStrikes > peerPingStrikesAllowed) {
                markDead(DeadPeerReason.PEER_PINGED_TOO_OFTEN);
                return PeerPingVerdict.TOO_MANY_PINGS;
            }
        } else {
            peerStrikes = 0;
        }
        peerPinged = true;
        lastPeerPingAt = now;
        return PeerPingVerdict.ANSWER;
    }

    /**
     * The protocol could not carry the ping just decided (for example an HTTP/1.1 request is in flight, or the
     * probe failed to build it): it is not counted as sent, but it stays outstanding, and whatever arrives next
     * answers it.
     */
    public void onPingNotSent() {
        if (pingsSent > 0) {
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
        if (state != LivenessState.PING_OUTSTANDING || delayNanos <= 0) {
            return;
        }
        long now = ticker.nanoTime();
        pingClockFrom = now + Math.min(delayNanos, Long.MAX_VALUE / 4);
        computeDeadline(now, false);
    }

    /** Building or writing a probe frame threw; it is counted (the transport logs it and carries on). */
    public void onProbeError() {
        probeErrors++;
    }

    /** A probe frame from the peer could not be decoded; it is counted (the transport drops it). */
    public void onMalformedProbeFrame() {
        malformedProbeFrames++;
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
        if (writeStallNanos < 0 || !isWatching()) {
            return false;
        }
        if (pendingBytes <= 0) {
            outboundPending = false;
            return false;
        }
        long now = ticker.nanoTime();
        if (!outboundPending || progressToken != outboundProgressToken) {
            outboundStalledSince = now;
            outboundProgressToken = progressToken;
        }
        if (!outboundPending) {
            outboundPending = true;
            long check = now + writeStallStepNanos;
            if (!hasDeadline || deadline - check > 0) {
                deadline = check;
                hasDeadline = true;
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
        if (!isWatching() || !hasDeadline || now - deadline < 0) {
            return Action.NONE;
        }
        long lateness = now - deadline;
        if (!rechecking) {
            lastLatenessNanos = lateness;
            loopHealth.recordLateness(now, lateness);
        }
        boolean sawWrite = writeSinceCheck;
        writeSinceCheck = false;
        if (inboundPending) {
            // Messages arrived but their read has not completed: the bytes are at most this old.
            inboundPending = false;
            recordInbound(now);
        }
        if (outboundPending && now - outboundStalledSince >= writeStallNanos) {
            return verdict(now, DeadPeerReason.WRITE_STALL);
        }
        if (!readsPaused) {
            if (!proven) {
                if (now - activeAt >= firstResponseNanos + lagAllowance(lagAtActive, firstResponseNanos)) {
                    return verdict(now, DeadPeerReason.FIRST_RESPONSE_TIMEOUT);
                }
            } else if (readIdleNanos >= 0 && now - quietFrom >= readIdleNanos + lagAllowance(readIdleNanos)) {
                return verdict(now, DeadPeerReason.READ_IDLE);
            }
        }
        Action action = Action.NONE;
        if (state == LivenessState.PING_OUTSTANDING) {
            if (lastInboundAt - lastPingSentAt >= 0) {
                // The peer is alive, though its pong has not come (yet).
                state = LivenessState.WATCHING;
                missed = 0;
                stallReprobes = 0;
            } else if (readsPaused) {
                // A pong we are not reading proves nothing, and no miss counts. Ping on, once an interval: the
                // peer sees us alive (we cannot answer its pings now), and middleboxes keep the flow.
                if (now - lastPingSentAt >= intervalNanos) {
                    sendPing(now, PingCause.IDLE);
                    action = Action.SEND_PING;
                }
            } else if (proven && missed >= missedBeforeDead) {
                // Enough pings missed: the verdict waits for the full bound of silence.
                if (pingTimeoutDue(now)) {
                    return verdict(now, DeadPeerReason.PING_TIMEOUT);
                }
            } else if (now - pingClockFrom >= effectiveTimeoutNanos()) {
                if (!rechecking && lateness >= stallThresholdNanos && stallReprobes < MAX_STALL_REPROBES) {
                    stallReprobes++;
                    localStalls++;
                    sendPing(now, PingCause.LOCAL_STALL);
                    action = Action.SEND_PING;
                } else {
                    if (!rechecking) {
                        return recheck(now);
                    }
                    rechecking = false;
                    missed++;
                    pingsMissedTotal++;
                    if (!proven || missed < missedBeforeDead) {
                        sendPing(now, PingCause.RETRY_AFTER_MISS);
                        action = Action.SEND_PING;
                    } else if (pingTimeoutDue(now)) {
                        return die(DeadPeerReason.PING_TIMEOUT);
                    }
                }
            }
        }
        rechecking = false;
        if (state == LivenessState.WATCHING && activeProbing && now - quietFrom >= currentIntervalNanos) {
            sendPing(now, PingCause.IDLE);
            action = Action.SEND_PING;
        }
        computeDeadline(now, sawWrite);
        return action;
    }

    private boolean pingTimeoutDue(long now) {
        return now - quietFrom >= pingBoundNanos + lagAllowance(pingBoundNanos);
    }

    /** One more I/O pass before a verdict or a miss: a pong already in the socket must be read first. */
    private Action recheck(long now) {
        rechecking = true;
        deadline = now;
        hasDeadline = true;
        return Action.RECHECK_AFTER_READ;
    }

    private Action verdict(long now, DeadPeerReason reason) {
        if (!rechecking) {
            return recheck(now);
        }
        rechecking = false;
        return die(reason);
    }

    /** How much longer a silence verdict waits because the event loop was stuck during the silence. */
    private long lagAllowance(long bound) {
        return lagAllowance(lagAtQuietFrom, bound);
    }

    private long lagAllowance(long lagAtStart, long bound) {
        long lag = loopHealth.stalledNanos() - lagAtStart;
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
        if (state == LivenessState.DEAD || state == LivenessState.CLOSED) {
            return false;
        }
        state = LivenessState.DEAD;
        deadReason = reason;
        hasDeadline = false;
        return true;
    }

    /** The connection was closed locally; nothing more is watched. */
    public void onClosed() {
        if (state != LivenessState.DEAD) {
            state = LivenessState.CLOSED;
        }
        hasDeadline = false;
    }

    private Action die(DeadPeerReason reason) {
        markDead(reason);
        return Action.PEER_DEAD;
    }

    private boolean isWatching() {
        return state == LivenessState.WATCHING || state == LivenessState.PING_OUTSTANDING;
    }

    private void sendPing(long now, PingCause cause) {
        lastPingId++;
        lastPingSentAt = now;
        pingClockFrom = now;
        lastPingAnswered = false;
        pingCause = cause;
        pingsSent++;
        state = LivenessState.PING_OUTSTANDING;
    }

    private void recordRtt(long rtt) {
        lastRttNanos = rtt;
        if (smoothedRttNanos < 0) {
            smoothedRttNanos = rtt;
            rttVarNanos = rtt / 2;
        } else {
            rttVarNanos = (3 * rttVarNanos + Math.abs(smoothedRttNanos - rtt)) / 4;
            smoothedRttNanos = (7 * smoothedRttNanos + rtt) / 8;
        }
    }

    /** The ping timeout now in force: fixed, or adapted to the measured round trip within the configured bounds. */
    public long effectiveTimeoutNanos() {
        if (timeoutMinNanos < 0 || smoothedRttNanos < 0) {
            return timeoutMaxNanos;
        }
        long adaptive = 2 * (smoothedRttNanos + 4 * rttVarNanos);
        return Math.max(timeoutMinNanos, Math.min(timeoutMaxNanos, adaptive));
    }

    /** The idle wait before the next ping, drawn once for each new start of silence. */
    private long idleWaitNanos() {
        if (!intervalDrawn || intervalDrawnFor != quietFrom) {
            long cut = (long) (intervalNanos * jitter * random.getAsDouble());
            currentIntervalNanos = intervalNanos - Math.max(0, Math.min(cut, intervalNanos / 2));
            intervalDrawn = true;
            intervalDrawnFor = quietFrom;
        }
        return currentIntervalNanos;
    }

    private void computeDeadline(long now, boolean sawWrite) {
        if (!isWatching()) {
            hasDeadline = false;
            return;
        }
        long next = now + Long.MAX_VALUE / 4;
        if (state == LivenessState.PING_OUTSTANDING && lastInboundAt - lastPingSentAt >= 0) {
            next = now; // answered by other traffic: settle it at once
        } else if (state == LivenessState.PING_OUTSTANDING && readsPaused) {
            next = lastPingSentAt + intervalNanos; // the next ping while reads are paused
        } else if (state == LivenessState.PING_OUTSTANDING) {
            next = proven && missed >= missedBeforeDead
                    ? quietFrom + pingBoundNanos + lagAllowance(pingBoundNanos)
                    : pingClockFrom + effectiveTimeoutNanos();
        } else if (activeProbing) {
            next = quietFrom + idleWaitNanos();
        }
        if (!proven) {
            next = earliest(next, activeAt + firstResponseNanos + lagAllowance(lagAtActive, firstResponseNanos));
        } else if (readIdleNanos >= 0) {
            next = earliest(next, quietFrom + readIdleNanos + lagAllowance(readIdleNanos));
        }
        if (writeStallNanos >= 0) {
            if (outboundPending) {
                next = earliest(next, earliest(outboundStalledSince + writeStallNanos, now + writeStallStepNanos));
            } else if (sawWrite) {
                next = earliest(next, now + writeStallStepNanos);
            }
        }
        if (readsPaused && next - (now + intervalNanos) > 0) {
            // Nothing is judged while reads are paused; look again within an interval (pings go on).
            next = now + intervalNanos;
        }
        // A deadline in the past fires at once; never ask for one before now.
        deadline = next - now < 0 ? now : next;
        hasDeadline = true;
    }

    private static long earliest(long a, long b) {
        return a - b <= 0 ? a : b;
    }

    /** Where liveness stands. */
    public LivenessState state() {
        return state;
    }

    /** Whether a timer should be armed. */
    public boolean hasDeadline() {
        return hasDeadline;
    }

    /** When {@link #onTimer(long)} should next be called, in ticker nanoseconds; valid if {@link #hasDeadline()}. */
    public long deadline() {
        return deadline;
    }

    /** The id of the most recent ping; the one to send after {@link Action#SEND_PING}. Ids start at 1. */
    public long pingId() {
        return lastPingId;
    }

    /** Why the most recent ping was sent. */
    public PingCause pingCause() {
        return pingCause;
    }

    /** Consecutive missed pings. */
    public int missedPings() {
        return missed;
    }

    /** Whether any byte has arrived from the peer since the connection became active. */
    public boolean proven() {
        return proven;
    }

    /** How late the last timer check ran, in nanoseconds. */
    public long lastTimerLatenessNanos() {
        return lastLatenessNanos;
    }

    /** Why the peer was declared dead, or {@code null}. */
    public DeadPeerReason deadReason() {
        return deadReason;
    }

    /** The last measured round trip in nanoseconds, or -1. */
    public long lastRttNanos() {
        return lastRttNanos;
    }

    /**
     * How long since the last inbound byte as of {@code now} (since the connection became active, before the
     * first byte); 0 while a read is being processed.
     */
    public long sinceLastInboundNanos(long now) {
        if (state == LivenessState.INACTIVE || inboundPending) {
            return 0;
        }
        return Math.max(0, now - lastInboundAt);
    }

    /** A snapshot of the counters. */
    public KeepaliveStats stats() {
        return new KeepaliveStats(state, pingsSent, pongsReceived, pingsMissedTotal, stalePongs, duplicatePongs,
                unsolicitedPongs, peerPingsReceived, peerPingStrikesTotal, malformedProbeFrames, localStalls,
                lastRttNanos, smoothedRttNanos, probeErrors);
    }

    @Override
    public String toString() {
        return "LivenessMonitor{state=" + state + ", lastPingId=" + lastPingId + ", missed=" + missed
                + (proven ? "" : ", unproven") + (deadReason == null ? "" : ", deadReason=" + deadReason) + '}';
    }
}
