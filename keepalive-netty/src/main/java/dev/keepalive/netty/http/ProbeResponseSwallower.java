package dev.keepalive.netty.http;

import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.ChannelInboundHandlerAdapter;
import io.netty.handler.codec.http.HttpObject;
import io.netty.handler.codec.http.HttpResponse;
import io.netty.handler.codec.http.LastHttpContent;
import io.netty.util.ReferenceCountUtil;

/**
 * Takes the place of a keepalive handler removed while its HTTP/1.1 probe was in flight: drops the rest of the
 * probe's response (up to the end of the final, non-1xx response), so that the application never receives it, and
 * then removes itself.
 */
final class ProbeResponseSwallower extends ChannelInboundHandlerAdapter {
    /** The response being dropped is an interim (1xx) one. */
    private boolean interim;

    ProbeResponseSwallower(boolean interim) {
        this.interim = interim;
    }

    @Override
    public void channelRead(ChannelHandlerContext ctx, Object msg) {
        if (!(msg instanceof HttpObject)) {
            ctx.fireChannelRead(msg);
            return;
        }
        try {
            if (msg instanceof HttpResponse) {
                interim = Http1Connection.isInterim(((HttpResponse) msg).status());
            }
            if (msg instanceof LastHttpContent) {
                if (interim) {
                    interim = false;
                } else {
                    ctx.pipeline().remove(this);
                }
            }
        } finally {
            ReferenceCountUtil.release(msg);
        }
    }
}
