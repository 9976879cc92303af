package dev.keepalive.benchmarks;

import dev.keepalive.KeepaliveSettings;
import dev.keepalive.PeerDeadException;
import dev.keepalive.benchmarks.IdleScaleBenchmark.Mode;
import dev.keepalive.netty.BinaryProbe;
import dev.keepalive.netty.KeepaliveHandler;
import io.netty.bootstrap.Bootstrap;
import io.netty.bootstrap.ServerBootstrap;
import io.netty.buffer.ByteBuf;
import io.netty.buffer.ByteBufAllocator;
import io.netty.channel.Channel;
import io.netty.channel.ChannelDuplexHandler;
import io.netty.channel.ChannelFuture;
import io.netty.channel.ChannelHandler;
import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.ChannelInboundHandlerAdapter;
import io.netty.channel.ChannelInitializer;
import io.netty.channel.ChannelOption;
import io.netty.channel.ChannelPipeline;
import io.netty.channel.ChannelPromise;
import io.netty.channel.EventLoop;
import io.netty.channel.EventLoopGroup;
import io.netty.channel.MultiThreadIoEventLoopGroup;
import io.netty.channel.epoll.EpollChannelOption;
import io.netty.channel.epoll.EpollIoHandler;
import io.netty.channel.epoll.EpollServerSocketChannel;
import io.netty.channel.epoll.EpollSocketChannel;
import io.netty.channel.socket.SocketChannel;
import io.netty.handler.codec.LengthFieldBasedFrameDecoder;
import io.netty.handler.codec.LengthFieldPrepender;
import io.netty.handler.timeout.IdleState;
import io.netty.handler.timeout.IdleStateEvent;
import io.netty.handler.timeout.IdleStateHandler;
import io.netty.util.AttributeKey;
import io.netty.util.ReferenceCountUtil;
import io.netty.util.concurrent.ScheduledFuture;

import java.io.BufferedReader;
import java.io.IOException;
import java.lang.management.GarbageCollectorMXBean;
import java.lang.management.ManagementFactory;
import java.lang.management.MemoryPoolMXBean;
import java.lang.management.MemoryType;
import java.lang.management.MemoryUsage;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.nio.charset.StandardCharsets;
import java.nio.file.DirectoryStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.Arrays;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;
import java.util.concurrent.BlockingQueue;
import java.util.concurrent.Semaphore;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicReference;
import java.util.concurrent.locks.LockSupport;
import java.util.function.Consumer;
import java.util.stream.Collectors;
import javax.management.JMException;
import javax.management.ObjectName;

import static dev.keepalive.benchmarks.support.DriverLink.answer;
import static dev.keepalive.benchmarks.support.DriverLink.readCommands;

/**
 * One child process of {@link IdleScaleBenchmark}: a server that accepts connections, or a client that opens them
 * from one source address; one epoll event loop thread for the connections, and a server accepts on an event loop
 * thread of its own (so that a busy connection loop does not hold new connections in the accept queue). The driver starts it
 * with {@code server <mode> <intervalNanos> <serverIntervalNanos>} or {@code client <mode> <intervalNanos>
 * <serverIntervalNanos> <sourceAddress> <connections>} (the server interval is the ping interval of the library on
 * the server side) and then talks to it in lines (stdin: commands; stdout: answers; stderr: diagnostics):
 * <ul>
 *   <li>at start: {@code ready [port=<p>] heap=<bytes>}, the used heap after full GCs with no connection;</li>
 *   <li>{@code connect <port>,<port>,...} (client): opens the connections, spread round-robin over the servers;
 *       a connection counts as open once the server has echoed its first frame, and at most
 *       {@value #MAX_PENDING_CONNECTS} wait for that at once (so no server's accept queue holds more); answers
 *       {@code connected ok=<n> failed=<n> nanos=<t> error=<first error>};</li>
 *   <li>{@code measure <originNanos> <durationNanos>}: the measurement window, in {@link System#nanoTime()} (on
 *       Linux CLOCK_MONOTONIC, the same clock in every process on the machine); answers one line
 *       {@code window cpu=<ns> elapsed=<ns> pings=<n> pongs=<n> open=<n> closed=<n> gcs=<n> jit=<ns>
 *       reasons=<why connections closed early, as reason:count,...> start=<ns>
 *       hist=<pings per ms,...> late=<µs,...>}: process CPU over the window and the part of it the JIT compiler
 *       threads used, the pings this process wrote per millisecond of the window,
 *       and the lateness of a {@value #PROBE_PERIOD_MILLIS} ms timer on the event loop;</li>
 *   <li>{@code heap}: answers {@code heap used=<bytes> open=<n>}, after full GCs;</li>
 *   <li>{@code close}: a client closes its connections, a server waits until its clients did; then answers
 *       {@code closed heap=<bytes> open=<n> channels=<n> classes=<class>:<bytes>,...}, the used heap after full
 *       GCs without connections (read again until no socket channel is left on the heap) but with all the state the
 *       process built while they ran (buffer pools, caches, grown tables), and the classes that held the most heap
 *       per connection (class histograms with and without them);</li>
 *   <li>end of stdin: the process exits (so it never outlives the driver).</li>
 * </ul>
 *
 * <p>Pings are counted by {@link Tap}, one shared handler placed at the same spot in every pipeline (right after
 * the framing, before the keepalive handlers): it looks at every outbound frame and records the time of each
 * ping frame as it is written. The library and the baseline thereby are observed in the same way, at the same
 * cost, whoever wrote the ping.
 */
