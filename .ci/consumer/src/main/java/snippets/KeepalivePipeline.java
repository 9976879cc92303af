package snippets;

import dev.keepalive.KeepaliveSettings;
import dev.keepalive.PeerDeadException;
import dev.keepalive.netty.KeepaliveHandler;
import dev.keepalive.netty.KeepaliveProbe;
import io.netty.buffer.ByteBuf;
import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.ChannelInitializer;
import io.netty.channel.SimpleChannelInboundHandler;
import io.netty.channel.socket.SocketChannel;
import io.netty.handler.codec.LengthFieldBasedFrameDecoder;
import io.netty.handler.codec.LengthFieldPrepender;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import java.time.Duration;

/** Give it to Bootstrap.handler (client) or ServerBootstrap.childHandler (server): the same on both ends. */
public final class KeepalivePipeline extends ChannelInitializer<SocketChannel> {
    public static final KeepaliveSettings SETTINGS = KeepaliveSettings.builder()
            .detectWithin(Duration.ofSeconds(30))           // a dead peer is declared dead within 30 s
            .middleboxIdleTimeout(Duration.ofSeconds(350))  // probes always cross the NLB before it forgets the flow
            .build();

    private final KeepaliveHandler.Builder keepalive;

    public KeepalivePipeline(KeepaliveSettings settings) {
        this.keepalive = KeepaliveHandler.builder(settings)
                .probe(KeepaliveProbe.binary());            // or lines(), or passive()
    }

    @Override
    protected void initChannel(SocketChannel ch) {
        ch.pipeline().addLast(
                new LengthFieldBasedFrameDecoder(1 << 20, 0, 4, 0, 4),
                new LengthFieldPrepender(4),
                keepalive.build(),                          // one per channel
                new MyProtocolHandler());                   // never sees probe frames
    }

    /** A placeholder for your own protocol handler, the last in the pipeline. */
    static final class MyProtocolHandler extends SimpleChannelInboundHandler<ByteBuf> {
        private static final Logger log = LoggerFactory.getLogger(MyProtocolHandler.class);

        @Override
        protected void channelRead0(ChannelHandlerContext ctx, ByteBuf frame) {
            // your protocol: one frame, without its length prefix
        }

        @Override
        public void exceptionCaught(ChannelHandlerContext ctx, Throwable cause) {
            if (cause instanceof PeerDeadException dead) {  // the handler closes the channel itself
                log.warn("{} is dead: {}", dead.remoteAddress().orElse(null), dead.reason());
            } else {
                log.warn("closing {}", ctx.channel(), cause);
                ctx.close();
            }
        }
    }
}
