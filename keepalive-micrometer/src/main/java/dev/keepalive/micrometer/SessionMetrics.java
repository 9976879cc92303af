package dev.keepalive.micrometer;

import dev.keepalive.session.SessionExpiredException;
import dev.keepalive.session.SessionListener;
import dev.keepalive.session.SessionProtocolException;
import io.micrometer.core.instrument.FunctionCounter;
import io.micrometer.core.instrument.MeterRegistry;
import io.micrometer.core.instrument.Tag;
import io.micrometer.core.instrument.Tags;
import io.micrometer.core.instrument.binder.MeterBinder;

import java.net.SocketAddress;
import java.util.Objects;
import java.util.concurrent.atomic.LongAdder;

/**
 * Micrometer meters for resumable sessions: use one instance as the {@link SessionListener} of a
 * {@code ClientSession} or {@code ServerSessions} (or call it from yours) and bind it to the registry.
 *
 * <pre>{@code
 * SessionMetrics metrics = new SessionMetrics(Tags.of("service", "chat-gateway"));
 * metrics.bindTo(registry);
 * ServerSessions sessions = ServerSessions.builder(SessionFraming.lines()).listener(metrics).build();
 * }</pre>
 *
 * <table>
 *   <caption>Meters (all counters)</caption>
 *   <tr><th>name</th><th>what</th></tr>
 *   <tr><td>{@code keepalive.sessions.started}</td><td>sessions established new</td></tr>
 *   <tr><td>{@code keepalive.sessions.resumed}</td><td>resumes over a new connection</td></tr>
 *   <tr><td>{@code keepalive.sessions.resent.messages}</td><td>messages re-sent on resumes</td></tr>
 *   <tr><td>{@code keepalive.sessions.resent.bytes}</td><td>their payload bytes</td></tr>
 *   <tr><td>{@code keepalive.sessions.duplicates}</td><td>inbound messages dropped as delivered before</td></tr>
 *   <tr><td>{@code keepalive.sessions.expired}</td><td>sessions that expired</td></tr>
 *   <tr><td>{@code keepalive.sessions.expired.messages}</td><td>unacknowledged messages failed by expiries (may
 *       be lost)</td></tr>
 *   <tr><td>{@code keepalive.sessions.protocol.errors}</td><td>frames that broke the session protocol</td></tr>
 * </table>
 */
public final class SessionMetrics implements MeterBinder, SessionListener {
    private final Tags tags;
    private final LongAdder started = new LongAdder();
    private final LongAdder resumed = new LongAdder();
    private final LongAdder resentMessages = new LongAdder();
    private final LongAdder resentBytes = new LongAdder();
    private final LongAdder duplicates = new LongAdder();
    private final LongAdder expired = new LongAdder();
    private final LongAdder expiredMessages = new LongAdder();
    private final LongAdder protocolErrors = new LongAdder();

    /** Meters with {@code tags} added to each. */
    public SessionMetrics(Iterable<Tag> tags) {
        this.tags = Tags.of(Objects.requireNonNull(tags, "tags"));
    }

    /** Meters without extra tags. */
    public SessionMetrics() {
        this(Tags.empty());
    }

    @Override
    public void bindTo(MeterRegistry registry) {
        counter(registry, "keepalive.sessions.started", "Sessions established new", started);
        counter(registry, "keepalive.sessions.resumed", "Session resumes over a new connection", resumed);
        counter(registry, "keepalive.sessions.resent.messages", "Messages re-sent on resumes", resentMessages);
        counter(registry, "keepalive.sessions.resent.bytes", "Payload bytes re-sent on resumes", resentBytes);
        counter(registry, "keepalive.sessions.duplicates", "Inbound messages dropped as delivered before",
                duplicates);
        counter(registry, "keepalive.sessions.expired", "Sessions that expired", expired);
        counter(registry, "keepalive.sessions.expired.messages", "Unacknowledged messages failed by expiries",
                expiredMessages);
        counter(registry, "keepalive.sessions.protocol.errors", "Frames that broke the session protocol",
                protocolErrors);
    }

    private void counter(MeterRegistry registry, String name, String description, LongAdder value) {
        FunctionCounter.builder(name, value, LongAdder::doubleValue).description(description).tags(tags)
                .register(registry);
    }

    @Override
    public void onStarted(String id, SocketAddress remote) {
        started.increment();
    }

    @Override
    public void onResumed(String id, SocketAddress remote, int resentMessages, long resentBytes) {
        resumed.increment();
        this.resentMessages.add(resentMessages);
        this.resentBytes.add(resentBytes);
    }

    @Override
    public void onDuplicate(String id, long seq) {
        duplicates.increment();
    }

    @Override
    public void onExpired(String id, int lostMessages, SessionExpiredException cause) {
        expired.increment();
        expiredMessages.add(lostMessages);
    }

    @Override
    public void onProtocolError(String id, SessionProtocolException error) {
        protocolErrors.increment();
    }
}
