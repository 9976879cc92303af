package dev.keepalive.testkit;

import dev.keepalive.testkit.internal.EventLoops;
import io.netty.channel.EventLoopGroup;
import java.net.InetSocketAddress;
import java.util.ArrayList;
import java.util.List;
import java.util.Objects;
import java.util.concurrent.TimeUnit;

/**
 * Makes {@link FirewallProxy proxies} and {@link EchoServer echo servers} that are closed together, after the test.
 * {@link FaultLabExtension} passes one to each test that declares a parameter of this type. All proxies of a
 * factory share one event loop thread.
 *
 * <pre>{@code
 * @ExtendWith(FaultLabExtension.class)
 * class ReconnectTest {
 *     @Test
 *     void survivesAReset(FirewallProxyFactory proxies) {
 *         EchoServer server = proxies.echoServer();
 *         FirewallProxy proxy = proxies.builder(server.address())
 *                 .forgetIdleFlowsAfter(Duration.ofSeconds(30))
 *                 .start();
 *         // ... connect your client to proxy.address() ...
 *     }   // proxy and server are closed here
 * }
 * }</pre>
 *
 * <p>Thread-safe.
 */
public final class FirewallProxyFactory implements AutoCloseable {
    private static final long SHUTDOWN_TIMEOUT_SECONDS = 5;

    private final Object lock = new Object();
    private final List<AutoCloseable> resources = new ArrayList<>(); // guarded by lock
    private EventLoopGroup group; // guarded by lock
    private boolean closed; // guarded by lock

    /** Creates an empty factory; close it to close everything it made. */
    public FirewallProxyFactory() {
    }

    /**
     * A builder whose proxy uses the factory's event loop and is closed with the factory.
     *
     * @param target the server the proxy forwards to
     * @return the builder; call {@link FirewallProxy.Builder#start()}
     */
    public FirewallProxy.Builder builder(InetSocketAddress target) {
        Objects.requireNonNull(target, "target");
        return FirewallProxy.builder(target).eventLoopGroup(group()).onStart(this::track);
    }

    /**
     * Starts a proxy with default settings in front of {@code target}.
     *
     * @param target the server
     * @return the running proxy
     */
    public FirewallProxy start(InetSocketAddress target) {
        return builder(target).start();
    }

    /**
     * Starts an {@link EchoServer} on loopback, closed with the factory.
     *
     * @return the running server
     */
    public EchoServer echoServer() {
        EchoServer server = EchoServer.start();
        track(server);
        return server;
    }

    /**
     * Closes {@code resource} with the factory (in reverse order of registration), e.g. a test's own server.
     *
     * @param resource the resource
     * @param <T> its type
     * @return {@code resource}
     */
    public <T extends AutoCloseable> T track(T resource) {
        Objects.requireNonNull(resource, "resource");
        synchronized (lock) {
            if (closed) {
                throw new IllegalStateException("factory is closed");
            }
            resources.add(resource);
        }
        return resource;
    }

    private EventLoopGroup group() {
        synchronized (lock) {
            if (closed) {
                throw new IllegalStateException("factory is closed");
            }
            if (group == null) {
                group = EventLoops.nio(1, "firewall-proxies");
            }
            return group;
        }
    }

    /**
     * Closes everything this factory made, newest first, then its event loop. Idempotent.
     *
     * @throws TestkitException if closing something failed (the others are still closed)
     */
    @Override
    public void close() {
        List<AutoCloseable> toClose;
        EventLoopGroup g;
        synchronized (lock) {
            if (closed) {
                return;
            }
            closed = true;
            toClose = new ArrayList<>(resources);
            g = group;
        }
        TestkitException failure = null;
        for (int i = toClose.size() - 1; i >= 0; i--) {
            try {
                toClose.get(i).close();
            } catch (Exception e) {
                if (failure == null) {
                    failure = new TestkitException("closing " + toClose.get(i) + " failed: " + e, e);
                } else {
                    failure.addSuppressed(e);
                }
            }
        }
        if (g != null) {
            g.shutdownGracefully(0, SHUTDOWN_TIMEOUT_SECONDS, TimeUnit.SECONDS)
                    .awaitUninterruptibly(2 * SHUTDOWN_TIMEOUT_SECONDS, TimeUnit.SECONDS);
        }
        if (failure != null) {
            throw failure;
        }
    }
}
