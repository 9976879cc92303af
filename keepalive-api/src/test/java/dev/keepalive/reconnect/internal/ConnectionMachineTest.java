package dev.keepalive.reconnect.internal;

import dev.keepalive.DeadPeerReason;
import dev.keepalive.ManualTicker;
import dev.keepalive.PeerDeadException;
import dev.keepalive.reconnect.Backoff;
import dev.keepalive.reconnect.ConnectionEvent;
import dev.keepalive.reconnect.ConnectionEvent.Type;
import dev.keepalive.reconnect.ConnectionState;
import dev.keepalive.reconnect.ReconnectPolicy;
import dev.keepalive.reconnect.internal.ConnectionMachine.Action;
import org.junit.jupiter.api.Test;

import java.io.IOException;
import java.net.InetSocketAddress;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeoutException;
import java.util.stream.Collectors;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertTrue;

class ConnectionMachineTest {
    private static final InetSocketAddress A = InetSocketAddress.createUnresolved("a", 1);
    private static final InetSocketAddress B = InetSocketAddress.createUnresolved("b", 1);

    // Starts near the nanoTime overflow: every comparison must be wrap-safe.
    private final ManualTicker ticker = new ManualTicker(Long.MAX_VALUE - Duration.ofSeconds(5).toNanos());
    private final List<ConnectionEvent> events = new ArrayList<>();

    /** Full jitter with random 0.999: delays 99 ms, 199 ms, 399 ms, ... up to 999 ms. */
    private ConnectionMachine machine(ReconnectPolicy.Builder policy) {
        return new ConnectionMachine(policy.backoff(Backoff.exponentialFullJitter(Duration.ofMillis(100),
                Duration.ofSeconds(1))).random(() -> 0.999).connectTimeout(Duration.ofSeconds(2)).build(),
                List.of(A, B), ticker, events::add);
    }

    private ConnectionMachine machine() {
        return machine(ReconnectPolicy.builder());
    }

    private String trace() {
        return events.stream().map(e -> e.type() + "/" + e.state() + "/" + e.attempt()
                + (e.delay().isZero() ? "" : "/" + e.delay().toMillis())).collect(Collectors.joining(" "));
    }

    /** Dials, opens the channel, runs the hook and gets the peer's answer. */
    private void connect(ConnectionMachine m) {
        m.onDial();
        m.onChannelOpen();
        assertFalse(m.onHookDone(), "not proven before the peer answered");
        assertTrue(m.onPeerAnswered());
    }

    private void waitOutBackoff(ConnectionMachine m) {
        assertTrue(m.hasDeadline());
        assertEquals(Action.NONE, m.onTimer(m.deadline() - 1), "not a nanosecond early");
        ticker.set(m.deadline());
        assertEquals(Action.DIAL, m.onTimer(ticker.nanoTime()));
    }

    @Test
    void connectedOnlyAfterHookAndPeerAnswerWithConsistentEvents() {
        ConnectionMachine m = machine();
        assertEquals(Action.DIAL, m.start());
        assertEquals(Action.NONE, m.start());
        m.onDial();
        m.onChannelOpen();
        assertFalse(m.onPeerAnswered());
        assertEquals(ConnectionState.CONNECTING, m.state());
        assertTrue(m.onHookDone());
        assertEquals(ConnectionState.CONNECTED, m.state());
        assertEquals("CONNECTING/CONNECTING/1 CONNECTED/CONNECTED/1", trace());
        assertEquals(A, events.get(1).remote());
        assertFalse(m.hasDeadline());
    }

