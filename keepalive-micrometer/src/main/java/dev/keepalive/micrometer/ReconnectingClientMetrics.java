package dev.keepalive.micrometer;

import dev.keepalive.DeadPeerReason;
import dev.keepalive.netty.client.ReconnectingClient;
import dev.keepalive.reconnect.ClientStats;
import dev.keepalive.reconnect.ConnectionState;
import io.micrometer.core.instrument.FunctionCounter;
import io.micrometer.core.instrument.Gauge;
import io.micrometer.core.instrument.MeterRegistry;
import io.micrometer.core.instrument.Tag;
import io.micrometer.core.instrument.Tags;
import io.micrometer.core.instrument.TimeGauge;
import io.micrometer.core.instrument.binder.MeterBinder;

import java.time.Duration;
import java.util.Objects;
import java.util.concurrent.TimeUnit;
import java.util.function.ToDoubleFunction;

/**
 * Micrometer meters for one {@link ReconnectingClient}, read from its {@link ClientStats} snapshot (taken at most
 * once per {@link #SNAPSHOT_MAX_AGE} however many meters a scrape reads).
 *
 * <table>
 *   <caption>Meters (all tagged {@code client} and {@code remote})</caption>
 *   <tr><th>name</th><th>type</th><th>extra tags</th></tr>
 *   <tr><td>{@code keepalive.client.state}</td><td>gauge, 1 for the current state</td><td>{@code state}</td></tr>
 *   <tr><td>{@code keepalive.client.connect.attempts}, {@code .connect.successes}</td><td>counters</td><td></td></tr>
 *   <tr><td>{@code keepalive.client.deaths}</td><td>counter</td><td>{@code reason}</td></tr>
 *   <tr><td>{@code keepalive.client.pings.sent}, {@code .pongs.received}</td><td>counters</td><td></td></tr>
 *   <tr><td>{@code keepalive.client.rtt.last}, {@code .rtt.smoothed}, {@code .rtt.max}</td><td>time gauges
 *       (seconds)</td><td></td></tr>
 *   <tr><td>{@code keepalive.client.disconnected.time}</td><td>time gauge (seconds, cumulative)</td><td></td></tr>
 *   <tr><td>{@code keepalive.client.queued.messages}, {@code .queued.bytes}</td><td>gauges</td><td></td></tr>
 * </table>
 */
public final class ReconnectingClientMetrics implements MeterBinder {
    /** How long one stats snapshot serves the meters of a scrape. */
    public static final Duration SNAPSHOT_MAX_AGE = Duration.ofMillis(500);

    private final ReconnectingClient client;
    private final Tags tags;
    private volatile ClientStats snapshot;
    private volatile long snapshotAt;

    /**
     * @param client the client
     * @param name   the {@code client} tag: which logical connection this is
     * @param remote the {@code remote} tag: the endpoint or service it connects to
     * @param extra  more tags
     */
    public ReconnectingClientMetrics(ReconnectingClient client, String name, String remote, Iterable<Tag> extra) {
        this.client = Objects.requireNonNull(client, "client");
        this.tags = Tags.of(extra).and("client", name, "remote", remote);
    }

    @Override
    public void bindTo(MeterRegistry registry) {
        for (ConnectionState s : ConnectionState.values()) {
            Gauge.builder("keepalive.client.state", this, m -> m.stats().state() == s ? 1 : 0)
                    .description("1 for the client's current state").tags(tags.and("state", s.name()))
                    .register(registry);
        }
        counter(registry, "keepalive.client.connect.attempts", "Connect attempts", s -> s.attempts());
        counter(registry, "keepalive.client.connect.successes", "Connect attempts that connected",
                s -> s.successes());
        counter(registry, "keepalive.client.pings.sent", "Pings sent", s -> s.pingsSent());
        counter(registry, "keepalive.client.pongs.received", "Pongs received", s -> s.pongsReceived());
        for (DeadPeerReason r : DeadPeerReason.values()) {
            FunctionCounter.builder("keepalive.client.deaths", this,
                            m -> m.stats().deaths().getOrDefault(r, 0L).doubleValue())
                    .description("Connections lost, by reason").tags(tags.and("reason", r.name())).register(registry);
        }
        time(registry, "keepalive.client.rtt.last", "Last ping round trip", s -> s.lastRtt());
        time(registry, "keepalive.client.rtt.smoothed", "Smoothed ping round trip", s -> s.smoothedRtt());
        time(registry, "keepalive.client.rtt.max", "Largest ping round trip", s -> s.maxRtt());
        time(registry, "keepalive.client.disconnected.time", "Total time not connected",
                s -> s.disconnectedTime());
        Gauge.builder("keepalive.client.queued.messages", this, m -> m.stats().queuedMessages())
                .description("Sends waiting for a connection").tags(tags).register(registry);
        Gauge.builder("keepalive.client.queued.bytes", this, m -> m.stats().queuedBytes())
                .description("Bytes of sends waiting for a connection").baseUnit("bytes").tags(tags)
                .register(registry);
    }

    private void counter(MeterRegistry registry, String name, String description, ToDoubleFunction<ClientStats> f) {
        FunctionCounter.builder(name, this, m -> f.applyAsDouble(m.stats())).description(description).tags(tags)
                .register(registry);
    }

    private interface DurationOf {
        Duration of(ClientStats stats);
    }

    private void time(MeterRegistry registry, String name, String description, DurationOf f) {
        TimeGauge.builder(name, this, TimeUnit.NANOSECONDS, m -> {
            Duration d = f.of(m.stats());
            return d == null ? Double.NaN : d.toNanos();
        }).description(description).tags(tags).register(registry);
    }

    private ClientStats stats() {
        long now = System.nanoTime();
        ClientStats s = snapshot;
        if (s == null || now - snapshotAt > SNAPSHOT_MAX_AGE.toNanos()) {
            s = client.stats();
            snapshot = s;
            snapshotAt = now;
        }
        return s;
    }
}
