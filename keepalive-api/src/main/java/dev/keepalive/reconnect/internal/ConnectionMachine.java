package dev.keepalive.reconnect.internal;

import dev.keepalive.DeadPeerReason;
import dev.keepalive.Ticker;
import dev.keepalive.reconnect.Backoff;
import dev.keepalive.reconnect.ConnectionEvent;
import dev.keepalive.reconnect.ConnectionState;
import dev.keepalive.reconnect.ReconnectPolicy;

import java.io.IOException;
import java.net.SocketAddress;
import java.time.Duration;
import java.util.EnumMap;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.concurrent.TimeoutException;
import java.util.function.Consumer;

/**
 * The connection state machine of a reconnecting client: state, attempt numbers, backoff, failover and giving up.
 * It does no I/O and keeps no timer: the transport reports what happened and does what the returned {@link Action}
 * says; it arms one timer for {@link #deadline()} and calls {@link #onTimer(long)} when it fires (early or extra
 * calls do nothing).
 *
 * <h2>Proof</h2>
 * An attempt becomes {@link ConnectionState#CONNECTED} only when its channel is open, the on-connected hook
 * completed ({@link #onHookDone()}) and the peer answered ({@link #onPeerAnswered()}: its first inbound message, or
 * the pong to a ping sent on connecting), all within {@link ReconnectPolicy#connectTimeout()} of the dial. A
 * frozen server whose kernel still accepts into its backlog never answers: its attempts fail and the backoff grows.
 *
 * <h2>Backoff</h2>
 * The sequence starts afresh only when a proven connection is lost after lasting at least
 * {@link ReconnectPolicy#backoffResetAfter()}; a shorter one counts as a failed attempt of the sequence.
 *
 * <h2>Events</h2>
 * Emitted through the consumer, after the state changed: {@link ConnectionEvent#state()} is the state after the
 * event. Nothing is emitted after {@link ConnectionEvent.Type#CLOSED} or {@link ConnectionEvent.Type#GAVE_UP}.
 *
 * <p>Not thread-safe: one owner thread makes every call.
 */
public final class ConnectionMachine {

    /** What the transport must do after an event. */
    public enum Action {
        /** Nothing. */
        NONE,
        /** Dial now: pick the endpoint ({@link #endpointIndex()}, {@link #onEndpointSkipped}), then {@link #onDial}. */
        DIAL,
        /** Close the current attempt's channel; {@link #onChannelClosed} or {@link #onDialFailed} follows. */
        CLOSE_CHANNEL,
        /** The client gave up: fail what it holds; the state is {@link ConnectionState#CLOSED}. */
        GAVE_UP
    }

    private final ReconnectPolicy policy;
    private final List<? extends SocketAddress> endpoints;
    private final Ticker ticker;
    private final Consumer<ConnectionEvent> events;

    private ConnectionState state = ConnectionState.BACKING_OFF;
    private boolean started;
    private SocketAddress target;
    private boolean channelOpen;
    private boolean hookDone;
    private boolean peerAnswered;
    /** Why the current attempt is being abandoned (timeout, hook failure), before its channel has closed. */
    private Throwable attemptFailure;
    private boolean reconnectAtOnce;
    private int endpointIndex;
    private Backoff.Sequence backoff;
    private int attempt;
    private boolean hasDeadline;
    private long deadline;
    private long provenAt;
    private long outageSince;
    private long disconnectedSince;
    private long disconnectedNanos;
    private long attempts;
    private long successes;
    private Throwable lastCause;
    private String giveUpReason;
    private final EnumMap<DeadPeerReason, Long> deaths = new EnumMap<>(DeadPeerReason.class);

    /**
     * A machine for {@code endpoints} under {@code policy}, emitting to {@code events}.
     *
     * @throws IllegalArgumentException if there are no endpoints
     */
    public ConnectionMachine(ReconnectPolicy policy, List<? extends SocketAddress> endpoints, Ticker ticker,
                             Consumer<ConnectionEvent> events) {
        this.policy = Objects.requireNonNull(policy, "policy");
        this.endpoints = List.copyOf(endpoints);
        if (this.endpoints.isEmpty()) {
            throw new IllegalArgumentException("endpoints must not be empty");
        }
        this.ticker = Objects.requireNonNull(ticker, "ticker");
        this.events = Objects.requireNonNull(events, "events");
        long now = ticker.nanoTime();
        this.outageSince = now;
        this.disconnectedSince = now;
    }

