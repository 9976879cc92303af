package dev.keepalive.testkit;

import java.io.IOException;
import java.net.InetSocketAddress;
import java.net.Socket;
import java.nio.charset.StandardCharsets;

/** Run inside a lab by {@link KernelFirewallLabTest}: connects to {@code host port}, sends "ping", prints the echo. */
public final class LabClientMain {
    private LabClientMain() {
    }

    public static void main(String[] args) throws IOException {
        try (Socket s = new Socket()) {
            s.setSoTimeout(10_000);
            s.connect(new InetSocketAddress(args[0], Integer.parseInt(args[1])), 10_000);
            s.getOutputStream().write("ping".getBytes(StandardCharsets.US_ASCII));
            byte[] echo = s.getInputStream().readNBytes(4);
            System.out.println("ECHO " + new String(echo, StandardCharsets.US_ASCII));
        }
    }
}
