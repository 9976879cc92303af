package dev.keepalive.benchmarks;

import dev.keepalive.benchmarks.IdleScaleBenchmark.Mode;
import dev.keepalive.benchmarks.TorturePipelines.Book;
import dev.keepalive.benchmarks.TorturePipelines.Record;
import dev.keepalive.benchmarks.support.Reports;
import io.netty.bootstrap.Bootstrap;
import io.netty.bootstrap.ServerBootstrap;
import io.netty.channel.Channel;
import io.netty.channel.ChannelFuture;
import io.netty.channel.ChannelOption;
import io.netty.channel.EventLoop;
import io.netty.channel.EventLoopGroup;
import io.netty.channel.MultiThreadIoEventLoopGroup;
import io.netty.channel.ServerChannelRecvByteBufAllocator;
import io.netty.channel.epoll.EpollChannelOption;
import io.netty.channel.epoll.EpollIoHandler;
import io.netty.channel.epoll.EpollServerSocketChannel;
import io.netty.channel.epoll.EpollSocketChannel;

import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.concurrent.BlockingQueue;
import java.util.concurrent.Semaphore;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.locks.LockSupport;
import java.util.stream.Collectors;

import static dev.keepalive.benchmarks.support.DriverLink.answer;
import static dev.keepalive.benchmarks.support.DriverLink.readCommands;

/**
 * One child process of {@link FalseVerdictTortureBenchmark}: a server, a client or a CPU hog. Servers and clients
 * run their connections on one epoll event loop thread; a server accepts on a second one. Started with
 * <ul>
 *   <li>{@code server <mode> <intervalNanos> <connections>}: listens on as many ports of 127.0.0.1 as keep each
 *       accept queue under {@value #CONNECTIONS_PER_PORT} (the kernel caps a backlog at {@code somaxconn},
 *       4,096 here), not accepting yet; answers {@code ready ports=<p>,<p>...};</li>
 *   <li>{@code client <mode> <intervalNanos> <sourceAddress>}: answers {@code ready};</li>
 *   <li>{@code hog <seconds>}: spins one thread for at most that long (or until stdin ends).</li>
 * </ul>
 * Commands (times are {@link System#nanoTime()}, CLOCK_MONOTONIC, the same in every process of the machine):
 * <ul>
 *   <li>{@code accept <atNanos> <spreadNanos>} (server): accepts from {@code at} on; with a spread, slowly: in
 *       batches every {@value #ACCEPT_TICK_MILLIS} ms sized to drain the expected connections over the spread,
 *       freely after it;</li>
 *   <li>{@code connect <first> <count> <dyingEvery> <servers> echo|connect} (client): opens connections number {@code first}
 *       to {@code first + count - 1}; number {@code g} goes to server {@code g % servers}, through its proxy when
 *       {@code g % dyingEvery == 0} (it will die), else to one of its ports; {@code servers} is
 *       {@code port/port/...@proxyPort,...}. At most {@value #MAX_PENDING_CONNECTS} connections wait at once: for
 *       their first frame to come back ({@code echo}: a gentle start), or only for the connect to complete
 *       ({@code connect}: a slow server's accept queues fill as they would). Answers {@code connected active=<n>
 *       echoed=<live echoed> ended=<live ended> nanos=<t>} once every live connection was echoed or ended
 *       (bounded);</li>
 *   <li>{@code stall <atNanos> <durationNanos>}: blocks the connections' event loop then, as a GC pause would;</li>
 *   <li>{@code pause <atNanos> <durationNanos>} (client): turns {@code autoRead} off on every live connection
 *       then, and on again after the duration;</li>
 *   <li>{@code status}: answers {@code status dyingEnded=<n>}, the dying connections that ended so far;</li>
 *   <li>{@code report}: answers {@code report active=<n> echoed=<live echoed> open=<n> fr=<p50>,<p99>,<max>,<n>: the waits of
 *       live client connections for their first inbound frame, ns> silent=<live connections with none>
 *       act=<key@activeAt@firstOutboundAt;... of the live connections (0: wrote nothing)>
 *       ended=<key,dying,reason,activeAt,endedAt;...>};</li>
 *   <li>end of stdin: the process exits.</li>
 * </ul>
 */
