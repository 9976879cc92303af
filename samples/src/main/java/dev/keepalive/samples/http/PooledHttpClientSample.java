package dev.keepalive.samples.http;

import dev.keepalive.KeepaliveSettings;
import dev.keepalive.netty.KeepaliveHandler;
import dev.keepalive.netty.http.Http1Probe;
import dev.keepalive.testkit.FirewallProxy;
import dev.keepalive.testkit.Flow;
import dev.keepalive.testkit.FlowState;
import io.netty.channel.EventLoopGroup;
import io.netty.channel.MultiThreadIoEventLoopGroup;
import io.netty.channel.nio.NioIoHandler;
import io.netty.util.NetUtil;

import java.io.PrintStream;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;

/**
 * The pooled HTTP/1.1 connection that a firewall forgot while it sat idle, and how {@link Http1Probe} prevents it.
 *
 * <p>One process, no root: a small HTTP server behind an emulated stateful firewall ({@link FirewallProxy}) that
 * forgets flows idle for {@value #FIREWALL_IDLE_SECONDS} s and then drops their packets silently, as an Azure load
 * balancer does after 4 minutes. Three clients each keep one connection in a pool and reuse it:
 * <ul>
 *   <li>{@code plain}: no keepalive. After the idle time the pool hands out the forgotten connection, which still
 *       looks open; the request hangs until the response timeout (with a firewall that answers with a reset, it
 *       fails with "connection reset" or Reactor Netty's {@code PrematureCloseException} instead);</li>
 *   <li>{@code probe}: {@link KeepaliveHandler} with {@link Http1Probe}, which sends {@code HEAD /} on the idle
 *       connection before the firewall forgets it; the same connection answers after the idle time;</li>
 *   <li>{@code eviction}: {@code Http1Probe.builder().idleEviction(true)}, which closes the idle connection before
 *       the firewall forgets it; the pool opens a fresh one for the next request.</li>
 * </ul>
 * It prints a timeline and exits with 0 if everything went as described, 1 otherwise:
 * <pre>
 * java -cp samples/target/keepalive-chat.jar dev.keepalive.samples.http.PooledHttpClientSample
 * </pre>
 */
public final class PooledHttpClientSample {
    static final int FIREWALL_IDLE_SECONDS = 3;
    private static final Duration FIREWALL_IDLE = Duration.ofSeconds(FIREWALL_IDLE_SECONDS);
    /** Longer than the firewall remembers an idle flow. */
    private static final Duration IDLE = FIREWALL_IDLE.plusSeconds(1);
    private static final Duration RESPONSE_TIMEOUT = Duration.ofSeconds(2);

    private final PrintStream out;
    private Timeline timeline;

    PooledHttpClientSample(PrintStream out) {
        this.out = out;
    }

    public static void main(String[] args) throws Exception {
        System.exit(new PooledHttpClientSample(System.out).run());
    }

