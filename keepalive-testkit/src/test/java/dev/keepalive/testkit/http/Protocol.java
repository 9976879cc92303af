package dev.keepalive.testkit.http;

import dev.keepalive.netty.KeepaliveHandler;
import dev.keepalive.netty.KeepaliveProbe;
import io.netty.bootstrap.Bootstrap;
import io.netty.channel.socket.SocketChannel;

import java.net.InetSocketAddress;

/**
 * One protocol under test: a small server that answers {@code text} with {@code "you said: " + text}, the probe for
 * the protocol, and a client that speaks it, with or without the keepalive handler.
 */
interface Protocol {
    /** The answer the servers give to {@code text}. */
    static String answerTo(String text) {
        return "you said: " + text;
    }

    /** Sets up an accepted server channel. */
    void initServerChannel(SocketChannel ch);

    /** The probe that keeps this protocol's connections alive. */
    KeepaliveProbe probe();

    /**
     * Connects to {@code address} and returns once requests can be sent (after the handshake, where there is one).
     *
     * @param keepalive placed where the probe's javadoc says, or {@code null} for a client without it
     */
    ProtocolClient connect(Bootstrap bootstrap, InetSocketAddress address, KeepaliveHandler keepalive)
            throws Exception;
}