public final class IdleScaleProcess {
    /** Connections of one client process waiting at once to be connected and have their first frame echoed. */
    static final int MAX_PENDING_CONNECTS = 1000;
    /** The period of the timer whose lateness is measured. */
    static final int PROBE_PERIOD_MILLIS = 10;
    /** Every probe frame has the layout of {@link BinaryProbe}: marker, type, id. */
    static final int PROBE_FRAME = BinaryProbe.FRAME_LENGTH;
    static final short MARKER = (short) BinaryProbe.DEFAULT_MARKER;
    static final byte PING = 1;
    static final byte PONG = 2;
    /** The baseline closes a connection after this many ping intervals without a byte from the peer. */
    static final int BASELINE_READER_IDLE_INTERVALS = 3;
    private static final long MILLI = 1_000_000L;
    /** On a connecting client channel: told once whether its first frame came back (or the channel closed first). */
    private static final AttributeKey<Consumer<Boolean>> ECHOED = AttributeKey.valueOf("idle-scale-echoed");
    private static final Duration LOOP_TASK_TIMEOUT = Duration.ofSeconds(30);
    private static final Duration CONNECT_TIMEOUT = Duration.ofSeconds(180);
    private static final Duration CLOSE_TIMEOUT = Duration.ofSeconds(60);
    private static final Duration WARM_UP_TIMEOUT = Duration.ofSeconds(10);
    /** Linux reports thread CPU times in clock ticks of 1/100 s (USER_HZ). */
    private static final long NANOS_PER_TICK = 10_000_000L;

    private IdleScaleProcess() {
    }

    public static void main(String[] args) {
        try {
            run(args);
        } catch (Throwable t) {
            // The event loop thread is not a daemon: without this, a failed child would live on until killed.
            System.err.println("idle-scale child failed: " + t);
            t.printStackTrace();
            System.err.flush();
            Runtime.getRuntime().halt(1);
        }
    }

    private static void run(String[] args) throws Exception {
        String role = args[0];
        Mode mode = Mode.valueOf(args[1]);
        Duration interval = Duration.ofNanos(Long.parseLong(args[2]));
        Duration serverInterval = Duration.ofNanos(Long.parseLong(args[3]));
        BlockingQueue<String> commands = readCommands();
        EventLoopGroup group = new MultiThreadIoEventLoopGroup(1, EpollIoHandler.newFactory());
        EventLoop loop = group.next();
        // A server accepts on a thread of its own: on the connections' loop, accepting would wait behind their I/O.
        EventLoopGroup boss = role.equals("server") ? new MultiThreadIoEventLoopGroup(1, EpollIoHandler.newFactory())
                : null;
        Counters counters = COUNTERS;
        Pipelines pipelines = new Pipelines(mode, interval, serverInterval, counters);
        warmUpPaths(group, loop, pipelines, counters);
        // First calls load and start what they use (the platform MBean server among them): now, so that every heap
        // reading includes it and the window starts on time.
        classHistogram();
        processCpuNanos();
        gcCount();
        jitCpuNanos();
        Bootstrap client = null;
        InetAddress source = null;
        int connections = 0;
        Channel[] channels = new Channel[0];
        Map<String, long[]> classesWith = Map.of();
        int openWith = 0;
        if (role.equals("server")) {
            Channel server = settle(new ServerBootstrap().group(boss, group).channel(EpollServerSocketChannel.class)
                    .option(ChannelOption.SO_BACKLOG, 8192)
                    .childHandler(pipelines.server())
                    .bind(new InetSocketAddress(InetAddress.getByName("127.0.0.1"), 0))).channel();
            answer("ready port=" + ((InetSocketAddress) server.localAddress()).getPort() + " heap=" + settledHeap());
        } else if (role.equals("client")) {
            source = InetAddress.getByName(args[4]);
            connections = Integer.parseInt(args[5]);
            client = new Bootstrap().group(group).channel(EpollSocketChannel.class)
                    .option(ChannelOption.CONNECT_TIMEOUT_MILLIS, 0) // no timeout task per connection; bounded here
                    // The source port is chosen at connect(), per destination: a bind to port 0 would search the
                    // address's whole port space at each of 17,000 binds.
                    .option(EpollChannelOption.IP_BIND_ADDRESS_NO_PORT, true)
                    .handler(pipelines.client());
            answer("ready heap=" + settledHeap());
        } else {
            throw new IllegalArgumentException("role must be server or client, but was " + role);
        }
        while (true) {
            String line = commands.take();
            String[] words = line.split(" ");
            switch (words[0]) {
                case "connect":
                    if (client == null) {
                        throw new IllegalStateException("only a client connects");
                    }
                    channels = connect(client, source, connections, ports(words[1]));
                    break;
                case "measure":
                    measure(loop, counters, Long.parseLong(words[1]), Long.parseLong(words[2]));
                    break;
                case "heap":
                    dropClosed(channels); // connections that closed early are not measured
                    long used = settledHeap();
                    openWith = onLoop(loop, () -> counters.open);
                    // Only classes with an instance for every other connection or more: the big full histogram
                    // must not be on the heap when it is measured again after closing.
                    int perConnection = Math.max(1, openWith / 2);
                    classesWith = classHistogram().entrySet().stream().filter(e -> e.getValue()[0] >= perConnection)
                            .collect(Collectors.toMap(Map.Entry::getKey, Map.Entry::getValue));
                    answer("heap used=" + used + " open=" + openWith);
                    break;
                case "close":
                    closeAll(channels);
                    channels = new Channel[0]; // the heap measured next must not see them through this frame
                    int open = awaitAllClosed(loop, counters);
                    // Netty lets go of a closed channel some time after channelInactive: wait (bounded) until no
                    // socket channel is left on the heap, then measure. (Once gone, they stay gone.)
                    long deadline = System.nanoTime() + CLOSE_TIMEOUT.toNanos() / 4;
                    while (channelsOnHeap(classHistogram()) > 2 && System.nanoTime() - deadline < 0) {
                        Thread.sleep(100); // pacing between heap inspections, bounded by the deadline
                    }
                    long heapClosed = settledHeap();
                    Map<String, long[]> classesClosed = classHistogram();
                    answer("closed heap=" + heapClosed + " open=" + open + " channels=" + channelsOnHeap(classesClosed)
                            + " classes=" + perConnection(classesWith, classesClosed, openWith));
                    break;
                default:
                    throw new IllegalArgumentException("unknown command: " + line);
            }
        }
    }