public final class TortureProcess {
    /** Connect attempts outstanding at once in one client. */
    static final int MAX_PENDING_CONNECTS = 1000;
    /** The most connections one listening port is expected to queue (below the kernel's somaxconn cap, 4,096). */
    static final int CONNECTIONS_PER_PORT = 3000;
    static final int ACCEPT_TICK_MILLIS = 20;
    private static final Duration CONNECT_TIMEOUT = Duration.ofSeconds(120);
    private static final Duration LONGEST_COMMAND_DELAY = Duration.ofMinutes(5);

    private TortureProcess() {
    }

    public static void main(String[] args) {
        try {
            run(args);
        } catch (Throwable t) {
            System.err.println("torture child failed: " + t);
            t.printStackTrace();
            System.err.flush();
            Runtime.getRuntime().halt(1);
        }
    }

    private static void run(String[] args) throws Exception {
        String role = args[0];
        BlockingQueue<String> commands = readCommands();
        if (role.equals("hog")) {
            hog(Long.parseLong(args[1]));
            return;
        }
        Mode mode = Mode.valueOf(args[1]);
        Duration interval = Duration.ofNanos(Long.parseLong(args[2]));
        EventLoopGroup group = new MultiThreadIoEventLoopGroup(1, EpollIoHandler.newFactory());
        EventLoop loop = group.next();
        warmUp(group, mode, interval);
        Book book = new Book();
        List<Channel> listeners = new ArrayList<>();
        List<Channel> channels = new ArrayList<>();
        Bootstrap client = null;
        InetAddress source = null;
        int expected = 0;
        if (role.equals("server")) {
            expected = Integer.parseInt(args[3]);
            listeners = listen(group, mode, interval, book, expected);
            answer("ready ports=" + listeners.stream().map(c -> Integer.toString(((InetSocketAddress)
                    c.localAddress()).getPort())).collect(Collectors.joining(",")));
        } else if (role.equals("client")) {
            source = InetAddress.getByName(args[3]);
            client = new Bootstrap().group(group).channel(EpollSocketChannel.class)
                    .option(ChannelOption.CONNECT_TIMEOUT_MILLIS, 0) // no timeout task per connection; bounded here
                    .option(EpollChannelOption.IP_BIND_ADDRESS_NO_PORT, true);
            answer("ready");
        } else {
            throw new IllegalArgumentException("role must be server, client or hog, but was " + role);
        }
        while (true) {
            String[] w = commands.take().split(" ");
            switch (w[0]) {
                case "accept":
                    accept(listeners, expected, Long.parseLong(w[1]), Long.parseLong(w[2]));
                    break;
                case "connect":
                    channels = connect(client, mode, interval, source, book, Integer.parseInt(w[1]),
                            Integer.parseInt(w[2]), Integer.parseInt(w[3]), w[4], w[5].equals("echo"));
                    break;
                case "stall":
                    long stall = Long.parseLong(w[2]);
                    at(loop, Long.parseLong(w[1]), () -> LockSupport.parkNanos(stall));
                    break;
                case "pause":
                    List<Channel> paused = channels;
                    long resumeAt = Long.parseLong(w[1]) + Long.parseLong(w[2]);
                    at(loop, Long.parseLong(w[1]), () -> autoRead(paused, false));
                    at(loop, resumeAt, () -> autoRead(paused, true));
                    break;
                case "status":
                    answer("status dyingEnded=" + book.endedDying.get());
                    break;
                case "report":
                    answer(report(book, role.equals("client")));
                    break;
                default:
                    throw new IllegalArgumentException("unknown command: " + String.join(" ", w));
            }
        }
    }

    /** Spins for at most {@code seconds} (the stdin thread ends the process earlier). */
    private static void hog(long seconds) {
        answer("ready");
        long end = System.nanoTime() + TimeUnit.SECONDS.toNanos(seconds);
        long x = 1;
        while (System.nanoTime() - end < 0) {
            for (int i = 0; i < 100_000; i++) {
                x = x * 6364136223846793005L + 1442695040888963407L;
            }
        }
        answer("hog done " + (x & 1));
    }

