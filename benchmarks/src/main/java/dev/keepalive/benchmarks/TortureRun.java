package dev.keepalive.benchmarks;

import dev.keepalive.KeepaliveSettings;
import dev.keepalive.benchmarks.FalseVerdictTortureBenchmark.Config;
import dev.keepalive.benchmarks.FalseVerdictTortureBenchmark.Run;
import dev.keepalive.benchmarks.FalseVerdictTortureBenchmark.Scenario;
import dev.keepalive.benchmarks.IdleScaleBenchmark.Mode;
import dev.keepalive.benchmarks.support.ChildJvm;
import dev.keepalive.benchmarks.support.Reports;
import dev.keepalive.testkit.Fault;
import dev.keepalive.testkit.FirewallProxy;

import java.io.PrintStream;
import java.net.InetSocketAddress;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.HashMap;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.TreeMap;
import java.util.concurrent.locks.LockSupport;

import static dev.keepalive.benchmarks.FalseVerdictTortureBenchmark.ACCEPT_DRAIN;
import static dev.keepalive.benchmarks.FalseVerdictTortureBenchmark.ACCEPT_HOLD;
import static dev.keepalive.benchmarks.FalseVerdictTortureBenchmark.CHILD_JVM_ARGS;
import static dev.keepalive.benchmarks.FalseVerdictTortureBenchmark.NOT_VERDICTS;
import static dev.keepalive.benchmarks.FalseVerdictTortureBenchmark.REPORT_TIMEOUT;
import static dev.keepalive.benchmarks.FalseVerdictTortureBenchmark.STARTUP_TIMEOUT;

/** One scenario with one pipeline: the processes, the proxies, the timeline and the accounting. */
final class TortureRun {
    private TortureRun() {
    }