    // ---- events in -------------------------------------------------------------------------------------------

    /** The application started the client. @return {@link Action#DIAL} the first time, then {@link Action#NONE} */
    public Action start() {
        if (started || state == ConnectionState.CLOSED) {
            return Action.NONE;
        }
        started = true;
        return Action.DIAL;
    }

    /**
     * The endpoint at {@link #endpointIndex()} may not be dialed now (its circuit breaker is open): emits
     * {@code CONNECT_FAILED} for it and moves to the next. After skipping every endpoint, call {@link #onNoEndpoint}.
     */
    public void onEndpointSkipped(Throwable cause) {
        if (state == ConnectionState.CLOSED) {
            return;
        }
        emit(ConnectionEvent.Type.CONNECT_FAILED, currentEndpoint(), attempt, Duration.ZERO, null, cause);
        endpointIndex++;
    }

    /** No endpoint may be dialed now: waits out the next backoff delay (no attempt is counted). */
    public Action onNoEndpoint() {
        if (state == ConnectionState.CLOSED) {
            return Action.NONE;
        }
        return backOff(null, null, null, lastCause);
    }

    /** The transport starts dialing {@link #currentEndpoint()}: a new attempt. Emits {@code CONNECTING}. */
    public void onDial() {
        if (state == ConnectionState.CLOSED) {
            return;
        }
        long now = ticker.nanoTime();
        attempt++;
        attempts++;
        target = currentEndpoint();
        channelOpen = false;
        hookDone = false;
        peerAnswered = false;
        attemptFailure = null;
        state = ConnectionState.CONNECTING;
        setDeadline(now + policy.connectTimeout().toNanos());
        emit(ConnectionEvent.Type.CONNECTING, target, attempt, Duration.ZERO, null, null);
    }

    /** The dial failed before a channel was open (refused, unresolved, timed out, closed while connecting). */
    public Action onDialFailed(Throwable cause) {
        if (state != ConnectionState.CONNECTING || channelOpen) {
            return Action.NONE;
        }
        Throwable why = attemptFailure != null ? attemptFailure : cause;
        return attemptFailed(why, null);
    }

    /** The attempt's channel is open (TCP connected); the hook runs and the peer must answer. */
    public void onChannelOpen() {
        if (state == ConnectionState.CONNECTING) {
            channelOpen = true;
        }
    }

    /** The on-connected hook completed. @return {@code true} if the connection is now proven: write what is queued */
    public boolean onHookDone() {
        hookDone = true;
        return maybeProven();
    }

    /** The peer sent something on the attempt's channel. @return {@code true} as {@link #onHookDone()} */
    public boolean onPeerAnswered() {
        peerAnswered = true;
        return maybeProven();
    }

    /** The on-connected hook failed. @return {@link Action#CLOSE_CHANNEL} while connecting */
    public Action onHookFailed(Throwable cause) {
        if (state != ConnectionState.CONNECTING || attemptFailure != null) {
            return Action.NONE;
        }
        attemptFailure = cause;
        return Action.CLOSE_CHANNEL;
    }

    /**
     * The timer fired at {@code now}: a backoff delay ended ({@link Action#DIAL}), or an attempt was not proven
     * within the connect timeout ({@link Action#CLOSE_CHANNEL}). Before {@link #deadline()}, does nothing.
     */
    public Action onTimer(long now) {
        if (!hasDeadline || now - deadline < 0) {
            return Action.NONE;
        }
        hasDeadline = false;
        if (state == ConnectionState.BACKING_OFF) {
            return Action.DIAL;
        }
        if (state == ConnectionState.CONNECTING && attemptFailure == null) {
            attemptFailure = new TimeoutException("the connection was not proven within connectTimeout "
                    + readable(policy.connectTimeout()) + " (" + (channelOpen ? "connected; " + (hookDone ? "" : "the "
                    + "on-connected hook did not complete; ") + (peerAnswered ? "" : "the peer did not answer")
                    : "the TCP connect did not complete") + ")");
            return Action.CLOSE_CHANNEL;
        }
        return Action.NONE;
    }

