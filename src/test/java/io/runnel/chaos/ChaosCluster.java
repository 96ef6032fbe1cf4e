package io.runnel.chaos;

import io.runnel.testkit.Brokers;
import io.vertx.core.json.JsonObject;
import java.io.IOException;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.OptionalInt;
import java.util.concurrent.TimeUnit;
import java.util.stream.Collectors;
import java.util.stream.IntStream;

/**
 * The brokers of a chaos run, each a JVM in its own network namespace ({@link Netns}), with its {@code log.dirs} on
 * a small tmpfs of its own (so that a full disk is a fault like any other). A broker with a skewed clock is
 * restarted under Debian's libfaketime with a wall-clock offset (the monotonic clock left alone, as on a real host
 * whose clock is wrong); only that broker carries libfaketime, because every clock read then becomes a system call,
 * which in this sandbox (gVisor) makes a JVM about ten times slower to start.
 *
 * <p>Brokers run from the test classpath (the same classes as the fat jar). {@link #close} kills every broker,
 * unmounts the tmpfs mounts and removes the network; a run's files stay under its root for diagnosis until the
 * caller deletes them.
 */
final class ChaosCluster implements AutoCloseable {
    /** How long an orderly stop (SIGTERM) may take before the broker counts as hung: its own bound and a margin. */
    private static final long STOP_WAIT_S = 60;

    /** Where Debian's libfaketime (package faketime) puts the library. */
    static final Path LIBFAKETIME = Path.of("/usr/lib/x86_64-linux-gnu/faketime/libfaketime.so.1");
    static final int KAFKA_PORT = 9092;
    static final int HTTP_PORT = 8080;
    static final int HAZELCAST_PORT = 5701;
    private static final HttpClient HTTP = HttpClient.newBuilder().connectTimeout(Duration.ofSeconds(2)).build();

    private final Netns net;
    private final Path root;
    private final String classpath;
    private final List<String> extraArgs;
    private final long diskBytes;
    private final Join join;
    /** Set by {@link #close}: no broker starts after it. */
    private boolean closed;
    private final Process[] processes;
    private final boolean[] mounted;
    private final boolean[] paused;
    private final long[] clockOffsetSeconds;

    private ChaosCluster(Netns net, Path root, String classpath, List<String> extraArgs, long diskBytes, Join join) {
        this.net = net;
        this.join = join;
        this.root = root;
        this.classpath = classpath;
        this.extraArgs = extraArgs;
        this.diskBytes = diskBytes;
        this.processes = new Process[net.size()];
        this.mounted = new boolean[net.size()];
        this.paused = new boolean[net.size()];
        this.clockOffsetSeconds = new long[net.size()];
    }

    /**
     * How the brokers of a run find each other: the {@code cluster.*} arguments each broker gets, and the JVM options
     * (a hosts file, say). {@link #MEMBERS}, every broker's address in {@code cluster.members}, is what chaos runs use.
     */
    record Join(java.util.function.Function<Netns, List<String>> brokerArgs, java.util.function.Function<Netns, List<String>> jvmOptions,
                int firstNodeId) {
        static final Join MEMBERS = new Join(net -> List.of("--cluster.members=" + IntStream.rangeClosed(1, net.size())
                .mapToObj(i -> net.address(i) + ":" + HAZELCAST_PORT).collect(Collectors.joining(","))), net -> List.of(), 1);
    }

    /** Creates the network, mounts the disks and starts {@code size} brokers; does not wait for them. */
    static ChaosCluster start(int size, Path root, String classpath, List<String> extraArgs, long diskBytes) throws IOException {
        return start(size, root, classpath, extraArgs, diskBytes, Join.MEMBERS);
    }

    /** As {@link #start(int, Path, String, List, long)}, the brokers finding each other as {@code join} says. */
    static ChaosCluster start(int size, Path root, String classpath, List<String> extraArgs, long diskBytes, Join join) throws IOException {
        Netns net = Netns.create(size);
        ChaosCluster c = new ChaosCluster(net, root, classpath, extraArgs, diskBytes, join);
        try {
            for (int i = 1; i <= size; i++) {
                Path data = c.dataDir(i);
                Files.createDirectories(data);
                Netns.run(List.of("mount", "-t", "tmpfs", "-o", "size=" + diskBytes, "tmpfs", data.toString()));
                c.mounted[i - 1] = true;
            }
            for (int i = 1; i <= size; i++) c.launch(i);
        } catch (IOException | RuntimeException e) {
            c.close();
            throw e;
        }
        return c;
    }

    static boolean clockSkewAvailable() {
        return Files.isReadable(LIBFAKETIME);
    }

    int size() {
        return net.size();
    }

    Netns net() {
        return net;
    }

    Path dataDir(int broker) {
        return root.resolve("broker-" + broker).resolve("data");
    }

    Path logFile(int broker) {
        return root.resolve("broker-" + broker).resolve("broker.log");
    }

