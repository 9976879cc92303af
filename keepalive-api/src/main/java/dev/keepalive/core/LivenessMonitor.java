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
 *       {@link #onTimer(long)} when it fires. Calls before the deadline, or extra calls, do nothing. After any event,
 *       the deadline may have moved earlier: re-arm when it did.</li>
 *   <li>When an event returns {@link Action#SEND_PING}, the transport must send ping {@link #pingId()} at once; the
 *       monitor counts it as sent at that moment. When it returns {@link Action#PEER_DEAD}, the transport reports
 *       {@link #deadReason()} and closes the connection.</li>
 *   <li>Not thread-safe: one owner thread (for Netty, the channel's event loop) makes every call.</li>
 * </ul>
 *
 * <h2>The hot path</h2>
 * {@link #onInbound()} and {@link #onWrite()} run for every message. They set a flag, and only the first call after
 * each timer check reads the ticker; no timer is rescheduled per message. Any inbound traffic counts as liveness,
 * so a busy connection sends no pings.
 *
 * <h2>Timing</h2>
 * <ul>
 *   <li>While inbound traffic flows, the timer looks every {@code pingInterval / 4}, and the first bytes after a
 *       quiet stretch bring it that close: the time of the last inbound byte is known to within a quarter
 *       interval. A ping goes out no later than the (jittered) ping interval after the last byte, and only after at
 *       least {@code pingInterval x (1 - pingJitter) - pingInterval / 4} of observed silence, so a peer that sends
 *       something more often than every {@code pingInterval x (0.75 - pingJitter)} is never pinged. From the last
 *       inbound byte, an unresponsive peer is declared dead within {@link KeepaliveSettings#idleDetectionBound()},
 *       plus timer lateness.</li>
 *   <li>Read idle is declared between {@code readIdleTimeout} and {@code readIdleTimeout x 9/8} after the last
 *       inbound byte; a write stall between {@code writeStallTimeout} and {@code writeStallTimeout x 9/8} after the
 *       last outbound progress was observed.</li>
 *   <li>A write on a connection quiet for at least the ping interval, with no ping outstanding, sends a ping at
 *       once (gRPC's A8 rule).</li>
 *   <li>A ping-timeout timer that fires {@link KeepaliveSettings#localStallThreshold()} late or later is taken as a
 *       local stall: a fresh ping goes out and the missed count stays, at most twice in a row.</li>
 * </ul>
 */
public final class LivenessMonitor {

    /** What the transport must do after an event. */
    public enum Action {
        /** Nothing. */
        NONE,
        /** Send ping {@link #pingId()} now. */
        SEND_PING,
        /** The peer is dead for {@link #deadReason()}: report it and close the connection. */
        PEER_DEAD
    }

    /** Why the current ping was sent. */
    public enum PingCause {
        /** No inbound traffic for the ping interval. */
        IDLE,
        /** The previous ping was missed; probing again. */
        RETRY_AFTER_MISS,
        /** The timer fired so late that the local process stalled; probing again instead of declaring death. */
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
         * {@link DeadPeerReason#TOO_MANY_PINGS}.
         */
        TOO_MANY_PINGS
    }

    /** Consecutive local-stall re-probes allowed before a late timeout counts as a miss. */
    static final int MAX_STALL_REPROBES = 2;
    /** Read-idle and write-stall checks run at this fraction of their timeout while traffic flows. */
    static final int CHECK_STEPS = 8;
    /** While inbound traffic flows, the ping timer looks at this fraction of the ping interval. */
    static final int PING_STEPS = 4;

    private final Ticker ticker;
    private final DoubleSupplier random;
    private final boolean activeProbing;
    private final long intervalNanos;
    private final double jitter;
    private final long timeoutMaxNanos;
    private final long timeoutMinNanos;
    private final int missedBeforeDead;
    private final long readIdleNanos;
    /** While inbound traffic flows, the timer looks this often: it bounds how stale the time of the last byte is. */
    private final long stepNanos;
    private final long writeStallNanos;
    private final long writeStallStepNanos;
    private final long stallThresholdNanos;
    private final long minPeerPingNanos;
    private final int peerPingStrikesAllowed;

    private LivenessState state = LivenessState.INACTIVE;
    private DeadPeerReason deadReason;

    // Inbound: a flag per timer window, and bounds on the time of the last inbound byte.
    private boolean inboundSinceCheck;
    private long firstInboundSinceCheck;
    /** The time of the last inbound byte is in (lastInboundHigh - inboundUncertainty, lastInboundHigh]. */
    private long lastInboundHigh;
    private long inboundUncertainty;
    private long lastCheckAt;
    private boolean inboundAtLastCheck;
    private long currentIntervalNanos;
    private boolean writeSinceCheck;

    // Our pings.
    private long lastPingId;
    private long lastPingSentAt;
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

    /**
     * @param settings      the validated settings
     * @param ticker        the time source
     * @param activeProbing {@code false} for protocols that cannot be pinged: only read idle (defaulting to the
     *                      idle detection bound), write stall and peer pings are watched
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
        long readIdle = settings.readIdleTimeout().map(d -> d.toNanos())
                .orElse(activeProbing ? -1L : settings.idleDetectionBound().toNanos());
        this.readIdleNanos = readIdle;
        long step = activeProbing ? intervalNanos / PING_STEPS : Long.MAX_VALUE;
        if (readIdle >= 0) {
            step = Math.min(step, readIdle / CHECK_STEPS);
        }
        this.stepNanos = Math.max(1, step);
        this.writeStallNanos = settings.writeStallTimeout().map(d -> d.toNanos()).orElse(-1L);
        this.writeStallStepNanos = writeStallNanos < 0 ? -1 : Math.max(1, writeStallNanos / CHECK_STEPS);
        this.stallThresholdNanos = settings.localStallThreshold().toNanos();
        this.minPeerPingNanos = settings.minPeerPingInterval().toNanos();
        this.peerPingStrikesAllowed = settings.peerPingStrikes();
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
        lastInboundHigh = now;
        inboundUncertainty = 0;
        lastCheckAt = now;
        drawInterval();
        computeDeadline(now);
        return Action.NONE;
    }

    /**
     * Inbound bytes arrived (any message, including pings and pongs). Hot path: sets a flag; reads the ticker only
     * for the first call after a timer check.
     *
     * @return {@code true} when the deadline moved earlier and the timer must be re-armed: only for the first
     *         bytes after a quiet stretch, never while traffic flows
     */
    public boolean onInbound() {
        if (inboundSinceCheck) {
            return false;
        }
        inboundSinceCheck = true;
        long now = ticker.nanoTime();
        firstInboundSinceCheck = now;
        if (hasDeadline && deadline - (now + stepNanos) > 0 && isWatching()) {
            // Traffic after a quiet stretch: look again soon, so that the time of the last byte is known closely.
            deadline = now + stepNanos;
            return true;
        }
        return false;
    }

    /**
     * The application is writing. Hot path: sets a flag; only the first call after a timer check does more.
     *
     * @return {@link Action#SEND_PING} when the connection has been quiet for at least the ping interval and no
     *         ping is outstanding; otherwise {@link Action#NONE}
     */
    public Action onWrite() {
        if (writeSinceCheck) {
            return Action.NONE;
        }
        writeSinceCheck = true;
        if (state != LivenessState.WATCHING || !activeProbing || inboundSinceCheck) {
            return Action.NONE;
        }
        long now = ticker.nanoTime();
        if (now - lastInboundHigh >= intervalNanos) {
            sendPing(now, PingCause.WRITE_AFTER_QUIET);
            computeDeadline(now);
            return Action.SEND_PING;
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
            state = LivenessState.WATCHING;
            missed = 0;
            stallReprobes = 0;
            // The pong is the latest inbound byte, and its time is exact.
            inboundSinceCheck = false;
            lastInboundHigh = now;
            inboundUncertainty = 0;
            lastCheckAt = now;
            inboundAtLastCheck = false;
            drawInterval();
            computeDeadline(now);
        }
        return PongResult.ANSWERED;
    }

    /**
     * The peer sent a ping. Call {@link #onInbound()} for its bytes as for any message.
     *
     * @return whether to answer it, or to close the connection for pinging too often
     */
    public PeerPingVerdict onPeerPing() {
        peerPingsReceived++;
        if (minPeerPingNanos == 0 || !isWatching()) {
            return PeerPingVerdict.ANSWER;
        }
        long now = ticker.nanoTime();
        if (peerPinged && now - lastPeerPingAt < minPeerPingNanos) {
            peerStrikes++;
            peerPingStrikesTotal++;
            if (peerStrikes > peerPingStrikesAllowed) {
                markDead(DeadPeerReason.TOO_MANY_PINGS);
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
     * The protocol could not carry the ping just decided (for example an HTTP/1.1 request is in flight): it is not
     * counted as sent, but it stays outstanding, and whatever arrives next answers it.
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
        lastPingSentAt = now + Math.min(delayNanos, Long.MAX_VALUE / 4);
        computeDeadline(now);
    }

    /** A probe frame from the peer could not be decoded; it is counted (the transport drops it). */
    public void onMalformedProbeFrame() {
        malformedProbeFrames++;
    }

    /**
     * A sample of the outbound queue: {@code pendingBytes} queued in the application and not yet taken by the
     * kernel, and a token that changes whenever the queue makes progress. The transport samples at each timer check
     * (before {@link #onTimer(long)}) and when writability changes. Ignored without a write-stall timeout.
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
        lastLatenessNanos = lateness;
        boolean sawInbound = inboundSinceCheck;
        boolean sawWrite = writeSinceCheck;
        inboundSinceCheck = false;
        writeSinceCheck = false;
        inboundAtLastCheck = sawInbound;
        if (sawInbound) {
            // The last byte came after the previous check: at most one window (at most one step) ago.
            lastInboundHigh = now;
            inboundUncertainty = Math.max(0, Math.min(stepNanos, now - lastCheckAt));
            drawInterval();
        }
        lastCheckAt = now;
        if (outboundPending && now - outboundStalledSince >= writeStallNanos) {
            return die(DeadPeerReason.WRITE_STALL);
        }
        if (readIdleNanos >= 0 && !sawInbound && now - lastInboundHigh >= readIdleNanos) {
            return die(DeadPeerReason.READ_IDLE);
        }
        Action action = Action.NONE;
        if (state == LivenessState.PING_OUTSTANDING) {
            if (sawInbound) {
                // The peer is alive, though its pong has not come (yet).
                state = LivenessState.WATCHING;
                missed = 0;
                stallReprobes = 0;
            } else if (now - lastPingSentAt >= effectiveTimeoutNanos()) {
                if (lateness >= stallThresholdNanos && stallReprobes < MAX_STALL_REPROBES) {
                    stallReprobes++;
                    localStalls++;
                    sendPing(now, PingCause.LOCAL_STALL);
                    action = Action.SEND_PING;
                } else {
                    missed++;
                    pingsMissedTotal++;
                    if (missed >= missedBeforeDead) {
                        return die(DeadPeerReason.PING_TIMEOUT);
                    }
                    sendPing(now, PingCause.RETRY_AFTER_MISS);
                    action = Action.SEND_PING;
                }
            }
        }
        if (state == LivenessState.WATCHING && activeProbing && !sawInbound
                && now - lastInboundHigh >= currentIntervalNanos - inboundUncertainty) {
            sendPing(now, PingCause.IDLE);
            action = Action.SEND_PING;
        }
        computeDeadline(now, sawInbound, sawWrite);
        return action;
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
        lastPingAnswered = false;
        pingCause = cause;
        pingsSent++;
        state = LivenessState.PING_OUTSTANDING;
    }

    private void drawInterval() {
        long cut = (long) (intervalNanos * jitter * random.getAsDouble());
        currentIntervalNanos = intervalNanos - Math.max(0, Math.min(cut, intervalNanos / 2));
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

    private void computeDeadline(long now) {
        computeDeadline(now, inboundAtLastCheck, false);
    }

    private void computeDeadline(long now, boolean sawInbound, boolean sawWrite) {
        if (!isWatching()) {
            hasDeadline = false;
            return;
        }
        long next;
        if (state == LivenessState.PING_OUTSTANDING) {
            next = lastPingSentAt + effectiveTimeoutNanos();
        } else if (activeProbing) {
            // While traffic flows, look every step; once it stops, sleep until the ping is due.
            next = sawInbound ? now + stepNanos : lastInboundHigh + currentIntervalNanos - inboundUncertainty;
        } else {
            next = now + Long.MAX_VALUE / 4;
        }
        if (readIdleNanos >= 0) {
            next = earliest(next, sawInbound ? now + stepNanos : lastInboundHigh + readIdleNanos);
        }
        if (writeStallNanos >= 0) {
            if (outboundPending) {
                next = earliest(next, earliest(outboundStalledSince + writeStallNanos, now + writeStallStepNanos));
            } else if (sawWrite) {
                next = earliest(next, now + writeStallStepNanos);
            }
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

    /** How long, at least, since the last inbound byte, as of {@code now}. */
    public long sinceLastInboundNanos(long now) {
        long last = inboundSinceCheck ? firstInboundSinceCheck : lastInboundHigh;
        return state == LivenessState.INACTIVE ? 0 : Math.max(0, now - last);
    }

    /** A snapshot of the counters. */
    public KeepaliveStats stats() {
        return new KeepaliveStats(state, pingsSent, pongsReceived, pingsMissedTotal, stalePongs, duplicatePongs,
                unsolicitedPongs, peerPingsReceived, peerPingStrikesTotal, malformedProbeFrames, localStalls,
                lastRttNanos, smoothedRttNanos);
    }

    @Override
    public String toString() {
        return "LivenessMonitor{state=" + state + ", lastPingId=" + lastPingId + ", missed=" + missed
                + (deadReason == null ? "" : ", deadReason=" + deadReason) + '}';
    }
}