    /**
     * The attempt's open channel closed; {@code reason} and {@code dead} say why when the peer was declared dead
     * ({@code null} for a local close).
     *
     * @return {@link Action#DIAL} for an immediate reconnect, {@link Action#GAVE_UP}, or {@link Action#NONE}
     */
    public Action onChannelClosed(DeadPeerReason reason, Throwable dead) {
        if (state == ConnectionState.CLOSED || !channelOpen) {
            return Action.NONE;
        }
        channelOpen = false;
        long now = ticker.nanoTime();
        if (reason != null) {
            deaths.merge(reason, 1L, Long::sum);
        }
        if (state == ConnectionState.CONNECTING) {
            Throwable why = attemptFailure != null ? attemptFailure : dead != null ? dead
                    : new IOException("the connection closed before it was proven (the peer never answered)");
            return attemptFailed(why, reason);
        }
        // A proven connection was lost.
        disconnectedSince = now;
        if (now - provenAt >= policy.backoffResetAfter().toNanos()) {
            backoff = null;
            attempt = 0;
            outageSince = now;
        }
        if (reason != null && reason != DeadPeerReason.CLOSED_BY_PEER && reason != DeadPeerReason.RESET_BY_PEER) {
            endpointIndex++; // unreachable, not merely restarted: fail over
        }
        if (dead != null) {
            lastCause = dead;
        }
        if (reconnectAtOnce) {
            reconnectAtOnce = false;
            state = ConnectionState.BACKING_OFF;
            emit(ConnectionEvent.Type.DISCONNECTED, target, attempt, Duration.ZERO, reason, dead);
            return Action.DIAL;
        }
        return backOff(ConnectionEvent.Type.DISCONNECTED, target, reason, dead);
    }

    /**
     * The application asked to reconnect at once: drops the connection (or the attempt's open channel), or ends the
     * backoff wait; the backoff sequence starts afresh.
     */
    public Action reconnectNow() {
        if (state == ConnectionState.CLOSED) {
            return Action.NONE;
        }
        backoff = null;
        attempt = 0;
        if (channelOpen) {
            reconnectAtOnce = true;
            if (state == ConnectionState.CONNECTING && attemptFailure == null) {
                attemptFailure = new IOException("reconnectNow() dropped this attempt");
            }
            return Action.CLOSE_CHANNEL;
        }
        if (state == ConnectionState.BACKING_OFF && started) {
            hasDeadline = false;
            return Action.DIAL;
        }
        return Action.NONE;
    }

    /** The application closed the client: emits {@code CLOSED}. @return {@code false} if it already was closed */
    public boolean close() {
        if (state == ConnectionState.CLOSED) {
            return false;
        }
        accountDisconnected();
        state = ConnectionState.CLOSED;
        hasDeadline = false;
        emit(ConnectionEvent.Type.CLOSED, currentEndpoint(), attempt, Duration.ZERO, null, null);
        return true;
    }

    // ---- decisions -------------------------------------------------------------------------------------------

    private boolean maybeProven() {
        if (state != ConnectionState.CONNECTING || !channelOpen || !hookDone || !peerAnswered
                || attemptFailure != null) {
            return false;
        }
        long now = ticker.nanoTime();
        successes++;
        provenAt = now;
        disconnectedNanos += now - disconnectedSince;
        lastCause = null;
        hasDeadline = false;
        state = ConnectionState.CONNECTED;
        emit(ConnectionEvent.Type.CONNECTED, target, attempt, Duration.ZERO, null, null);
        return true;
    }

    private Action attemptFailed(Throwable why, DeadPeerReason reason) {
        lastCause = why;
        if (reconnectAtOnce) {
            reconnectAtOnce = false;
            state = ConnectionState.BACKING_OFF;
            emit(ConnectionEvent.Type.CONNECT_FAILED, target, attempt, Duration.ZERO, reason, why);
            return Action.DIAL;
        }
        endpointIndex++;
        return backOff(ConnectionEvent.Type.CONNECT_FAILED, target, reason, why);
    }