    /** bootstrap.servers for clients in the root namespace: every broker's listener. */
    String bootstrap() {
        return IntStream.rangeClosed(1, size()).mapToObj(i -> net.address(i) + ":" + KAFKA_PORT).collect(Collectors.joining(","));
    }

    /**
     * Starts broker {@code broker}'s process. Synchronized with {@link #close}, and refused once closed: a fault healing
     * (a restart) while Ctrl-C closes the cluster from the shutdown hook must not leave a broker behind.
     */
    private synchronized void launch(int broker) throws IOException {
        if (closed) throw new IllegalStateException("the chaos cluster is closed");
        String self = net.address(broker);
        List<String> cmd = new ArrayList<>(List.of("ip", "netns", "exec", net.namespace(broker),
                Path.of(System.getProperty("java.home"), "bin", "java").toString(), "-Xmx320m",
                "--add-opens=java.base/java.lang=ALL-UNNAMED", "--add-opens=java.base/sun.nio.ch=ALL-UNNAMED",
                "--add-opens=java.management/sun.management=ALL-UNNAMED", "--add-opens=jdk.management/com.sun.management.internal=ALL-UNNAMED",
                "--add-exports=java.base/jdk.internal.ref=ALL-UNNAMED"));
        cmd.addAll(Brokers.extraJvmOptions());
        cmd.addAll(join.jvmOptions().apply(net));
        cmd.addAll(List.of("-cp", classpath, "io.runnel.server.Main",
                "--node.id=" + (join.firstNodeId() + broker - 1), "--listeners=PLAINTEXT://" + self + ":" + KAFKA_PORT,
                "--http.host=" + self, "--http.port=" + HTTP_PORT));
        cmd.addAll(join.brokerArgs().apply(net));
        cmd.addAll(List.of("--cluster.host=" + self, "--cluster.port=" + HAZELCAST_PORT,
                "--log.dirs=" + dataDir(broker).toAbsolutePath(),
                "--default.replication.factor=" + Math.min(3, size()), "--min.insync.replicas=" + Math.min(2, size()),
                "--offsets.topic.num.partitions=5", "--transaction.state.log.num.partitions=5",
                "--group.initial.rebalance.delay.ms=100"));
        cmd.addAll(extraArgs);
        ProcessBuilder pb = new ProcessBuilder(cmd).redirectErrorStream(true)
                .redirectOutput(ProcessBuilder.Redirect.appendTo(logFile(broker).toFile()));
        Map<String, String> env = pb.environment();
        env.keySet().removeIf(k -> k.startsWith("RUNNEL_"));
        long offset = clockOffsetSeconds[broker - 1];
        if (offset != 0) {
            env.put("LD_PRELOAD", LIBFAKETIME.toString());
            env.put("FAKETIME", (offset > 0 ? "+" : "") + offset); // seconds
            env.put("FAKETIME_DONT_FAKE_MONOTONIC", "1");
        }
        Files.writeString(logFile(broker), "---- launched " + java.time.Instant.now() + "\n", StandardCharsets.UTF_8,
                java.nio.file.StandardOpenOption.CREATE, java.nio.file.StandardOpenOption.APPEND);
        processes[broker - 1] = pb.start();
        paused[broker - 1] = false;
    }

    boolean isPaused(int broker) {
        return paused[broker - 1];
    }

    boolean isRunning(int broker) {
        Process p = processes[broker - 1];
        return p != null && p.isAlive();
    }

    /** kill -9. */
    void kill(int broker) throws InterruptedException {
        Process p = processes[broker - 1];
        if (p == null) return;
        p.destroyForcibly(); // SIGKILL ends a stopped process too
        paused[broker - 1] = false;
        p.waitFor(30, TimeUnit.SECONDS);
        processes[broker - 1] = null;
    }

    /** Starts a killed broker again on its data. */
    void restart(int broker) throws IOException {
        if (!isRunning(broker)) launch(broker);
    }

    void pause(int broker) throws IOException {
        Process p = processes[broker - 1];
        if (p == null || paused[broker - 1]) return;
        signal(p, "STOP");
        paused[broker - 1] = true;
    }

    void resume(int broker) throws IOException {
        Process p = processes[broker - 1];
        if (p == null || !paused[broker - 1]) return;
        signal(p, "CONT");
        paused[broker - 1] = false;
    }

    private static void signal(Process p, String sig) throws IOException {
        Netns.run(List.of("kill", "-" + sig, Long.toString(p.pid())));
    }

