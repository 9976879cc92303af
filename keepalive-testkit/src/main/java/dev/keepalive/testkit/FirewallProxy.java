package dev.keepalive.testkit;

import dev.keepalive.testkit.internal.EventLoops;
import dev.keepalive.testkit.internal.FlowTotals;
import dev.keepalive.testkit.internal.ProxyFlow;
import io.netty.bootstrap.ServerBootstrap;
import io.netty.channel.Channel;
import io.netty.channel.ChannelFuture;
import io.netty.channel.ChannelInitializer;
import io.netty.channel.ChannelOption;
import io.netty.channel.EventLoopGroup;
import io.netty.channel.socket.SocketChannel;
import io.netty.channel.socket.nio.NioServerSocketChannel;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Objects;
import java.util.concurrent.TimeUnit;
import java.util.function.Consumer;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * A TCP proxy on loopback that injects network faults between a client and a server, one connection ({@link Flow})
 * at a time or for all of them. Portable: no root, no kernel configuration, only loopback sockets.
 *
 * <table>
 *   <caption>Settings</caption>
 *   <tr><th>setting</th><th>default</th><th>meaning</th></tr>
 *   <tr><td>{@link Builder#bindAddress}</td><td>{@code 127.0.0.1:0}</td><td>where the proxy listens</td></tr>
 *   <tr><td>{@link Builder#forgetIdleFlowsAfter}</td><td>{@link #NEVER_FORGET} (off)</td>
 *       <td>stateful-firewall emulation: a flow with no bytes either way for this long is forgotten and all its
 *       later bytes are dropped silently; new connections still pass</td></tr>
 *   <tr><td>{@link Builder#connectTimeout}</td><td>{@link #DEFAULT_CONNECT_TIMEOUT}</td>
 *       <td>how long the proxy tries to reach the server; on failure the client gets a reset</td></tr>
 *   <tr><td>{@link Builder#eventLoopGroup}</td><td>a group of its own with one thread</td>
 *       <td>a NIO-capable group to share; the proxy does not shut down a group it was given</td></tr>
 *   <tr><td>{@link Builder#fault}</td><td>none</td><td>lasting faults every flow starts with</td></tr>
 * </table>
 *
 * <pre>{@code
 * try (EchoServer server = EchoServer.start();
 *      FirewallProxy proxy = FirewallProxy.builder(server.address())
 *              .forgetIdleFlowsAfter(Duration.ofSeconds(2))
 *              .start()) {
 *     Socket client = new Socket();
 *     client.connect(proxy.address());                     // the client talks to the proxy
 *     Flow flow = proxy.awaitFlow(0, Duration.ofSeconds(5));
 *     flow.blackHole(Direction.SERVER_TO_CLIENT);          // answers vanish from now on, no FIN, no RST
 *     flow.restore();
 *     proxy.injectAll(Fault.latency(Duration.ofMillis(200))); // every flow, including later ones
 *     assertEquals(FlowState.OPEN, flow.state());
 * }
 * }</pre>
 *
 * <p>All methods are safe to call from any thread while traffic flows; a control returns once it is in force.
 * The proxy terminates TCP, so it shows what applications see; for kernel-level effects use
 * {@link KernelFirewallLab} (and a proxy may sit in front of a server inside the lab).
 */
public final class FirewallProxy implements AutoCloseable {
    private static final Logger LOG = LoggerFactory.getLogger(FirewallProxy.class);

    /** The default {@link Builder#connectTimeout}: 5 seconds. */
    public static final Duration DEFAULT_CONNECT_TIMEOUT = Duration.ofSeconds(5);
    /** The value of {@link Builder#forgetIdleFlowsAfter} that turns the stateful-firewall emulation off (zero). */
    public static final Duration NEVER_FORGET = Duration.ZERO;
    /** How long {@link #close()} waits for the proxy's own event loop to stop. */
    private static final long SHUTDOWN_TIMEOUT_SECONDS = 5;

    private final InetSocketAddress target;
    private final InetSocketAddress bindAddress;
    private final Duration connectTimeout;
    private final EventLoopGroup group;
    private final boolean ownsGroup;
    private final FlowTotals totals = new FlowTotals();
    private final Object lock = new Object();
    private final List<ProxyFlow> flows = new ArrayList<>(); // guarded by lock
    private final List<Fault> lastingFaults = new ArrayList<>(); // guarded by lock
    private final Consumer<FirewallProxy> onStart;
    private Duration idleTimeout; // guarded by lock
    private Channel serverChannel; // guarded by lock
    private boolean started; // guarded by lock
    private boolean closed; // guarded by lock

    private FirewallProxy(Builder b) {
        this.target = b.target;
        this.bindAddress = b.bindAddress;
        this.connectTimeout = b.connectTimeout;
        this.idleTimeout = b.idleTimeout;
        this.lastingFaults.addAll(b.faults);
        this.onStart = b.onStart;
        if (b.group != null) {
            this.group = b.group;
            this.ownsGroup = false;
        } else {
            this.group = EventLoops.nio(1, "firewall-proxy");
            this.ownsGroup = true;
        }
    }

    /**
     * A builder for a proxy in front of {@code target}.
     *
     * @param target the server the proxy forwards to (any address the JVM can reach, e.g. a lab's peer)
     * @return a builder
     * @throws NullPointerException if {@code target} is null
     */
    public static Builder builder(InetSocketAddress target) {
        return new Builder(Objects.requireNonNull(target, "target"));
    }

    /**
     * Starts a proxy with default settings in front of {@code target}.
     *
     * @param target the server
     * @return the started proxy
     */
    public static FirewallProxy start(InetSocketAddress target) {
        return builder(target).start();
    }

    /**
     * Binds the listening socket. Idempotent.
     *
     * @return this proxy
     * @throws TestkitException if the address cannot be bound
     * @throws IllegalStateException if the proxy is closed
     */
    public FirewallProxy start() {
        synchronized (lock) {
            if (closed) {
                throw new IllegalStateException("proxy is closed");
            }
            if (started) {
                return this;
            }
            ServerBootstrap b = new ServerBootstrap()
                    .group(group)
                    .channel(NioServerSocketChannel.class)
                    .childOption(ChannelOption.AUTO_READ, false)
                    .childOption(ChannelOption.ALLOW_HALF_CLOSURE, true)
                    .childOption(ChannelOption.TCP_NODELAY, true)
                    .childHandler(new ChannelInitializer<SocketChannel>() {
                        @Override
                        protected void initChannel(SocketChannel ch) {
                            register(ch);
                        }
                    });
            ChannelFuture f = b.bind(bindAddress).awaitUninterruptibly();
            if (!f.isSuccess()) {
                throw new TestkitException("cannot bind the proxy to " + bindAddress + ": " + f.cause(), f.cause());
            }
            serverChannel = f.channel();
            started = true;
        }
        LOG.debug("proxy {} -> {} listening", address(), target);
        if (onStart != null) {
            onStart.accept(this);
        }
        return this;
    }

    private void register(SocketChannel ch) {
        synchronized (lock) {
            if (closed) {
                ch.close();
                return;
            }
            ProxyFlow flow = new ProxyFlow(flows.size(), ch, totals, List.copyOf(lastingFaults), idleTimeout, target,
                    connectTimeout);
            flows.add(flow);
            lock.notifyAll();
        }
    }

    /**
     * The address clients should connect to.
     *
     * @return the bound address, e.g. {@code 127.0.0.1:40123}
     * @throws IllegalStateException if not started
     */
    public InetSocketAddress address() {
        synchronized (lock) {
            if (serverChannel == null) {
                throw new IllegalStateException("proxy not started");
            }
            return (InetSocketAddress) serverChannel.localAddress();
        }
    }

    /** @return the server the proxy forwards to */
    public InetSocketAddress target() {
        return target;
    }

    /** @return every flow accepted so far, open or not, in accept order (index = {@link Flow#id()}) */
    public List<Flow> flows() {
        synchronized (lock) {
            return List.copyOf(flows);
        }
    }

    /**
     * Waits until the proxy has accepted flow number {@code index} (0 is the first connection) and returns it.
     *
     * <pre>{@code
     * Flow first = proxy.awaitFlow(0, Duration.ofSeconds(5));
     * first.reset();
     * Flow reconnected = proxy.awaitFlow(1, Duration.ofSeconds(10)); // the client reconnected
     * }</pre>
     *
     * @param index the flow number, {@code >= 0}
     * @param timeout how long to wait at most
     * @return the flow
     * @throws AwaitTimeoutException if it was not accepted in time
     * @throws IllegalArgumentException if {@code index < 0}
     */
    public Flow awaitFlow(int index, Duration timeout) {
        if (index < 0) {
            throw new IllegalArgumentException("index must be >= 0, but was " + index);
        }
        Objects.requireNonNull(timeout, "timeout");
        long deadline = System.nanoTime() + timeout.toNanos();
        synchronized (lock) {
            // Bounded by the deadline.
            while (flows.size() <= index) {
                long left = deadline - System.nanoTime();
                if (left <= 0) {
                    throw new AwaitTimeoutException("flow #" + index + " not accepted", timeout,
                            flows.size() + " flow(s) so far");
                }
                try {
                    lock.wait(Math.max(1, TimeUnit.NANOSECONDS.toMillis(left)));
                } catch (InterruptedException e) {
                    Thread.currentThread().interrupt();
                    throw new AwaitTimeoutException("flow #" + index + " not accepted (interrupted)", timeout, "");
                }
            }
            return flows.get(index);
        }
    }

    /**
     * Injects a fault into every open flow. A lasting fault (black hole, latency, bandwidth, pause) also applies to
     * every flow accepted later, until {@link #restoreAll()}; forget, reset and close act on the current flows only.
     * Note that a new connection to a black-holed proxy still completes its TCP handshake (with the proxy). The
     * fault reaches the flows of each of the proxy's event loops in one task, so thousands of flows are faulted
     * within microseconds of each other, not one after another; it returns once every flow has it.
     *
     * @param fault the fault
     */
    public void injectAll(Fault fault) {
        Objects.requireNonNull(fault, "fault");
        List<ProxyFlow> snapshot;
        synchronized (lock) {
            if (fault.isLasting()) {
                lastingFaults.add(fault);
            }
            snapshot = List.copyOf(flows);
        }
        ProxyFlow.injectTogether(snapshot, fault); // at once on each event loop, not one flow after another
    }

    /** Removes every lasting fault from every flow and from the defaults for new flows. */
    public void restoreAll() {
        List<ProxyFlow> snapshot;
        synchronized (lock) {
            lastingFaults.clear();
            snapshot = List.copyOf(flows);
        }
        for (ProxyFlow f : snapshot) {
            f.restore();
        }
    }

    /**
     * Turns the stateful-firewall emulation on, changes its timeout, or turns it off, for current and new flows.
     * Idle time counts from the last byte the proxy read from either side.
     *
     * @param timeout the idle timeout, or {@link #NEVER_FORGET}
     * @throws IllegalArgumentException if negative
     */
    public void forgetIdleFlowsAfter(Duration timeout) {
        checkIdleTimeout(timeout);
        List<ProxyFlow> snapshot;
        synchronized (lock) {
            idleTimeout = timeout;
            snapshot = List.copyOf(flows);
        }
        for (ProxyFlow f : snapshot) {
            f.setIdleTimeout(timeout);
        }
    }

    /** @return the stateful-firewall idle timeout, {@link #NEVER_FORGET} if off */
    public Duration idleTimeout() {
        synchronized (lock) {
            return idleTimeout;
        }
    }

    /** @return the bytes forwarded and dropped by all flows together, closed ones included */
    public FlowCounters counters() {
        return totals.snapshot();
    }

    /**
     * Stops listening and closes every flow (FIN to both sides), then stops the proxy's own event loop. Idempotent.
     */
    @Override
    public void close() {
        List<ProxyFlow> snapshot;
        Channel listener;
        synchronized (lock) {
            if (closed) {
                return;
            }
            closed = true;
            listener = serverChannel;
            snapshot = List.copyOf(flows);
        }
        if (listener != null) {
            listener.close().awaitUninterruptibly(SHUTDOWN_TIMEOUT_SECONDS, TimeUnit.SECONDS);
        }
        for (ProxyFlow f : snapshot) {
            f.closeQuietly();
        }
        if (ownsGroup) {
            group.shutdownGracefully(0, SHUTDOWN_TIMEOUT_SECONDS, TimeUnit.SECONDS)
                    .awaitUninterruptibly(2 * SHUTDOWN_TIMEOUT_SECONDS, TimeUnit.SECONDS);
        }
        LOG.debug("proxy -> {} closed; {}", target, totals.snapshot());
    }

    @Override
    public String toString() {
        synchronized (lock) {
            return "FirewallProxy[" + (serverChannel == null ? "unbound" : serverChannel.localAddress()) + " -> "
                    + target + ", " + flows.size() + " flow(s)]";
        }
    }

    private static void checkIdleTimeout(Duration timeout) {
        Objects.requireNonNull(timeout, "idleTimeout");
        if (timeout.isNegative()) {
            throw new IllegalArgumentException("idleTimeout must be >= 0 (0 = never forget), but was " + timeout);
        }
    }

    /**
     * Configures a {@link FirewallProxy}. Not thread-safe; each setter returns this builder.
     */
    public static final class Builder {
        private final InetSocketAddress target;
        private InetSocketAddress bindAddress = new InetSocketAddress(InetAddress.getLoopbackAddress(), 0);
        private Duration connectTimeout = DEFAULT_CONNECT_TIMEOUT;
        private Duration idleTimeout = NEVER_FORGET;
        private EventLoopGroup group;
        private final List<Fault> faults = new ArrayList<>();
        private Consumer<FirewallProxy> onStart;

        private Builder(InetSocketAddress target) {
            this.target = target;
        }

        /**
         * Where to listen. Default: {@code 127.0.0.1:0} (an ephemeral port on loopback).
         *
         * @param address the address
         * @return this builder
         * @throws NullPointerException if null
         */
        public Builder bindAddress(InetSocketAddress address) {
            this.bindAddress = Objects.requireNonNull(address, "bindAddress");
            return this;
        }

        /**
         * How long the proxy tries to connect to the server. Default {@link #DEFAULT_CONNECT_TIMEOUT}.
         *
         * @param timeout {@code > 0}
         * @return this builder
         * @throws IllegalArgumentException if not positive
         */
        public Builder connectTimeout(Duration timeout) {
            Objects.requireNonNull(timeout, "connectTimeout");
            if (timeout.isNegative() || timeout.isZero()) {
                throw new IllegalArgumentException("connectTimeout must be > 0, but was " + timeout);
            }
            this.connectTimeout = timeout;
            return this;
        }

        /**
         * Stateful-firewall emulation: forget a flow once no byte passed either way for {@code timeout}. Default
         * {@link #NEVER_FORGET}.
         *
         * @param timeout {@code >= 0}, zero turns it off
         * @return this builder
         * @throws IllegalArgumentException if negative
         */
        public Builder forgetIdleFlowsAfter(Duration timeout) {
            checkIdleTimeout(timeout);
            this.idleTimeout = timeout;
            return this;
        }

        /**
         * Uses a shared, NIO-capable event loop group (on Netty 4.2 for example {@code new
         * MultiThreadIoEventLoopGroup(1, NioIoHandler.newFactory())}) instead of a group of the proxy's own. The proxy
         * never shuts it down.
         * Default: a group of its own with one daemon thread, shut down by {@link #close()}.
         *
         * @param group the group
         * @return this builder
         */
        public Builder eventLoopGroup(EventLoopGroup group) {
            this.group = Objects.requireNonNull(group, "eventLoopGroup");
            return this;
        }

        /**
         * A lasting fault every flow starts with, as if {@link FirewallProxy#injectAll(Fault)} had been called
         * before the first connection. Default: none.
         *
         * @param fault a lasting fault (black hole, latency, bandwidth, pause)
         * @return this builder
         * @throws IllegalArgumentException if the fault is not lasting
         */
        public Builder fault(Fault fault) {
            Objects.requireNonNull(fault, "fault");
            if (!fault.isLasting()) {
                throw new IllegalArgumentException("fault must be lasting (black hole, latency, bandwidth or pause), "
                        + "but was " + fault);
            }
            faults.add(fault);
            return this;
        }

        /** Called with each proxy right after it started listening; used by {@link FirewallProxyFactory}. */
        Builder onStart(Consumer<FirewallProxy> callback) {
            this.onStart = callback;
            return this;
        }

        /**
         * Creates the proxy without listening yet; call {@link FirewallProxy#start()}.
         *
         * @return the proxy
         */
        public FirewallProxy build() {
            return new FirewallProxy(this);
        }

        /**
         * Creates the proxy and starts listening.
         *
         * @return the started proxy
         * @throws TestkitException if the bind address cannot be bound
         */
        public FirewallProxy start() {
            FirewallProxy proxy = build();
            try {
                return proxy.start();
            } catch (RuntimeException e) {
                proxy.close();
                throw e;
            }
        }
    }
}