    @Test
    void aPeerThatAcceptsAndClosesAtOnceKeepsTheBackoffGrowing() {
        ConnectionMachine m = machine();
        m.start();
        for (int i = 0; i < 4; i++) {
            m.onDial();
            m.onChannelOpen();
            m.onHookDone();
            assertEquals(Action.NONE, m.onChannelClosed(DeadPeerReason.CLOSED_BY_PEER, new IOException("closed")));
            waitOutBackoff(m);
        }
        assertEquals("CONNECTING/CONNECTING/1 CONNECT_FAILED/BACKING_OFF/1 RECONNECTING/BACKING_OFF/2/99 "
                + "CONNECTING/CONNECTING/2 CONNECT_FAILED/BACKING_OFF/2 RECONNECTING/BACKING_OFF/3/199 "
                + "CONNECTING/CONNECTING/3 CONNECT_FAILED/BACKING_OFF/3 RECONNECTING/BACKING_OFF/4/399 "
                + "CONNECTING/CONNECTING/4 CONNECT_FAILED/BACKING_OFF/4 RECONNECTING/BACKING_OFF/5/799", trace());
        assertEquals(0, m.successes());
        assertEquals(4, m.attempts());
    }

    @Test
    void aFrozenServerWhoseBacklogAcceptsFailsAtTheConnectTimeout() {
        ConnectionMachine m = machine();
        m.start();
        m.onDial();
        long dialed = ticker.nanoTime();
        m.onChannelOpen();
        m.onHookDone();
        assertEquals(dialed + Duration.ofSeconds(2).toNanos(), m.deadline());
        assertEquals(Action.NONE, m.onTimer(m.deadline() - 1));
        ticker.set(m.deadline());
        assertEquals(Action.CLOSE_CHANNEL, m.onTimer(ticker.nanoTime()));
        assertFalse(m.onPeerAnswered(), "too late: the attempt is being abandoned");
        m.onChannelClosed(null, null);
        ConnectionEvent failed = events.get(1);
        assertEquals(Type.CONNECT_FAILED, failed.type());
        assertInstanceOf(TimeoutException.class, failed.cause());
        assertTrue(failed.cause().getMessage().contains("the peer did not answer"), failed.cause().getMessage());
        assertEquals(Type.RECONNECTING, events.get(2).type());
        assertEquals(2, events.get(2).attempt());
        assertEquals(B, events.get(2).remote(), "a failed attempt fails over");
    }

    @Test
    void backoffStartsAfreshOnlyAfterTheConnectionLastedBackoffResetAfter() {
        ConnectionMachine m = machine(ReconnectPolicy.builder().backoffResetAfter(Duration.ofSeconds(3)));
        m.start();
        connect(m);
        ticker.advance(Duration.ofSeconds(3).minusNanos(1));
        m.onChannelClosed(DeadPeerReason.PING_TIMEOUT, null);
        assertEquals(2, events.get(events.size() - 1).attempt(), "one ns short: the sequence goes on");
        assertEquals(99, events.get(events.size() - 1).delay().toMillis());
        waitOutBackoff(m);
        connect(m);
        ticker.advance(Duration.ofSeconds(3));
        events.clear();
        m.onChannelClosed(DeadPeerReason.PING_TIMEOUT, null);
        assertEquals("DISCONNECTED/BACKING_OFF/0 RECONNECTING/BACKING_OFF/1/99", trace());
        assertEquals(DeadPeerReason.PING_TIMEOUT, events.get(0).reason());
    }

    @Test
    void hookFailureClosesTheChannelAndReportsTheHooksError() {
        ConnectionMachine m = machine();
        m.start();
        m.onDial();
        m.onChannelOpen();
        IllegalStateException boom = new IllegalStateException("login refused");
        assertEquals(Action.CLOSE_CHANNEL, m.onHookFailed(boom));
        assertEquals(Action.NONE, m.onHookFailed(boom));
        m.onChannelClosed(DeadPeerReason.CLOSED_BY_PEER, null);
        assertEquals(boom, events.get(1).cause());
        assertEquals(1, events.stream().filter(e -> e.type() == Type.CONNECT_FAILED).count());
    }