    /**
     * Restarts broker {@code broker} (SIGTERM, then its restart) with its wall clock {@code seconds} off (0: the true
     * time again); a broker killed later comes back with the same offset.
     */
    void restartWithClock(int broker, long seconds) throws IOException, InterruptedException {
        if (clockOffsetSeconds[broker - 1] == seconds) return;
        clockOffsetSeconds[broker - 1] = seconds;
        Process p = processes[broker - 1];
        if (p != null) {
            if (paused[broker - 1]) resume(broker);
            p.destroy(); // SIGTERM: the broker's own orderly stop
            // Its own bound: the controlled shutdown's (5 s handover, 4 x 5 s moving leaderships), then 30 s to close.
            if (!p.waitFor(STOP_WAIT_S, TimeUnit.SECONDS)) {
                // An orderly stop that hangs is a finding: a thread dump (SIGQUIT, into its log) says where, then kill -9.
                Files.writeString(logFile(broker), "---- not stopped " + STOP_WAIT_S + " s after SIGTERM: thread dump, then kill -9\n", StandardCharsets.UTF_8,
                        java.nio.file.StandardOpenOption.APPEND);
                signal(p, "QUIT");
                p.waitFor(2, TimeUnit.SECONDS);
                kill(broker);
            }
            processes[broker - 1] = null;
        }
        launch(broker);
    }

    /** Fills broker {@code broker}'s disk, leaving {@code leaveBytes} free. */
    void fillDisk(int broker, long leaveBytes) throws IOException {
        Path data = dataDir(broker);
        Path filler = data.resolve("chaos-filler");
        long leave = leaveBytes;
        for (int attempt = 1; ; attempt++) {
            long fill = Math.max(0, Files.getFileStore(data).getUsableSpace() - leave);
            if (fill == 0) return;
            try {
                Netns.run(List.of("fallocate", "-l", Long.toString(fill), filler.toString()));
                return;
            } catch (IOException e) {
                // The broker wrote more than the margin since the space was measured: measure again, leave more.
                Files.deleteIfExists(filler);
                if (attempt == 5) throw e;
                leave *= 2;
            }
        }
    }

    void freeDisk(int broker) throws IOException {
        Files.deleteIfExists(dataDir(broker).resolve("chaos-filler"));
    }

    /** GET /api/cluster of broker {@code broker}, or null when it does not answer within 3 s. */
    JsonObject clusterInfo(int broker) {
        try {
            HttpResponse<String> r = HTTP.send(HttpRequest.newBuilder(URI.create("http://" + net.address(broker) + ":" + HTTP_PORT + "/api/cluster"))
                    .timeout(Duration.ofSeconds(3)).build(), HttpResponse.BodyHandlers.ofString());
            return r.statusCode() == 200 ? new JsonObject(r.body()) : null;
        } catch (IOException | RuntimeException e) {
            return null;
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            return null;
        }
    }

    /** The controller as the first answering broker (in {@code order}) sees it. */
    OptionalInt controller(List<Integer> order) {
        for (int b : order) {
            if (!isRunning(b) || paused[b - 1]) continue;
            JsonObject info = clusterInfo(b);
            Integer id = info == null ? null : info.getInteger("controllerId");
            if (id != null && id > 0) return OptionalInt.of(id);
        }
        return OptionalInt.empty();
    }

    /** Every broker's view of the controller (node id, or -1), for the fault lines. */
    /**
     * Whether the cluster is whole again: every broker runs and answers, all name the same controller, each sees every
     * broker registered, and the metadata quorum (CP mode) has all its members.
     */
    boolean whole() {
        int controller = -1;
        for (int b = 1; b <= size(); b++) {
            JsonObject info = isRunning(b) && !paused[b - 1] ? clusterInfo(b) : null;
            if (info == null) return false;
            int id = info.getInteger("controllerId", -1);
            if (id < 0 || (controller >= 0 && id != controller)) return false;
            controller = id;
            if (info.getJsonArray("brokers", new io.vertx.core.json.JsonArray()).size() != size()) return false;
            JsonObject quorum = info.getJsonObject("metadataQuorum", new JsonObject());
            int cp = quorum.getInteger("cpMemberCount", 0);
            if (cp > 0 && quorum.getJsonArray("cpMembers", new io.vertx.core.json.JsonArray()).size() < Math.min(cp, size())) return false;
        }
        return true;
    }

    String controllerViews() {
        StringBuilder sb = new StringBuilder();
        for (int b = 1; b <= size(); b++) {
            JsonObject info = isRunning(b) && !paused[b - 1] ? clusterInfo(b) : null;
            sb.append(b).append("→").append(info == null ? "?" : String.valueOf(info.getInteger("controllerId"))).append(b < size() ? " " : "");
        }
        return sb.toString();
    }

    @Override
    public synchronized void close() {
        closed = true;
        for (int i = 1; i <= processes.length; i++) {
            try {
                kill(i);
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
            } catch (RuntimeException e) {
                // every broker gets its turn
            }
        }
        for (int i = 1; i <= mounted.length; i++) {
            if (!mounted[i - 1]) continue;
            try {
                Netns.run(List.of("umount", "-l", dataDir(i).toString()));
            } catch (IOException e) {
                // best effort on the way out
            }
            mounted[i - 1] = false;
        }
        net.close();
    }
}
