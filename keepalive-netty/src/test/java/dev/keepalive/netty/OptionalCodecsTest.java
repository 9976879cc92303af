package dev.keepalive.netty;

import dev.keepalive.KeepaliveSettings;
import dev.keepalive.ManualTicker;
import dev.keepalive.testsupport.EmbeddedTime;
import io.netty.buffer.ByteBuf;
import io.netty.buffer.Unpooled;
import io.netty.channel.embedded.EmbeddedChannel;
import org.junit.jupiter.api.Test;

import java.io.File;
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
 * {@code netty-codec-http} and {@code netty-codec-http2} are optional dependencies: an application without them must
 * be able to use the handler and the built-in probes. This runs a ping and its pong in a class loader that has the
 * test class path minus those two jars.
 */
class OptionalCodecsTest {

    @Test
    void theHandlerAndItsBuiltInProbesRunWithoutTheHttpCodecs() throws Exception {
        String path = System.getProperty("surefire.test.class.path", System.getProperty("java.class.path"));
        List<URL> urls = new ArrayList<>();
        int hidden = 0;
        for (String entry : path.split(File.pathSeparator)) {
            String name = new File(entry).getName();
            if (name.startsWith("netty-codec-http-") || name.startsWith("netty-codec-http2-")) {
                hidden++;
            } else {
                urls.add(url(entry));
            }
        }
        assertEquals(2, hidden, "netty-codec-http and netty-codec-http2 were on the test class path");
        try (URLClassLoader loader = new URLClassLoader(urls.toArray(URL[]::new),
                ClassLoader.getPlatformClassLoader())) {
            assertThrows(ClassNotFoundException.class,
                    () -> loader.loadClass("io.netty.handler.codec.http.HttpObject"));
            Runnable scenario = (Runnable) loader.loadClass(PingPong.class.getName()).getConstructor()
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

    /** Loaded in the class loader without the HTTP codecs: pings with each built-in probe. */
    public static final class PingPong implements Runnable {
        @Override
        public void run() {
            assertThrows(ClassNotFoundException.class, () -> Class.forName("io.netty.handler.codec.http.HttpObject",
                    false, getClass().getClassLoader()));
            for (KeepaliveProbe probe : List.of(KeepaliveProbe.binary(), KeepaliveProbe.lines())) {
                ManualTicker ticker = new ManualTicker(0);
                KeepaliveHandler handler = KeepaliveHandler.builder(KeepaliveSettings.builder()
                                .pingInterval(Duration.ofSeconds(1)).pingJitter(0).build())
                        .probe(probe).ticker(ticker).build();
                EmbeddedChannel ch = new EmbeddedChannel();
                try {
                    EmbeddedTime time = new EmbeddedTime(ticker, ch);
                    ch.pipeline().addLast(handler);
                    time.advance(Duration.ofSeconds(1));
                    ByteBuf ping = ch.readOutbound();
                    ping.release();
                    ch.writeInbound(probe.newPong(Unpooled.buffer().alloc(), 1));
                    assertEquals(1, handler.stats().pongsReceived(), String.valueOf(probe));
                    assertTrue(ch.isOpen());
                } finally {
                    ch.finishAndReleaseAll();
                }
            }
        }
    }
}
