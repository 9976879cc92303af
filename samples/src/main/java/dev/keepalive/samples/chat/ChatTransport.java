package dev.keepalive.samples.chat;

import io.netty.channel.IoHandlerFactory;
import io.netty.channel.epoll.Epoll;
import io.netty.channel.epoll.EpollIoHandler;
import io.netty.channel.epoll.EpollServerSocketChannel;
import io.netty.channel.epoll.EpollSocketChannel;
import io.netty.channel.nio.NioIoHandler;
import io.netty.channel.socket.ServerSocketChannel;
import io.netty.channel.socket.SocketChannel;
import io.netty.channel.socket.nio.NioServerSocketChannel;
import io.netty.channel.socket.nio.NioSocketChannel;

/**
 * The transport of the chat app and the demo: epoll where Netty's native library loads (Linux), so that every TCP
 * option the banner shows is in force, NIO elsewhere (where the banner says TCP_USER_TIMEOUT is not set).
 */
final class ChatTransport {
    static final boolean EPOLL = Epoll.isAvailable();

    private ChatTransport() {
    }

    static String name() {
        return EPOLL ? "epoll" : "nio";
    }

    static IoHandlerFactory ioHandler() {
        return EPOLL ? EpollIoHandler.newFactory() : NioIoHandler.newFactory();
    }

    static Class<? extends SocketChannel> socket() {
        return EPOLL ? EpollSocketChannel.class : NioSocketChannel.class;
    }

    static Class<? extends ServerSocketChannel> server() {
        return EPOLL ? EpollServerSocketChannel.class : NioServerSocketChannel.class;
    }

    /** Whether this transport sets TCP_USER_TIMEOUT (NIO on Java 17 cannot). */
    static boolean setsUserTimeout() {
        return EPOLL;
    }
}
