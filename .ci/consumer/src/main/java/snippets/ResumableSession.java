package snippets;

import dev.keepalive.KeepaliveSettings;
import dev.keepalive.netty.KeepaliveHandler;
import dev.keepalive.netty.KeepaliveProbe;
import dev.keepalive.netty.client.ReconnectingClient;
import dev.keepalive.netty.session.ClientSession;
import dev.keepalive.netty.session.FileSessionJournal;
import dev.keepalive.netty.session.ServerSessions;
import dev.keepalive.netty.session.SessionFraming;
import dev.keepalive.netty.session.SessionStore;
import dev.keepalive.reconnect.DisconnectedWrites;
import dev.keepalive.session.SessionSettings;
import io.netty.bootstrap.Bootstrap;
import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.ChannelInitializer;
import io.netty.channel.EventLoopGroup;
import io.netty.channel.SimpleChannelInboundHandler;
import io.netty.channel.socket.SocketChannel;
import io.netty.channel.socket.nio.NioSocketChannel;
import io.netty.handler.codec.LineBasedFrameDecoder;
import io.netty.handler.codec.string.StringDecoder;
import io.netty.handler.codec.string.StringEncoder;

import java.io.IOException;
import java.nio.file.Path;
import java.time.Duration;

import static java.nio.charset.StandardCharsets.UTF_8;

final class ResumableSession {
    static ReconnectingClient client(EventLoopGroup group, ClientSession session) {
        return ReconnectingClient.builder(new Bootstrap().group(group).channel(NioSocketChannel.class))
                .endpoint("chat-1", 7000)
                .pipeline((ch, keepalive) -> ch.pipeline().addLast(
                        new LineBasedFrameDecoder(8192), new StringDecoder(UTF_8), keepalive,
                        session.newHandler(),                  // below the encoder: it carries encoded lines
                        new StringEncoder(UTF_8), new Lines()))
                .keepalive(KeepaliveSettings.defaults(), KeepaliveProbe.lines())
                .onConnected(session::resume)                  // CONNECTED once resumed, what was missed re-sent
                .confirmReads(false)                           // a send succeeds once the server acknowledged it
                .whileDisconnected(DisconnectedWrites.queue(10_000, 16 << 20, Duration.ofMinutes(1)))
                .build()
                .start();
    }

    static ServerSessions sessions(SessionStore shared) {
        return ServerSessions.builder(SessionFraming.lines())
                .settings(SessionSettings.builder().detachedTimeout(Duration.ofMinutes(5)).build())
                .store(shared)                                 // default: in memory; shared: failover
                .build();
    }

    static ServerSessions survivingRestarts(Path journalFile) throws IOException {
        return ServerSessions.builder(SessionFraming.lines())
                .journal(FileSessionJournal.builder(journalFile).build()) // a server started again resumes them
                .build();
    }

    static ChannelInitializer<SocketChannel> server(ServerSessions sessions) {
        return new ChannelInitializer<>() {
            @Override
            protected void initChannel(SocketChannel ch) {
                ch.pipeline().addLast(new LineBasedFrameDecoder(8192), new StringDecoder(UTF_8),
                        KeepaliveHandler.builder(KeepaliveSettings.defaults()).probe(KeepaliveProbe.lines()).build(),
                        sessions.newHandler(), new StringEncoder(UTF_8), new Lines());
            }
        };
    }

    static final class Lines extends SimpleChannelInboundHandler<String> {
        @Override
        protected void channelRead0(ChannelHandlerContext ctx, String line) {
            System.out.println(line);                      // each line once, in order, across reconnects
        }
    }
}