    static Run run(Config config, Scenario scenario, Mode mode, PrintStream out) throws Exception {
        KeepaliveSettings settings = config.settings();
        long i = config.interval().toNanos();
        Duration bound = mode == Mode.KEEPALIVE ? settings.idleDetectionBound()
                : config.interval().multipliedBy(IdleScaleProcess.BASELINE_READER_IDLE_INTERVALS);
        Duration deathBound = scenario == Scenario.SLOW_ACCEPT && mode == Mode.KEEPALIVE
                ? settings.firstResponseTimeout() : bound;
        int n = config.connections();
        int processes = (n + config.perProcess() - 1) / config.perProcess();
        List<String> launcher = scenario == Scenario.CPU_HOG
                ? List.of("taskset", "-c", Integer.toString(config.cpu())) : List.of();
        List<ChildJvm> servers = new ArrayList<>();
        List<ChildJvm> clients = new ArrayList<>();
        List<FirewallProxy> proxies = new ArrayList<>();
        ChildJvm hog = null;
        try {
            for (int k = 0; k < processes; k++) {
                servers.add(ChildJvm.start("torture-server-" + k, launcher, TortureProcess.class,
                        CHILD_JVM_ARGS, List.of("server", mode.name(), Long.toString(i),
                                Integer.toString(share(n, processes, k)))));
                clients.add(ChildJvm.start("torture-client-" + k, launcher, TortureProcess.class,
                        CHILD_JVM_ARGS, List.of("client", mode.name(), Long.toString(i),
                                IdleScaleBenchmark.sourceAddress())));
            }
            if (scenario == Scenario.CPU_HOG) {
                hog = ChildJvm.start("torture-hog", launcher, TortureProcess.class, CHILD_JVM_ARGS,
                        List.of("hog", "600"));
                hog.awaitLine("ready", STARTUP_TIMEOUT);
            }
            List<String> endpoints = new ArrayList<>();
            for (ChildJvm server : servers) {
                String ports = IdleScaleBenchmark.fields(server.awaitLine("ready", STARTUP_TIMEOUT))
                        .get("ports");
                FirewallProxy.Builder b = FirewallProxy.builder(new InetSocketAddress("127.0.0.1",
                        Integer.parseInt(ports.split(",")[0])));
                if (scenario == Scenario.SLOW_ACCEPT) {
                    b.fault(Fault.blackHole()); // the dying connections never answer
                }
                FirewallProxy proxy = b.start();
                proxies.add(proxy);
                endpoints.add(ports.replace(',', '/') + "@" + proxy.address().getPort());
            }
            for (ChildJvm c : clients) {
                c.awaitLine("ready", STARTUP_TIMEOUT);
            }
            long go = System.nanoTime() + Duration.ofMillis(200).toNanos();
            long allowance = settings.firstResponseTimeout().toNanos();
            for (ChildJvm server : servers) {
                server.send(scenario == Scenario.SLOW_ACCEPT
                        ? "accept " + (go + (long) (ACCEPT_HOLD * allowance)) + " "
                        + (long) (ACCEPT_DRAIN * allowance) : "accept " + System.nanoTime() + " 0");
            }
            sleepUntil(go);
            int first = 0;
            for (int k = 0; k < processes; k++) {
                int count = share(n, processes, k);
                // (a) and (b) are about a server that cannot keep up with new connections: their clients only
                // wait for connects; the others start gently (no more than 1,000 waiting for their echo).
                boolean rush = scenario == Scenario.CPU_HOG || scenario == Scenario.SLOW_ACCEPT;
                clients.get(k).send("connect " + first + " " + count + " " + config.dyingEvery() + " "
                        + String.join(",", endpoints) + (rush ? " connect" : " echo"));
                first += count;
            }
            long connectNanos = 0;
            for (ChildJvm c : clients) {
                Map<String, String> f = IdleScaleBenchmark.fields(c.awaitLine("connected",
                        Duration.ofMinutes(3)));
                connectNanos = Math.max(connectNanos, Long.parseLong(f.get("nanos")));
            }
            LockSupport.parkNanos(2 * i); // settle: pings flow on every connection (pacing, not a sync)
            long t0 = System.nanoTime() + Duration.ofMillis(300).toNanos();
            long phaseEnd = perturb(scenario, t0, i, bound.toNanos(), servers, clients);
            sleepUntil(t0);
            long blackHoleAt = System.nanoTime();
            if (scenario != Scenario.SLOW_ACCEPT) {
                for (FirewallProxy p : proxies) {
                    p.injectAll(Fault.blackHole());
                }
            }
            sleepUntil(phaseEnd + deathBound.toNanos() + 2 * i);
            // Then on until every real death is found, for at most 3 more bounds: one found late is still
            // found, and its time is reported.
            int dying = (n + config.dyingEvery() - 1) / config.dyingEvery();
            long cap = System.nanoTime() + 3 * deathBound.toNanos();
            while (dyingEnded(clients) < dying && System.nanoTime() - cap < 0) {
                LockSupport.parkNanos(Duration.ofMillis(200).toNanos()); // polling, bounded by the cap
            }
            List<Map<String, String>> clientReports = new ArrayList<>();
            List<Map<String, String>> serverReports = new ArrayList<>();
            for (ChildJvm c : clients) {
                clientReports.add(IdleScaleBenchmark.fields(c.request("report", "report", REPORT_TIMEOUT)));
            }
            for (ChildJvm c : servers) {
                serverReports.add(IdleScaleBenchmark.fields(c.request("report", "report", REPORT_TIMEOUT)));
            }
            return account(scenario, mode, n - dying, dying, deathBound, settings.firstResponseTimeout(),
                    connectNanos, clientReports,
                    serverReports, scenario == Scenario.SLOW_ACCEPT ? -1 : blackHoleAt, blackHoleAt);
        } finally {
            for (ChildJvm c : clients) {
                c.close();
            }
            for (ChildJvm c : servers) {
                c.close();
            }
            if (hog != null) {
                hog.close();
            }
            for (FirewallProxy p : proxies) {
                p.close();
            }
        }
    }

