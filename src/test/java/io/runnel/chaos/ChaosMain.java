package io.runnel.chaos;

import io.runnel.testkit.TestFiles;
import java.io.IOException;
import java.io.PrintStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Random;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicLong;
import java.util.concurrent.locks.LockSupport;
import java.util.stream.Stream;

/**
 * A fault-injection campaign against a Runnel cluster, shared by {@code scripts/chaos} and the test suite: brokers in
 * network namespaces ({@link ChaosCluster}), a load through Kafka clients ({@link Workload}), faults from a seeded
 * random source or a named sequence ({@link Fault}), and the {@link Checker}'s verdict. Prints one line per fault
 * and a summary table; {@link #main} exits 1 on any violation (2 on bad arguments or a run that could not start).
 */
public final class ChaosMain {
    /** What a run does; see {@link #usage}. */
    static final class Options {
        int brokers = 3;
        long seed = new Random().nextLong();
        int durationSeconds = 120;
        List<Fault> faults = List.of(Fault.values());
        boolean sequence;
        int faultMinSeconds = 5;
        int faultMaxSeconds = 20;
        int calmMinSeconds = 3;
        int calmMaxSeconds = 10;
        double overlap = 0.3;
        int producers = 2;
        int consumers = 2;
        int ratePerProducer = 100;
        long diskBytes = 256L << 20;
        int recoverySeconds = 180;
        List<String> brokerArgs = new ArrayList<>();
        Path root;
        boolean keep;
        String classpath = System.getProperty("java.class.path");
    }

    /** The outcome: the checks, and the lines printed per fault. */
    /**
     * @param wholeAfterMs for each time every fault had healed, how long the cluster took to be whole again
     *                     ({@link ChaosCluster#whole}), or -1 when it was not within {@code --recovery-seconds}
     */
    record Result(List<Checker.Check> checks, List<String> faultLines, List<Long> wholeAfterMs, boolean recovered) {
        boolean passed() {
            return recovered && longestToWholeMs() >= 0 && checks.stream().allMatch(Checker.Check::passed);
        }

        /** The longest time to whole again, -1 if once it was not (or 0 when no fault healed). */
        long longestToWholeMs() {
            return wholeAfterMs.contains(-1L) ? -1 : wholeAfterMs.stream().mapToLong(Long::longValue).max().orElse(0);
        }
    }

    private record Running(Fault kind, Fault.Active active, long startMs, long healAtMs) {
    }

    private ChaosMain() {
    }

    public static void main(String[] args) {
        // The clients' reconnect warnings during faults are expected: the report says what matters.
        System.setProperty("org.slf4j.simpleLogger.log.org.apache.kafka", "error");
        Options o;
        try {
            o = parse(args);
        } catch (IllegalArgumentException e) {
            System.err.println(e.getMessage());
            System.err.println(usage());
            System.exit(2);
            return;
        }
        try {
            Result r = run(o, System.out);
            System.exit(r.passed() ? 0 : 1);
        } catch (Exception e) {
            System.err.println("chaos: the run could not be carried out: " + e);
            e.printStackTrace();
            System.exit(2);
        }
    }

    static String usage() {
        return """
                scripts/chaos [options]
                  --brokers N          brokers, each in its own network namespace (3; 5 for two-broker minorities)
                  --seed S             the random source of the fault schedule (printed; the same seed replays it)
                  --duration SECONDS   how long faults are injected (120; at most 3600)
                  --faults a,b,...     which faults (all): kill, pause, isolate, split, nontransitive,
                                       isolate-controller, flap, disk-full, clock-skew
                  --sequence           each named fault once, in the order given, instead of at random
                  --fault-seconds A-B  how long each fault lasts (5-20)
                  --calm-seconds A-B   the pause between faults (3-10)
                  --overlap P          the chance that a second fault starts while one is in force (0.3)
                  --rate N             records per second per producer (100); --producers N (2), --consumers N (2)
                  --disk-mb N          each broker's log.dirs tmpfs (256)
                  --recovery-seconds N how long the cluster may take to be whole again after a fault, and the
                                       consumers to catch up at the end (180); --sequence waits for it between faults
                  --broker-arg K=V     a broker setting for every broker (repeatable), e.g. --broker-arg cluster.cp.member.count=0
                  --root DIR           where the brokers' files go (a new temporary directory); --keep keeps them
                """;
    }

