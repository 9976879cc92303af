package dev.keepalive.netty.client;

import dev.keepalive.KeepaliveSettings;
import dev.keepalive.netty.KeepaliveProbe;
import dev.keepalive.reconnect.Backoff;
import dev.keepalive.reconnect.ConnectionEvent;
import dev.keepalive.reconnect.ConnectionState;
import dev.keepalive.reconnect.ReconnectPolicy;
import dev.keepalive.testsupport.LineServer;
import dev.keepalive.testsupport.Transport;
import io.netty.bootstrap.Bootstrap;
import io.netty.channel.EventLoopGroup;
import io.netty.channel.socket.nio.NioSocketChannel;
import io.netty.handler.codec.LineBasedFrameDecoder;
import io.netty.handler.codec.string.StringDecoder;
import io.netty.handler.codec.string.StringEncoder;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Queue;
import java.util.concurrent.ConcurrentLinkedQueue;
import java.util.concurrent.TimeUnit;

import static java.time.Duration.ofMillis;
import static java.time.Duration.ofSeconds;
import static org.awaitility.Awaitility.await;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * A server restart with 1,000 clients on loopback: every client recovers, and the jitter spreads their attempts
 * instead of letting them all dial in the same millisecond.
 */
class ReconnectStormTest {
    private static final int CLIENTS = 1000;
    private static final Duration FIRST_STEP = ofMillis(500);
    private static final Duration DOWNTIME = ofMillis(1500);

    private record Attempt(int client, long at) {
    }

    /** The largest number of times in any 10 ms window, and the span from first to last. */
    private record Spread(int peak, Duration span, String histogram) {
        static Spread of(long[] times) {
            long min = Long.MAX_VALUE;
            long max = Long.MIN_VALUE;
            for (long t : times) {
                min = Math.min(min, t);
                max = Math.max(max, t);
            }
            int[] buckets = new int[(int) ((max - min) / 10_000_000) + 1];
            for (long t : times) {
                buckets[(int) ((t - min) / 10_000_000)]++;
            }
            int peak = 0;
            StringBuilder h = new StringBuilder();
            for (int i = 0; i < buckets.length; i++) {
                peak = Math.max(peak, buckets[i]);
                h.append(buckets[i]).append(i % 25 == 24 ? "\n" : " ");
            }
            return new Spread(peak, Duration.ofNanos(max - min), h.toString());
        }
    }

    private static long[] firstPerClient(Queue<Attempt> attempts) {
        long[] first = new long[CLIENTS];
        boolean[] seen = new boolean[CLIENTS];
        for (Attempt a : attempts) {
            if (!seen[a.client()]) {
                seen[a.client()] = true;
                first[a.client()] = a.at();
            }
        }
        for (int i = 0; i < CLIENTS; i++) {
            assertTrue(seen[i], "client " + i + " attempted again");
        }
        return first;
    }

    @Test
    @Timeout(120)
    void serverRestartWithAThousandClients() throws Exception {
        EventLoopGroup group = Transport.NIO.newGroup(2);
        LineServer server = new LineServer(group, KeepaliveSettings.defaults()).start();
        List<ReconnectingClient> clients = new ArrayList<>();
        Queue<Attempt> attempts = new ConcurrentLinkedQueue<>();
        Queue<Attempt> planned = new ConcurrentLinkedQueue<>();
        ReconnectPolicy policy = ReconnectPolicy.builder()
                .backoff(Backoff.exponentialFullJitter(FIRST_STEP, ofSeconds(4))).build();
        try {
            for (int i = 0; i < CLIENTS; i++) {
                int id = i;
                clients.add(ReconnectingClient.builder(new Bootstrap().group(group).channel(NioSocketChannel.class))
                        .endpoints(List.of(server.address()))
                        .pipeline((ch, keepalive) -> ch.pipeline().addLast(new LineBasedFrameDecoder(1024),
                                new StringDecoder(StandardCharsets.UTF_8), new StringEncoder(StandardCharsets.UTF_8),
                                keepalive))
                        .keepalive(KeepaliveSettings.defaults(), KeepaliveProbe.lines())
                        .policy(policy)
                        .listener(e -> {
                            if (e.type() == ConnectionEvent.Type.CONNECTING) {
                                attempts.add(new Attempt(id, System.nanoTime()));
                            } else if (e.type() == ConnectionEvent.Type.RECONNECTING) {
                                planned.add(new Attempt(id, System.nanoTime() + e.delay().toNanos()));
                            }
                        })
                        .build().start());
            }
            await().atMost(ofSeconds(60)).until(() -> server.connections() == CLIENTS
                    && clients.stream().allMatch(c -> c.state() == ConnectionState.CONNECTED));
            attempts.clear();
            planned.clear();

            server.stop();
            await().atMost(ofSeconds(10)).until(() -> clients.stream()
                    .noneMatch(c -> c.state() == ConnectionState.CONNECTED));
            await().pollDelay(DOWNTIME).atMost(DOWNTIME.plusSeconds(5)).until(() -> true);
            server.start();
            await().atMost(ofSeconds(60)).until(() -> clients.stream()
                    .allMatch(c -> c.state() == ConnectionState.CONNECTED));

            // Every client recovered.
            for (ReconnectingClient c : clients) {
                assertEquals(2, c.stats().successes());
            }
            // The first attempt of each client after the crash, as the backoff planned it and as it happened.
            long[] firstPlanned = firstPerClient(planned);
            long[] firstActual = firstPerClient(attempts);
            Spread plan = Spread.of(firstPlanned);
            Spread actual = Spread.of(firstActual);
            System.out.printf("reconnect storm: %d clients; planned first attempts over %d ms, peak %d per 10 ms; "
                            + "actual over %d ms, peak %d per 10 ms; %d attempts in all%nplanned:%n%s%nactual:%n%s%n",
                    CLIENTS, plan.span().toMillis(), plan.peak(), actual.span().toMillis(), actual.peak(),
                    attempts.size(), plan.histogram(), actual.histogram());
            // Full jitter over a 500 ms step puts about 20 clients in each 10 ms window; without jitter all 1,000
            // would dial together. The plan: a peak of at most 6 % and a spread of at least 60 % of the step.
            assertTrue(plan.peak() <= CLIENTS * 6 / 100, "busiest planned 10 ms window: " + plan.peak());
            assertTrue(plan.span().compareTo(FIRST_STEP.multipliedBy(6).dividedBy(10)) >= 0,
                    "planned first attempts spread over " + plan.span().toMillis() + " ms");
            // What happened: two event loops also close and accept 2,000 sockets here, so timers fire in batches;
            // still no window may hold more than 12 % of the clients.
            assertTrue(actual.peak() <= CLIENTS * 12 / 100, "busiest actual 10 ms window: " + actual.peak());
        } finally {
            for (ReconnectingClient c : clients) {
                c.closeAsync();
            }
            server.stop();
            group.shutdownGracefully(0, 2, TimeUnit.SECONDS).sync();
        }
    }
}
