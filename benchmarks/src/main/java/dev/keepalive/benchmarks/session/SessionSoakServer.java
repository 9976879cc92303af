package dev.keepalive.benchmarks.session;

import dev.keepalive.netty.session.FileSessionJournal;
import dev.keepalive.netty.session.ServerSessions;
import dev.keepalive.netty.session.SessionFraming;
import io.netty.channel.EventLoopGroup;
import io.netty.channel.MultiThreadIoEventLoopGroup;
import io.netty.channel.group.DefaultChannelGroup;
import io.netty.channel.nio.NioIoHandler;
import io.netty.util.concurrent.GlobalEventExecutor;
import java.io.BufferedReader;
import java.io.DataOutputStream;
import java.io.FileOutputStream;
import java.io.IOException;
import java.io.InputStreamReader;
import java.io.UncheckedIOException;
import java.net.InetSocketAddress;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;

/**
 * The soak's session server as a process, to be killed with {@code SIGKILL} and started again:
 * {@code SessionSoakServer <port> <journal file>} recovers the sessions of its journal, prints
 * {@code LISTENING <port>} and serves on 127.0.0.1 until killed or until its stdin ends; to the line {@code peak} it
 * answers {@code PEAK <bytes>}, the most unacknowledged payload its sessions held. Its application appends
 * each message number it handles (8 bytes, one write each) to {@code <journal file>.handled}.
 */
public final class SessionSoakServer {
    private SessionSoakServer() {
    }

    public static void main(String[] args) throws Exception {
        int port = Integer.parseInt(args[0]);
        Path journal = Path.of(args[1]);
        ServerSessions sessions = ServerSessions.builder(SessionFraming.binary()).settings(SessionSoakPair.SESSION)
                .journal(FileSessionJournal.builder(journal).build()).build();
        DataOutputStream handled = new DataOutputStream(new FileOutputStream(journal + ".handled", true));
        EventLoopGroup group = new MultiThreadIoEventLoopGroup(1, NioIoHandler.newFactory());
        SessionSoakPair.serve(group, new InetSocketAddress("127.0.0.1", port), sessions,
                new DefaultChannelGroup(GlobalEventExecutor.INSTANCE), n -> {
                    try {
                        handled.writeLong(n); // unbuffered: one write, done before the answer is recorded
                    } catch (IOException e) {
                        throw new UncheckedIOException(e);
                    }
                });
        System.out.println("LISTENING " + port + " recovered " + sessions.recovered());
        System.out.flush();
        // Bounded by the driver: it closes our stdin when it ends, or kills us.
        BufferedReader commands = new BufferedReader(new InputStreamReader(System.in, StandardCharsets.UTF_8));
        for (String line = commands.readLine(); line != null; line = commands.readLine()) {
            if (line.equals("peak")) {
                System.out.println("PEAK " + sessions.stats().peakUnackedBytes());
                System.out.flush();
            }
        }
        System.exit(0);
    }
}
