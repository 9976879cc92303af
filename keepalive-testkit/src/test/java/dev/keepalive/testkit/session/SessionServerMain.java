package dev.keepalive.testkit.session;

import dev.keepalive.netty.session.FileSessionJournal;
import dev.keepalive.netty.session.ServerSessions;
import dev.keepalive.netty.session.SessionFraming;
import dev.keepalive.testsupport.Transport;
import io.netty.channel.EventLoopGroup;
import java.io.FileOutputStream;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.net.InetSocketAddress;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.concurrent.CopyOnWriteArrayList;

/**
 * The answering session server as a process (for the kernel lab, and to be killed and started again):
 * {@code SessionServerMain <host> <port> [journal file]} prints {@code LISTENING <host> <port>} and serves until
 * killed; with a journal it first prints {@code RECOVERED <n>}, and its application appends each message it
 * handles, a line each, to {@code <journal file>.handled}.
 */
public final class SessionServerMain {
    private SessionServerMain() {
    }

    public static void main(String[] args) throws Exception {
        EventLoopGroup group = Transport.NIO.newGroup(1);
        ServerSessions.Builder sessions = ServerSessions.builder(SessionFraming.binary());
        boolean journaled = args.length > 2;
        FileOutputStream handled = null;
        if (journaled) {
            sessions.journal(FileSessionJournal.builder(Path.of(args[2])).build());
            // The application's own record, beside the journal: each message it handled, one write each (a process
            // killed a moment later has written it; its standard output might be cut short).
            handled = new FileOutputStream(args[2] + ".handled", true);
        }
        FileOutputStream log = handled;
        ServerSessions built = sessions.build();
        if (journaled) {
            System.out.println("RECOVERED " + built.recovered());
            System.out.flush();
        }
        SessionPeers.Server server = SessionPeers.server(group, new InetSocketAddress(args[0],
                Integer.parseInt(args[1])), built, new CopyOnWriteArrayList<>() {
                    private static final long serialVersionUID = 1L;

                    @Override
                    public boolean add(String message) {
                        if (log != null) {
                            try {
                                log.write((message + "\n").getBytes(StandardCharsets.UTF_8));
                            } catch (IOException e) {
                                throw new UncheckedIOException(e);
                            }
                        }
                        return super.add(message);
                    }
                });
        System.out.println("LISTENING " + args[0] + ' ' + server.address().getPort());
        System.out.flush();
        server.parent().closeFuture().sync();
    }
}
