package check;

import dev.keepalive.DeadPeerReason;
import dev.keepalive.PeerDeadException;
import dev.keepalive.netty.KeepaliveHandler;
import dev.keepalive.testkit.FaultLabExtension;
import dev.keepalive.testkit.FirewallProxy;
import dev.keepalive.testkit.FirewallProxyFactory;
import dev.keepalive.testkit.Flow;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.ExtendWith;
import reactor.netty.Connection;
import reactor.netty.DisposableServer;
import snippets.ReactorNettyKeepaliveAccess;

import java.net.InetSocketAddress;
import java.time.Duration;
import java.util.concurrent.atomic.AtomicReference;

import static org.awaitility.Awaitility.await;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** The README's Reactor Netty snippet: a TcpServer and a TcpClient keep an idle connection, and find a dead one. */
@ExtendWith(FaultLabExtension.class)
class ReactorNettyTest {
    @Test
    void tcpClientAndServerPingEachOtherAndFindABlackHole(FirewallProxyFactory proxies) {
        DisposableServer server = ReactorNettyKeepaliveAccess.server(Deadlines.FAST).host("127.0.0.1").port(0)
                .handle((in, out) -> in.receive().then()).bindNow();
        AtomicReference<Throwable> inboundError = new AtomicReference<>();
        try {
            FirewallProxy proxy = proxies.start((InetSocketAddress) server.address());
            Connection client = ReactorNettyKeepaliveAccess.client(Deadlines.FAST)
                    .remoteAddress(proxy::address)
                    .handle((in, out) -> in.receive().doOnError(inboundError::set).then())
                    .connectNow(Duration.ofSeconds(5));
            Flow flow = proxy.awaitFlow(0, Duration.ofSeconds(5));
            // doOnConnected runs on the event loop, and may still be running when connectNow() returns.
            KeepaliveHandler keepalive = await().atMost(Duration.ofSeconds(5))
                    .until(() -> client.channel().pipeline().get(KeepaliveHandler.class), h -> h != null);

            Duration bound = Deadlines.FAST.idleDetectionBound();
            await().during(bound.plusMillis(500)).atMost(bound.plusSeconds(2)).until(() -> !client.isDisposed());
            // Whichever end pings first keeps the other's inbound busy, so the pings may all be the server's.
            assertTrue(keepalive.stats().pongsReceived() + keepalive.stats().peerPingsReceived() >= 1,
                    () -> "pings exchanged while idle: " + keepalive.stats());

            flow.blackHole();
            await().atMost(bound.plus(Deadlines.TOLERANCE)).until(client::isDisposed);
            assertEquals(DeadPeerReason.PING_TIMEOUT, keepalive.deadCause().reason());
            await().atMost(Duration.ofSeconds(1)).until(() -> inboundError.get() != null);
            assertInstanceOf(PeerDeadException.class, inboundError.get());
        } finally {
            server.disposeNow();
        }
    }
}
