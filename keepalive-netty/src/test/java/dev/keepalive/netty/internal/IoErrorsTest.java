package dev.keepalive.netty.internal;

import dev.keepalive.DeadPeerReason;
import io.netty.channel.ChannelException;
import io.netty.channel.epoll.Epoll;
import io.netty.channel.unix.Errors;
import org.junit.jupiter.api.Test;

import javax.net.ssl.SSLException;
import java.io.IOException;
import java.net.SocketException;
import java.nio.channels.ClosedChannelException;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

class IoErrorsTest {

    /** A native transport's error as epoll reports it (errno negated, Linux numbers). */
    private static Errors.NativeIoException nativeError(String method, int errno) {
        assertTrue(Epoll.isAvailable(), () -> "epoll: " + Epoll.unavailabilityCause()); // loads the native library
        return new Errors.NativeIoException(method, -errno);
    }

    @Test
    void nativeErrorsAreClassifiedByErrno() {
        assertEquals(DeadPeerReason.TCP_TIMEOUT, IoErrors.classify(nativeError("writevAddresses", 110)));
        assertEquals(DeadPeerReason.RESET_BY_PEER, IoErrors.classify(nativeError("recvAddress", 104)));
        assertEquals(DeadPeerReason.RESET_BY_PEER, IoErrors.classify(nativeError("writeAddress", 32)), "EPIPE");
        assertEquals(DeadPeerReason.TCP_TIMEOUT, IoErrors.classify(nativeError("recvAddress", 113)),
                "EHOSTUNREACH: the kernel gave up and reports the ICMP error it had");
        assertEquals(DeadPeerReason.TCP_TIMEOUT, IoErrors.classify(nativeError("recvAddress", 101)), "ENETUNREACH");
        assertNull(IoErrors.classify(nativeError("recvAddress", 9)), "EBADF names no peer");
        assertNull(IoErrors.classify(nativeError("recvAddress", 103)), "ECONNABORTED is local");
    }

    @Test
    void nativeErrorsAreFoundAmongCauses() {
        assertEquals(DeadPeerReason.RESET_BY_PEER,
                IoErrors.classify(new ChannelException("flush failed", nativeError("writevAddresses", 104))));
    }

    @Test
    void jdkErrorsAreClassifiedByTheOperatingSystemsExactText() {
        assertEquals(DeadPeerReason.RESET_BY_PEER, IoErrors.classify(new SocketException("Connection reset")));
        assertEquals(DeadPeerReason.RESET_BY_PEER, IoErrors.classify(new IOException("Connection reset by peer")));
        assertEquals(DeadPeerReason.RESET_BY_PEER, IoErrors.classify(new IOException("Broken pipe")));
        assertEquals(DeadPeerReason.TCP_TIMEOUT, IoErrors.classify(new IOException("Connection timed out")));
        assertEquals(DeadPeerReason.TCP_TIMEOUT, IoErrors.classify(new SocketException("No route to host")));
        assertEquals(DeadPeerReason.RESET_BY_PEER,
                IoErrors.classify(new IOException("recvAddress(..) failed: Connection reset by peer")));
    }

    @Test
    void aMessageThatMerelyMentionsATimeoutIsNoKernelVerdict() {
        assertNull(IoErrors.classify(new SSLException("handshake timed out after 10000ms")));
        assertNull(IoErrors.classify(new IOException("read timed out")));
        assertNull(IoErrors.classify(new IOException("Connection timed out while resolving, retrying")));
        assertNull(IoErrors.classify(new IOException("Connection reset handling failed in the codec")));
        assertNull(IoErrors.classify(new ClosedChannelException()));
        assertNull(IoErrors.classify(new IllegalStateException("Connection reset")), "not an I/O error");
        assertNull(IoErrors.classify(null));
    }
}
