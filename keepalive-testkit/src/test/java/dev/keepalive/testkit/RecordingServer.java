package dev.keepalive.testkit;

import static org.awaitility.Awaitility.await;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.ServerSocket;
import java.net.Socket;
import java.time.Duration;
import java.util.List;
import java.util.concurrent.CopyOnWriteArrayList;

/** A loopback server that accepts connections as {@link RecordingSocket}s. */
final class RecordingServer implements AutoCloseable {
    private final ServerSocket serverSocket;
    private final List<RecordingSocket> accepted = new CopyOnWriteArrayList<>();

    RecordingServer() {
        try {
            serverSocket = new ServerSocket(0, 50, InetAddress.getLoopbackAddress());
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
        Thread t = new Thread(this::acceptLoop, "recording-server");
        t.setDaemon(true);
        t.start();
    }

    private void acceptLoop() {
        try {
            // Ends when the server socket is closed.
            while (true) {
                Socket s = serverSocket.accept();
                s.setTcpNoDelay(true);
                accepted.add(new RecordingSocket(s));
            }
        } catch (IOException e) {
            // closed
        }
    }

    InetSocketAddress address() {
        return (InetSocketAddress) serverSocket.getLocalSocketAddress();
    }

    RecordingSocket awaitConnection(int index) {
        await().atMost(Duration.ofSeconds(5)).until(() -> accepted.size() > index);
        return accepted.get(index);
    }

    @Override
    public void close() {
        try {
            serverSocket.close();
        } catch (IOException e) {
            // ignore
        }
        accepted.forEach(RecordingSocket::close);
    }
}
