package dev.keepalive.testkit.internal;

import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.ChannelInboundHandlerAdapter;
import io.netty.channel.socket.ChannelInputShutdownEvent;

/** Feeds the events of one of a flow's two sockets into the {@link ProxyFlow}. Runs on the flow's event loop. */
final class SideHandler extends ChannelInboundHandlerAdapter {
    private final ProxyFlow flow;
    private final ProxyFlow.Side side;

    SideHandler(ProxyFlow flow, ProxyFlow.Side side) {
        this.flow = flow;
        this.side = side;
    }

    @Override
    public void channelActive(ChannelHandlerContext ctx) {
        if (side == ProxyFlow.Side.CLIENT) {
            flow.clientActive();
        }
    }

    @Override
    public void channelRead(ChannelHandlerContext ctx, Object msg) {
        flow.onRead(side, msg);
    }

    @Override
    public void userEventTriggered(ChannelHandlerContext ctx, Object evt) {
        if (evt instanceof ChannelInputShutdownEvent) {
            flow.onInputShutdown(side);
        }
        ctx.fireUserEventTriggered(evt);
    }

    @Override
    public void channelWritabilityChanged(ChannelHandlerContext ctx) {
        flow.onWritabilityChanged(side);
    }

    @Override
    public void channelInactive(ChannelHandlerContext ctx) {
        flow.onInactive(side);
    }

    @Override
    public void exceptionCaught(ChannelHandlerContext ctx, Throwable cause) {
        flow.onError(side, cause);
        ctx.close();
    }
}