    private static List<Integer> ports(String list) {
        return Arrays.stream(list.split(",")).map(Integer::valueOf).collect(Collectors.toList());
    }

    /** Forgets the channels already closed. */
    private static void dropClosed(Channel[] channels) {
        for (int i = 0; i < channels.length; i++) {
            if (channels[i] != null && !channels[i].isOpen()) {
                channels[i] = null;
            }
        }
    }

    /**
     * Closes {@code channels}. A method of its own: an interpreted frame keeps the loop's hidden copy of the array
     * reachable until the slot is reused, which would keep every closed channel on the heap.
     */
    private static void closeAll(Channel[] channels) {
        for (Channel ch : channels) {
            if (ch != null) {
                ch.close();
            }
        }
    }

    /**
     * One connection to itself, through this mode's client and server pipelines: a probe frame there and back,
     * then a close. It loads and initialises what the measured connections will use on the way (classes, their
     * constants, buffer pools), so that the heap measured before connecting and after closing holds the same
     * one-time state.
     */
    private static void warmUpPaths(EventLoopGroup group, EventLoop loop, Pipelines pipelines, Counters counters)
            throws Exception {
        InetAddress lo = InetAddress.getByName("127.0.0.1");
        ChannelFuture bound = new ServerBootstrap().group(group).channel(EpollServerSocketChannel.class)
                .childHandler(pipelines.server()).bind(new InetSocketAddress(lo, 0));
        Channel server = settle(bound).channel();
        Channel client = settle(new Bootstrap().group(group).channel(EpollSocketChannel.class)
                .handler(pipelines.client()).connect(server.localAddress())).channel();
        client.writeAndFlush(helloFrame(client.alloc()));
        client.writeAndFlush(probeFrame(client.alloc(), PING, 1));
        long deadline = System.nanoTime() + WARM_UP_TIMEOUT.toNanos();
        // Done when the echo is back; or when the connection closed (the baseline's reader idle can close it first
        // on a crowded machine, where a cold JVM is slow): the paths are loaded either way.
        while (onLoop(loop, () -> counters.sinkReads < 2 && counters.closed == 0)
                && System.nanoTime() - deadline < 0) {
            Thread.sleep(5); // polling a counter owned by the event loop, bounded by the deadline
        }
        client.close();
        awaitAllClosed(loop, counters);
        settle(server.close());
        onLoop(loop, () -> {
            counters.reset();
            return null;
        });
    }

    private static ChannelFuture settle(ChannelFuture f) throws InterruptedException {
        if (!f.await(LOOP_TASK_TIMEOUT.toMillis())) {
            throw new IllegalStateException(f.channel() + " did not settle within " + LOOP_TASK_TIMEOUT);
        }
        if (!f.isSuccess()) {
            throw new IllegalStateException(f.channel() + " failed", f.cause());
        }
        return f;
    }

    /**
     * Waits, bounded, until no connection is open (a client closed them, or a server saw its clients close them).
     *
     * @return the connections still open
     */
    private static int awaitAllClosed(EventLoop loop, Counters counters) throws Exception {
        long deadline = System.nanoTime() + CLOSE_TIMEOUT.toNanos();
        int open = onLoop(loop, () -> counters.open);
        while (open > 0 && System.nanoTime() - deadline < 0) {
            Thread.sleep(20); // polling a counter owned by the event loop, bounded by the deadline
            open = onLoop(loop, () -> counters.open);
        }
        // A closed channel is deregistered by tasks queued behind its channelInactive: let them run.
        for (int i = 0; i < 3; i++) {
            onLoop(loop, () -> null);
        }
        return open;
    }