    /**
     * One connection to itself through this mode's pipelines, its first frame there and back, then a close: the
     * classes and buffer pools are loaded before the run, so that a cold JVM's first second does not count as a
     * slow peer.
     */
    private static void warmUp(EventLoopGroup group, Mode mode, Duration interval) throws Exception {
        Book book = new Book();
        InetAddress lo = InetAddress.getLoopbackAddress();
        Channel server = new ServerBootstrap().group(group).channel(EpollServerSocketChannel.class)
                .childHandler(TorturePipelines.initializer(false, mode, interval, ch -> new Record(false, false,
                        book))).bind(new InetSocketAddress(lo, 0)).sync().channel();
        Record record = new Record(true, false, book);
        Channel client = new Bootstrap().group(group).channel(EpollSocketChannel.class)
                .handler(TorturePipelines.initializer(true, mode, interval, ch -> record))
                .connect(server.localAddress()).sync().channel();
        client.writeAndFlush(IdleScaleProcess.helloFrame(client.alloc()));
        long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(10);
        while (book.echoed.get() == 0 && System.nanoTime() - deadline < 0) {
            Thread.sleep(5); // polling a counter, bounded by the deadline
        }
        client.close().sync();
        server.close().sync();
    }

    /** Runs {@code task} on {@code loop} at {@code atNanos} (bounded: at most a few minutes ahead). */
    private static void at(EventLoop loop, long atNanos, Runnable task) {
        long delay = atNanos - System.nanoTime();
        if (delay > LONGEST_COMMAND_DELAY.toNanos()) {
            throw new IllegalArgumentException("a command is due in " + delay + " ns, more than "
                    + LONGEST_COMMAND_DELAY);
        }
        loop.schedule(task, Math.max(0, delay), TimeUnit.NANOSECONDS);
    }

    private static void autoRead(List<Channel> channels, boolean on) {
        for (Channel ch : channels) {
            Record r = ch.pipeline().get(Record.class);
            if (r != null && !r.dying) {
                ch.config().setAutoRead(on);
            }
        }
    }

    /**
     * Binds enough ports for {@code expected} connections, not accepting yet ({@code autoRead} off on the listening
     * channels); accepting runs on an event loop of its own.
     */
    private static List<Channel> listen(EventLoopGroup workers, Mode mode, Duration interval, Book book,
                                        int expected) throws InterruptedException {
        EventLoopGroup boss = new MultiThreadIoEventLoopGroup(1, EpollIoHandler.newFactory());
        InetAddress proxySource = InetAddress.getLoopbackAddress();
        ServerBootstrap b = new ServerBootstrap().group(boss, workers).channel(EpollServerSocketChannel.class)
                .option(ChannelOption.SO_BACKLOG, 4 * CONNECTIONS_PER_PORT)
                .option(ChannelOption.AUTO_READ, false)
                .childHandler(TorturePipelines.initializer(false, mode, interval, ch -> new Record(false,
                        ch.remoteAddress().getAddress().equals(proxySource), book)));
        List<Channel> listeners = new ArrayList<>();
        int ports = Math.max(1, (expected + CONNECTIONS_PER_PORT - 1) / CONNECTIONS_PER_PORT);
        for (int i = 0; i < ports; i++) {
            ChannelFuture f = b.bind(new InetSocketAddress(InetAddress.getLoopbackAddress(), 0));
            if (!f.await(30, TimeUnit.SECONDS) || !f.isSuccess()) {
                throw new IllegalStateException("cannot listen", f.cause());
            }
            listeners.add(f.channel());
        }
        return listeners;
    }

    /**
     * Accepts from {@code at} on. With a {@code spread}, one read per listener every tick, each taking at most a
     * batch sized so that the expected connections drain over the spread; then freely.
     */
    private static void accept(List<Channel> listeners, int expected, long at, long spread) {
        EventLoop boss = listeners.get(0).eventLoop();
        if (spread <= 0) {
            at(boss, at, () -> listeners.forEach(l -> l.config().setAutoRead(true)));
            return;
        }
        long tick = TimeUnit.MILLISECONDS.toNanos(ACCEPT_TICK_MILLIS);
        long ticks = Math.max(1, spread / tick);
        int batch = (int) Math.max(1, (expected / listeners.size() + ticks - 1) / ticks);
        for (Channel l : listeners) {
            l.config().setRecvByteBufAllocator(new ServerChannelRecvByteBufAllocator().maxMessagesPerRead(batch));
        }
        for (long t = 0; t < ticks; t++) {
            at(boss, at + t * tick, () -> listeners.forEach(Channel::read));
        }
        at(boss, at + spread, () -> listeners.forEach(l -> l.config().setAutoRead(true)));
    }

