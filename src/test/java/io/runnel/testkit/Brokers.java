package io.runnel.testkit;

import io.runnel.config.BrokerConfig;
import io.runnel.partition.PartitionHandle;
import io.runnel.server.Broker;
import io.vertx.core.Future;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import org.apache.kafka.common.utils.Time;

/** In-process brokers for integration tests: loopback only, ephemeral ports, a given data directory. */
public final class Brokers {
    private Brokers() {
    }

    /** The settings every test broker gets: loopback addresses and ports chosen by the OS. */
    public static Map<String, String> testConfig(Path dataDir) {
        Map<String, String> m = new HashMap<>();
        m.put("log.dirs", dataDir.toAbsolutePath().toString());
        m.put("listeners", "PLAINTEXT://127.0.0.1:0");
        m.put("http.host", "127.0.0.1");
        m.put("http.port", "0");
        // Small and quick for tests: fewer __consumer_offsets partitions to open, no wait for more group members.
        m.put("offsets.topic.num.partitions", "5");
        m.put("transaction.state.log.num.partitions", "5");
        m.put("share.coordinator.state.topic.num.partitions", "5");
        m.put("group.initial.rebalance.delay.ms", "100");
        m.put("group.consumer.session.timeout.ms", "6000");
        m.put("group.consumer.heartbeat.interval.ms", "500");
        return m;
    }

    /**
     * JVM options added to the broker processes of {@link LocalCluster} and the chaos harness, from the system property
     * {@code runnel.test.brokerJvm} or else the environment variable {@code RUNNEL_TEST_BROKER_JVM} (whitespace
     * separated): for diagnosis, say Hazelcast's membership log,
     * {@code -Dorg.slf4j.simpleLogger.log.com.hazelcast.internal.cluster=info}.
     */
    public static List<String> extraJvmOptions() {
        String v = System.getProperty("runnel.test.brokerJvm", System.getenv().getOrDefault("RUNNEL_TEST_BROKER_JVM", ""));
        return v.isBlank() ? List.of() : List.of(v.trim().split("\\s+"));
    }

    public static String[] testArgs(Path dataDir, String... extra) {
        List<String> args = new ArrayList<>();
        testConfig(dataDir).forEach((k, v) -> args.add("--" + k + "=" + v));
        args.addAll(List.of(extra));
        return args.toArray(String[]::new);
    }

    public static Broker start(Path dataDir, Map<String, String> extra, Time time) throws Exception {
        Map<String, String> m = testConfig(dataDir);
        m.putAll(extra);
        return await(Broker.start(BrokerConfig.of(m), time));
    }

    public static Broker start(Path dataDir) throws Exception {
        return start(dataDir, Map.of(), Time.SYSTEM);
    }

    public static <T> T await(Future<T> f) throws Exception {
        return f.toCompletionStage().toCompletableFuture().get(60, TimeUnit.SECONDS);
    }

    /** Every record of a partition from its start offset, read in chunks of {@code maxBytes}. */
    public static List<Batches.Rec> readAll(PartitionHandle h, int maxBytes) throws Exception {
        List<Batches.Rec> out = new ArrayList<>();
        long next = h.logStartOffset();
        while (next < h.logEndOffset()) {
            List<Batches.Rec> got = Batches.decode(await(h.read(next, maxBytes, true)).records());
            for (Batches.Rec r : got) if (r.offset() >= next) out.add(r);
            next = got.get(got.size() - 1).offset() + 1;
        }
        return out;
    }
}
