package dev.keepalive.samples.chat;

import io.netty.buffer.ByteBuf;
import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.ChannelPipeline;
import io.netty.handler.codec.LineBasedFrameDecoder;
import io.netty.handler.codec.MessageToByteEncoder;
import io.netty.handler.codec.string.StringDecoder;

import java.nio.charset.StandardCharsets;

/**
 * The chat's Netty codecs: lines in as {@link String}s (without line ends), protocol records out as UTF-8 lines.
 * The {@code KeepaliveHandler} with {@code KeepaliveProbe.lines()} goes right after them, so it sees text lines and
 * writes its probe lines as ready-made buffers that pass the encoders untouched.
 */
final class ChatCodec {
    private ChatCodec() {
    }

    /** Adds the line decoder and the encoder of one side's messages. */
    static void addCodecs(ChannelPipeline pipeline, boolean server) {
        pipeline.addLast(new LineBasedFrameDecoder(ChatProtocol.MAX_LINE_BYTES),
                new StringDecoder(StandardCharsets.UTF_8),
                server ? new ServerEncoder() : new ClientEncoder());
    }

    /** Writes {@link ChatProtocol.ClientMessage}s as lines. */
    static final class ClientEncoder extends MessageToByteEncoder<ChatProtocol.ClientMessage> {
        @Override
        protected void encode(ChannelHandlerContext ctx, ChatProtocol.ClientMessage msg, ByteBuf out) {
            out.writeCharSequence(ChatProtocol.format(msg), StandardCharsets.UTF_8);
            out.writeByte('\n');
        }
    }

    /** Writes {@link ChatProtocol.ServerMessage}s as lines. */
    static final class ServerEncoder extends MessageToByteEncoder<ChatProtocol.ServerMessage> {
        @Override
        protected void encode(ChannelHandlerContext ctx, ChatProtocol.ServerMessage msg, ByteBuf out) {
            out.writeCharSequence(ChatProtocol.format(msg), StandardCharsets.UTF_8);
            out.writeByte('\n');
        }
    }
}
