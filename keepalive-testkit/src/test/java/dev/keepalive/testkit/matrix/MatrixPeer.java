package dev.keepalive.testkit.matrix;

import dev.keepalive.KeepaliveListener;
import dev.keepalive.PeerDeadException;
import dev.keepalive.netty.KeepaliveHandler;
import dev.keepalive.testsupport.Transport;
import io.netty.bootstrap.Bootstrap;
import io.netty.bootstrap.ServerBootstrap;
import io.netty.channel.Channel;
import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.ChannelInboundHandlerAdapter;
import io.netty.channel.ChannelInitializer;
import io.netty.channel.ChannelOption;
import io.netty.channel.EventLoopGroup;
import io.netty.channel.socket.SocketChannel;
import io.netty.channel.socket.nio.NioServerSocketChannel;
import io.netty.channel.socket.nio.NioSocketChannel;
import io.netty.util.ReferenceCountUtil;
import java.io.PrintStream;
import java.net.InetSocketAddress;
import java.util.function.Consumer;

/**
 * The peer of the matrix's kernel-lab cases, run inside the lab's namespace by {@code lab.startJava}. It is a
 * server, and optionally a client of servers in the test JVM; everything it does is printed as one line, flushed at
 * once.
 *
 * <pre>
 * MatrixPeer &lt;bind host&gt; [lines-client &lt;host&gt; &lt;port&gt;] [raw-client &lt;host&gt; &lt;port&gt;] ...
 * </pre>
 * <ul>
 *   <li>The server speaks the {@link MatrixApp} protocol with binary framing, behind a {@link KeepaliveHandler}
 *       that only answers pings ({@link MatrixApp#PONG_ONLY}); prints {@code LISTENING <host> <port>},
 *       {@code ACCEPTED <remote>}, {@code RECEIVED <remote> <frame>}, {@code CLOSED <remote>}.</li>
 *   <li>{@code lines-client}: connects with line framing and a pong-only handler (the line probe), so that a server
 *       with a keepalive handler sees a healthy client; prints {@code CONNECTED lines <local port>}.</li>
 *   <li>{@code raw-client}: connects and does nothing; prints {@code CONNECTED raw <local port>}.</li>
 * </ul>
 */
public final class MatrixPeer {
    private MatrixPeer() {
    }

    public static void main(String[] args) throws InterruptedException {
        PrintStream out = System.out;
        Consumer<String> events = line -> {
            synchronized (out) {
                out.println(line);
                out.flush();
            }
        };
        EventLoopGroup group = Transport.NIO.newGroup(1);
        Channel server = new ServerBootstrap().group(group).channel(NioServerSocketChannel.class)
                .childOption(ChannelOption.TCP_NODELAY, true)
                .childHandler(new ChannelInitializer<SocketChannel>() {
                    @Override
                    protected void initChannel(SocketChannel ch) {
                        String remote = String.valueOf(ch.remoteAddress());
                        events.accept("ACCEPTED " + remote);
                        ch.closeFuture().addListener(f -> events.accept("CLOSED " + remote));
                        Framing.BINARY.install(ch.pipeline());
                        ch.pipeline().addLast(handler(Framing.BINARY, events),
                                new MatrixApp.Server(Framing.BINARY, events));
                    }
                })
                .bind(new InetSocketAddress(args[0], 0)).syncUninterruptibly().channel();
        InetSocketAddress a = (InetSocketAddress) server.localAddress();
        events.accept("LISTENING " + a.getAddress().getHostAddress() + " " + a.getPort());

        for (int i = 1; i + 2 < args.length; i += 3) {
            String kind = args[i];
            InetSocketAddress target = new InetSocketAddress(args[i + 1], Integer.parseInt(args[i + 2]));
            Channel ch = new Bootstrap().group(group).channel(NioSocketChannel.class)
                    .option(ChannelOption.TCP_NODELAY, true)
                    .handler(new ChannelInitializer<SocketChannel>() {
                        @Override
                        protected void initChannel(SocketChannel ch) {
                            if (kind.equals("lines-client")) {
                                Framing.LINES.install(ch.pipeline());
                                ch.pipeline().addLast(handler(Framing.LINES, events));
                            } else if (!kind.equals("raw-client")) {
                                throw new IllegalArgumentException("unknown client kind " + kind);
                            }
                            ch.pipeline().addLast(new Discard());
                        }
                    })
                    .connect(target).syncUninterruptibly().channel();
            events.accept("CONNECTED " + kind.replace("-client", "") + " "
                    + ((InetSocketAddress) ch.localAddress()).getPort());
        }
        server.closeFuture().sync();
    }

    private static KeepaliveHandler handler(Framing framing, Consumer<String> events) {
        return KeepaliveHandler.builder(MatrixApp.PONG_ONLY)
                .probe(framing.probe())
                .listener(new KeepaliveListener() {
                    @Override
                    public void onPeerDead(PeerDeadException e) {
                        events.accept("PEER_DEAD " + e.reason() + " " + e.remoteAddress().orElse(null));
                    }
                })
                .build();
    }

    /** Drops whatever reaches the end of a client's pipeline. */
    private static final class Discard extends ChannelInboundHandlerAdapter {
        @Override
        public void channelRead(ChannelHandlerContext ctx, Object msg) {
            ReferenceCountUtil.release(msg);
        }

        @Override
        public void exceptionCaught(ChannelHandlerContext ctx, Throwable cause) {
            ctx.close();
        }
    }
}
