package dev.keepalive.benchmarks;

import dev.keepalive.KeepaliveSettings;
import dev.keepalive.ManualTicker;
import dev.keepalive.core.LivenessMonitor;
import dev.keepalive.core.LivenessMonitor.Action;
import dev.keepalive.core.LivenessMonitor.PeerPingVerdict;
import dev.keepalive.core.LoopHealth;
import dev.keepalive.core.MonitorConfig;

import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.PriorityQueue;
import java.util.SplittableRandom;

/**
 * How evenly the liveness core spreads the pings of many idle connections, with the machine taken out: the
 * {@link LivenessMonitor}s of both ends of every connection, driven by a simulated clock exactly as the Netty handler
 * drives them (first read, pings, pongs, the peer's pings, timers rounded up to the handler's tick), on simulated
 * event loops whose delays are chosen: a cost per event (a loop serves its due events one after another), one-way
 * network delays, and stalls (a loop stopped for a while: a GC pause, a descheduled thread). Deterministic for a
 * seed.
 *
 * <p>It counts each ping at the time it was sent and at the time the monitor planned it, per millisecond, and
 * reports the largest 10 ms window against the mean, as {@code IdleScaleBenchmark} does from real sockets: the
 * planned spread is the policy's alone, the sent one adds what the loops did to it. Scenarios: an ideal machine (no
 * cost, no stalls), then event costs, then stalls, then both.
 *
 * <pre>
 * java -cp benchmarks/target/benchmarks.jar dev.keepalive.benchmarks.PingSpreadSimulation [N] [seed]
 * </pre>
 */
public final class PingSpreadSimulation {
    private static final long MS = 1_000_000L;
    private static final long US = 1_000L;
    private static final int WINDOW_MS = 10;

    /** The simulated machine. */
    record Machine(String name, int loopsPerSide, long openRateNanos, long eventCostNanos, long oneWayNanos,
                   long oneWayJitterNanos, double stallsPerSecond, long meanStallNanos) {
    }

    /** What one run measured: spreads over the window, and where the pings came from. */
    record Result(Machine machine, IdleScaleBenchmark.Spread sent, IdleScaleBenchmark.Spread planned,
                  IdleScaleBenchmark.Spread serversSent, long clientPings, long serverPings,
                  double pingsPerConnectionPerInterval) {
    }

    private final int connections;
    private final long interval;
    private final Machine machine;
    /** The policy's draws (jitter, the loops' first phases); the machine's (delays, stalls) are apart, so that
     *  two builds of the core meet the same stalls. */
    private final SplittableRandom random;
    private final SplittableRandom delays;
    private final ManualTicker ticker = new ManualTicker(0);
    private final PriorityQueue<Event> queue = new PriorityQueue<>();
    private final Loop[] clientLoops;
    private final Loop[] serverLoops;
    private long seq;
    private final long windowFrom;
    private final long windowNanos;
    private final int[] sentPerMilli;
    private final int[] plannedPerMilli;
    /** The servers' pings alone, as sent. */
    private final int[] serverSentPerMilli;
    private long clientPings;
    private long serverPings;

    private PingSpreadSimulation(int connections, Duration interval, Machine machine, long seed, Duration warmup,
                                 Duration window) {
        this.connections = connections;
        this.interval = interval.toNanos();
        this.machine = machine;
        this.random = new SplittableRandom(seed);
        SplittableRandom machineRandom = new SplittableRandom(seed * 0x9E3779B97F4A7C15L + 1);
        this.delays = machineRandom.split();
        this.clientLoops = new Loop[machine.loopsPerSide];
        this.serverLoops = new Loop[machine.loopsPerSide];
        for (int i = 0; i < machine.loopsPerSide; i++) {
            clientLoops[i] = new Loop(random.nextDouble(), machineRandom.split());
            serverLoops[i] = new Loop(random.nextDouble(), machineRandom.split());
        }
        long lastOpen = (connections - 1) * machine.openRateNanos;
        this.windowFrom = lastOpen + warmup.toNanos();
        this.windowNanos = window.toNanos();
        this.sentPerMilli = new int[(int) (windowNanos / MS)];
        this.plannedPerMilli = new int[(int) (windowNanos / MS)];
        this.serverSentPerMilli = new int[(int) (windowNanos / MS)];
    }

    /** Runs one machine; the window starts {@code warmup} after the last connection opened. */
    static Result run(int connections, Duration interval, Machine machine, long seed, Duration warmup,
                      Duration window) {
        return new PingSpreadSimulation(connections, interval, machine, seed, warmup, window).run();
    }

