package dev.keepalive.netty.client;

import dev.keepalive.PeerDeadException;
import dev.keepalive.Ticker;
import dev.keepalive.netty.KeepaliveHandler;
import dev.keepalive.reconnect.DisconnectedWrites;
import dev.keepalive.reconnect.internal.SendBuffer;
import io.netty.buffer.ByteBuf;
import io.netty.buffer.ByteBufHolder;
import io.netty.channel.Channel;
import io.netty.channel.EventLoop;
import io.netty.util.ReferenceCountUtil;
import io.netty.util.concurrent.ScheduledFuture;

import java.io.IOException;
import java.time.Duration;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import java.util.function.ToLongFunction;

/**
 * The client's send path on Netty: writes what the {@link SendBuffer} decides, asks the peer to confirm reads, and
 * runs the buffer's expiry timer. Event-loop owned.
 */
final class ClientSends {
    /** How a send's future completes. */
    enum Tracking {
        /** When written to the socket. */
        WRITTEN,
        /** When the peer confirmed reading past it ({@link KeepaliveHandler#confirmRead()}). */
        CONFIRMED,
        /** When the application's acknowledgement arrives. */
        ACKNOWLEDGED
    }

    private final SendBuffer buffer;
    private final EventLoop loop;
    private final Ticker ticker;
    private final Tracking tracking;
    private final boolean resend;
    private final boolean reconnectOnAckTimeout;
    private final ToLongFunction<Object> messageId;
    private final ToLongFunction<Object> sizer;
    /** The proven connection sends go out on, or null. */
    private Channel channel;
    private KeepaliveHandler keepalive;
    private long lastSeqWritten;
    private ScheduledFuture<?> timer;
    private long timerAt;

    ClientSends(DisconnectedWrites bounds, Duration ackTimeout, EventLoop loop, Ticker ticker, Tracking tracking,
                boolean resend, boolean reconnectOnAckTimeout, ToLongFunction<Object> messageId,
                ToLongFunction<Object> sizer) {
        this.buffer = new SendBuffer(bounds, ackTimeout, ticker, ReferenceCountUtil::release);
        this.loop = loop;
        this.ticker = ticker;
        this.tracking = tracking;
        this.resend = resend;
        this.reconnectOnAckTimeout = reconnectOnAckTimeout;
        this.messageId = messageId;
        this.sizer = sizer;
    }

    /** Whether sends may go out now. */
    boolean connected() {
        return channel != null && channel.isActive();
    }

    /** A new send: written now when connected, else queued (the caller refuses it when the client fails fast). */
    void send(Object msg, CompletableFuture<Void> future) {
        SendBuffer.Entry e = buffer.admit(msg, Math.max(0, sizer.applyAsLong(msg)), future);
        if (e == null) {
            return;
        }
        if (connected()) {
            write(e);
            channel.flush();
            requestConfirmation();
        } else {
            buffer.enqueue(e);
        }
        arm();
    }

    /** The connection is proven: queued (and re-queued) sends go out in order, before any new send. */
    void proven(Channel ch, KeepaliveHandler handler) {
        channel = ch;
        keepalive = handler;
        boolean wrote = false;
        while (buffer.hasQueued() && ch.isActive()) {
            write(buffer.poll());
            wrote = true;
        }
        ch.flush();
        if (wrote) {
            requestConfirmation();
        }
        arm();
    }

    /** The connection ended: unconfirmed sends are re-queued or fail with {@code dead} (or a close error). */
    void connectionLost(PeerDeadException dead) {
        channel = null;
        keepalive = null;
        buffer.connectionLost(resend, dead != null ? dead
                : new IOException("the connection closed before the peer confirmed reading the message"));
        arm();
    }

    /** An inbound acknowledgement. */
    void acknowledged(long id) {
        buffer.acknowledged(id);
    }

    /** Fails everything held and stops the timer. */
    void failAll(Throwable cause) {
        if (timer != null) {
            timer.cancel(false);
            timer = null;
        }
        buffer.failAll(cause);
    }

    /** Sends held (queued and unconfirmed). */
    int messages() {
        return buffer.messages();
    }

    /** Their bytes. */
    long bytes() {
        return buffer.bytes();
    }

    private void write(SendBuffer.Entry e) {
        Channel ch = channel;
        if (tracking == Tracking.WRITTEN) {
            CompletableFuture<Void> future = e.future();
            ch.write(e.message()).addListener(f -> {
                if (f.isSuccess()) {
                    future.complete(null);
                } else {
                    future.completeExceptionally(f.cause());
                }
            });
            return;
        }
        long key;
        if (tracking == Tracking.ACKNOWLEDGED) {
            key = messageId.applyAsLong(e.message());
            if (key < 0) {
                buffer.fail(e, new IllegalArgumentException("acknowledgements are on, but the message has no id: "
                        + e.message()));
                return;
            }
        } else {
            key = buffer.nextSequence();
            lastSeqWritten = key;
        }
        buffer.written(e, key);
        KeepaliveHandler handler = keepalive;
        // Keep the original for a re-send; write a duplicate that the pipeline may consume and release.
        ch.write(duplicateForWrite(e.message())).addListener(f -> {
            if (!f.isSuccess() && (!resend || handler.deadCause() == null && ch.isActive())) {
                buffer.writeFailed(key, f.cause()); // the true reason; a death re-queues instead when resending
            }
        });
    }

    /** Asks the peer to confirm it read everything written so far; the keepalive handler coalesces the pings. */
    private void requestConfirmation() {
        if (tracking != Tracking.CONFIRMED) {
            return;
        }
        Channel ch = channel;
        long upTo = lastSeqWritten;
        keepalive.confirmRead().whenComplete((ok, error) -> {
            if (error == null && channel == ch) {
                buffer.confirmUpTo(upTo);
            }
        });
    }

    private static Object duplicateForWrite(Object msg) {
        if (msg instanceof ByteBuf) {
            return ((ByteBuf) msg).retainedDuplicate();
        }
        if (msg instanceof ByteBufHolder) {
            return ((ByteBufHolder) msg).retainedDuplicate();
        }
        return ReferenceCountUtil.retain(msg);
    }

    /** Arms the expiry timer for the buffer's deadline, when it is earlier than the one armed. */
    private void arm() {
        if (!buffer.hasDeadline()) {
            return;
        }
        long at = buffer.deadline();
        if (timer != null) {
            if (timerAt - at <= 0) {
                return;
            }
            timer.cancel(false);
        }
        timerAt = at;
        timer = loop.schedule(() -> {
            timer = null;
            if (buffer.onTimer(ticker.nanoTime(), !reconnectOnAckTimeout) && channel != null) {
                // Not acknowledged within ackTimeout: treat the connection as broken; what it holds is re-sent
                // after reconnecting (or failed), by connectionLost.
                channel.close();
                return;
            }
            arm();
        }, Math.max(0, at - ticker.nanoTime()), TimeUnit.NANOSECONDS);
    }
}
