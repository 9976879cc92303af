package check;

import dev.keepalive.DeadPeerReason;
import dev.keepalive.netty.KeepaliveHandler;
import dev.keepalive.testkit.FaultLabExtension;
import dev.keepalive.testkit.FirewallProxy;
import dev.keepalive.testkit.FirewallProxyFactory;
import dev.keepalive.testkit.Flow;
import io.netty.bootstrap.Bootstrap;
import io.netty.bootstrap.ServerBootstrap;
import io.netty.channel.Channel;
import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.ChannelInboundHandlerAdapter;
import io.netty.channel.EventLoopGroup;
import io.netty.channel.MultiThreadIoEventLoopGroup;
import io.netty.channel.nio.NioIoHandler;
import io.netty.channel.socket.nio.NioServerSocketChannel;
import io.netty.channel.socket.nio.NioSocketChannel;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.ExtendWith;
import snippets.KeepalivePipeline;

import java.net.InetSocketAddress;
import java.time.Duration;
import java.util.List;
import java.util.concurrent.CopyOnWriteArrayList;

import static org.awaitility.Awaitility.await;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** The README's pipeline on both ends, through the testkit's proxy: alive while idle, dead within the bound. */
@ExtendWith(FaultLabExtension.class)
class PipelineBehindFirewallTest {
    private final EventLoopGroup group = new MultiThreadIoEventLoopGroup(2, NioIoHandler.newFactory());

    @AfterEach
    void shutDown() {
        group.shutdownGracefully(0, 1, java.util.concurrent.TimeUnit.SECONDS).syncUninterruptibly();
    }

    @Test
    void anIdlePeerStaysAliveAndABlackHoledOneIsDeadWithinTheBound(FirewallProxyFactory proxies) throws Exception {
        assertEquals(System.getProperty("junit.expected"), Test.class.getPackage().getImplementationVersion(),
                "the JUnit this run is meant to use");
        Channel server = new ServerBootstrap().group(group).channel(NioServerSocketChannel.class)
                .childHandler(new KeepalivePipeline(Deadlines.FAST))
                .bind(new InetSocketAddress("127.0.0.1", 0)).sync().channel();
        FirewallProxy proxy = proxies.start((InetSocketAddress) server.localAddress());
        Channel client = new Bootstrap().group(group).channel(NioSocketChannel.class)
                .handler(new KeepalivePipeline(Deadlines.FAST))
                .connect(proxy.address()).sync().channel();
        Flow flow = proxy.awaitFlow(0, Duration.ofSeconds(5));
        // Behind the snippet's last handler: whatever it lets through would reach Netty's tail (and its WARN).
        List<Throwable> reachedTheTail = new CopyOnWriteArrayList<>();
        client.pipeline().addLast(new ChannelInboundHandlerAdapter() {
            @Override
            public void exceptionCaught(ChannelHandlerContext ctx, Throwable cause) {
                reachedTheTail.add(cause);
            }
        });
        KeepaliveHandler keepalive = client.pipeline().get(KeepaliveHandler.class);
        assertNotNull(keepalive.effectiveTcpOptions(), "TCP options read back once connect() completed");

        // Idle for longer than the bound: pings answered, nobody convicted. Whichever end pings first keeps the
        // other's inbound busy, so the pings may all be the server's.
        Duration bound = Deadlines.FAST.idleDetectionBound();
        await().during(bound.plusMillis(500)).atMost(bound.plusSeconds(2)).until(client::isActive);
        assertTrue(keepalive.stats().pongsReceived() + keepalive.stats().peerPingsReceived() >= 1,
                () -> "pings exchanged while idle: " + keepalive.stats());

        long start = System.nanoTime();
        flow.blackHole();
        await().atMost(bound.plus(Deadlines.TOLERANCE)).until(() -> !client.isActive());
        Duration detection = Duration.ofNanos(System.nanoTime() - start);
        assertEquals(DeadPeerReason.PING_TIMEOUT, keepalive.deadCause().reason());
        assertEquals(List.of(), reachedTheTail, "MyProtocolHandler handles the PeerDeadException");
        System.out.println("consumer check: black hole found after " + detection.toMillis() + " ms (bound "
                + bound.toMillis() + " ms)");
        server.close().sync();
    }
}