    /**
     * Opens {@code count} connections from {@code source} (an ephemeral port each), round-robin over {@code ports}
     * of 127.0.0.1; bounded by {@link #CONNECT_TIMEOUT}. A connection counts as open once the server echoed its
     * first frame (a completed connect only says the kernel queued it for accepting): at most
     * {@link #MAX_PENDING_CONNECTS} wait for that at once, so that no connection waits long in an accept queue
     * before the window, whatever the pipeline.
     */
    private static Channel[] connect(Bootstrap b, InetAddress source, int count, List<Integer> ports)
            throws InterruptedException, IOException {
        Channel[] channels = new Channel[count];
        InetAddress server = InetAddress.getByName("127.0.0.1");
        Semaphore pending = new Semaphore(MAX_PENDING_CONNECTS);
        AtomicInteger ok = new AtomicInteger();
        AtomicInteger failed = new AtomicInteger();
        AtomicReference<Throwable> firstError = new AtomicReference<>();
        long start = System.nanoTime();
        long deadline = start + CONNECT_TIMEOUT.toNanos();
        int started = 0;
        for (; started < count; started++) {
            if (!pending.tryAcquire(Math.max(0, deadline - System.nanoTime()), TimeUnit.NANOSECONDS)) {
                break;
            }
            ChannelFuture f = b.connect(new InetSocketAddress(server, ports.get(started % ports.size())),
                    new InetSocketAddress(source, 0));
            Channel ch = f.channel();
            channels[started] = ch;
            // Set before the first frame is written (in the listener below): the echo, or the close, ends the
            // wait, exactly once.
            ch.attr(ECHOED).set(echoed -> {
                if (echoed) {
                    ok.incrementAndGet();
                } else {
                    failed.incrementAndGet();
                    firstError.compareAndSet(null, new IOException("closed before its first frame came back"));
                }
                pending.release();
            });
            f.addListener(done -> {
                if (done.isSuccess()) {
                    ch.writeAndFlush(helloFrame(ch.alloc()));
                } else {
                    firstError.compareAndSet(null, done.cause());
                    endWait(ch, false);
                }
            });
        }
        boolean settled = pending.tryAcquire(MAX_PENDING_CONNECTS, Math.max(0, deadline - System.nanoTime()),
                TimeUnit.NANOSECONDS);
        long nanos = System.nanoTime() - start;
        Throwable error = firstError.get();
        answer("connected ok=" + ok.get() + " failed=" + (failed.get() + (count - started))
                + (settled ? "" : " unsettled") + " nanos=" + nanos
                + " error=" + (error == null ? "none" : String.valueOf(error).replace(' ', '_')));
        return Arrays.copyOf(channels, started);
    }

    /**
     * Ends a connecting client channel's wait for its first frame to come back: {@code echoed}, or closed (or
     * failed to connect) first. Only the first call counts; any thread.
     */
    static void endWait(Channel ch, boolean echoed) {
        Consumer<Boolean> waiting = ch.attr(ECHOED).getAndSet(null);
        if (waiting != null) {
            waiting.accept(echoed);
        }
    }

    /** Runs the measurement window [origin, origin + duration) and answers with one {@code window} line. */
    private static void measure(EventLoop loop, Counters counters, long origin, long duration) throws Exception {
        long lead = origin - System.nanoTime();
        if (lead < 0 || lead > TimeUnit.SECONDS.toNanos(60) || duration <= 0
                || duration > TimeUnit.MINUTES.toNanos(30)) {
            throw new IllegalArgumentException("bad window: starts in " + lead + " ns, lasts " + duration + " ns");
        }
        int millis = (int) ((duration + MILLI - 1) / MILLI);
        onLoop(loop, () -> {
            counters.startWindow(origin, duration, millis);
            return null;
        });
        long period = TimeUnit.MILLISECONDS.toNanos(PROBE_PERIOD_MILLIS);
        LatenessProbe probe = new LatenessProbe(loop, origin, duration, period);
        loop.execute(probe::start);
        sleepUntil(origin);
        long t0 = System.nanoTime();
        long cpu0 = processCpuNanos();
        long gcs0 = gcCount();
        long jit0 = jitCpuNanos();
        sleepUntil(origin + duration);
        long t1 = System.nanoTime();
        long cpu1 = processCpuNanos();
        long gcs1 = gcCount();
        long jit1 = jitCpuNanos();
        onLoop(loop, () -> {
            probe.stop();
            return null;
        });
        String report = onLoop(loop, () -> {
            int[] hist = counters.endWindow();
            long[] late = probe.samples();
            StringBuilder sb = new StringBuilder(16 * hist.length + 8 * late.length + 200);
            sb.append("window cpu=").append(cpu1 - cpu0).append(" elapsed=").append(t1 - t0)
                    .append(" pings=").append(Arrays.stream(hist).asLongStream().sum())
                    .append(" pongs=").append(counters.pongsInWindow)
                    .append(" open=").append(counters.open).append(" closed=").append(counters.closed)
                    .append(" gcs=").append(gcs1 - gcs0).append(" jit=").append(jit1 - jit0)
                    .append(" reasons=").append(counters.closeReasons.isEmpty() ? "-" : counters.closeReasons
                            .entrySet().stream().map(e -> e.getKey() + ":" + e.getValue())
                            .collect(Collectors.joining(",")))
                    .append(" start=").append(t0 - origin).append(" hist=");
            join(sb, Arrays.stream(hist).asLongStream().toArray(), 1);
            sb.append(" late=");
            join(sb, late, 1000);
            return sb.toString();
        });
        answer(report);
    }