    static Options parse(String[] args) {
        Options o = new Options();
        for (int i = 0; i < args.length; i++) {
            String a = args[i];
            if (a.equals("--sequence")) {
                o.sequence = true;
                continue;
            }
            if (a.equals("--keep")) {
                o.keep = true;
                continue;
            }
            if (i + 1 >= args.length) throw new IllegalArgumentException("missing value after " + a);
            String v = args[++i];
            try {
                switch (a) {
                    case "--brokers" -> o.brokers = Integer.parseInt(v);
                    case "--seed" -> o.seed = Long.parseLong(v);
                    case "--duration" -> o.durationSeconds = Integer.parseInt(v);
                    case "--faults" -> o.faults = Stream.of(v.split(",")).map(Fault::parse).toList();
                    case "--fault-seconds" -> {
                        int[] r = range(v);
                        o.faultMinSeconds = r[0];
                        o.faultMaxSeconds = r[1];
                    }
                    case "--calm-seconds" -> {
                        int[] r = range(v);
                        o.calmMinSeconds = r[0];
                        o.calmMaxSeconds = r[1];
                    }
                    case "--overlap" -> o.overlap = Double.parseDouble(v);
                    case "--rate" -> o.ratePerProducer = Integer.parseInt(v);
                    case "--producers" -> o.producers = Integer.parseInt(v);
                    case "--consumers" -> o.consumers = Integer.parseInt(v);
                    case "--disk-mb" -> o.diskBytes = Long.parseLong(v) << 20;
                    case "--recovery-seconds" -> o.recoverySeconds = Integer.parseInt(v);
                    case "--broker-arg" -> o.brokerArgs.add("--" + v);
                    case "--root" -> o.root = Path.of(v);
                    default -> throw new IllegalArgumentException("unknown option " + a);
                }
            } catch (NumberFormatException e) {
                throw new IllegalArgumentException("not a number after " + a + ": " + v);
            }
        }
        if (o.brokers < 3 || o.brokers > 9) throw new IllegalArgumentException("--brokers must be 3 to 9");
        if (o.faultMinSeconds < 1 || o.faultMaxSeconds < o.faultMinSeconds) throw new IllegalArgumentException("bad --fault-seconds");
        if (o.calmMinSeconds < 0 || o.calmMaxSeconds < o.calmMinSeconds) throw new IllegalArgumentException("bad --calm-seconds");
        // The history is kept in memory (about 300 MB an hour at the default rates): an hour at most per run.
        if (o.durationSeconds < 1 || o.durationSeconds > 3600) throw new IllegalArgumentException("--duration must be 1 to 3600 s");
        if (o.recoverySeconds < 10 || o.recoverySeconds > 3600) throw new IllegalArgumentException("--recovery-seconds must be 10 to 3600");
        return o;
    }

    private static int[] range(String v) {
        String[] p = v.split("-");
        int a = Integer.parseInt(p[0]);
        return new int[] {a, p.length > 1 ? Integer.parseInt(p[1]) : a};
    }