    /** Emits {@code type} (if any) and then RECONNECTING with the next delay, or gives up. */
    private Action backOff(ConnectionEvent.Type type, SocketAddress remote, DeadPeerReason reason, Throwable cause) {
        long now = ticker.nanoTime();
        String giveUp = null;
        if (policy.maxAttempts() > 0 && attempt >= policy.maxAttempts()) {
            giveUp = "after " + attempt + " attempts (maxAttempts " + policy.maxAttempts() + ")";
        } else if (policy.giveUpAfter().isPresent() && now - outageSince >= policy.giveUpAfter().get().toNanos()) {
            giveUp = "after " + Duration.ofNanos(now - outageSince).toMillis() + " ms without a lasting connection "
                    + "(giveUpAfter " + policy.giveUpAfter().get() + ")";
        }
        if (giveUp != null) {
            accountDisconnected();
            state = ConnectionState.CLOSED;
            hasDeadline = false;
            giveUpReason = "the client gave up " + giveUp;
            if (type != null) {
                emit(type, remote, attempt, Duration.ZERO, reason, cause);
            }
            emit(ConnectionEvent.Type.GAVE_UP, currentEndpoint(), attempt, Duration.ZERO, reason, cause);
            return Action.GAVE_UP;
        }
        if (backoff == null) {
            backoff = policy.backoff().newSequence(policy.random());
        }
        Duration delay = backoff.next();
        state = ConnectionState.BACKING_OFF;
        setDeadline(now + delay.toNanos());
        if (type != null) {
            emit(type, remote, attempt, Duration.ZERO, reason, cause);
        }
        emit(ConnectionEvent.Type.RECONNECTING, currentEndpoint(), attempt + 1, delay, reason, cause);
        return Action.NONE;
    }

    private void accountDisconnected() {
        if (state != ConnectionState.CONNECTED) {
            disconnectedNanos += ticker.nanoTime() - disconnectedSince;
        }
        disconnectedSince = ticker.nanoTime();
    }

    private void setDeadline(long at) {
        hasDeadline = true;
        deadline = at;
    }

    private void emit(ConnectionEvent.Type type, SocketAddress remote, int n, Duration delay, DeadPeerReason reason,
                      Throwable cause) {
        events.accept(new ConnectionEvent(type, state, remote, n, delay, reason, cause));
    }

    // ---- queries ---------------------------------------------------------------------------------------------

    /** The current state. */
    public ConnectionState state() {
        return state;
    }

    /** Whether {@link #start()} was called. */
    public boolean started() {
        return started;
    }

    /** The index (modulo the endpoint count) of the endpoint to dial next. */
    public int endpointIndex() {
        return endpointIndex % endpoints.size();
    }

    /** The endpoint to dial next, or of the current attempt. */
    public SocketAddress currentEndpoint() {
        return state == ConnectionState.CONNECTING || state == ConnectionState.CONNECTED && target != null
                ? target : endpoints.get(endpointIndex());
    }

    /** The attempt number in the current backoff sequence (0 before the first attempt of a sequence). */
    public int attempt() {
        return attempt;
    }

    /** Whether a timer is needed. */
    public boolean hasDeadline() {
        return hasDeadline;
    }

    /** When the timer must fire, in ticker nanoseconds; valid while {@link #hasDeadline()}. */
    public long deadline() {
        return deadline;
    }

    /** Why the client gave up, or {@code null}. */
    public String giveUpReason() {
        return giveUpReason;
    }

    /** The last failure: of an attempt, or the death of the last connection; {@code null} after a success. */
    public Throwable lastCause() {
        return lastCause;
    }

    /** Connect attempts so far. */
    public long attempts() {
        return attempts;
    }

    /** Attempts that were proven. */
    public long successes() {
        return successes;
    }

    /** Connections (and attempts) lost, by reason. */
    public Map<DeadPeerReason, Long> deaths() {
        return new EnumMap<>(deaths);
    }

    /** Total time not connected up to {@code now}. */
    public Duration disconnectedTime(long now) {
        return Duration.ofNanos(disconnectedNanos + (state == ConnectionState.CONNECTED
                || state == ConnectionState.CLOSED ? 0 : now - disconnectedSince));
    }

    /** A duration as people write it in this library's messages: {@code 5s}, {@code 250ms}. */
    static String readable(java.time.Duration d) {
        long millis = d.toMillis();
        return millis % 1000 == 0 ? millis / 1000 + "s" : millis + "ms";
    }
}
