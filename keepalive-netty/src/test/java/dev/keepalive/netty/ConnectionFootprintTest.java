package dev.keepalive.netty;

import dev.keepalive.KeepaliveSettings;
import dev.keepalive.core.LivenessMonitor;
import dev.keepalive.testsupport.Loopback;
import dev.keepalive.testsupport.Transport;
import io.netty.channel.Channel;
import org.junit.jupiter.api.Test;
import sun.misc.Unsafe;

import java.lang.reflect.Field;
import java.lang.reflect.Modifier;
import java.util.concurrent.Callable;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicReference;

import static java.time.Duration.ofMillis;
import static java.time.Duration.ofSeconds;
import static org.awaitility.Awaitility.await;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

/**
 * What an idle connection costs in heap, besides Netty's own context: the handler, its liveness monitor and its
 * timer entry (issue 16; IdleScaleBenchmark measures the same at scale with class histograms). Sizes are those of a
 * 64-bit HotSpot JVM with compressed references and class pointers (the default below 32 GiB of heap), read from
 * the field offsets the JVM chose.
 */
class ConnectionFootprintTest {
    private static final Unsafe UNSAFE = unsafe();

    /** Per connection: 48 + 128 + 32 bytes (the context, 64 more, is Netty's, as for any handler). */
    @Test
    void theHandlerItsMonitorAndItsTimerEntryTakeAtMost208BytesTogether() {
        assumeTrue(Unsafe.ARRAY_OBJECT_INDEX_SCALE == 4, "compressed references");
        long handler = shallowSize(KeepaliveHandler.class);
        long monitor = shallowSize(LivenessMonitor.class);
        long timerEntry = shallowSize(HandlerEvents.class);
        String sizes = "handler " + handler + " B, monitor " + monitor + " B, timer entry and probe sink "
                + timerEntry + " B";
        assertTrue(handler <= 48, sizes);
        assertTrue(monitor <= 128, sizes);
        assertTrue(timerEntry <= 32, sizes);
    }

    /**
     * The rest lives in objects made on first use (the handler's and the monitor's "uncommon" parts): a connection
     * that pings and answers on a loop's shared timer, with nothing unusual happening, has none of them.
     */
    @Test
    void aHealthyPingingConnectionCarriesNoObjectMadeOnFirstUse() throws Exception {
        KeepaliveSettings settings = KeepaliveSettings.builder().pingInterval(ofMillis(200)).pingTimeout(ofMillis(500))
                .build();
        AtomicReference<KeepaliveHandler> serverSide = new AtomicReference<>();
        try (Loopback net = new Loopback(Transport.NIO)) {
            Channel server = net.server(ch -> {
                KeepaliveHandler h = new KeepaliveHandler(settings);
                serverSide.set(h);
                Loopback.framed(ch, h);
            });
            KeepaliveHandler client = new KeepaliveHandler(settings);
            net.connect(server, c -> Loopback.framed(c, client));
            await().atMost(ofSeconds(10)).until(() -> client.stats().pongsReceived() >= 3);
            KeepaliveHandler accepted = serverSide.get();
            for (KeepaliveHandler h : new KeepaliveHandler[] {client, accepted}) {
                // read on the loop, where every write to them happens
                Object[] parts = onLoopOf(h, () -> new Object[] {field(h, "uncommon"), field(h.monitor, "uncommon")});
                assertNull(parts[0], "the handler's uncommon part of a healthy connection");
                assertNull(parts[1], "the monitor's uncommon part of a healthy connection");
            }
        }
    }

    private static Object[] onLoopOf(KeepaliveHandler h, Callable<Object[]> read)
            throws Exception {
        return h.ctx.executor().submit(read).get(5, TimeUnit.SECONDS);
    }

    private static Object field(Object target, String name) throws ReflectiveOperationException {
        Field f = target.getClass().getDeclaredField(name);
        f.setAccessible(true);
        return f.get(target);
    }

    /** An instance's size: the end of its last field (its class's or a superclass's), rounded up to 8 bytes. */
    static long shallowSize(Class<?> type) {
        long end = 12; // mark word and compressed class pointer
        for (Class<?> c = type; c != null; c = c.getSuperclass()) {
            for (Field f : c.getDeclaredFields()) {
                if (!Modifier.isStatic(f.getModifiers())) {
                    end = Math.max(end, UNSAFE.objectFieldOffset(f) + bytes(f.getType()));
                }
            }
        }
        return (end + 7) & ~7L;
    }

    private static int bytes(Class<?> t) {
        if (!t.isPrimitive()) {
            return Unsafe.ARRAY_OBJECT_INDEX_SCALE;
        }
        if (t == long.class || t == double.class) {
            return 8;
        }
        if (t == int.class || t == float.class) {
            return 4;
        }
        if (t == short.class || t == char.class) {
            return 2;
        }
        return 1;
    }

    private static Unsafe unsafe() {
        try {
            Field f = Unsafe.class.getDeclaredField("theUnsafe");
            f.setAccessible(true);
            return (Unsafe) f.get(null);
        } catch (ReflectiveOperationException e) {
            throw new IllegalStateException(e);
        }
    }
}
