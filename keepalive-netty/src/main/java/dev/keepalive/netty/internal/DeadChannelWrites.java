package dev.keepalive.netty.internal;

import dev.keepalive.PeerDeadException;
import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.ChannelOutboundHandlerAdapter;
import io.netty.channel.ChannelPipeline;
import io.netty.channel.ChannelPromise;
import io.netty.util.ReferenceCountUtil;

/**
 * What stays in the pipeline of a channel that closed on a dead peer, once Netty has removed its handlers: every
 * later write fails with the {@link PeerDeadException} that ended the connection (instead of Netty's bare
 * {@code ClosedChannelException}), and its message is released.
 *
 * <p>Netty removes a closed channel's handlers when it deregisters the channel, from the last one towards the
 * first; a handler added at the end while that runs is not visited, so {@link #install} must be called from the
 * {@code handlerRemoved} of the handler that gave the verdict. A write that a thread aimed at one of the removed
 * handlers before the removal still ends in Netty's own error.
 */
public final class DeadChannelWrites extends ChannelOutboundHandlerAdapter {
    private final PeerDeadException cause;

    private DeadChannelWrites(PeerDeadException cause) {
        this.cause = cause;
    }

    /** Leaves a handler at the end of {@code pipeline} that fails every later write with {@code cause}. */
    public static void install(ChannelPipeline pipeline, PeerDeadException cause) {
        if (pipeline.get(DeadChannelWrites.class) == null) {
            pipeline.addLast(new DeadChannelWrites(cause));
        }
    }

    @Override
    public void write(ChannelHandlerContext ctx, Object msg, ChannelPromise promise) {
        ReferenceCountUtil.release(msg);
        promise.tryFailure(cause);
    }
}
