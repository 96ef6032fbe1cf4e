package io.runnel.testkit;

import static org.assertj.core.api.Assertions.assertThat;

import io.runnel.server.Main;
import io.vertx.core.json.JsonObject;
import java.io.IOException;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.OptionalDouble;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import java.util.stream.Collectors;
import org.awaitility.Awaitility;

/**
 * Brokers in separate JVMs forming a Hazelcast cluster on loopback: node ids 1..n, Hazelcast ports chosen free,
 * Kafka and HTTP ports 0, each with its own data directory under {@code root}. Closing stops every JVM.
 */
public final class LocalCluster implements AutoCloseable {
    private static final HttpClient HTTP = HttpClient.newHttpClient();
    private final Path root;
    private int[] hazelcastPorts;
    private BrokerProcess[] brokers;

    private final String[] extra;
    /** The test class that started the cluster, which names its kept logs. */
    private final String owner;

    private LocalCluster(Path root, int size, String... extra) throws IOException {
        this.root = root;
        this.owner = StackWalker.getInstance().walk(frames -> frames.map(StackWalker.StackFrame::getClassName)
                .filter(n -> n.endsWith("Test")).findFirst().map(n -> n.substring(n.lastIndexOf('.') + 1)).orElse("cluster"));
        this.extra = extra;
        this.hazelcastPorts = new int[size];
        this.brokers = new BrokerProcess[size];
        for (int i = 0; i < size; i++) hazelcastPorts[i] = FreePorts.freePort();
    }

    /** Starts {@code size} brokers at once and waits until each has joined and logged its HTTP address. */
    public static LocalCluster start(Path root, int size, String... extraArgs) throws IOException {
        LocalCluster c = new LocalCluster(root, size, extraArgs);
        try {
            for (int i = 0; i < size; i++) c.launch(i);
            for (int i = 0; i < size; i++) c.brokers[i].awaitOutput("HTTP listening on", Duration.ofSeconds(60));
            c.awaitQuorum(1);
        } catch (RuntimeException | IOException e) {
            c.close();
            throw e;
        }
        return c;
    }

    private void launch(int i) throws IOException {
        Path dir = root.resolve("broker-" + (i + 1));
        Files.createDirectories(dir);
        String members = Arrays.stream(hazelcastPorts).mapToObj(p -> "127.0.0.1:" + p).collect(Collectors.joining(","));
        List<String> args = new ArrayList<>(List.of("--node.id=" + (i + 1), "--cluster.members=" + members, "--cluster.host=127.0.0.1",
                "--cluster.port=" + hazelcastPorts[i]));
        for (String a : extra) args.add(a.replace("{node}", String.valueOf(i + 1))); // a per-broker value, e.g. --broker.rack=r{node}
        List<String> jvm = new ArrayList<>(List.of("-Xmx256m", "--add-opens=java.base/java.lang=ALL-UNNAMED", "--add-opens=java.base/sun.nio.ch=ALL-UNNAMED",
                "--add-opens=java.management/sun.management=ALL-UNNAMED", "--add-opens=jdk.management/com.sun.management.internal=ALL-UNNAMED",
                "--add-exports=java.base/jdk.internal.ref=ALL-UNNAMED"));
        jvm.addAll(Brokers.extraJvmOptions());
        brokers[i] = BrokerProcess.launch(dir, jvm, Main.class.getName(), Brokers.testArgs(dir.resolve("data"), args.toArray(String[]::new)));
    }

    /** Starts broker {@code nodeId} again (same data, same ports for Hazelcast) and waits until it serves. */
    public void restart(int nodeId) throws Exception {
        int i = nodeId - 1;
        keepLog(i);
        brokers[i].close();
        launch(i);
        brokers[i].awaitOutput("HTTP listening on", Duration.ofSeconds(60));
        awaitQuorum(nodeId); // as an operator does before restarting the next broker
    }

    /** Starts broker {@code nodeId} again (same data, same ports for Hazelcast) and returns at once, before it serves. */
    public void relaunch(int nodeId) throws Exception {
        int i = nodeId - 1;
        keepLog(i);
        brokers[i].close();
        launch(i);
    }

    /**
     * Stops broker {@code nodeId} with SIGTERM (its controlled shutdown runs), waits for it to exit, starts it again
     * and waits until it serves and the metadata quorum is whole: one step of a rolling restart. Returns what the
     * stopped process wrote.
     */
    public String restartGracefully(int nodeId) throws Exception {
        int i = nodeId - 1;
        brokers[i].terminate();
        String stopped = brokers[i].output();
        keepLog(i);
        brokers[i].close();
        launch(i);
        brokers[i].awaitOutput("HTTP listening on", Duration.ofSeconds(60));
        awaitQuorum(nodeId);
        return stopped;
    }

    /**
     * Starts brokers {@code nodeIds} again at once (after they crashed together, say) and waits until they serve and
     * the metadata quorum is whole again.
     */
    public void restartTogether(int... nodeIds) throws Exception {
        for (int id : nodeIds) {
            keepLog(id - 1);
            brokers[id - 1].close();
        }
        for (int id : nodeIds) launch(id - 1);
        for (int id : nodeIds) brokers[id - 1].awaitOutput("HTTP listening on", Duration.ofSeconds(60));
        awaitQuorum(nodeIds[0]);
    }

