package dev.keepalive.netty.internal;

import dev.keepalive.DeadPeerReason;

import java.io.IOException;
import java.util.Locale;
import java.util.regex.Pattern;

/**
 * Maps the I/O errors of the JDK and of Netty's native transports to dead-peer reasons. Internal.
 *
 * <p>A native transport's error ({@code io.netty.channel.unix.Errors.NativeIoException}) is classified by its
 * {@code errno}. Other {@link IOException}s (the JDK's) are classified by their message only when it ends with the
 * operating system's exact text for that error ({@code "Connection timed out"}, {@code "Connection reset"} ...): a
 * message that merely contains "timed out" (a TLS handshake timeout) is not the kernel's verdict.
 */
public final class IoErrors {
    private static final String NATIVE_IO_EXCEPTION = "io.netty.channel.unix.Errors$NativeIoException";
    private static final boolean LINUX = System.getProperty("os.name", "").toLowerCase(Locale.ROOT).contains("linux");
    // errno values: Linux, and the BSDs (macOS) where kqueue runs.
    private static final int ETIMEDOUT = LINUX ? 110 : 60;
    private static final int ECONNRESET = LINUX ? 104 : 54;
    private static final int EPIPE = 32;
    private static final int EHOSTUNREACH = LINUX ? 113 : 65;
    private static final int ENETUNREACH = LINUX ? 101 : 51;
    private static final int EHOSTDOWN = LINUX ? 112 : 64;
    private static final int ENETDOWN = LINUX ? 100 : 50;
    /** The strerror texts, as the last part of a JDK message ("Connection reset", "Broken pipe", ...). */
    private static final Pattern TIMEOUT_TEXT = Pattern.compile("(?:^|: )connection timed out$");
    private static final Pattern UNREACHABLE_TEXT =
            Pattern.compile("(?:^|: )(?:no route to host|network is unreachable|host is down|network is down)$");
    private static final Pattern RESET_TEXT =
            Pattern.compile("(?:^|: )(?:connection reset(?: by peer)?|broken pipe)$");

    private IoErrors() {
    }

    /**
     * The reason behind {@code cause} (or the first of its causes that is an I/O error of the socket), or
     * {@code null} when it is not a sign that the peer or the path died:
     * <ul>
     *   <li>{@code ETIMEDOUT} is {@link DeadPeerReason#TCP_TIMEOUT}: the kernel gave up (keepalive probes
     *       unanswered, data unacknowledged past TCP_USER_TIMEOUT or the retransmission limit);</li>
     *   <li>{@code EHOSTUNREACH}, {@code ENETUNREACH}, {@code EHOSTDOWN}, {@code ENETDOWN} on a connected socket are
     *       also {@link DeadPeerReason#TCP_TIMEOUT}: the kernel gave up as for {@code ETIMEDOUT} and reports the
     *       ICMP error it had received meanwhile instead;</li>
     *   <li>{@code ECONNRESET} and {@code EPIPE} are {@link DeadPeerReason#RESET_BY_PEER}.</li>
     * </ul>
     */
    public static DeadPeerReason classify(Throwable cause) {
        int depth = 0;
        for (Throwable t = cause; t != null && depth < 16; t = t.getCause(), depth++) {
            if (t.getClass().getName().equals(NATIVE_IO_EXCEPTION)) {
                return byErrno(-NativeErrno.of(t));
            }
            if (t instanceof IOException && t.getMessage() != null) {
                DeadPeerReason r = byMessage(t.getMessage());
                if (r != null) {
                    return r;
                }
            }
            if (t.getCause() == t) {
                break;
            }
        }
        return null;
    }

    /** The reason for a positive {@code errno}, or {@code null}. */
    static DeadPeerReason byErrno(int errno) {
        if (errno == ETIMEDOUT || errno == EHOSTUNREACH || errno == ENETUNREACH || errno == EHOSTDOWN
                || errno == ENETDOWN) {
            return DeadPeerReason.TCP_TIMEOUT;
        }
        if (errno == ECONNRESET || errno == EPIPE) {
            return DeadPeerReason.RESET_BY_PEER;
        }
        return null;
    }

    private static DeadPeerReason byMessage(String message) {
        String m = message.strip().toLowerCase(Locale.ROOT);
        if (TIMEOUT_TEXT.matcher(m).find() || UNREACHABLE_TEXT.matcher(m).find()) {
            return DeadPeerReason.TCP_TIMEOUT;
        }
        if (RESET_TEXT.matcher(m).find()) {
            return DeadPeerReason.RESET_BY_PEER;
        }
        return null;
    }

    /** Loaded only when a native transport's exception was seen, so that the native classes stay optional. */
    private static final class NativeErrno {
        static int of(Throwable t) {
            return ((io.netty.channel.unix.Errors.NativeIoException) t).expectedErr();
        }
    }
}
