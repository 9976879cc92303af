package dev.keepalive.netty;

import dev.keepalive.DeadPeerReason;
import dev.keepalive.KeepaliveSettings;
import dev.keepalive.ManualTicker;
import dev.keepalive.PeerDeadException;
import dev.keepalive.PeerDiagnosis;
import dev.keepalive.testsupport.EmbeddedTime;
import io.netty.buffer.ByteBuf;
import io.netty.channel.embedded.EmbeddedChannel;
import org.junit.jupiter.api.Test;

import java.io.File;
import java.io.IOException;
import java.net.MalformedURLException;
import java.net.URL;
import java.net.URLClassLoader;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * The native transports (epoll, io_uring, kqueue, and their common {@code unix} classes) are optional: an application
 * on NIO alone must be able to have verdicts, their diagnosis (unknown) and classified errors. This runs them in a
 * class loader that has the test class path minus every native transport jar.
 */
class OptionalNativeTransportsTest {

    @Test
    void verdictsDiagnosesAndErrorsWorkWithoutTheNativeTransports() throws Exception {
        String path = System.getProperty("surefire.test.class.path", System.getProperty("java.class.path"));
        List<URL> urls = new ArrayList<>();
        int hidden = 0;
        for (String entry : path.split(File.pathSeparator)) {
            String name = new File(entry).getName();
            if (name.startsWith("netty-transport-native-") || name.startsWith("netty-transport-classes-")) {
                hidden++;
            } else {
                urls.add(url(entry));
            }
        }
        assertTrue(hidden >= 3, "the epoll and unix-common jars were on the test class path: " + hidden);
        try (URLClassLoader loader = new URLClassLoader(urls.toArray(URL[]::new),
                ClassLoader.getPlatformClassLoader())) {
            assertThrows(ClassNotFoundException.class, () -> loader.loadClass("io.netty.channel.unix.Errors"));
            Runnable scenario = (Runnable) loader.loadClass(Verdicts.class.getName()).getConstructor()
                    .newInstance();
            scenario.run();
        }
    }

    private static URL url(String entry) {
        try {
            return new File(entry).toURI().toURL();
        } catch (MalformedURLException e) {
            throw new IllegalArgumentException(entry, e);
        }
    }

    /** Loaded in the class loader without the native transports. */
    public static final class Verdicts implements Runnable {
        @Override
        public void run() {
            assertThrows(ClassNotFoundException.class, () -> Class.forName("io.netty.channel.epoll.EpollTcpInfo",
                    false, getClass().getClassLoader()));
            KeepaliveSettings settings = KeepaliveSettings.builder().pingInterval(Duration.ofSeconds(1))
                    .pingTimeout(Duration.ofSeconds(1)).pingsMissedBeforeDead(1).pingJitter(0).build();

            ManualTicker ticker = new ManualTicker(0);
            KeepaliveHandler handler = KeepaliveHandler.builder(settings).ticker(ticker).build();
            EmbeddedChannel ch = new EmbeddedChannel();
            try {
                EmbeddedTime time = new EmbeddedTime(ticker, ch);
                ch.pipeline().addLast(handler);
                ch.pipeline().fireChannelReadComplete(); // the peer's first bytes: the connection has proven itself
                time.advance(Duration.ofSeconds(1));
                ((ByteBuf) ch.readOutbound()).release();
                time.advance(Duration.ofSeconds(1));
                PeerDeadException e = assertThrows(PeerDeadException.class, ch::checkException);
                assertEquals(DeadPeerReason.PING_TIMEOUT, e.reason());
                assertEquals(PeerDiagnosis.UNKNOWN, e.diagnosis());
            } finally {
                ch.finishAndReleaseAll();
            }

            handler = KeepaliveHandler.builder(settings).ticker(ticker).build();
            ch = new EmbeddedChannel(handler);
            try {
                ch.pipeline().fireExceptionCaught(new IOException("Connection reset by peer"));
                assertEquals(DeadPeerReason.RESET_BY_PEER,
                        assertThrows(PeerDeadException.class, ch::checkException).reason());
            } finally {
                ch.finishAndReleaseAll();
            }
        }
    }
}