    private static int dyingEnded(List<ChildJvm> clients) throws InterruptedException {
        int ended = 0;
        for (ChildJvm c : clients) {
            ended += Integer.parseInt(IdleScaleBenchmark.fields(c.request("status", "status", REPORT_TIMEOUT))
                    .get("dyingEnded"));
        }
        return ended;
    }

    /**
     * Sends the scenario's perturbation, from {@code t0} on, to the children.
     *
     * @return when the perturbation ends
     */
    private static long perturb(Scenario scenario, long t0, long i, long bound, List<ChildJvm> servers,
                                List<ChildJvm> clients) {
        switch (scenario) {
            case CPU_HOG:
                return t0 + 2 * bound;
            case CLIENT_STALLS: {
                long at = t0 + i;
                for (int k = 1; k <= 3; k++) {
                    for (ChildJvm c : clients) {
                        c.send("stall " + at + " " + k * i);
                    }
                    at += k * i + (k < 3 ? bound + i : 0);
                }
                return at;
            }
            case READS_PAUSED:
                for (ChildJvm c : clients) {
                    c.send("pause " + (t0 + i) + " " + 2 * bound);
                }
                return t0 + i + 2 * bound;
            case SERVER_STALLS: {
                long at = t0 + i;
                for (int k = 0; k < 2; k++) {
                    for (ChildJvm s : servers) {
                        s.send("stall " + at + " " + 2 * i);
                    }
                    at += 2 * i + (k < 1 ? bound + i : 0);
                }
                return at;
            }
            default:
                return t0;
        }
    }