    private static void join(StringBuilder sb, long[] values, long divisor) {
        for (int i = 0; i < values.length; i++) {
            if (i > 0) {
                sb.append(',');
            }
            sb.append(values[i] / divisor);
        }
        if (values.length == 0) {
            sb.append('-');
        }
    }

    private static void sleepUntil(long deadline) {
        for (long left = deadline - System.nanoTime(); left > 0; left = deadline - System.nanoTime()) {
            LockSupport.parkNanos(left);
        }
    }

    /** Runs {@code task} on the event loop (which owns the counters) and waits, bounded, for its result. */
    private static <T> T onLoop(EventLoop loop, java.util.concurrent.Callable<T> task) throws Exception {
        return loop.submit(task).get(LOOP_TASK_TIMEOUT.toMillis(), TimeUnit.MILLISECONDS);
    }

    static long processCpuNanos() {
        return ((com.sun.management.OperatingSystemMXBean) ManagementFactory.getOperatingSystemMXBean())
                .getProcessCpuTime();
    }

    /**
     * CPU time of this JVM's JIT compiler threads so far, from {@code /proc/self/task/<tid>/stat} (10 ms
     * resolution); the children run with a fixed set of compiler threads, so none exits and takes its time along.
     * 0 where there is no {@code /proc}.
     */
    static long jitCpuNanos() {
        long ticks = 0;
        try (DirectoryStream<Path> tasks = Files.newDirectoryStream(Path.of("/proc/self/task"))) {
            for (Path task : tasks) {
                try {
                    String comm = firstLine(task.resolve("comm")).trim();
                    if (!comm.startsWith("C1 CompilerThre") && !comm.startsWith("C2 CompilerThre")) {
                        continue;
                    }
                    String stat = firstLine(task.resolve("stat"));
                    String[] fields = stat.substring(stat.lastIndexOf(')') + 2).split(" ");
                    ticks += Long.parseLong(fields[11]) + Long.parseLong(fields[12]); // utime, stime
                } catch (IOException | RuntimeException e) {
                    // the thread ended meanwhile, or /proc looks otherwise: count what can be read
                }
            }
        } catch (IOException e) {
            return 0;
        }
        return ticks * NANOS_PER_TICK;
    }

    private static long gcCount() {
        long n = 0;
        for (GarbageCollectorMXBean gc : ManagementFactory.getGarbageCollectorMXBeans()) {
            n += Math.max(0, gc.getCollectionCount());
        }
        return n;
    }

    /**
     * Used heap after full collections: {@code System.gc()} (with the serial collector, a full compacting
     * collection) and pending finalizers run, until two readings agree within 16 KiB (at least 3 readings, at most
     * 10); the smallest. Objects that only a finalizable object reached survive the first collection after they
     * became unreachable, so a first reading right after closing connections would still count them. A reading is
     * the heap pools' usage as the last full collection left it ({@link MemoryPoolMXBean#getCollectionUsage()}),
     * not their usage now: right after a collection the threads take fresh allocation buffers (TLABs) of several
     * MiB from eden, which would count as used. A reading counts only if the full collector ran for it (a request
     * can be dropped, for example while a thread holds a JNI critical region); otherwise it is asked again.
     */
    static long settledHeap() throws InterruptedException {
        GarbageCollectorMXBean full = fullCollector();
        long best = Long.MAX_VALUE;
        long previous = -1;
        int readings = 0;
        for (int attempt = 0; attempt < 40 && readings < 10; attempt++) {
            long before = full.getCollectionCount();
            System.gc();
            System.runFinalization();
            if (full.getCollectionCount() == before) {
                Thread.sleep(10); // the collection did not run: ask again shortly (bounded by the attempts)
                continue;
            }
            long used = 0;
            for (MemoryPoolMXBean pool : ManagementFactory.getMemoryPoolMXBeans()) {
                MemoryUsage afterGc = pool.getType() == MemoryType.HEAP ? pool.getCollectionUsage() : null;
                if (afterGc != null) {
                    used += afterGc.getUsed();
                }
            }
            best = Math.min(best, used);
            readings++;
            if (readings >= 3 && Math.abs(used - previous) < 16 * 1024) {
                break;
            }
            previous = used;
        }
        if (readings == 0) {
            throw new IllegalStateException("System.gc() ran no full collection in 40 attempts");
        }
        return best;
    }

