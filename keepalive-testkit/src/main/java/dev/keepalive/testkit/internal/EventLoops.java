package dev.keepalive.testkit.internal;

import io.netty.channel.EventLoopGroup;
import io.netty.channel.nio.NioEventLoopGroup;
import io.netty.util.concurrent.DefaultThreadFactory;

/** Event loop groups that work on Netty 4.1 and 4.2 alike. Internal. */
public final class EventLoops {
    private EventLoops() {
    }

    /**
     * An NIO group of {@code threads} daemon threads named {@code name}. {@code NioEventLoopGroup} is deprecated in
     * Netty 4.2 (for {@code MultiThreadIoEventLoopGroup}, which 4.1 lacks) but works on both lines.
     */
    @SuppressWarnings("deprecation")
    public static EventLoopGroup nio(int threads, String name) {
        return new NioEventLoopGroup(threads, new DefaultThreadFactory(name, true));
    }
}
