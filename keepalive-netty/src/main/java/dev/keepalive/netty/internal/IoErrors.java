package dev.keepalive.netty.internal;

import dev.keepalive.DeadPeerReason;

import java.io.IOException;
import java.util.Locale;

/** Maps the I/O errors of the JDK and of Netty's native transports to dead-peer reasons. Internal. */
public final class IoErrors {
    private IoErrors() {
    }

    /**
     * The reason behind {@code cause}, or {@code null} when it is not a sign that the peer or the path died:
     * {@code ETIMEDOUT} ("Connection timed out") is {@link DeadPeerReason#TCP_TIMEOUT}; {@code ECONNRESET} and
     * {@code EPIPE} ("Connection reset", "Broken pipe") are {@link DeadPeerReason#RESET_BY_PEER}.
     */
    public static DeadPeerReason classify(Throwable cause) {
        for (Throwable t = cause; t != null; t = t.getCause()) {
            if (t instanceof IOException && t.getMessage() != null) {
                String m = t.getMessage().toLowerCase(Locale.ROOT);
                if (m.contains("timed out")) {
                    return DeadPeerReason.TCP_TIMEOUT;
                }
                if (m.contains("connection reset") || m.contains("broken pipe")) {
                    return DeadPeerReason.RESET_BY_PEER;
                }
            }
            if (t.getCause() == t) {
                break;
            }
        }
        return null;
    }
}
