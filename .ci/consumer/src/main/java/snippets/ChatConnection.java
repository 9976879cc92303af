package snippets;

import dev.keepalive.KeepaliveSettings;
import dev.keepalive.netty.KeepaliveProbe;
import dev.keepalive.netty.client.ReconnectingClient;
import dev.keepalive.reconnect.Backoff;
import dev.keepalive.reconnect.DisconnectedWrites;
import dev.keepalive.reconnect.ReconnectPolicy;
import io.netty.bootstrap.Bootstrap;
import io.netty.channel.Channel;
import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.EventLoopGroup;
import io.netty.channel.SimpleChannelInboundHandler;
import io.netty.channel.socket.nio.NioSocketChannel;
import io.netty.handler.codec.LineBasedFrameDecoder;
import io.netty.handler.codec.string.StringDecoder;
import io.netty.handler.codec.string.StringEncoder;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import java.net.InetSocketAddress;
import java.time.Duration;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionStage;

import static java.nio.charset.StandardCharsets.UTF_8;

final class ChatConnection {
    private static final Logger log = LoggerFactory.getLogger(ChatConnection.class);

    static ReconnectingClient start(EventLoopGroup group, KeepaliveSettings settings) {
        return ReconnectingClient.builder(new Bootstrap().group(group).channel(NioSocketChannel.class))
                .endpoints(List.of(InetSocketAddress.createUnresolved("chat-1", 7000),   // resolved again per attempt
                                   InetSocketAddress.createUnresolved("chat-2", 7000)))  // failover
                .pipeline((ch, keepalive) -> ch.pipeline().addLast(
                        new LineBasedFrameDecoder(8192), new StringDecoder(UTF_8), new StringEncoder(UTF_8),
                        keepalive, new ChatHandler()))
                .keepalive(settings, KeepaliveProbe.lines())
                .policy(ReconnectPolicy.builder()
                        .backoff(Backoff.exponentialFullJitter(Duration.ofMillis(100), Duration.ofSeconds(30)))
                        .connectTimeout(Duration.ofSeconds(5))
                        .build())
                .onConnected(ch -> login(ch))          // completes before any queued send goes out
                .whileDisconnected(DisconnectedWrites.queue(10_000, 16 << 20, Duration.ofSeconds(30)))
                .acknowledgements(msg -> idOf(msg), in -> ackIdOf(in))   // optional: at-least-once re-send
                .build()
                .start();                              // logs one INFO line per state change
    }

    static void say(ReconnectingClient client, String line) {
        client.send(line).whenComplete((ok, error) -> {       // every future completes, failures say why
            if (error != null) {
                log.warn("not delivered: {}", line, error);
            }
        });
    }

    // Placeholders for your protocol: a login line, "MSG <id> <text>" messages, "ACK <id>" acknowledgements.

    static CompletionStage<Void> login(Channel ch) {
        CompletableFuture<Void> done = new CompletableFuture<>();
        ch.writeAndFlush("LOGIN alice\n").addListener(f -> {
            if (f.isSuccess()) {
                done.complete(null);
            } else {
                done.completeExceptionally(f.cause());
            }
        });
        return done;
    }

    static long idOf(Object msg) {
        return Long.parseLong(((String) msg).split(" ")[1]);
    }

    static long ackIdOf(Object in) {                   // -1: not an acknowledgement
        String line = (String) in;
        return line.startsWith("ACK ") ? Long.parseLong(line.substring(4).trim()) : -1;
    }

    static final class ChatHandler extends SimpleChannelInboundHandler<String> {
        @Override
        protected void channelRead0(ChannelHandlerContext ctx, String line) {
            System.out.println(line);
        }
    }
}
