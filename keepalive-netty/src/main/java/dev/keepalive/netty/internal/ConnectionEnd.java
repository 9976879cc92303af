package dev.keepalive.netty.internal;

import dev.keepalive.DeadPeerReason;
import io.netty.buffer.Unpooled;
import io.netty.channel.Channel;
import io.netty.channel.ChannelPromise;

/**
 * Why a connection ended when the keepalive handler did not end it: what the transport knows about its last read
 * and about the write error it closed the channel for. Internal: not part of the API.
 */
public final class ConnectionEnd {
    private ConnectionEnd() {
    }

    /**
     * Whether the channel's last read from the socket found the end of the stream (the peer's FIN). Such a read
     * brings no byte. Netty's transports pass {@code channelReadComplete} on for it, then close the channel or
     * shut its input down (io_uring does it the other way round). Must be called on the channel's event loop.
     */
    public static boolean lastReadEndedStream(Channel channel) {
        return channel.unsafe().recvBufAllocHandle().lastBytesRead() < 0;
    }

    /**
     * The error with which the transport closed {@code channel} after a failed write, or {@code null} (the channel
     * is open, or it was closed for another reason). Netty keeps that error and hands it, as the cause of a
     * {@code ClosedChannelException}, to any write made after the close: one empty write straight to the closed
     * channel's {@code unsafe} reads it, touching no handler. Must be called on the channel's event loop.
     */
    public static Throwable transportCloseCause(Channel channel) {
        if (channel.isOpen() || channel.unsafe().outboundBuffer() != null || !channel.eventLoop().inEventLoop()) {
            return null;
        }
        ChannelPromise probeWrite = channel.newPromise();
        channel.unsafe().write(Unpooled.EMPTY_BUFFER, probeWrite);
        Throwable closed = probeWrite.cause();
        return closed == null ? null : closed.getCause();
    }

    /**
     * The reason for a close that the keepalive handler did not start:
     * <ol>
     *   <li>an error the transport met on a write: classified as on a read ({@link IoErrors#classify}), else
     *       {@link DeadPeerReason#IO_ERROR};</li>
     *   <li>the end of the stream: {@link DeadPeerReason#CLOSED_BY_PEER};</li>
     *   <li>an unclassified I/O error seen before: {@link DeadPeerReason#IO_ERROR};</li>
     *   <li>otherwise something on this side closed it: {@link DeadPeerReason#CLOSED_LOCALLY}.</li>
     * </ol>
     */
    public static DeadPeerReason reason(Throwable writeError, boolean endOfStream, Throwable unclassifiedError) {
        if (writeError != null) {
            DeadPeerReason r = IoErrors.classify(writeError);
            return r != null ? r : DeadPeerReason.IO_ERROR;
        }
        if (endOfStream) {
            return DeadPeerReason.CLOSED_BY_PEER;
        }
        return unclassifiedError != null ? DeadPeerReason.IO_ERROR : DeadPeerReason.CLOSED_LOCALLY;
    }
}