    /** The collector that collects the whole heap: the one that manages the most memory pools. */
    private static GarbageCollectorMXBean fullCollector() {
        GarbageCollectorMXBean full = null;
        for (GarbageCollectorMXBean gc : ManagementFactory.getGarbageCollectorMXBeans()) {
            if (full == null || gc.getMemoryPoolNames().length > full.getMemoryPoolNames().length) {
                full = gc;
            }
        }
        return full;
    }

    /** The first line of a procfs file, read as a stream (procfs reports a size of 0). */
    private static String firstLine(Path file) throws IOException {
        try (BufferedReader in = Files.newBufferedReader(file, StandardCharsets.US_ASCII)) {
            String line = in.readLine();
            return line == null ? "" : line;
        }
    }

    /**
     * Instances and bytes per class on the heap, after a full GC ({@code GC.class_histogram}); empty if not
     * available.
     */
    static Map<String, long[]> classHistogram() {
        try {
            Object text = ManagementFactory.getPlatformMBeanServer().invoke(
                    new ObjectName("com.sun.management:type=DiagnosticCommand"), "gcClassHistogram",
                    new Object[] {new String[0]}, new String[] {String[].class.getName()});
            Map<String, long[]> classes = new HashMap<>();
            for (String line : String.valueOf(text).split("\n")) {
                String[] f = line.trim().split("\\s+");
                if (f.length >= 4 && f[0].endsWith(":")) {
                    classes.merge(f[3], new long[] {Long.parseLong(f[1]), Long.parseLong(f[2])},
                            (a, b) -> new long[] {a[0] + b[0], a[1] + b[1]});
                }
            }
            return classes;
        } catch (JMException | RuntimeException e) {
            System.err.println("no class histogram: " + e);
            return Map.of();
        }
    }

    /** Socket channels in a class histogram. */
    private static long channelsOnHeap(Map<String, long[]> classes) {
        return classes.getOrDefault(EpollSocketChannel.class.getName(), new long[1])[0];
    }

    /**
     * The classes that hold the most heap per connection: (with - without) / connections, largest first, as
     * {@code class:bytes,...} (the 40 largest of at least 1 byte), or {@code -}.
     */
    static String perConnection(Map<String, long[]> with, Map<String, long[]> without, int connections) {
        if (connections <= 0) {
            return "-";
        }
        String top = with.entrySet().stream()
                .map(e -> Map.entry(e.getKey(), (double) (e.getValue()[1]
                        - without.getOrDefault(e.getKey(), new long[2])[1]) / connections))
                .filter(e -> e.getValue() >= 1)
                .sorted(Map.Entry.<String, Double>comparingByValue().reversed())
                .limit(40)
                .map(e -> e.getKey() + ":" + Math.round(e.getValue()))
                .collect(Collectors.joining(","));
        return top.isEmpty() ? "-" : top;
    }

    /** The application frame every connection carries once each way after connecting. */
    static ByteBuf helloFrame(ByteBufAllocator alloc) {
        return alloc.buffer(8, 8).writeLong(0x48454c4c4f212121L); // "HELLO!!!"
    }

    /** A probe frame ({@link BinaryProbe}'s layout) of {@code type}. */
    static ByteBuf probeFrame(ByteBufAllocator alloc, byte type, long id) {
        return alloc.buffer(PROBE_FRAME, PROBE_FRAME).writeShort(MARKER).writeByte(type).writeLong(id);
    }

    /** The type of a probe frame, or 0 for any other message. */
    static byte probeType(Object msg) {
        if (msg instanceof ByteBuf) {
            ByteBuf b = (ByteBuf) msg;
            int at = b.readerIndex();
            if (b.readableBytes() == PROBE_FRAME && b.getShort(at) == MARKER) {
                return b.getByte(at + 2);
            }
        }
        return 0;
    }

    /**
     * The process's counters, one set per process (so that no per-connection handler needs a field for them). Owned
     * by its one event loop: read and written only there.
     */
    static final Counters COUNTERS = new Counters();

    /** The process's counters. Owned by its one event loop: read and written only there. */
    static final class Counters {
        int open;
        int closed;
        long pongsInWindow;
        long pongsTotal;
        long sinkReads;
        /** Why connections ended early: a dead-peer reason, a baseline's reader idle, or an exception's class. */
        final Map<String, Integer> closeReasons = new TreeMap<>();
        private long origin;
        private long duration;
        private int[] pingsPerMilli;

        void startWindow(long origin, long duration, int millis) {
            this.origin = origin;
            this.duration = duration;
            this.pingsPerMilli = new int[millis];
            this.pongsInWindow = 0;
        }

        int[] endWindow() {
            int[] h = pingsPerMilli == null ? new int[0] : pingsPerMilli;
            pingsPerMilli = null;
            return h;
        }

        void ping(long now) {
            if (pingsPerMilli != null) {
                long at = now - origin;
                if (at >= 0 && at < duration) {
                    pingsPerMilli[(int) (at / MILLI)]++;
                }
            }
        }

        void reset() {
            open = 0;
            closed = 0;
            pongsTotal = 0;
            sinkReads = 0;
            closeReasons.clear();
        }

        void pong(long now) {
            pongsTotal++;
            if (pingsPerMilli != null && now - origin >= 0 && now - origin < duration) {
                pongsInWindow++;
            }
        }
    }

