package dev.keepalive.samples;

import dev.keepalive.KeepaliveListener;
import dev.keepalive.KeepaliveSettings;
import dev.keepalive.PeerDeadException;
import dev.keepalive.netty.KeepaliveHandler;
import dev.keepalive.netty.KeepaliveProbe;
import dev.keepalive.testkit.Fault;
import dev.keepalive.testkit.FirewallProxy;
import io.netty.bootstrap.Bootstrap;
import io.netty.bootstrap.ServerBootstrap;
import io.netty.channel.Channel;
import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.ChannelInitializer;
import io.netty.channel.EventLoopGroup;
import io.netty.channel.MultiThreadIoEventLoopGroup;
import io.netty.channel.SimpleChannelInboundHandler;
import io.netty.channel.nio.NioIoHandler;
import io.netty.channel.socket.SocketChannel;
import io.netty.channel.socket.nio.NioServerSocketChannel;
import io.netty.channel.socket.nio.NioSocketChannel;
import io.netty.handler.codec.LineBasedFrameDecoder;
import io.netty.handler.codec.string.StringDecoder;
import io.netty.handler.codec.string.StringEncoder;

import java.io.PrintStream;
import java.net.InetSocketAddress;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.concurrent.BlockingQueue;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.TimeUnit;

/**
 * One process, no root: an echo server behind an emulated stateful firewall that forgets flows idle for 2 s, and two
 * clients — one plain, one with {@link KeepaliveHandler}. It shows the plain client losing its flow while it thinks
 * it is connected, and the keepalive client keeping its flow and then detecting a crashed peer within its bound.
 */
final class Demo {
    private static final Duration FIREWALL_IDLE = Duration.ofSeconds(2);
    private static final Duration ANSWER_WAIT = Duration.ofMillis(1500);

    private final PrintStream out = System.out;
    private final long start = System.nanoTime();

    int run(String[] args) throws Exception {
        EventLoopGroup group = new MultiThreadIoEventLoopGroup(2, NioIoHandler.newFactory());
        KeepaliveSettings settings = KeepaliveSettings.builder()
                .detectWithin(Duration.ofSeconds(3))
                .middleboxIdleTimeout(FIREWALL_IDLE)
                .build();
        // The server answers pings and would find dead clients after a minute; it does not ping within the demo.
        KeepaliveSettings serverSettings = KeepaliveSettings.builder().pingInterval(Duration.ofSeconds(60)).build();
        try {
            Channel server = new ServerBootstrap().group(group).channel(NioServerSocketChannel.class)
                    .childHandler(new ChannelInitializer<SocketChannel>() {
                        @Override
                        protected void initChannel(SocketChannel ch) {
                            lines(ch);
                            ch.pipeline().addLast(KeepaliveHandler.builder(serverSettings)
                                    .probe(KeepaliveProbe.lines()).build(), new Echo());
                        }
                    }).bind(new InetSocketAddress("127.0.0.1", 0)).sync().channel();
            try (FirewallProxy firewall = FirewallProxy.builder((InetSocketAddress) server.localAddress())
                    .forgetIdleFlowsAfter(FIREWALL_IDLE).start()) {
                say("echo server on %s, behind a stateful firewall at %s that forgets flows idle for %d s",
                        server.localAddress(), firewall.address(), FIREWALL_IDLE.toSeconds());
                say("keepalive settings: %s", settings);

                Client plain = new Client("plain", group, firewall.address(), null);
                CompletableFuture<PeerDeadException> dead = new CompletableFuture<>();
                Client kept = new Client("keepalive", group, firewall.address(),
                        KeepaliveHandler.builder(settings).probe(KeepaliveProbe.lines())
                                .listener(new KeepaliveListener() {
                                    @Override
                                    public void onPeerDead(PeerDeadException e) {
                                        dead.complete(e);
                                    }
                                }).build());

                say("1. both clients say hello");
                boolean plainHello = plain.ask("hello");
                boolean keptHello = kept.ask("hello");

                Duration idle = FIREWALL_IDLE.plusSeconds(1);
                say("2. both stay idle for %d s, longer than the firewall remembers idle flows", idle.toSeconds());
                sleepVisibly(idle);

                say("3. both speak again");
                boolean plainAfterIdle = plain.ask("still there?");
                boolean keptAfterIdle = kept.ask("still there?");
                say("   plain client: channel open=%s — it believes it is connected, but the firewall dropped its "
                        + "flow", plain.channel.isOpen());

                say("4. the server's host crashes (every packet is dropped from now on)");
                long crash = System.nanoTime();
                firewall.injectAll(Fault.blackHole());
                PeerDeadException e = dead.get(settings.idleDetectionBound().toMillis() + 5000, TimeUnit.MILLISECONDS);
                Duration detected = Duration.ofNanos(System.nanoTime() - crash);
                say("   keepalive client: peer declared dead after %d ms (%s; bound %d ms from the last byte)",
                        detected.toMillis(), e.reason(), settings.idleDetectionBound().toMillis());
                say("   plain client: channel open=%s — it would wait for the kernel (2 h 11 min idle)",
                        plain.channel.isOpen());

                say("");
                say("summary               plain   keepalive");
                say("hello answered        %-7s %s", plainHello, keptHello);
                say("answered after idle   %-7s %s", plainAfterIdle, keptAfterIdle);
                say("crash detected        %-7s %s", !plain.channel.isOpen(), e != null);
                boolean asExpected = plainHello && keptHello && !plainAfterIdle && keptAfterIdle
                        && plain.channel.isOpen();
                say(asExpected ? "demo finished as expected" : "demo did NOT behave as expected");
                plain.channel.close().sync();
                return asExpected ? 0 : 1;
            } finally {
                server.close().sync();
            }
        } finally {
            group.shutdownGracefully(0, 1, TimeUnit.SECONDS).sync();
        }
    }