    /** Runs a campaign and prints its report to {@code out}. Everything it started is gone when it returns. */
    static Result run(Options o, PrintStream out) throws Exception {
        // The pid in the name lets a later run unmount what a run killed with -9 left (Netns.sweepLeftovers).
        Path root = o.root != null ? Files.createDirectories(o.root)
                : Files.createTempDirectory("runnel-chaos-" + ProcessHandle.current().pid() + "-");
        Random random = new Random(o.seed);
        History history = new History();
        List<String> lines = new ArrayList<>();
        List<Long> wholeAfter = new ArrayList<>();
        boolean recovered;
        java.util.concurrent.atomic.AtomicBoolean sampling = new java.util.concurrent.atomic.AtomicBoolean(true);
        out.printf(Locale.ROOT, "chaos: seed %d, %d brokers, %d s of faults (%s%s), files in %s%n", o.seed, o.brokers, o.durationSeconds,
                String.join(",", o.faults.stream().map(Fault::label).toList()), o.sequence ? ", in sequence" : "", root);
        if (o.faults.contains(Fault.CLOCK_SKEW) && !ChaosCluster.clockSkewAvailable()) {
            out.println("chaos: clock-skew needs Debian's faketime package (" + ChaosCluster.LIBFAKETIME + "); it is left out");
        }
        try (ChaosCluster cluster = ChaosCluster.start(o.brokers, root, o.classpath, o.brokerArgs, o.diskBytes)) {
            Thread hook = new Thread(cluster::close); // Ctrl-C still removes the namespaces, mounts and brokers
            Runtime.getRuntime().addShutdownHook(hook);
            try (Workload load = new Workload(cluster.bootstrap(), history, o.producers, o.consumers, o.ratePerProducer, Math.min(3, o.brokers))) {
                load.createTopics(Duration.ofSeconds(120));
                load.start();
                Thread claims = sampleClaims(cluster, history, sampling);
                long t0 = System.currentTimeMillis();
                history.startedMs = t0;
                out.printf(Locale.ROOT, "chaos: cluster up, load running (%d producers at %d records/s, %d consumers, a transactional copy)%n",
                        o.producers, o.ratePerProducer, o.consumers);
                pause(5000); // steady load before the first fault
                inject(o, cluster, random, history, t0, lines, wholeAfter, out);
                cluster.net().healAll();
                for (int b = 1; b <= cluster.size(); b++) {
                    cluster.resume(b);
                    cluster.restart(b);
                    cluster.restartWithClock(b, 0);
                    cluster.freeDisk(b);
                }
                out.printf(Locale.ROOT, "chaos: %6.1fs faults over, everything healed; controllers then: %s%n", (System.currentTimeMillis() - t0) / 1000.0,
                        cluster.controllerViews());
                pause(5000); // load on the healed cluster before stopping the producers
                load.stopProducers();
                long healed = System.currentTimeMillis();
                history.producersStoppedMs = healed;
                recovered = load.awaitCaughtUp(Duration.ofSeconds(o.recoverySeconds));
                out.printf(Locale.ROOT, "chaos: %6.1fs consumers and the copy %s%n", (System.currentTimeMillis() - t0) / 1000.0,
                        recovered ? "caught up in " + (System.currentTimeMillis() - healed) / 1000.0 + " s" : "did NOT catch up within " + o.recoverySeconds + " s");
                load.stopReaders();
                sampling.set(false);
                claims.join(10_000);
                try {
                    load.readFinalState();
                } catch (Exception e) {
                    out.println("chaos: the final state could not be read back: " + e);
                    history.finalStateUnread = true;
                    recovered = false;
                }
            } finally {
                sampling.set(false);
                Runtime.getRuntime().removeShutdownHook(hook);
            }
        } finally {
            if (!o.keep) TestFiles.deleteTree(root);
        }
        List<Checker.Check> checks = Checker.check(history);
        Result result = new Result(checks, lines, wholeAfter, recovered);
        printSummary(result, history, out);
        return result;
    }

    /**
     * Reads every running broker's {@code /api/cluster} twice a second for what it claims: the controller epoch it
     * acts in and the partitions it leads with their leader epochs (the checker looks for two claims of one epoch).
     */
    private static Thread sampleClaims(ChaosCluster cluster, History history, java.util.concurrent.atomic.AtomicBoolean sampling) {
        Thread t = new Thread(() -> {
            while (sampling.get()) {
                for (int b = 1; b <= cluster.size() && sampling.get(); b++) {
                    if (!cluster.isRunning(b) || cluster.isPaused(b)) continue;
                    io.vertx.core.json.JsonObject info = cluster.clusterInfo(b);
                    if (info == null) continue;
                    Map<String, Integer> leading = new java.util.HashMap<>();
                    for (Object o : info.getJsonArray("leading", new io.vertx.core.json.JsonArray())) {
                        io.vertx.core.json.JsonObject l = (io.vertx.core.json.JsonObject) o;
                        // A replica opened at start leads alone in epoch 0 until the controller's first image: no claim.
                        if (l.getInteger("replicas", 0) < 2) continue;
                        leading.put(l.getString("topic") + "-" + l.getInteger("partition"), l.getInteger("leaderEpoch"));
                    }
                    history.claims.add(new History.Claim(b, System.currentTimeMillis(), info.getLong("actingControllerEpoch", -1L), leading));
                }
                pause(500); // the sampling interval
            }
        }, "chaos-claims");
        t.setDaemon(true);
        t.start();
        return t;
    }