    /**
     * Watches every connection of the process the same way in every mode: counts connections, and records each
     * ping and pong frame as it is written (the frame's time, from {@link System#nanoTime()}).
     */
    @ChannelHandler.Sharable
    static final class Tap extends ChannelDuplexHandler {
        private final Counters counters;

        Tap(Counters counters) {
            this.counters = counters;
        }

        @Override
        public void channelActive(ChannelHandlerContext ctx) throws Exception {
            counters.open++;
            super.channelActive(ctx);
        }

        @Override
        public void channelInactive(ChannelHandlerContext ctx) throws Exception {
            counters.open--;
            counters.closed++;
            super.channelInactive(ctx);
        }

        @Override
        public void write(ChannelHandlerContext ctx, Object msg, ChannelPromise promise) {
            byte type = probeType(msg);
            if (type == PING) {
                counters.ping(System.nanoTime());
            } else if (type == PONG) {
                counters.pong(System.nanoTime());
            }
            ctx.write(msg, promise);
        }
    }

    /**
     * The application's end of every pipeline: on a server it sends each application frame back (a client sends
     * one after connecting, so that every connection, bare ones included, has carried a message each way and
     * holds the read-path state that any used connection holds); on a client it drops what arrives. Closes on
     * errors.
     */
    @ChannelHandler.Sharable
    static final class Sink extends ChannelInboundHandlerAdapter {
        private final Counters counters;
        private final boolean echo;

        Sink(Counters counters, boolean echo) {
            this.counters = counters;
            this.echo = echo;
        }

        @Override
        public void channelRead(ChannelHandlerContext ctx, Object msg) {
            counters.sinkReads++;
            if (echo) {
                ctx.writeAndFlush(msg);
            } else {
                ReferenceCountUtil.release(msg);
                endWait(ctx.channel(), true); // the first frame came back: the connection is open
            }
        }

        @Override
        public void channelInactive(ChannelHandlerContext ctx) {
            if (!echo) {
                endWait(ctx.channel(), false);
            }
            ctx.fireChannelInactive();
        }

        @Override
        public void exceptionCaught(ChannelHandlerContext ctx, Throwable cause) {
            counters.closeReasons.merge(cause instanceof PeerDeadException
                    ? ((PeerDeadException) cause).reason().name() : cause.getClass().getSimpleName(), 1, Integer::sum);
            ctx.close();
        }
    }

    /**
     * The baseline client handler, what users write today next to {@link IdleStateHandler}: a ping on writer idle,
     * a close on reader idle, and pongs taken out of the stream. One per channel (it numbers its pings).
     */
    static final class WriterIdlePinger extends ChannelInboundHandlerAdapter {
        private long lastPingId;

        @Override
        public void userEventTriggered(ChannelHandlerContext ctx, Object evt) throws Exception {
            if (evt instanceof IdleStateEvent) {
                if (((IdleStateEvent) evt).state() == IdleState.WRITER_IDLE) {
                    ctx.writeAndFlush(probeFrame(ctx.alloc(), PING, ++lastPingId));
                } else if (((IdleStateEvent) evt).state() == IdleState.READER_IDLE) {
                    COUNTERS.closeReasons.merge("READER_IDLE", 1, Integer::sum);
                    ctx.close();
                }
                return;
            }
            super.userEventTriggered(ctx, evt);
        }

        @Override
        public void channelRead(ChannelHandlerContext ctx, Object msg) {
            if (probeType(msg) == PONG) {
                ReferenceCountUtil.release(msg);
            } else {
                ctx.fireChannelRead(msg);
            }
        }
    }

    /** The baseline server handler: answers pings with pongs, closes on reader idle. Stateless, so shared. */
    @ChannelHandler.Sharable
    static final class PingAnswerer extends ChannelInboundHandlerAdapter {
        private final Counters counters;

        PingAnswerer(Counters counters) {
            this.counters = counters;
        }
        @Override
        public void channelRead(ChannelHandlerContext ctx, Object msg) {
            if (probeType(msg) == PING) {
                long id = ((ByteBuf) msg).getLong(((ByteBuf) msg).readerIndex() + 3);
                ReferenceCountUtil.release(msg);
                ctx.writeAndFlush(probeFrame(ctx.alloc(), PONG, id));
            } else {
                ctx.fireChannelRead(msg);
            }
        }

        @Override
        public void userEventTriggered(ChannelHandlerContext ctx, Object evt) throws Exception {
            if (evt instanceof IdleStateEvent && ((IdleStateEvent) evt).state() == IdleState.READER_IDLE) {
                counters.closeReasons.merge("READER_IDLE", 1, Integer::sum);
                ctx.close();
                return;
            }
            super.userEventTriggered(ctx, evt);
        }
    }

