package snippets;

import dev.keepalive.KeepaliveSettings;
import dev.keepalive.netty.KeepaliveHandler;
import dev.keepalive.netty.KeepaliveProbe;
import io.netty.handler.codec.LengthFieldBasedFrameDecoder;
import io.netty.handler.codec.LengthFieldPrepender;
import reactor.netty.Connection;
import reactor.netty.tcp.TcpClient;
import reactor.netty.tcp.TcpServer;

final class ReactorNettyKeepalive {
    static TcpServer server(KeepaliveSettings settings) {
        KeepaliveHandler.Builder keepalive = KeepaliveHandler.builder(settings).probe(KeepaliveProbe.binary());
        return TcpServer.create()
                .doOnConnection(connection -> install(connection, keepalive));
    }

    static TcpClient client(KeepaliveSettings settings) {
        KeepaliveHandler.Builder keepalive = KeepaliveHandler.builder(settings).probe(KeepaliveProbe.binary());
        return TcpClient.create()
                .doOnConnected(connection -> install(connection, keepalive));
    }

    // Framing first, then the handler: inbound() sees your frames, never a probe's; a dead peer ends the
    // connection with a PeerDeadException as the error of inbound().receive(). Reactor Netty reads from the socket
    // only while inbound().receive() is subscribed: a handle() that never subscribes never sees pongs either.
    static void install(Connection connection, KeepaliveHandler.Builder keepalive) {
        connection.addHandlerLast(new LengthFieldBasedFrameDecoder(1 << 20, 0, 4, 0, 4))
                .addHandlerLast(new LengthFieldPrepender(4))
                .addHandlerLast(keepalive.build());
    }
}