    private Result run() {
        KeepaliveSettings settings = KeepaliveSettings.builder().pingInterval(Duration.ofNanos(interval))
                .pingTimeout(Duration.ofNanos(interval)).build();
        // As the handler builds it: jitter from a random source, first pings spread by the loop's phases, timers
        // rounded up to the tick it uses with the system clock.
        long tick = Math.max(MS, Math.min(5 * MS, interval / 200));
        MonitorConfig config = MonitorConfig.of(settings, ticker, true, random::nextDouble)
                .spreadingFirstPings(null).withTimerTick(tick);
        for (int i = 0; i < connections; i++) {
            Loop cl = clientLoops[i % clientLoops.length];
            Loop sl = serverLoops[i % serverLoops.length];
            End client = new End(new LivenessMonitor(config), cl, true);
            End server = new End(new LivenessMonitor(config), sl, false);
            client.peer = server;
            server.peer = client;
            long at = i * machine.openRateNanos;
            push(at, client, Kind.OPEN, 0); // connect completes; the client says hello
        }
        long end = windowFrom + windowNanos;
        while (!queue.isEmpty()) {
            Event e = queue.poll();
            if (e.at - end >= 0) {
                break;
            }
            Loop loop = e.end.loop;
            long now = loop.admit(e.at, machine);
            if (now != e.at) {
                e.at = now;
                queue.add(e); // the loop is busy or stalled: the event waits, in its order
                continue;
            }
            ticker.set(now);
            e.end.handle(e, now);
            loop.freeAt = now + machine.eventCostNanos;
        }
        IdleScaleBenchmark.Spread sent = IdleScaleBenchmark.Spread.of(sentPerMilli);
        IdleScaleBenchmark.Spread planned = IdleScaleBenchmark.Spread.of(plannedPerMilli);
        IdleScaleBenchmark.Spread serversSent = IdleScaleBenchmark.Spread.of(serverSentPerMilli);
        double perInterval = (double) (clientPings + serverPings) / connections / ((double) windowNanos / interval);
        return new Result(machine, sent, planned, serversSent, clientPings, serverPings, perInterval);
    }

    private void push(long at, End end, Kind kind, long id) {
        queue.add(new Event(at, seq++, end, kind, id));
    }

    private void count(End end, long sentAt, long plannedAt) {
        long s = sentAt - windowFrom;
        if (s >= 0 && s < windowNanos) {
            sentPerMilli[(int) (s / MS)]++;
            if (end.client) {
                clientPings++;
            } else {
                serverPings++;
                serverSentPerMilli[(int) (s / MS)]++;
            }
        }
        long p = plannedAt - windowFrom;
        if (p >= 0 && p < windowNanos) {
            plannedPerMilli[(int) (p / MS)]++;
        }
    }

    private long oneWay() {
        return machine.oneWayNanos + (machine.oneWayJitterNanos == 0 ? 0
                : (long) (-Math.log(1 - delays.nextDouble()) * machine.oneWayJitterNanos));
    }

    enum Kind { OPEN, ACCEPT, HELLO, PING, PONG, TIMER }

    static final class Event implements Comparable<Event> {
        long at;
        final long seq;
        final End end;
        final Kind kind;
        final long id;

        Event(long at, long seq, End end, Kind kind, long id) {
            this.at = at;
            this.seq = seq;
            this.end = end;
            this.kind = kind;
            this.id = id;
        }

        /**
         * In time order; at the same instant, I/O before timers, as a Netty event loop serves a pass (the reads
         * epoll reported, then the scheduled tasks due): after a stall, everything that waited runs at the same
         * instant, and the loop reads what arrived before its timers run.
         */
        @Override
        public int compareTo(Event o) {
            long d = at - o.at;
            if (d != 0) {
                return Long.signum(d);
            }
            boolean timer = kind == Kind.TIMER;
            if (timer != (o.kind == Kind.TIMER)) {
                return timer ? 1 : -1;
            }
            return Long.compare(seq, o.seq);
        }
    }

    /** A simulated event loop: serves one event at a time, and stops for a stall now and then. */
    static final class Loop {
        final LoopHealth health;
        /** This loop's own stalls: the same sequence in time whatever the events. */
        final SplittableRandom stalls;
        long freeAt;
        long nextStallAt = -1;

        Loop(double firstPhase, SplittableRandom stalls) {
            this.health = new LoopHealth(firstPhase);
            this.stalls = stalls;
        }

        /** When an event due at {@code at} can run: {@code at}, or later when the loop is busy or stalls. */
        long admit(long at, Machine m) {
            SplittableRandom random = stalls;
            if (m.stallsPerSecond > 0) {
                if (nextStallAt < 0) {
                    nextStallAt = (long) (-Math.log(1 - random.nextDouble()) / m.stallsPerSecond * 1e9);
                }
                while (nextStallAt - at <= 0) {
                    long length = (long) (-Math.log(1 - random.nextDouble()) * m.meanStallNanos);
                    freeAt = Math.max(freeAt, nextStallAt + length);
                    nextStallAt += (long) (-Math.log(1 - random.nextDouble()) / m.stallsPerSecond * 1e9);
                }
            }
            return freeAt - at > 0 ? freeAt : at;
        }
    }

    /** One end of a connection: its monitor and its timer, armed and moved as the handler does. */
    final class End {
        final LivenessMonitor monitor;
        final Loop loop;
        final boolean client;
        End peer;
        boolean armed;
        long armedDeadline;
        long timerGeneration;

