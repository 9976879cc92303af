package dev.keepalive.netty.client;

import dev.keepalive.PeerDeadException;
import dev.keepalive.reconnect.ConnectionEvent;
import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.ChannelInboundHandlerAdapter;
import io.netty.util.ReferenceCountUtil;
import org.slf4j.Logger;

/** The client's log lines, and the handler that ends its pipelines. */
final class ClientEvents {
    private ClientEvents() {
    }

    /**
     * Logs {@code e}: a lost connection, a connection made, giving up and closing at INFO (a few lines per outage);
     * each attempt and its failure at DEBUG, so a storm of thousands of clients retrying does not flood the log.
     */
    static void log(Logger log, ConnectionEvent e) {
        switch (e.type()) {
            case CONNECT_FAILED:
                if (log.isDebugEnabled()) {
                    log.debug("Connecting to {} failed (attempt {}): {}", e.remote(), e.attempt(),
                            String.valueOf(e.cause()));
                }
                break;
            case RECONNECTING:
                if (log.isDebugEnabled()) {
                    log.debug("{}: reconnecting in {} ms (attempt {}){}", e.remote(), e.delay().toMillis(),
                            e.attempt(), e.cause() == null ? "" : " after " + e.cause());
                }
                break;
            case CONNECTING:
                if (log.isDebugEnabled()) {
                    log.debug("{}: {} (attempt {})", e.remote(), e.type(), e.attempt());
                }
                break;
            case DISCONNECTED:
                log.info("{}: connection lost: {}", e.remote(), e.reason() == null ? "closed locally" : e.reason());
                break;
            default:
                log.info("{}: {}", e.remote(), e.type());
        }
    }

    /** Ends the pipeline: dead-peer exceptions were handled by the client; others close the connection. */
    static final class Tail extends ChannelInboundHandlerAdapter {
        @Override
        public void exceptionCaught(ChannelHandlerContext ctx, Throwable cause) {
            if (cause instanceof PeerDeadException) {
                ReconnectingClientLog.LOG.debug("{}", cause.getMessage());
            } else {
                ReconnectingClientLog.LOG.warn("Closing the connection to {} after an unhandled exception",
                        ctx.channel().remoteAddress(), cause);
                ctx.close();
            }
        }

        @Override
        public void channelRead(ChannelHandlerContext ctx, Object msg) {
            ReferenceCountUtil.release(msg);
        }
    }

    /** The client's logger, shared. */
    static final class ReconnectingClientLog {
        static final Logger LOG = org.slf4j.LoggerFactory.getLogger(ReconnectingClient.class);

        private ReconnectingClientLog() {
        }
    }
}