    private static void lines(SocketChannel ch) {
        ch.pipeline().addLast(new LineBasedFrameDecoder(1024), new StringDecoder(StandardCharsets.UTF_8),
                new StringEncoder(StandardCharsets.UTF_8));
    }

    private void say(String format, Object... args) {
        long ms = TimeUnit.NANOSECONDS.toMillis(System.nanoTime() - start);
        out.printf("[%6.2f s] %s%n", ms / 1000.0, String.format(format, args));
    }

    private void sleepVisibly(Duration d) throws InterruptedException {
        // A demo waits in real time on purpose: it shows what happens while a connection sits idle.
        Thread.sleep(d.toMillis());
    }

    /** Answers each line with "echo: " and the line. */
    private static final class Echo extends SimpleChannelInboundHandler<String> {
        @Override
        protected void channelRead0(ChannelHandlerContext ctx, String line) {
            ctx.writeAndFlush("echo: " + line + "\n");
        }

        @Override
        public void exceptionCaught(ChannelHandlerContext ctx, Throwable cause) {
            ctx.close(); // a dead client (PeerDeadException) or a broken connection: let it go
        }
    }

    private final class Client {
        final String name;
        final Channel channel;
        final BlockingQueue<String> answers = new LinkedBlockingQueue<>();

        Client(String name, EventLoopGroup group, InetSocketAddress address, KeepaliveHandler keepalive)
                throws InterruptedException {
            this.name = name;
            this.channel = new Bootstrap().group(group).channel(NioSocketChannel.class)
                    .handler(new ChannelInitializer<SocketChannel>() {
                        @Override
                        protected void initChannel(SocketChannel ch) {
                            lines(ch);
                            if (keepalive != null) {
                                ch.pipeline().addLast(keepalive);
                            }
                            ch.pipeline().addLast(new SimpleChannelInboundHandler<String>() {
                                @Override
                                protected void channelRead0(ChannelHandlerContext ctx, String line) {
                                    answers.add(line);
                                }

                                @Override
                                public void exceptionCaught(ChannelHandlerContext ctx, Throwable cause) {
                                    ctx.close();
                                }
                            });
                        }
                    }).connect(address).sync().channel();
        }

        boolean ask(String line) throws InterruptedException {
            channel.writeAndFlush(line + "\n");
            String answer = answers.poll(ANSWER_WAIT.toMillis(), TimeUnit.MILLISECONDS);
            say("   %-9s sent \"%s\" -> %s", name, line,
                    answer == null ? "no answer within " + ANSWER_WAIT.toMillis() + " ms" : "\"" + answer + "\"");
            return answer != null;
        }
    }
}