    /**
     * Counts the false verdicts and the real deaths from the reports.
     *
     * @param allowance   the library's first-response allowance, which the slow server of (b) is designed to meet
     * @param blackHoleAt when the dying connections died; -1: when each became active
     * @param t0          when the perturbation phase began (verdicts before it came in the start-up)
     */
    static Run account(Scenario scenario, Mode mode, int live, int dying, Duration bound, Duration allowance,
                       long connectNanos,
                       List<Map<String, String>> clients, List<Map<String, String>> servers,
                       long blackHoleAt, long t0) {
        Map<String, Long> falseVerdicts = new TreeMap<>();
        Map<String, Long> otherEnds = new TreeMap<>();
        Map<String, Long> deathReasons = new TreeMap<>();
        Map<String, Long> excused = new TreeMap<>();
        Set<String> convicted = new HashSet<>();
        Set<String> convictedEarly = new HashSet<>();
        Set<String> endedOtherwise = new HashSet<>();
        List<Long> detections = new ArrayList<>();
        Map<String, Long> clientActive = new HashMap<>();
        Map<String, Long> serverFirstWrite = new HashMap<>();
        List<Long> acceptWaits = new ArrayList<>();
        for (int side = 0; side < 2; side++) {
            for (Map<String, String> report : side == 0 ? clients : servers) {
                String act = report.getOrDefault("act", "-");
                if (act.equals("-")) {
                    continue;
                }
                for (String a : act.split(";")) {
                    String[] f = a.split("@");
                    String key = f[0];
                    long t = Long.parseLong(f[1]);
                    if (side == 0) {
                        clientActive.put(key, t);
                    } else {
                        serverFirstWrite.put(key, Long.parseLong(f[2]));
                        if (clientActive.containsKey(key)) {
                            acceptWaits.add(t - clientActive.get(key));
                        }
                    }
                }
            }
        }
        long[] waits = acceptWaits.stream().mapToLong(Long::longValue).sorted().toArray();
        long[] acceptWait = {Reports.quantile(waits, 0.5), Reports.quantile(waits, 0.99),
            waits.length == 0 ? 0 : waits[waits.length - 1]};
        int echoed = 0;
        long[] firstResponse = new long[3];
        long silent = 0;
        for (int side = 0; side < 2; side++) {
            boolean client = side == 0;
            for (Map<String, String> report : client ? clients : servers) {
                if (client) {
                    echoed += Integer.parseInt(report.get("echoed"));
                    long[] fr = Arrays.stream(report.get("fr").split(",")).mapToLong(Long::parseLong).toArray();
                    for (int q = 0; q < 3; q++) {
                        firstResponse[q] = Math.max(firstResponse[q], fr[q]); // over the client processes
                    }
                    silent += Long.parseLong(report.get("silent"));
                }
                String ended = report.get("ended");
                if (ended == null || ended.equals("-")) {
                    continue;
                }
                for (String entry : ended.split(";")) {
                    String[] e = entry.split(",");
                    String key = e[0];
                    boolean isDying = e[1].equals("1");
                    String reason = e[2];
                    long activeAt = Long.parseLong(e[3]);
                    long endedAt = Long.parseLong(e[4]);
                    boolean verdict = !NOT_VERDICTS.contains(reason) && !reason.startsWith("error:")
                            && !reason.startsWith("connect-failed");
                    String what = (client ? "client " : "server ") + reason;
                    if (isDying) {
                        if (client) {
                            deathReasons.merge(reason, 1L, Long::sum);
                            if (verdict) {
                                detections.add(endedAt - (blackHoleAt < 0 ? activeAt : blackHoleAt));
                            }
                        }
                    } else if (verdict && stalledPeer(scenario, client) && Long.parseLong(e[5]) >= bound.toNanos()) {
                        // The stalled peer sent nothing for the whole bound (its stall, the idle time before it and
                        // its backlog after): by the harness's own clock, not the verdict's word, it was that silent.
                        excused.merge(what + " (" + (client ? "server" : "client") + " silent >= bound)", 1L,
                                Long::sum);
                    } else if (verdict && client && scenario == Scenario.SLOW_ACCEPT
                            && Long.parseLong(e[5]) >= allowance.toNanos()
                            && wroteNothingWithin(serverFirstWrite.getOrDefault(key, 0L), activeAt, allowance)) {
                        // The slow server missed its own design (accepting within 80 % of the allowance): by its
                        // clock it wrote nothing on this connection until the allowance had passed, and the client
                        // heard nothing for that long. The library's allowance is what the user set; past it, the
                        // verdict is true (the baseline is held to the same allowance, not to its shorter bound).
                        excused.merge(what + " (server silent >= first-response allowance)", 1L, Long::sum);
                    } else if (verdict) {
                        falseVerdicts.merge(what, 1L, Long::sum);
                        convicted.add(key);
                        boolean gentleStart = scenario != Scenario.CPU_HOG && scenario != Scenario.SLOW_ACCEPT;
                        if (gentleStart && endedAt - t0 < 0) {
                            convictedEarly.add(key);
                        }
                    } else if (!NOT_VERDICTS.contains(reason)) {
                        otherEnds.merge(what, 1L, Long::sum);
                        endedOtherwise.add(key);
                    }
                }
            }
        }
        endedOtherwise.removeAll(convicted);
        long[] detectionNanos = detections.stream().mapToLong(Long::longValue).sorted().toArray();
        return new Run(scenario, mode, live, dying, bound, connectNanos, echoed, firstResponse, silent,
                acceptWait, falseVerdicts, convicted.size(), convictedEarly.size(), otherEnds, excused, detectionNanos,
                deathReasons);
    }

    /** Whether a server whose first write on a connection came at {@code firstWrite} (0: none) was silent so long. */
    private static boolean wroteNothingWithin(long firstWrite, long clientActiveAt, Duration allowance) {
        return firstWrite == 0 || firstWrite - clientActiveAt >= allowance.toNanos();
    }

    /** Whether this end's peer is the one the scenario stalls: the clients in (c), the server in (e). */
    private static boolean stalledPeer(Scenario scenario, boolean client) {
        return client ? scenario == Scenario.SERVER_STALLS : scenario == Scenario.CLIENT_STALLS;
    }

    private static int share(int n, int processes, int k) {
        return n / processes + (k < n % processes ? 1 : 0);
    }

    private static void sleepUntil(long deadline) {
        for (long left = deadline - System.nanoTime(); left > 0; left = deadline - System.nanoTime()) {
            LockSupport.parkNanos(left);
        }
    }
}
