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
 * The pipeline is: line decoder, string decoder, {@code KeepaliveHandler} with {@code KeepaliveProbe.lines()},
 * the session handler ({@code SessionFraming.lines()}), the encoder, the chat handler. The session handler sits
 * below the encoder because it carries encoded lines: it wraps each in its envelope and keeps it until acknowledged.
 */
final class ChatCodec {
    private ChatCodec() {
    }

    /** Adds the line and string decoders (before the keepalive and session handlers). */
    static void addDecoders(ChannelPipeline pipeline) {
        pipeline.addLast(new LineBasedFrameDecoder(ChatProtocol.MAX_LINE_BYTES + 64), // + the session envelope
                new StringDecoder(StandardCharsets.UTF_8));
    }

    /** The encoder of one side's messages (after the session handler). */
    static MessageToByteEncoder<?> encoder(boolean server) {
        return server ? new ServerEncoder() : new ClientEncoder();
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
