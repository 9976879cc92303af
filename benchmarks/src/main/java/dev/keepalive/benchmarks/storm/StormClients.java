package dev.keepalive.benchmarks.storm;

import dev.keepalive.KeepaliveSettings;
import dev.keepalive.netty.KeepaliveProbe;
import dev.keepalive.netty.client.ReconnectingClient;
import dev.keepalive.reconnect.Backoff;
import dev.keepalive.reconnect.ConnectionEvent;
import dev.keepalive.reconnect.ConnectionListener;
import dev.keepalive.reconnect.ReconnectPolicy;
import io.netty.bootstrap.Bootstrap;
import io.netty.bootstrap.ServerBootstrap;
import io.netty.channel.Channel;
import io.netty.channel.ConnectTimeoutException;
import io.netty.channel.EventLoopGroup;
import io.netty.channel.MultiThreadIoEventLoopGroup;
import io.netty.channel.epoll.EpollIoHandler;
import io.netty.channel.epoll.EpollSocketChannel;
import io.netty.channel.group.ChannelGroup;
import io.netty.channel.group.DefaultChannelGroup;
import io.netty.handler.codec.LineBasedFrameDecoder;
import io.netty.handler.codec.string.StringDecoder;
import io.netty.handler.codec.string.StringEncoder;
import io.netty.util.concurrent.GlobalEventExecutor;

import java.io.BufferedReader;
import java.io.BufferedWriter;
import java.io.IOException;
import java.io.InputStreamReader;
import java.net.ConnectException;
import java.net.InetSocketAddress;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.Semaphore;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.LongAdder;
import java.util.function.BooleanSupplier;

/**
 * The storm's clients, a child process: {@code count} {@link ReconnectingClient}s on one shared epoll event loop
 * group, each recording its events with {@link System#nanoTime()} (CLOCK_MONOTONIC on Linux, so comparable with the
 * driver's and the server's clocks).
 *
 * <p>Arguments: {@code port count firstId threads backoff connectTimeoutMillis}; {@code backoff} as in
 * {@link BackoffSpec}. Prints {@code READY} once a small warm-up storm inside the process is over (see
 * {@link #warmUp}) and the clients are built. Commands on stdin, one a line:
 * <ul>
 *   <li>{@code START}: starts the clients, at most {@value #START_WINDOW} of them waiting for their first answer at
 *       a time (the initial connect is set-up, not the storm);</li>
 *   <li>{@code STATUS}: answers {@code STATUS <clients connected now> <clients started> <CPU time of this process,
 *       nanos>};</li>
 *   <li>{@code DUMP <file>}: writes every event recorded, {@code <client> <kind> <nanos>} a line, then the
 *       failures of kind {@link #FAILED} by cause, {@code # <count> <cause>} a line, and answers
 *       {@code DUMPED <events>};</li>
 *   <li>end of input: closes the clients and exits.</li>
 * </ul>
 * Kinds: see the constants.
 */
public final class StormClients {
    /** An attempt starts ({@code CONNECTING}). */
    public static final char CONNECTING = 'C';
    /** Connected ({@code CONNECTED}). */
    public static final char CONNECTED = 'K';
    /** The connection was lost ({@code DISCONNECTED}). */
    public static final char DISCONNECTED = 'D';
    /** An attempt was refused (a {@code CONNECT_FAILED} with "connection refused"). */
    public static final char REFUSED = 'R';
    /**
     * An attempt was reset (a {@code CONNECT_FAILED} with "connection reset"): seen on loopback in the few hundred
     * milliseconds after the killed server's process was gone, before the new one listened.
     */
    public static final char RESET = 'S';
    /** An attempt timed out (a {@code CONNECT_FAILED} with a connect timeout). */
    public static final char TIMED_OUT = 'T';
    /** An attempt failed otherwise. */
    public static final char FAILED = 'F';
    /** The next attempt is planned ({@code RECONNECTING}); the time is the planned one: now + the delay. */
    public static final char PLANNED = 'P';
    /** The client gave up or was closed. */
    public static final char ENDED = 'X';

    static final int START_WINDOW = 256;
    static final int WARM_UP_CLIENTS = 200;
    /** Rounds of loss, refusals and reconnection in the warm-up. */
    static final int WARM_UP_ROUNDS = 5;
    /** Overrides {@link #WARM_UP_ROUNDS} (0: only the first connection). */
    public static final String WARM_UP_ROUNDS_PROPERTY = "keepalive.storm.warmUpRounds";

    private StormClients() {
    }

    /** One client's events, appended on its event loop. */
    private static final class Recorder implements ConnectionListener {
        private final Map<String, LongAdder> failures;
        private final AtomicInteger connected;
        private final Semaphore window;
        private long[] times = new long[16];
        private byte[] kinds = new byte[16];
        private int n;
        private boolean answered;

        Recorder(Map<String, LongAdder> failures, AtomicInteger connected, Semaphore window) {
            this.failures = failures;
            this.connected = connected;
            this.window = window;
        }

