package dev.keepalive.micrometer;

import dev.keepalive.DeadPeerReason;
import dev.keepalive.KeepaliveListener;
import dev.keepalive.PeerDeadException;
import dev.keepalive.PeerDiagnosis;
import io.micrometer.core.instrument.FunctionCounter;
import io.micrometer.core.instrument.MeterRegistry;
import io.micrometer.core.instrument.Tag;
import io.micrometer.core.instrument.Tags;
import io.micrometer.core.instrument.Timer;
import io.micrometer.core.instrument.binder.MeterBinder;

import java.net.SocketAddress;
import java.time.Duration;
import java.util.EnumMap;
import java.util.Map;
import java.util.Objects;
import java.util.concurrent.atomic.LongAdder;

/**
 * Micrometer meters for every connection whose {@code KeepaliveHandler} reports to it: use one instance as the
 * handlers' {@link KeepaliveListener} (or call it from yours) and bind it to the registry. It aggregates over
 * connections, so a gateway with 50,000 connections has a handful of meters, not 50,000.
 *
 * <pre>{@code
 * KeepaliveMetrics metrics = new KeepaliveMetrics(Tags.of("service", "chat-gateway"));
 * metrics.bindTo(registry);
 * KeepaliveHandler.Builder keepalive = KeepaliveHandler.builder(settings).listener(metrics);
 * }</pre>
 *
 * <table>
 *   <caption>Meters</caption>
 *   <tr><th>name</th><th>type</th><th>tags</th></tr>
 *   <tr><td>{@code keepalive.pings.sent}</td><td>counter</td><td></td></tr>
 *   <tr><td>{@code keepalive.pongs.received}</td><td>counter</td><td></td></tr>
 *   <tr><td>{@code keepalive.pings.missed}</td><td>counter</td><td></td></tr>
 *   <tr><td>{@code keepalive.local.stalls}</td><td>counter</td><td></td></tr>
 *   <tr><td>{@code keepalive.ping.rtt}</td><td>timer (seconds)</td><td></td></tr>
 *   <tr><td>{@code keepalive.peers.dead}</td><td>counter</td><td>{@code reason}: a {@link DeadPeerReason};
 *       {@code diagnosis}: a {@link PeerDiagnosis}, what the kernel knew (host up but application not answering,
 *       host or path unreachable, unknown)</td></tr>
 *   <tr><td>{@code keepalive.peers.retired}</td><td>counter</td><td>connections the peer closed as its protocol
 *       allows, with nothing in flight (an idle HTTP/1.1 connection closed by its server, a GOAWAY, a WebSocket
 *       close frame): {@link KeepaliveListener#onPeerRetired}; not deaths</td></tr>
 * </table>
 */
public final class KeepaliveMetrics implements MeterBinder, KeepaliveListener {
    private final Tags tags;
    private final LongAdder pingsSent = new LongAdder();
    private final LongAdder pongsReceived = new LongAdder();
    private final LongAdder pingsMissed = new LongAdder();
    private final LongAdder localStalls = new LongAdder();
    private final LongAdder retirements = new LongAdder();
    private final Map<DeadPeerReason, Map<PeerDiagnosis, LongAdder>> deaths = new EnumMap<>(DeadPeerReason.class);
    private volatile Timer rtt;

    /** Meters with {@code tags} added to each. */
    public KeepaliveMetrics(Iterable<Tag> tags) {
        this.tags = Tags.of(Objects.requireNonNull(tags, "tags"));
        for (DeadPeerReason r : DeadPeerReason.values()) {
            Map<PeerDiagnosis, LongAdder> byDiagnosis = new EnumMap<>(PeerDiagnosis.class);
            for (PeerDiagnosis d : PeerDiagnosis.values()) {
                byDiagnosis.put(d, new LongAdder());
            }
            deaths.put(r, byDiagnosis);
        }
    }

    /** Meters without extra tags. */
    public KeepaliveMetrics() {
        this(Tags.empty());
    }

    @Override
    public void bindTo(MeterRegistry registry) {
        counter(registry, "keepalive.pings.sent", "Pings sent to peers", pingsSent, tags);
        counter(registry, "keepalive.pongs.received", "Pongs that answered a ping", pongsReceived, tags);
        counter(registry, "keepalive.pings.missed", "Pings unanswered within the ping timeout", pingsMissed, tags);
        counter(registry, "keepalive.local.stalls", "Timers so late that the local process evidently stalled",
                localStalls, tags);
        for (Map.Entry<DeadPeerReason, Map<PeerDiagnosis, LongAdder>> e : deaths.entrySet()) {
            for (Map.Entry<PeerDiagnosis, LongAdder> d : e.getValue().entrySet()) {
                counter(registry, "keepalive.peers.dead", "Connections whose peer was declared dead or lost",
                        d.getValue(), tags.and("reason", e.getKey().name()).and("diagnosis", d.getKey().name()));
            }
        }
        counter(registry, "keepalive.peers.retired", "Connections the peer closed as its protocol allows, with "
                + "nothing in flight (not deaths)", retirements, tags);
        rtt = Timer.builder("keepalive.ping.rtt").description("Ping round-trip time").tags(tags)
                .publishPercentileHistogram(false).register(registry);
    }

    private static void counter(MeterRegistry registry, String name, String description, LongAdder value,
                                Tags tags) {
        FunctionCounter.builder(name, value, LongAdder::doubleValue).description(description).tags(tags)
                .register(registry);
    }

    @Override
    public void onPingSent(SocketAddress remote, long pingId) {
        pingsSent.increment();
    }

    @Override
    public void onPongReceived(SocketAddress remote, long pingId, Duration roundTrip) {
        pongsReceived.increment();
        Timer t = rtt;
        if (t != null) {
            t.record(roundTrip);
        }
    }

    @Override
    public void onPingMissed(SocketAddress remote, long pingId, int missed) {
        pingsMissed.increment();
    }

    @Override
    public void onLocalStall(SocketAddress remote, Duration lateness) {
        localStalls.increment();
    }

    @Override
    public void onPeerDead(PeerDeadException cause) {
        deaths.get(cause.reason()).get(cause.diagnosis()).increment();
    }

    @Override
    public void onPeerRetired(SocketAddress remote, String how) {
        retirements.increment();
    }
}