    /** Runs the sample; returns the exit status: 0 if every expectation held. */
    int run() throws Exception {
        timeline = new Timeline(out);
        KeepaliveSettings settings = KeepaliveSettings.builder()
                .middleboxIdleTimeout(FIREWALL_IDLE)     // a probe after at most half of it: 1.5 s of silence
                .pingTimeout(Duration.ofSeconds(1))
                .build();
        EventLoopGroup group = new MultiThreadIoEventLoopGroup(2, NioIoHandler.newFactory());
        try (OrdersServer server = OrdersServer.start(group);
             FirewallProxy firewall = FirewallProxy.builder(server.address()).forgetIdleFlowsAfter(FIREWALL_IDLE)
                     .start();
             PooledClient plain = new PooledClient("plain", group, firewall.address(), settings, null,
                     "(unexpected)", timeline);
             PooledClient probe = new PooledClient("probe", group, firewall.address(), settings,
                     Http1Probe.create(), "(unexpected)", timeline);
             PooledClient eviction = new PooledClient("eviction", group, firewall.address(), settings,
                     Http1Probe.builder().idleEviction(true).build(),
                     "by Http1Probe's idle eviction, before the firewall forgets it", timeline)) {
            say("orders server on %s, behind a stateful firewall on %s that forgets flows idle for %d s",
                    NetUtil.toSocketAddressString(server.address()), NetUtil.toSocketAddressString(firewall.address()),
                    FIREWALL_IDLE.toSeconds());
            say("three HTTP/1.1 clients, each with a connection pool that keeps its connection alive and reuses it:");
            say("   plain     no keepalive");
            say("   probe     KeepaliveHandler + Http1Probe.create(): HEAD / after %d ms of silence",
                    settings.pingInterval().toMillis());
            say("   eviction  KeepaliveHandler + Http1Probe.builder().idleEviction(true): closes connections idle "
                    + "for %d ms", settings.pingInterval().toMillis());

            say("1. each client sends GET /orders/1");
            PooledClient.Result plain1 = request(plain, "/orders/1");
            PooledClient.Result probe1 = request(probe, "/orders/1");
            PooledClient.Result eviction1 = request(eviction, "/orders/1");

            say("2. all three sit idle for %d s, longer than the firewall remembers an idle flow", IDLE.toSeconds());
            Thread.sleep(IDLE.toMillis()); // the point of the sample: real idle time
            FlowState plainFlow = flowState(firewall, plain1.port());
            FlowState probeFlow = flowState(firewall, probe1.port());
            FlowState evictionFlow = flowState(firewall, eviction1.port());
            say("   firewall  plain's flow :%d %s, probe's :%d %s, eviction's :%d %s", plain1.port(), plainFlow,
                    probe1.port(), probeFlow, eviction1.port(), evictionFlow);
            int evicted = eviction.closedConnections();
            int probesWhileIdle = probe.pongs();

            say("3. each client sends GET /orders/2 on the connection its pool hands out");
            PooledClient.Result plain2 = request(plain, "/orders/2");
            if (!plain2.answered()) {
                say("   plain     (the connection looked open: %s; the firewall had forgotten its flow)",
                        plain2.openWhenGivenUp());
            }
            PooledClient.Result probe2 = request(probe, "/orders/2");
            PooledClient.Result eviction2 = request(eviction, "/orders/2");
            say("4. plain retries GET /orders/2 (safe: GET is idempotent)");
            PooledClient.Result plain3 = request(plain, "/orders/2");

            List<String> failed = new ArrayList<>();
            expect(failed, plain1.answered() && probe1.answered() && eviction1.answered(),
                    "every client's first request is answered");
            expect(failed, plainFlow == FlowState.FORGOTTEN && !plain2.answered() && plain2.reused()
                            && plain2.openWhenGivenUp(),
                    "plain: the firewall forgets the idle flow; the request on the pooled connection gets no "
                            + "answer while the connection looks open");
            expect(failed, plain3.answered() && !plain3.reused(), "plain: the retry on a new connection is answered");
            expect(failed, probeFlow == FlowState.OPEN && probesWhileIdle >= IDLE.dividedBy(FIREWALL_IDLE)
                            && probe2.answered() && probe2.reused() && probe2.port() == probe1.port(),
                    "probe: the probe keeps the flow; the same connection answers after the idle time");
            expect(failed, evicted == 1 && eviction2.answered() && !eviction2.reused(),
                    "eviction: the idle connection is retired; the next request is answered on a new one");

            say("");
            say("summary                        plain            probe            eviction");
            say("answered after the idle time   %-16s %-16s %s", answered(plain2), answered(probe2),
                    answered(eviction2));
            say("connection after the idle time %-16s %-16s %s", reuse(plain2), reuse(probe2), reuse(eviction2));
            say("probes answered while idle     %-16s %-16s %s", "-", probesWhileIdle, "-");
            if (failed.isEmpty()) {
                say("sample finished as expected");
                return 0;
            }
            for (String f : failed) {
                say("NOT as expected: %s", f);
            }
            return 1;
        } finally {
            group.shutdownGracefully(0, 1, TimeUnit.SECONDS).sync();
        }
    }

    private PooledClient.Result request(PooledClient client, String path) throws InterruptedException {
        long start = System.nanoTime();
        PooledClient.Result r = client.get(path, RESPONSE_TIMEOUT);
        say("   %-9s GET %s -> %s, %d ms", client.name(), path, r,
                TimeUnit.NANOSECONDS.toMillis(System.nanoTime() - start));
        return r;
    }

    private static FlowState flowState(FirewallProxy firewall, int clientPort) {
        for (Flow flow : firewall.flows()) {
            if (flow.clientAddress().getPort() == clientPort) {
                return flow.state();
            }
        }
        return null;
    }

    private static String answered(PooledClient.Result r) {
        return r.answered() ? "yes" : "no (timed out)";
    }

    private static String reuse(PooledClient.Result r) {
        return (r.reused() ? "reused :" : "new :") + r.port();
    }

    private static void expect(List<String> failed, boolean holds, String expectation) {
        if (!holds) {
            failed.add(expectation);
        }
    }

    private void say(String format, Object... args) {
        timeline.say(format, args);
    }
}