        End(LivenessMonitor monitor, Loop loop, boolean client) {
            this.monitor = monitor;
            this.loop = loop;
            this.client = client;
            monitor.useLoopHealth(loop.health);
        }

        void handle(Event e, long now) {
            switch (e.kind) {
                case OPEN -> {
                    monitor.onActive();
                    arm(now);
                    push(now + oneWay(), peer, Kind.ACCEPT, 0);
                }
                case ACCEPT -> {
                    monitor.letPeerPingFirst();
                    monitor.onActive();
                    arm(now);
                    read(now); // the client's hello came with the accept
                    push(now + oneWay(), peer, Kind.HELLO, 0);
                }
                case HELLO -> read(now);
                case PING -> {
                    monitor.onInbound();
                    if (monitor.onPeerPing() == PeerPingVerdict.ANSWER) {
                        push(now + oneWay(), peer, Kind.PONG, e.id);
                    }
                    readComplete(now);
                }
                case PONG -> {
                    monitor.onInbound();
                    monitor.onPong(e.id);
                    readComplete(now);
                }
                case TIMER -> {
                    if (e.id != timerGeneration || !armed) {
                        return; // cancelled
                    }
                    armed = false;
                    long planned = monitor.deadline();
                    Action action = monitor.onTimer(now);
                    if (action == Action.SEND_PING) {
                        count(this, now, planned);
                        push(now + oneWay(), peer, Kind.PING, monitor.pingId());
                    }
                    arm(now);
                }
                default -> throw new AssertionError(e.kind);
            }
        }

        private void read(long now) {
            monitor.onInbound();
            readComplete(now);
        }

        private void readComplete(long now) {
            if (monitor.onReadComplete()) {
                if (armed && (!monitor.hasDeadline() || armedDeadline != monitor.deadline())) {
                    cancel();
                }
                arm(now);
            }
        }

        private void cancel() {
            armed = false;
            timerGeneration++;
        }

        private void arm(long now) {
            if (!monitor.hasDeadline()) {
                cancel();
                return;
            }
            long deadline = monitor.deadline();
            if (armed) {
                if (armedDeadline - deadline <= 0) {
                    return;
                }
                cancel();
            }
            armed = true;
            armedDeadline = deadline;
            long tick = Math.max(MS, Math.min(5 * MS, interval / 200));
            long at = deadline - now <= 0 ? deadline : MonitorConfig.roundUpToTick(deadline, tick);
            push(Math.max(at, now), this, Kind.TIMER, timerGeneration);
        }
    }

    public static void main(String[] args) {
        int n = args.length > 0 ? Integer.parseInt(args[0]) : 10_000;
        long seed = args.length > 1 ? Long.parseLong(args[1]) : 1;
        Duration interval = Duration.ofSeconds(1);
        // 10,000 connections open in about 2.5 s, as in IdleScaleBenchmark on this machine; two loops a side.
        long open = 2_500 * MS / Math.max(1, n);
        List<Machine> machines = new ArrayList<>();
        machines.add(new Machine("ideal: no cost, no delay, no stall", 2, open, 0, 0, 0, 0, 0));
        machines.add(new Machine("20 us per event, 50 us + exp(100 us) one way", 2, open, 20 * US, 50 * US,
                100 * US, 0, 0));
        machines.add(new Machine("and a stall of exp(5 ms) twice a second per loop", 2, open, 20 * US, 50 * US,
                100 * US, 2, 5 * MS));
        machines.add(new Machine("and a stall of exp(20 ms) twice a second per loop", 2, open, 20 * US, 50 * US,
                100 * US, 2, 20 * MS));
        System.out.printf(Locale.ROOT, "%,d connections, interval %s, seed %d: largest 10 ms window / mean%n", n,
                interval, seed);
        System.out.printf(Locale.ROOT, "%-52s %-24s %-24s %s%n", "machine", "first 2 s after opening",
                "10 s window after 5 s", "pings per conn. per interval (servers' share; their own spread)");
        double random = 0;
        for (Machine m : machines) {
            Result early = run(n, interval, m, seed, Duration.ZERO, Duration.ofSeconds(2));
            Result late = run(n, interval, m, seed, Duration.ofSeconds(5), Duration.ofSeconds(10));
            random = late.sent.uniformMax() / late.sent.mean();
            System.out.printf(Locale.ROOT, "%-52s %-24s %-24s %.3f (%.0f %%; %.2f, random %.2f)%n", m.name,
                    ratios(early), ratios(late), late.pingsPerConnectionPerInterval,
                    100.0 * late.serverPings / Math.max(1, late.clientPings + late.serverPings),
                    late.serversSent.ratio(), late.serversSent.mean() == 0 ? 0
                            : late.serversSent.uniformMax() / late.serversSent.mean());
        }
        System.out.printf(Locale.ROOT, "(sent / planned; random placement at the same mean: %.2f)%n", random);
    }

    private static String ratios(Result r) {
        return String.format(Locale.ROOT, "%.2f / %.2f", r.sent.ratio(), r.planned.ratio());
    }
}