    @Test
    void givesUpAfterMaxAttemptsAndEmitsNothingAfter() {
        ConnectionMachine m = machine(ReconnectPolicy.builder().maxAttempts(2));
        m.start();
        m.onDial();
        m.onDialFailed(new IOException("refused"));
        waitOutBackoff(m);
        m.onDial();
        assertEquals(Action.GAVE_UP, m.onDialFailed(new IOException("refused")));
        assertEquals(ConnectionState.CLOSED, m.state());
        int n = events.size();
        assertEquals(Type.GAVE_UP, events.get(n - 1).type());
        assertEquals(ConnectionState.CLOSED, events.get(n - 1).state());
        assertEquals(2, events.get(n - 1).attempt());
        assertFalse(m.close());
        m.onDialFailed(new IOException("late"));
        m.onChannelClosed(null, null);
        m.onEndpointSkipped(new IOException("late"));
        assertEquals(n, events.size(), "nothing after GAVE_UP");
    }

    @Test
    void closeDuringAConnectEmitsClosedLastAndSuppressesTheAttemptsFailure() {
        ConnectionMachine m = machine();
        m.start();
        m.onDial();
        assertTrue(m.close());
        assertEquals(Action.NONE, m.onDialFailed(new IOException("closed")));
        assertEquals("CONNECTING/CONNECTING/1 CLOSED/CLOSED/1", trace());
    }

    @Test
    void giveUpAfterCountsFromTheLastLastingConnection() {
        ConnectionMachine m = machine(ReconnectPolicy.builder().giveUpAfter(Duration.ofSeconds(1))
                .backoffResetAfter(Duration.ofSeconds(10)));
        m.start();
        connect(m);
        ticker.advance(Duration.ofMillis(1500)); // proven, but shorter than backoffResetAfter
        assertEquals(Action.GAVE_UP, m.onChannelClosed(DeadPeerReason.CLOSED_BY_PEER, null));
        assertEquals("DISCONNECTED/CLOSED/1 GAVE_UP/CLOSED/1",
                trace().substring(trace().indexOf("DISCONNECTED")));
    }

    @Test
    void aDeadPeerFailsOverAndARestartRetriesTheSameEndpoint() {
        ConnectionMachine m = machine();
        m.start();
        connect(m);
        m.onChannelClosed(DeadPeerReason.RESET_BY_PEER, null);
        assertEquals(A, m.currentEndpoint());
        waitOutBackoff(m);
        connect(m);
        m.onChannelClosed(DeadPeerReason.PING_TIMEOUT, new PeerDeadException(DeadPeerReason.PING_TIMEOUT, A,
                Duration.ZERO, 2, null, null));
        assertEquals(B, m.currentEndpoint());
        assertEquals(2L, m.deaths().values().stream().mapToLong(Long::longValue).sum());
    }

    @Test
    void reconnectNowDropsTheConnectionAndDialsWithoutBackoff() {
        ConnectionMachine m = machine();
        m.start();
        connect(m);
        assertEquals(Action.CLOSE_CHANNEL, m.reconnectNow());
        events.clear();
        assertEquals(Action.DIAL, m.onChannelClosed(null, null));
        assertEquals("DISCONNECTED/BACKING_OFF/0", trace());
        m.onDial();
        assertEquals(1, m.attempt());
    }

    @Test
    void skippedEndpointsAreReportedAndNoEndpointBacksOff() {
        ConnectionMachine m = machine();
        m.start();
        m.onEndpointSkipped(new IOException("open"));
        m.onEndpointSkipped(new IOException("open"));
        assertEquals(Action.NONE, m.onNoEndpoint());
        assertEquals("CONNECT_FAILED/BACKING_OFF/0 CONNECT_FAILED/BACKING_OFF/0 RECONNECTING/BACKING_OFF/1/99",
                trace());
        assertEquals(0, m.attempts());
    }

    @Test
    void disconnectedTimeCountsOnlyTimeNotConnected() {
        ConnectionMachine m = machine();
        m.start();
        ticker.advance(Duration.ofMillis(300));
        connect(m);
        ticker.advance(Duration.ofSeconds(20));
        assertEquals(Duration.ofMillis(300), m.disconnectedTime(ticker.nanoTime()));
        m.onChannelClosed(DeadPeerReason.CLOSED_BY_PEER, null);
        ticker.advance(Duration.ofMillis(50));
        assertEquals(Duration.ofMillis(350), m.disconnectedTime(ticker.nanoTime()));
    }
}
