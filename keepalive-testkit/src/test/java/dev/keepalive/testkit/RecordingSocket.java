package dev.keepalive.testkit;

import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.InputStream;
import java.io.UncheckedIOException;
import java.net.InetSocketAddress;
import java.net.Socket;
import java.nio.charset.StandardCharsets;

/** A blocking socket whose input is read by a background thread and recorded, with EOF and error flags. */
final class RecordingSocket implements AutoCloseable {
    private final Socket socket;
    private final ByteArrayOutputStream received = new ByteArrayOutputStream();
    private volatile boolean eof;
    private volatile IOException error;
    private volatile boolean closing;

    RecordingSocket(Socket socket) {
        this.socket = socket;
        Thread t = new Thread(this::readLoop, "recording-" + socket.getLocalPort());
        t.setDaemon(true);
        t.start();
    }

    static RecordingSocket connect(InetSocketAddress address) {
        try {
            Socket s = new Socket();
            s.setTcpNoDelay(true);
            s.connect(address, 5_000);
            return new RecordingSocket(s);
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    private void readLoop() {
        byte[] buf = new byte[16 * 1024];
        try {
            // Not closed here: closing a socket's stream closes the socket, and a half-closed socket may still write.
            InputStream in = socket.getInputStream();
            int n;
            // Ends at EOF or when the socket is closed.
            while ((n = in.read(buf)) >= 0) {
                synchronized (received) {
                    received.write(buf, 0, n);
                }
            }
            eof = true;
        } catch (IOException e) {
            if (!closing) {
                error = e;
            }
        }
    }

    Socket socket() {
        return socket;
    }

    void write(byte[] bytes) {
        try {
            socket.getOutputStream().write(bytes);
            socket.getOutputStream().flush();
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    void write(String s) {
        write(s.getBytes(StandardCharsets.UTF_8));
    }

    void shutdownOutput() {
        try {
            socket.shutdownOutput();
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    long receivedCount() {
        synchronized (received) {
            return received.size();
        }
    }

    byte[] receivedBytes() {
        synchronized (received) {
            return received.toByteArray();
        }
    }

    String receivedString() {
        return new String(receivedBytes(), StandardCharsets.UTF_8);
    }

    /** @return whether the peer closed normally (read returned -1) */
    boolean eof() {
        return eof;
    }

    /** @return the read error (e.g. "Connection reset"), or null */
    IOException error() {
        return error;
    }

    /** @return whether the peer's close or reset reached us */
    boolean sawClose() {
        return eof || error != null;
    }

    @Override
    public void close() {
        closing = true;
        try {
            socket.close();
        } catch (IOException e) {
            // ignore
        }
    }
}
