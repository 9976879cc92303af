package dev.keepalive.testkit.session;

import dev.keepalive.netty.session.ServerSessions;
import dev.keepalive.netty.session.SessionFraming;
import dev.keepalive.testsupport.Transport;
import io.netty.channel.EventLoopGroup;

import java.net.InetSocketAddress;
import java.util.concurrent.CopyOnWriteArrayList;

/**
 * The answering session server as a process (for the kernel lab): {@code SessionServerMain <host> <port>} prints
 * {@code LISTENING <host> <port>} and serves until killed.
 */
public final class SessionServerMain {
    private SessionServerMain() {
    }

    public static void main(String[] args) throws Exception {
        EventLoopGroup group = Transport.NIO.newGroup(1);
        SessionPeers.Server server = SessionPeers.server(group, new InetSocketAddress(args[0],
                Integer.parseInt(args[1])), ServerSessions.builder(SessionFraming.binary()).build(),
                new CopyOnWriteArrayList<>());
        System.out.println("LISTENING " + args[0] + ' ' + server.address().getPort());
        System.out.flush();
        server.parent().closeFuture().sync();
    }
}