    /**
     * The pipelines of one mode. Every pipeline starts with the same framing (4-byte length prefix) and the
     * {@link Tap}, and ends with a {@link Sink}; between them:
     * <ul>
     *   <li>bare: nothing;</li>
     *   <li>IdleStateHandler: on the client {@code IdleStateHandler(readerIdle = 3 x interval, writerIdle =
     *       interval)} + {@link WriterIdlePinger}; on the server {@code IdleStateHandler(readerIdle = 3 x interval)}
     *       + {@link PingAnswerer}: a ping every interval, and a close after three missed ones, as users commonly
     *       write it. (With readerIdle = 2 x interval, the library's detection bound for these settings, the baseline
     *       closed its own connections in about half the runs at 1,000 connections: on a cold JVM, right after
     *       connecting, the first writer-idle ping ran over half a second late and its pong missed the reader-idle
     *       deadline; the closes then stalled the loop further, and took every connection with them.)</li>
     *   <li>keepalive: {@link KeepaliveHandler} with {@link #settings(Duration)} on both ends (the server's with
     *       its own interval, by default the same), as users would configure it (TCP options applied, default
     *       probe, no listener).</li>
     * </ul>
     */
    static final class Pipelines {
        private final Mode mode;
        private final KeepaliveSettings settings;
        private final KeepaliveSettings serverSettings;
        private final Tap tap;
        private final Sink clientSink;
        private final Sink serverSink;
        private final Counters counters;
        private final PingAnswerer answerer;

        Pipelines(Mode mode, Duration interval, Duration serverInterval, Counters counters) {
            this.mode = mode;
            this.settings = settings(interval);
            this.serverSettings = settings(serverInterval);
            this.tap = new Tap(counters);
            this.counters = counters;
            this.answerer = new PingAnswerer(counters);
            this.clientSink = new Sink(counters, false);
            this.serverSink = new Sink(counters, true);
        }

        ChannelInitializer<SocketChannel> client() {
            return initializer(true);
        }

        ChannelInitializer<SocketChannel> server() {
            return initializer(false);
        }

        private ChannelInitializer<SocketChannel> initializer(boolean client) {
            long interval = settings.pingInterval().toNanos();
            long readerIdle = BASELINE_READER_IDLE_INTERVALS * interval;
            return new ChannelInitializer<SocketChannel>() {
                @Override
                protected void initChannel(SocketChannel ch) {
                    ChannelPipeline p = ch.pipeline();
                    p.addLast(new LengthFieldBasedFrameDecoder(1 << 16, 0, 4, 0, 4), new LengthFieldPrepender(4),
                            tap);
                    switch (mode) {
                        case IDLE_STATE_HANDLER:
                            if (client) {
                                p.addLast(new IdleStateHandler(readerIdle, interval, 0, TimeUnit.NANOSECONDS),
                                        new WriterIdlePinger());
                            } else {
                                p.addLast(new IdleStateHandler(readerIdle, 0, 0, TimeUnit.NANOSECONDS), answerer);
                            }
                            break;
                        case KEEPALIVE:
                            p.addLast(KeepaliveHandler.builder(client ? settings : serverSettings).build());
                            break;
                        default:
                            break;
                    }
                    p.addLast(client ? clientSink : serverSink);
                }
            };
        }
    }

    /**
     * The library's settings for ping interval {@code interval}: timeout one interval (so the detection bound, with
     * 2 missed pings, is 3 intervals, like the baseline's reader idle), other defaults.
     */
    static KeepaliveSettings settings(Duration interval) {
        KeepaliveSettings.Builder b = KeepaliveSettings.builder().pingInterval(interval).pingTimeout(interval);
        String jitter = System.getProperty(IdleScaleBenchmark.JITTER_PROPERTY);
        return (jitter == null ? b : b.pingJitter(Double.parseDouble(jitter))).build();
    }

    /**
     * How late a timer runs on the event loop: one timer at a time, each scheduled {@code period} ahead when the
     * previous one ran and measured against its own deadline. (A fixed-rate timer measures against a plan made at
     * the start: after one stall every later run counts the stall again, and its runs catch up back to back.)
     * Owned by the event loop: {@link #start()} and {@link #stop()} run there.
     */
    static final class LatenessProbe implements Runnable {
        private final EventLoop loop;
        private final long origin;
        private final long period;
        private final long end;
        private final long[] samples;
        private long deadline;
        private int count;
        private ScheduledFuture<?> next;

        LatenessProbe(EventLoop loop, long origin, long duration, long period) {
            this.loop = loop;
            this.origin = origin;
            this.end = origin + duration;
            this.period = period;
            this.samples = new long[(int) (duration / period) + 2];
        }

        /** Schedules the first timer for the window's start. */
        void start() {
            schedule(Math.max(0, origin - System.nanoTime()));
        }

        /** Cancels the timer that is pending. */
        void stop() {
            if (next != null) {
                next.cancel(false);
                next = null;
            }
        }

        private void schedule(long delay) {
            deadline = System.nanoTime() + delay;
            next = loop.schedule(this, delay, TimeUnit.NANOSECONDS);
        }

        @Override
        public void run() {
            long now = System.nanoTime();
            if (now - end >= 0) {
                next = null;
                return;
            }
            if (count < samples.length && now - origin >= 0) {
                samples[count++] = Math.max(0, now - deadline);
            }
            schedule(period);
        }

        long[] samples() {
            return Arrays.copyOf(samples, count);
        }
    }
}
