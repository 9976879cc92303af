package dev.keepalive.testkit.session;

import dev.keepalive.KeepaliveSettings;
import dev.keepalive.netty.KeepaliveHandler;
import dev.keepalive.netty.KeepaliveProbe;
import dev.keepalive.netty.client.ReconnectingClient;
import dev.keepalive.netty.session.ClientSession;
import dev.keepalive.netty.session.ServerSessions;
import dev.keepalive.reconnect.Backoff;
import dev.keepalive.reconnect.ConnectionEvent;
import dev.keepalive.reconnect.DisconnectedWrites;
import dev.keepalive.reconnect.ReconnectPolicy;
import io.netty.bootstrap.Bootstrap;
import io.netty.bootstrap.ServerBootstrap;
import io.netty.buffer.ByteBuf;
import io.netty.buffer.Unpooled;
import io.netty.channel.Channel;
import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.ChannelInboundHandlerAdapter;
import io.netty.channel.ChannelInitializer;
import io.netty.channel.ChannelOption;
import io.netty.channel.EventLoopGroup;
import io.netty.channel.socket.nio.NioServerSocketChannel;
import io.netty.channel.socket.nio.NioSocketChannel;
import io.netty.handler.codec.LengthFieldBasedFrameDecoder;
import io.netty.handler.codec.LengthFieldPrepender;
import io.netty.channel.group.ChannelGroup;
import io.netty.channel.group.DefaultChannelGroup;
import io.netty.util.ReferenceCountUtil;
import io.netty.util.concurrent.GlobalEventExecutor;

import java.net.InetSocketAddress;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CopyOnWriteArrayList;

import static java.time.Duration.ofMillis;
import static java.time.Duration.ofSeconds;

/**
 * A session server that answers each client message {@code c<n>} with {@code s<n>}, and a reconnecting session
 * client, both over length-prefixed binary frames with the binary probe. The client checks both directions: a
 * message the server lost, or delivered twice, shows as a missing or repeated {@code s<n>}.
 */
final class SessionPeers {
    static final KeepaliveSettings KEEPALIVE = KeepaliveSettings.builder().detectWithin(ofMillis(1500))
            .tcpKeepAlive(false).pingJitter(0).build();
    static final ReconnectPolicy POLICY = ReconnectPolicy.builder()
            .backoff(Backoff.exponentialFullJitter(ofMillis(20), ofMillis(200))).connectTimeout(ofSeconds(2)).build();

    private SessionPeers() {
    }

    static ByteBuf buf(String s) {
        return Unpooled.copiedBuffer(s, StandardCharsets.UTF_8);
    }

    /** A listening server and its connections. */
    record Server(Channel parent, ChannelGroup children) implements AutoCloseable {
        InetSocketAddress address() {
            return (InetSocketAddress) parent.localAddress();
        }

        /** Stops listening and closes every connection (the sessions are detached into the store). */
        @Override
        public void close() {
            parent.close().syncUninterruptibly();
            children.close().syncUninterruptibly();
        }
    }

    /** The server end; {@code received} gets each client message in delivery order. */
    static Server server(EventLoopGroup group, InetSocketAddress bind, ServerSessions sessions,
                         List<String> received) {
        return server(group, bind, sessions, received, KEEPALIVE);
    }

    /** As {@link #server(EventLoopGroup, InetSocketAddress, ServerSessions, List)}, watching with {@code keepalive}. */
    static Server server(EventLoopGroup group, InetSocketAddress bind, ServerSessions sessions,
                         List<String> received, KeepaliveSettings keepalive) {
        ChannelGroup children = new DefaultChannelGroup(GlobalEventExecutor.INSTANCE);
        Channel parent = new ServerBootstrap().group(group).channel(NioServerSocketChannel.class)
                .option(ChannelOption.SO_REUSEADDR, true) // a server started again binds its predecessor's port
                .childHandler(new ChannelInitializer<Channel>() {
                    @Override
                    protected void initChannel(Channel ch) {
                        children.add(ch);
                        ch.pipeline().addLast(new LengthFieldBasedFrameDecoder(1 << 20, 0, 4, 0, 4),
                                new LengthFieldPrepender(4),
                                KeepaliveHandler.builder(keepalive).probe(KeepaliveProbe.binary()).build(),
                                sessions.newHandler(), new Answering(received));
                    }
                }).bind(bind).syncUninterruptibly().channel();
        return new Server(parent, children);
    }

    /** Records {@code c<n>} and answers {@code s<n>} on the same connection. */
    static final class Answering extends ChannelInboundHandlerAdapter {
        private final List<String> received;

        Answering(List<String> received) {
            this.received = received;
        }

        @Override
        public void channelRead(ChannelHandlerContext ctx, Object msg) {
            String text = ((ByteBuf) msg).toString(StandardCharsets.UTF_8);
            ReferenceCountUtil.release(msg);
            received.add(text);
            if (text.startsWith("c")) {
                ctx.writeAndFlush(buf("s" + text.substring(1)));
            }
        }

        @Override
        public void exceptionCaught(ChannelHandlerContext ctx, Throwable cause) {
            ctx.close();
        }
    }

    /** The client end: a session over a reconnecting client; {@link #received} gets each server message. */
    static final class Client implements AutoCloseable {
        final ClientSession session;
        final ReconnectingClient client;
        final List<String> received = new CopyOnWriteArrayList<>();
        final List<ConnectionEvent> events = new CopyOnWriteArrayList<>();

        Client(EventLoopGroup group, List<InetSocketAddress> endpoints, ClientSession session) {
            this.session = session;
            this.client = ReconnectingClient.builder(new Bootstrap().group(group).channel(NioSocketChannel.class))
                    .endpoints(endpoints)
                    .pipeline((ch, keepalive) -> ch.pipeline().addLast(
                            new LengthFieldBasedFrameDecoder(1 << 20, 0, 4, 0, 4), new LengthFieldPrepender(4),
                            keepalive, session.newHandler(), new ChannelInboundHandlerAdapter() {
                                @Override
                                public void channelRead(ChannelHandlerContext ctx, Object msg) {
                                    received.add(((ByteBuf) msg).toString(StandardCharsets.UTF_8));
                                    ReferenceCountUtil.release(msg);
                                }
                            }))
                    .keepalive(KEEPALIVE, KeepaliveProbe.binary())
                    .policy(POLICY)
                    .onConnected(session::resume)
                    .confirmReads(false)
                    .whileDisconnected(DisconnectedWrites.queue(100_000, 64 << 20, Duration.ofMinutes(2)))
                    .listener(events::add)
                    .build();
            client.start();
        }

        long connects() {
            return events.stream().filter(e -> e.type() == ConnectionEvent.Type.CONNECTED).count();
        }

        @Override
        public void close() {
            client.close();
            session.close();
        }
    }

    static List<String> numbered(String prefix, int from, int to) {
        List<String> out = new ArrayList<>();
        for (int i = from; i <= to; i++) {
            out.add(prefix + i);
        }
        return out;
    }
}