    /**
     * Starts and heals faults until the duration or the sequence ends. Each time every fault has healed it watches
     * for the cluster to be whole again ({@link ChaosCluster#whole}, checked each second) and prints how long that
     * took. In a sequence the next fault waits for that too (at most {@code --recovery-seconds}), so that each fault
     * kind starts from a whole cluster and its line measures that fault alone; at random they do not wait.
     */
    private static void inject(Options o, ChaosCluster cluster, Random random, History history, long t0, List<String> lines,
            List<Long> wholeAfter, PrintStream out) throws IOException, InterruptedException {
        long end = t0 + TimeUnit.SECONDS.toMillis(o.durationSeconds);
        List<Running> running = new ArrayList<>();
        int nextInSequence = 0;
        long nextStart = System.currentTimeMillis();
        boolean overlapThisTime = false;
        long sequenceWaitSince = Long.MAX_VALUE;
        long allHealedAt = -1; // while the cluster is not yet whole after every fault healed
        long lastWholeCheck = 0;
        while (true) {
            long now = System.currentTimeMillis();
            if (allHealedAt >= 0 && !running.isEmpty()) allHealedAt = -1; // an overlapping fault started meanwhile
            if (allHealedAt >= 0 && now - lastWholeCheck >= 1000) {
                lastWholeCheck = now;
                if (cluster.whole()) {
                    long took = System.currentTimeMillis() - allHealedAt;
                    wholeAfter.add(took);
                    out.printf(Locale.ROOT, "[%6.1fs]          whole again %.1f s after the fault healed%n", (System.currentTimeMillis() - t0) / 1000.0, took / 1000.0);
                    allHealedAt = -1;
                } else if (now - allHealedAt > 1000L * o.recoverySeconds) {
                    wholeAfter.add(-1L);
                    out.printf(Locale.ROOT, "[%6.1fs]          NOT whole again %d s after the fault healed; controllers: %s%n", (now - t0) / 1000.0,
                            o.recoverySeconds, cluster.controllerViews());
                    allHealedAt = -1;
                }
                now = System.currentTimeMillis();
            }
            for (Running r : List.copyOf(running)) {
                if (now < r.healAtMs()) continue;
                String controllers = cluster.controllerViews();
                r.active().heal();
                running.remove(r);
                long healedAt = System.currentTimeMillis();
                long[] times = history.acks.stream().mapToLong(History.Ack::atMs).filter(t -> t >= r.startMs() && t < healedAt).sorted().toArray();
                long[][] perPartition = partitionGaps(history, r.startMs(), healedAt);
                int worst = 0;
                for (int p = 1; p < perPartition[0].length; p++) if (perPartition[0][p] > perPartition[0][worst]) worst = p;
                String line = String.format(Locale.ROOT, "[%6.1fs – %6.1fs] %-62s acks %5d, longest without: %4.1fs, on one partition %4.1fs (p%d); "
                        + "controllers seen: %s", (r.startMs() - t0) / 1000.0, (healedAt - t0) / 1000.0, r.active().description(), times.length,
                        longestGap(times, r.startMs(), healedAt) / 1000.0, perPartition[0][worst] / 1000.0, worst, controllers);
                lines.add(line);
                out.println(line);
                if (running.isEmpty()) {
                    nextStart = healedAt + 1000L * between(random, o.calmMinSeconds, o.calmMaxSeconds);
                    allHealedAt = healedAt;
                    lastWholeCheck = 0;
                }
            }
            if (o.sequence && allHealedAt >= 0) {
                pause(100);
                continue; // the next fault of a sequence starts from a whole cluster
            }
            boolean sequenceDone = o.sequence && nextInSequence >= o.faults.size();
            if ((now >= end || sequenceDone) && running.isEmpty() && allHealedAt < 0) return;
            boolean startOne = now < end && !sequenceDone
                    && (running.isEmpty() ? now >= nextStart : running.size() == 1 && overlapThisTime && now >= nextStart);
            if (startOne) {
                Fault named = o.sequence ? o.faults.get(nextInSequence) : null;
                Running r = startFault(o, cluster, random, running, named);
                if (o.sequence && (r != null || now - sequenceWaitSince > 60_000)) {
                    if (r == null) out.println("chaos: " + named.label() + " could not start within 60 s (no free broker or no controller known); skipped");
                    nextInSequence++;
                    sequenceWaitSince = Long.MAX_VALUE;
                } else if (o.sequence && sequenceWaitSince == Long.MAX_VALUE) {
                    sequenceWaitSince = now;
                }
                if (r != null) {
                    running.add(r);
                    overlapThisTime = running.size() == 1 && random.nextDouble() < o.overlap;
                    long hold = r.healAtMs() - r.startMs();
                    nextStart = overlapThisTime ? r.startMs() + hold / 3 + random.nextLong(Math.max(1, hold / 3)) : Long.MAX_VALUE;
                } else {
                    nextStart = now + 1000; // nothing could start (no free broker, no controller known): try again shortly
                }
            }
            pause(100); // the scheduler's tick
        }
    }

    private static Running startFault(Options o, ChaosCluster cluster, Random random, List<Running> running, Fault named)
            throws IOException, InterruptedException {
        List<Integer> busy = running.stream().flatMap(r -> r.active().brokers().stream()).toList();
        List<Fault> candidates = new ArrayList<>(named != null ? List.of(named) : o.faults);
        if (named == null) java.util.Collections.shuffle(candidates, random);
        for (Fault f : candidates) {
            Fault.Active a = f.apply(cluster, random, busy);
            if (a == null) continue;
            long now = System.currentTimeMillis();
            return new Running(f, a, now, now + 1000L * between(random, o.faultMinSeconds, o.faultMaxSeconds));
        }
        return null;
    }

