package snippets;

import dev.keepalive.KeepaliveSettings;
import dev.keepalive.netty.KeepaliveHandler;
import dev.keepalive.netty.http.Http1Probe;
import io.netty.channel.ChannelHandler;
import io.netty.channel.socket.SocketChannel;
import io.netty.handler.codec.http.HttpClientCodec;
import io.netty.handler.codec.http.HttpObjectAggregator;

import java.time.Duration;

final class HttpClientPipeline {
    private final KeepaliveHandler.Builder keepalive = KeepaliveHandler.builder(KeepaliveSettings.builder()
                    .middleboxIdleTimeout(Duration.ofMinutes(4))   // Azure LB: a probe at least every 2 min
                    .pingTimeout(Duration.ofSeconds(5))
                    .build())
            .probe(Http1Probe.create());

    void initChannel(SocketChannel ch, ChannelHandler yourClientHandler) {  // yourClientHandler: a placeholder
        ch.pipeline().addLast(new HttpClientCodec(), keepalive.build(), new HttpObjectAggregator(1 << 20),
                yourClientHandler);
    }
}