    private static List<Channel> connect(Bootstrap b, Mode mode, Duration interval, InetAddress source, Book book,
                                         int first, int count, int dyingEvery, String serverList, boolean paced)
            throws InterruptedException {
        String[] servers = serverList.split(",");
        int[][] ports = new int[servers.length][];
        int[] proxies = new int[servers.length];
        for (int s = 0; s < servers.length; s++) {
            String[] parts = servers[s].split("@");
            ports[s] = Arrays.stream(parts[0].split("/")).mapToInt(Integer::parseInt).toArray();
            proxies[s] = Integer.parseInt(parts[1]);
        }
        InetAddress lo = InetAddress.getLoopbackAddress();
        Semaphore pending = new Semaphore(MAX_PENDING_CONNECTS);
        AtomicInteger failed = new AtomicInteger();
        List<Channel> channels = new ArrayList<>(count);
        long start = System.nanoTime();
        long deadline = start + CONNECT_TIMEOUT.toNanos();
        int live = 0;
        for (int j = 0; j < count; j++) {
            if (!pending.tryAcquire(Math.max(0, deadline - System.nanoTime()), TimeUnit.NANOSECONDS)) {
                break;
            }
            int g = first + j;
            boolean dying = dyingEvery > 0 && g % dyingEvery == 0;
            live += dying ? 0 : 1;
            int s = g % servers.length;
            int port = dying ? proxies[s] : ports[s][(g / servers.length) % ports[s].length];
            Record record = new Record(true, dying, book);
            if (paced) {
                record.settled = pending::release;
            }
            book.all.add(record);
            ChannelFuture f = b.clone().handler(TorturePipelines.initializer(true, mode, interval, ch -> record))
                    .connect(new InetSocketAddress(lo, port), new InetSocketAddress(source, 0));
            channels.add(f.channel());
            f.addListener(done -> {
                if (!paced) {
                    pending.release();
                }
                if (done.isSuccess()) {
                    f.channel().writeAndFlush(IdleScaleProcess.helloFrame(f.channel().alloc()));
                } else {
                    failed.incrementAndGet();
                    record.verdict("connect-failed:" + done.cause().getClass().getSimpleName());
                    book.ended.add(record);
                    (dying ? book.endedDying : book.endedLive).incrementAndGet();
                    record.settle();
                }
            });
        }
        // Every live connection echoed or ended (bounded by the deadline).
        while (book.echoedLive.get() + book.endedLive.get() < live && System.nanoTime() - deadline < 0) {
            Thread.sleep(10); // polling counters in a benchmark child, bounded by the deadline
        }
        answer("connected active=" + book.active.get() + " echoed=" + book.echoedLive.get() + " ended="
                + book.endedLive.get() + " failed=" + failed.get() + " live=" + live + " nanos="
                + (System.nanoTime() - start));
        return channels;
    }

    private static String report(Book book, boolean client) {
        List<Record> ended = new ArrayList<>(book.ended);
        StringBuilder sb = new StringBuilder(64 * ended.size() + 200);
        sb.append("report active=").append(book.active.get()).append(" echoed=").append(book.echoedLive.get());
        if (client) {
            // How long each live connection waited for its first inbound frame (its echo, or a ping or pong).
            long[] waits = book.all.stream().filter(r -> !r.dying && r.activeAt != 0 && r.firstInboundAt != 0)
                    .mapToLong(r -> r.firstInboundAt - r.activeAt).sorted().toArray();
            long silent = book.all.stream().filter(r -> !r.dying && r.activeAt != 0 && r.firstInboundAt == 0)
                    .count();
            sb.append(" fr=").append(Reports.quantile(waits, 0.5)).append(',')
                    .append(Reports.quantile(waits, 0.99)).append(',')
                    .append(waits.length == 0 ? 0 : waits[waits.length - 1]).append(',').append(waits.length)
                    .append(" silent=").append(silent);
        }
        sb.append(" act=");
        // When each live connection became active here: the driver matches the two ends' times by key, and the
        // difference is the connection's wait in the server's accept queue.
        List<Record> active = new ArrayList<>(book.activeLive);
        for (int i = 0; i < active.size(); i++) {
            sb.append(i == 0 ? "" : ";").append(active.get(i).key).append('@').append(active.get(i).activeAt)
                    .append('@').append(active.get(i).firstOutboundAt);
        }
        if (active.isEmpty()) {
            sb.append('-');
        }
        sb.append(" ended=");
        if (ended.isEmpty()) {
            sb.append('-');
        }
        for (int i = 0; i < ended.size(); i++) {
            sb.append(i == 0 ? "" : ";").append(ended.get(i).entry());
        }
        return sb.toString();
    }
}
