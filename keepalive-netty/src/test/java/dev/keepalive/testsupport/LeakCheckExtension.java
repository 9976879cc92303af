package dev.keepalive.testsupport;

import io.netty.buffer.ByteBuf;
import io.netty.buffer.PooledByteBufAllocator;
import io.netty.buffer.UnpooledByteBufAllocator;
import io.netty.util.ResourceLeakDetector;
import org.junit.jupiter.api.extension.AfterEachCallback;
import org.junit.jupiter.api.extension.ExtensionContext;

import java.util.ArrayList;
import java.util.List;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.fail;

/**
 * After each test, collects garbage and makes Netty look for leaked buffers; any leak recorded by
 * {@link RecordingLeakDetector} fails the test. Registered for every test through JUnit's extension
 * auto-detection (see {@code junit-platform.properties}).
 */
public final class LeakCheckExtension implements AfterEachCallback {
    private static final int ROUNDS = 3;

    @Override
    public void afterEach(ExtensionContext context) {
        assertEquals(ResourceLeakDetector.Level.PARANOID, ResourceLeakDetector.getLevel(),
                "tests run with the leak detector at PARANOID");
        for (int round = 0; round < ROUNDS && RecordingLeakDetector.LEAKS.isEmpty(); round++) {
            System.gc();
            // Leaks are reported when buffers are allocated after the leaked ones were collected.
            for (int i = 0; i < 8; i++) {
                ByteBuf a = PooledByteBufAllocator.DEFAULT.buffer(16);
                ByteBuf b = UnpooledByteBufAllocator.DEFAULT.buffer(16);
                a.release();
                b.release();
            }
        }
        if (!RecordingLeakDetector.LEAKS.isEmpty()) {
            List<String> leaks = new ArrayList<>(RecordingLeakDetector.LEAKS);
            RecordingLeakDetector.LEAKS.clear();
            fail("Netty buffer leak(s) detected during or before " + context.getDisplayName() + ":\n"
                    + String.join("\n", leaks));
        }
    }
}