    /**
     * Starts one more broker (node id {@code size() + 1}) that joins the running ones, and waits until it serves.
     * Returns its node id.
     */
    public int addBroker() throws IOException {
        int i = brokers.length;
        hazelcastPorts = Arrays.copyOf(hazelcastPorts, i + 1);
        hazelcastPorts[i] = FreePorts.freePort();
        brokers = Arrays.copyOf(brokers, i + 1);
        launch(i);
        brokers[i].awaitOutput("HTTP listening on", Duration.ofSeconds(60));
        return i + 1;
    }

    /** The data directory ({@code log.dirs}) of broker {@code nodeId}. */
    public Path dataDir(int nodeId) {
        return root.resolve("broker-" + nodeId).resolve("data");
    }

    /** {@code GET /api/cluster} of broker {@code via}. */
    public JsonObject clusterInfo(int via) throws IOException, InterruptedException {
        HttpResponse<String> r = HTTP.send(HttpRequest.newBuilder(URI.create("http://127.0.0.1:" + broker(via).httpPort() + "/api/cluster"))
                .timeout(Duration.ofSeconds(5)).build(), HttpResponse.BodyHandlers.ofString());
        return new JsonObject(r.body());
    }

    /**
     * One sample of broker {@code nodeId}'s {@code /metrics}: the series {@code name} with exactly the labels
     * {@code labels} (for example {@code topic="orders"}; null for any labels or none), or empty when it has none yet.
     */
    public OptionalDouble metric(int nodeId, String name, String labels) throws IOException, InterruptedException {
        String body = HTTP.send(HttpRequest.newBuilder(URI.create("http://127.0.0.1:" + broker(nodeId).httpPort() + "/metrics"))
                .timeout(Duration.ofSeconds(5)).build(), HttpResponse.BodyHandlers.ofString()).body();
        String labelPart = labels == null ? "(?:\\{[^}]*\\})?" : "\\{" + Pattern.quote(labels) + ",?\\}";
        Matcher m = Pattern.compile("(?m)^" + Pattern.quote(name) + labelPart + " ([0-9.eE+-]+)$").matcher(body);
        return m.find() ? OptionalDouble.of(Double.parseDouble(m.group(1))) : OptionalDouble.empty();
    }

    /** Starts every broker again at once (after they were all stopped: a whole-cluster restart) and waits until they serve. */
    public void restartAll() throws Exception {
        for (int i = 0; i < brokers.length; i++) {
            keepLog(i);
            brokers[i].close();
        }
        for (int i = 0; i < brokers.length; i++) launch(i);
        for (BrokerProcess b : brokers) b.awaitOutput("HTTP listening on", Duration.ofSeconds(60));
        awaitQuorum(1);
    }

    /**
     * Waits until the metadata quorum is whole again, as broker {@code via} sees it: in CP mode, every CP member is
     * a live broker (a restarted broker removes its former self from the group and is promoted in its place) and a
     * controller is elected. Without a whole CP group, one more crash would leave it without a majority.
     */
    public void awaitQuorum(int via) {
        Awaitility.await().atMost(Duration.ofSeconds(90)).ignoreExceptions().untilAsserted(() -> {
            JsonObject c = clusterInfo(via);
            assertThat(c.getInteger("controllerId")).as("controller").isPositive();
            JsonObject q = c.getJsonObject("metadataQuorum");
            if (q.getString("mode").equals("cp")) {
                assertThat(q.getJsonArray("cpMembers")).as("CP members").hasSize(q.getInteger("cpMemberCount"));
            }
        });
    }

    /**
     * Waits until broker {@code via} sees {@code count} live, unfenced brokers: the controller places replicas only on
     * brokers it knows as registered, which may lag behind what a client's bootstrap broker already reports.
     */
    public void awaitLiveBrokers(int via, int count) {
        Awaitility.await().atMost(Duration.ofSeconds(60)).ignoreExceptions().until(() -> clusterInfo(via).getJsonArray("brokers").stream()
                .filter(b -> ((JsonObject) b).getBoolean("live") && !((JsonObject) b).getBoolean("fenced")).count() == count);
    }

    public BrokerProcess broker(int nodeId) {
        return brokers[nodeId - 1];
    }

    public int size() {
        return brokers.length;
    }

    /** {@code host:port} of every broker's Kafka listener, for bootstrap.servers. */
    public String bootstrap() throws IOException {
        List<String> out = new ArrayList<>();
        for (BrokerProcess b : brokers) if (b != null) out.add(b.kafkaBootstrap());
        return String.join(",", out);
    }

    /**
     * Keeps a broker's output under target/cluster-logs/ as {@code <TestClass>-<dir>-broker-<n>-<nanos>.log} (the
     * process's own file goes with it), for diagnosis; .ci/run prints the warnings of a failed test's brokers.
     */
    private void keepLog(int i) {
        try {
            Path dir = Path.of("target", "cluster-logs");
            Files.createDirectories(dir);
            Files.writeString(dir.resolve(owner + "-" + root.getFileName() + "-broker-" + (i + 1) + "-" + System.nanoTime() + ".log"), brokers[i].output());
        } catch (IOException | RuntimeException e) {
            // diagnosis only
        }
    }

    @Override
    public void close() {
        for (int i = 0; i < brokers.length; i++) {
            BrokerProcess b = brokers[i];
            if (b == null) continue;
            keepLog(i);
            try {
                b.close();
            } catch (Exception ignored) {
                // best effort: every JVM gets its turn
            }
        }
    }
}