        @Override
        public void onEvent(ConnectionEvent e) {
            long now = System.nanoTime();
            switch (e.type()) {
                case CONNECTING:
                    add(CONNECTING, now);
                    break;
                case CONNECTED:
                    add(CONNECTED, now);
                    connected.incrementAndGet();
                    firstAnswer();
                    break;
                case DISCONNECTED:
                    add(DISCONNECTED, now);
                    connected.decrementAndGet();
                    break;
                case CONNECT_FAILED:
                    char kind = kind(e.cause());
                    add(kind, now);
                    if (kind == FAILED) {
                        failures.computeIfAbsent(describe(e.cause()), k -> new LongAdder()).increment();
                    }
                    firstAnswer();
                    break;
                case RECONNECTING:
                    add(PLANNED, now + e.delay().toNanos());
                    break;
                default:
                    add(ENDED, now);
            }
        }

        private static char kind(Throwable cause) {
            if (cause instanceof ConnectTimeoutException) {
                return TIMED_OUT;
            }
            String message = cause == null ? "" : String.valueOf(cause.getMessage());
            if (cause instanceof ConnectException && message.contains("refused")) {
                return REFUSED;
            }
            if (cause instanceof ConnectException && message.contains("reset")) {
                return RESET;
            }
            return FAILED;
        }

        /** The cause's class and message, without addresses and numbers (so that alike failures add up). */
        private static String describe(Throwable cause) {
            if (cause == null) {
                return "no cause";
            }
            String text = cause.getClass().getName() + ": " + cause.getMessage();
            return text.replaceAll("/?[0-9a-fA-F.:]*[0-9]+", "N");
        }

        private void firstAnswer() {
            if (!answered) {
                answered = true;
                window.release();
            }
        }

        private synchronized void add(char kind, long at) {
            if (n == times.length) {
                times = Arrays.copyOf(times, n * 2);
                kinds = Arrays.copyOf(kinds, n * 2);
            }
            times[n] = at;
            kinds[n] = (byte) kind;
            n++;
        }

        synchronized int write(int id, BufferedWriter out) throws IOException {
            for (int i = 0; i < n; i++) {
                out.write(Integer.toString(id));
                out.write(' ');
                out.write((char) kinds[i]);
                out.write(' ');
                out.write(Long.toString(times[i]));
                out.write('\n');
            }
            return n;
        }
    }

    private static ReconnectingClient client(Bootstrap bootstrap, InetSocketAddress server, ReconnectPolicy policy,
                                             ConnectionListener listener) {
        return ReconnectingClient.builder(bootstrap)
                .endpoints(List.of(server))
                .pipeline((ch, keepalive) -> ch.pipeline().addLast(new LineBasedFrameDecoder(1024),
                        new StringDecoder(StandardCharsets.UTF_8), new StringEncoder(StandardCharsets.UTF_8),
                        keepalive))
                .keepalive(KeepaliveSettings.defaults(), KeepaliveProbe.lines())
                .policy(policy)
                .listener(listener)
                .build();
    }

    /**
     * A small storm inside this process before the measured one: {@value #WARM_UP_CLIENTS} clients on the same
     * event loops connect to a server of this process, lose it, are refused, and connect again. Without it the
     * measured storm's first few hundred milliseconds go to loading the classes of the loss, refusal and
     * reconnect paths from the jar (seen: the first loss reported 250 ms after the server process was gone).
     */
    private static void warmUp(EventLoopGroup group, Bootstrap bootstrap, Backoff measured) throws Exception {
        Backoff.Sequence sequence = measured.newSequence(() -> 0.5);
        for (int i = 0; i < 8; i++) {
            sequence.next(); // loads the measured backoff's classes
        }
        AtomicInteger open = new AtomicInteger();
        AtomicInteger accepted = new AtomicInteger();
        AtomicInteger connected = new AtomicInteger();
        AtomicInteger failed = new AtomicInteger();
        ChannelGroup children = new DefaultChannelGroup(GlobalEventExecutor.INSTANCE);
        ServerBootstrap serverBootstrap = StormServer.bootstrap(group, open, accepted, children);
        Channel server = serverBootstrap.bind(new InetSocketAddress("127.0.0.1", 0)).sync().channel();
        InetSocketAddress address = (InetSocketAddress) server.localAddress();
        ReconnectPolicy fast = ReconnectPolicy.builder()
                .backoff(Backoff.exponentialFullJitter(Duration.ofMillis(1), Duration.ofMillis(20))).build();
        ConnectionListener listener = e -> {
            if (e.type() == ConnectionEvent.Type.CONNECTED) {
                connected.incrementAndGet();
            } else if (e.type() == ConnectionEvent.Type.DISCONNECTED) {
                connected.decrementAndGet();
            } else if (e.type() == ConnectionEvent.Type.CONNECT_FAILED) {
                failed.incrementAndGet();
            }
        };
        List<ReconnectingClient> clients = new ArrayList<>();
        try {
            for (int i = 0; i < WARM_UP_CLIENTS; i++) {
                clients.add(client(bootstrap, address, fast, listener).start());
            }
            await("warm-up: all connected", () -> connected.get() == WARM_UP_CLIENTS);
            int rounds = Integer.getInteger(WARM_UP_ROUNDS_PROPERTY, WARM_UP_ROUNDS);
            for (int round = 1; round <= rounds; round++) {
                server.close().sync();
                children.close().await(5, TimeUnit.SECONDS);
                int refusedSoFar = 3 * round * WARM_UP_CLIENTS;
                await("warm-up: refused three times each", () -> failed.get() >= refusedSoFar);
                server = serverBootstrap.bind(address).sync().channel();
                await("warm-up: all connected again", () -> connected.get() == WARM_UP_CLIENTS);
            }
        } finally {
            CompletableFuture.allOf(clients.stream().map(ReconnectingClient::closeAsync)
                    .toArray(CompletableFuture[]::new)).get(10, TimeUnit.SECONDS);
            children.close().await(5, TimeUnit.SECONDS);
            server.close().await(5, TimeUnit.SECONDS);
        }
    }