    /**
     * For each partition of the input topic, the longest stretch in [from, to) without an acknowledgement on it
     * ({@code [0][p]}, ms) and where it began ({@code [1][p]}, epoch ms): how long that partition was unavailable to
     * the producers (they send to every partition all the time).
     */
    static long[][] partitionGaps(History history, long from, long to) {
        long[][] out = new long[2][Workload.PARTITIONS];
        for (int p = 0; p < Workload.PARTITIONS; p++) {
            int partition = p;
            long[] times = history.acks.stream().filter(a -> a.partition() == partition).mapToLong(History.Ack::atMs)
                    .filter(t -> t >= from && t < to).sorted().toArray();
            long last = from;
            for (long t : times) {
                if (t - last > out[0][p]) {
                    out[0][p] = t - last;
                    out[1][p] = last;
                }
                last = t;
            }
            if (to - last > out[0][p]) {
                out[0][p] = to - last;
                out[1][p] = last;
            }
        }
        return out;
    }

    /** The longest stretch in [from, to) without a time in {@code sorted}: how long the producers were refused. */
    static long longestGap(long[] sorted, long from, long to) {
        long longest = 0;
        long last = from;
        for (long t : sorted) {
            longest = Math.max(longest, t - last);
            last = t;
        }
        return Math.max(longest, to - last);
    }

    private static int between(Random random, int min, int max) {
        return min + random.nextInt(max - min + 1);
    }

    private static void pause(long ms) {
        LockSupport.parkNanos(TimeUnit.MILLISECONDS.toNanos(ms));
    }

    private static void printSummary(Result r, History h, PrintStream out) {
        out.println();
        out.printf(Locale.ROOT, "%-40s %10s  %s%n", "check", "violations", "examples");
        out.printf(Locale.ROOT, "%-40s %10s  %s%n", "recovered after the faults", r.recovered() ? 0 : 1,
                r.recovered() ? "" : "consumers did not catch up with the producers");
        for (Checker.Check c : r.checks()) {
            out.printf(Locale.ROOT, "%-40s %10s  %s%n", c.name(), c.violations() < 0 ? "?" : Long.toString(c.violations()),
                    String.join(" | ", c.examples()));
        }
        long whole = r.longestToWholeMs();
        out.printf(Locale.ROOT, "%-40s %10d  %s%n", "whole again after each fault", whole < 0 ? 1 : 0,
                whole < 0 ? "once not within --recovery-seconds" : String.format(Locale.ROOT, "longest %.1f s after a fault healed", whole / 1000.0));
        out.println();
        out.printf(Locale.ROOT, "records acknowledged %d, sends failed %d, records read %d, commits acknowledged %d, transactions committed %d, aborted on purpose %d%n",
                h.acks.size(), h.sendFailures.get(), h.reads.size(), h.commits.size(), h.transactionsCommitted.get(), h.transactionsAborted.get());
        if (h.startedMs > 0 && h.producersStoppedMs > h.startedMs) {
            long[][] gaps = partitionGaps(h, h.startedMs, h.producersStoppedMs);
            StringBuilder b = new StringBuilder("longest without an acknowledgement, per partition:");
            for (int p = 0; p < gaps[0].length; p++) {
                int q = p;
                long failed = h.failedSends.stream().filter(f -> f.partition() == q).count();
                b.append(String.format(Locale.ROOT, " p%d %.1f s (from %.1f s, %d failed sends)%s", p, gaps[0][p] / 1000.0,
                        (gaps[1][p] - h.startedMs) / 1000.0, failed, p + 1 < gaps[0].length ? "," : ""));
            }
            out.println(b);
        }
        if (!h.errors.isEmpty()) {
            out.println("client errors (retried or counted as failed sends), with the first message of each:");
            h.errors.entrySet().stream().sorted(Comparator.comparingLong((Map.Entry<String, AtomicLong> e) -> e.getValue().get()).reversed())
                    .limit(10).forEach(e -> out.printf(Locale.ROOT, "  %6d  %s: %.160s%n", e.getValue().get(), e.getKey(),
                            h.errorExamples.getOrDefault(e.getKey(), "")));
        }
        out.println(r.passed() ? "chaos: PASSED" : "chaos: FAILED");
    }
}