    private static void await(String what, BooleanSupplier condition) throws InterruptedException {
        long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(10);
        while (!condition.getAsBoolean()) {
            if (System.nanoTime() - deadline > 0) {
                throw new IllegalStateException(what + ": not within 10 s");
            }
            Thread.sleep(1); // polling counters of this process, bounded by the deadline
        }
    }

    public static void main(String[] args) throws Exception {
        int port = Integer.parseInt(args[0]);
        int count = Integer.parseInt(args[1]);
        int firstId = Integer.parseInt(args[2]);
        int threads = Integer.parseInt(args[3]);
        BackoffSpec backoff = BackoffSpec.parse(args[4]);
        Duration connectTimeout = Duration.ofMillis(Long.parseLong(args[5]));
        // The expectation draws a fresh backoff sequence from each client's loss: every proven connection resets it
        // (the default backoffResetAfter of 10 s would carry on the sequence of a client that connected late).
        ReconnectPolicy policy = ReconnectPolicy.builder().backoff(backoff.backoff()).connectTimeout(connectTimeout)
                .backoffResetAfter(Duration.ofMillis(1)).build();

        AtomicInteger connected = new AtomicInteger();
        AtomicInteger started = new AtomicInteger();
        Map<String, LongAdder> failures = new ConcurrentHashMap<>();
        Semaphore window = new Semaphore(START_WINDOW);
        EventLoopGroup group = new MultiThreadIoEventLoopGroup(threads, EpollIoHandler.newFactory());
        List<ReconnectingClient> clients = new ArrayList<>(count);
        List<Recorder> recorders = new ArrayList<>(count);
        Bootstrap bootstrap = new Bootstrap().group(group).channel(EpollSocketChannel.class);
        InetSocketAddress server = new InetSocketAddress("127.0.0.1", port);
        try {
            warmUp(group, bootstrap, backoff.backoff());
            for (int i = 0; i < count; i++) {
                Recorder r = new Recorder(failures, connected, window);
                recorders.add(r);
                clients.add(client(bootstrap, server, policy, r));
            }
            System.out.println("READY");
            Thread starter = null;
            BufferedReader in = new BufferedReader(new InputStreamReader(System.in, StandardCharsets.UTF_8));
            for (String line = in.readLine(); line != null; line = in.readLine()) {
                if (line.equals("START") && starter == null) {
                    starter = new Thread(() -> {
                        try {
                            for (ReconnectingClient c : clients) {
                                if (!window.tryAcquire(30, TimeUnit.SECONDS)) {
                                    System.err.println("storm clients: no answer to " + START_WINDOW
                                            + " connects within 30 s");
                                    // go on: the driver's bounded wait reports the clients that never connect
                                }
                                c.start();
                                started.incrementAndGet();
                            }
                        } catch (InterruptedException e) {
                            Thread.currentThread().interrupt();
                        }
                    }, "storm-starter");
                    starter.setDaemon(true);
                    starter.start();
                } else if (line.equals("STATUS")) {
                    System.out.println("STATUS " + connected.get() + " " + started.get() + " " + ProcessHandle.current()
                            .info().totalCpuDuration().map(Duration::toNanos).orElse(-1L));
                } else if (line.startsWith("DUMP ")) {
                    Path file = Path.of(line.substring(5));
                    int events = 0;
                    try (BufferedWriter out = Files.newBufferedWriter(file, StandardCharsets.US_ASCII)) {
                        for (int i = 0; i < count; i++) {
                            events += recorders.get(i).write(firstId + i, out);
                        }
                        for (Map.Entry<String, LongAdder> f : failures.entrySet()) {
                            out.write("# " + f.getValue().sum() + " " + f.getKey().replace('\n', ' ') + "\n");
                        }
                    }
                    System.out.println("DUMPED " + events);
                }
            }
        } finally {
            CompletableFuture<?>[] closing = clients.stream().map(ReconnectingClient::closeAsync)
                    .toArray(CompletableFuture[]::new);
            try {
                CompletableFuture.allOf(closing).get(10, TimeUnit.SECONDS);
            } finally {
                group.shutdownGracefully(0, 1, TimeUnit.SECONDS).await(5, TimeUnit.SECONDS);
            }
        }
    }
}
