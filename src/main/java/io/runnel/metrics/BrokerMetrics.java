package io.runnel.metrics;

import io.micrometer.core.instrument.Counter;
import io.micrometer.core.instrument.FunctionCounter;
import io.micrometer.core.instrument.Gauge;
import io.micrometer.core.instrument.MultiGauge;
import io.micrometer.core.instrument.Tags;
import io.micrometer.core.instrument.Timer;
import io.micrometer.core.instrument.binder.jvm.JvmGcMetrics;
import io.micrometer.core.instrument.binder.jvm.JvmMemoryMetrics;
import io.micrometer.core.instrument.binder.jvm.JvmThreadMetrics;
import io.micrometer.core.instrument.binder.system.ProcessorMetrics;
import io.micrometer.prometheusmetrics.PrometheusConfig;
import io.micrometer.prometheusmetrics.PrometheusMeterRegistry;
import java.time.Duration;
import java.util.List;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicReferenceArray;
import java.util.concurrent.atomic.LongAdder;
import java.util.function.LongSupplier;
import org.apache.kafka.common.TopicPartition;
import org.apache.kafka.common.protocol.ApiKeys;

/**
 * The broker's own meters, in one Micrometer registry that Vert.x's metrics (vertx-micrometer-metrics: connections,
 * bytes, HTTP and WebSocket) share, scraped at {@code /metrics} in Prometheus format. Meters on the data path are
 * looked up once per topic or API and cached, so counting costs an array or map read and an add.
 *
 * <p>Names (Prometheus form): {@code runnel_topic_records_in_total}, {@code runnel_topic_bytes_in_total},
 * {@code runnel_topic_records_out_total}, {@code runnel_topic_bytes_out_total} (tag {@code topic}; bytes are record
 * batch bytes), {@code runnel_kafka_request_seconds} (histogram, tag {@code api}), {@code runnel_log_size_bytes} and
 * {@code runnel_log_end_offset} (tags {@code topic}, {@code partition}), {@code runnel_consumer_group_lag} (tags
 * {@code group}, {@code topic}, {@code partition}); the cluster's health with Kafka's meanings ({@link ClusterFigures},
 * {@code runnel_isr_shrinks_total}, {@code runnel_isr_expands_total}, {@code runnel_controller_leader_elections_total},
 * {@code runnel_controller_unclean_leader_elections_total}); and Micrometer's JVM meters (memory, GC, threads, CPU).
 * Request rates per API are the {@code _count} of {@code runnel_kafka_request_seconds}.
 */
public final class BrokerMetrics {
    private final PrometheusMeterRegistry registry = new PrometheusMeterRegistry(PrometheusConfig.DEFAULT);
    private final ConcurrentHashMap<String, TopicMeters> topics = new ConcurrentHashMap<>();
    private final AtomicReferenceArray<Timer> requestTimers = new AtomicReferenceArray<>(256);
    private final LongAdder recordsIn = new LongAdder();
    private final LongAdder recordsOut = new LongAdder();
    private final MultiGauge logSize;
    private final MultiGauge logEndOffset;
    private final MultiGauge groupLag;
    private final MultiGauge offlineReplica;
    private final AtomicInteger offlineReplicas = new AtomicInteger();
    private final Counter isrShrinks;
    private final Counter isrExpands;
    private volatile LongSupplier elections = () -> 0;
    private volatile LongSupplier uncleanElections = () -> 0;
    private volatile ClusterFigures cluster = new ClusterFigures(0, 0, 0, 0, 0, 0);

    /**
     * The cluster figures of the moment, with Kafka's meanings: partitions this broker leads ({@code LeaderCount}),
     * of them those with fewer in-sync replicas than their replication factor ({@code UnderReplicatedPartitions}) and
     * than the topic's min.insync.replicas ({@code UnderMinIsrPartitionCount}); whether this broker is the active controller
     * ({@code ActiveControllerCount}); and, on the active controller only (0 elsewhere, as Kafka reports them),
     * partitions without a leader ({@code OfflinePartitionsCount}) and partitions not led by their preferred replica
     * ({@code PreferredReplicaImbalanceCount}).
     */
    public record ClusterFigures(int leaderPartitions, int underReplicated, int underMinIsr, int activeController, int offlinePartitions,
                                 int preferredImbalance) {
    }

    private record TopicMeters(Counter recordsIn, Counter bytesIn, Counter recordsOut, Counter bytesOut) {
    }

    /** One partition's log figures, for {@link #updateLogs}. */
    public record LogFigures(String topic, int partition, long sizeBytes, long logEndOffset) {
    }

    /** One partition's lag in one group, for {@link #updateLag}. */
    public record Lag(String group, String topic, int partition, long lag) {
    }

    public BrokerMetrics() {
        new JvmMemoryMetrics().bindTo(registry);
        new JvmGcMetrics().bindTo(registry);
        new JvmThreadMetrics().bindTo(registry);
        new ProcessorMetrics().bindTo(registry);
        logSize = MultiGauge.builder("runnel.log.size").baseUnit("bytes").description("Bytes of a partition's log on disk").register(registry);
        logEndOffset = MultiGauge.builder("runnel.log.end.offset").description("Offset of a partition's next record").register(registry);
        groupLag = MultiGauge.builder("runnel.consumer.group.lag").description("Log end offset minus the group's committed offset")
                .register(registry);
        // Kafka's ReplicaManager OfflineReplicaCount: replicas taken offline by an I/O error on this broker.
        offlineReplica = MultiGauge.builder("runnel.replica.offline").description("1 for a replica on this broker taken offline by an I/O error")
                .register(registry);
        Gauge.builder("runnel.offline.replicas", offlineReplicas, AtomicInteger::get)
                .description("Replicas on this broker taken offline by an I/O error (they serve again after a restart)").register(registry);
        isrShrinks = Counter.builder("runnel.isr.shrinks").description("Times the ISR of a partition led here lost a replica (Kafka's IsrShrinksPerSec)")
                .register(registry);
        isrExpands = Counter.builder("runnel.isr.expands").description("Times the ISR of a partition led here gained a replica (Kafka's IsrExpandsPerSec)")
                .register(registry);
        Gauge.builder("runnel.leader.partitions", this, m -> m.cluster.leaderPartitions())
                .description("Partitions this broker leads (Kafka's LeaderCount)").register(registry);
        Gauge.builder("runnel.under.replicated.partitions", this, m -> m.cluster.underReplicated())
                .description("Partitions led here with fewer in-sync replicas than their replication factor (Kafka's UnderReplicatedPartitions)").register(registry);
        Gauge.builder("runnel.under.min.isr.partitions", this, m -> m.cluster.underMinIsr())
                .description("Partitions led here with fewer in-sync replicas than min.insync.replicas, at most the replication factor (Kafka's UnderMinIsrPartitionCount)")
                .register(registry);
        Gauge.builder("runnel.controller.active", this, m -> m.cluster.activeController())
                .description("1 on the broker acting as the controller, else 0 (Kafka's ActiveControllerCount)").register(registry);
        Gauge.builder("runnel.controller.offline.partitions", this, m -> m.cluster.offlinePartitions())
                .description("Partitions without a leader, on the active controller (Kafka's OfflinePartitionsCount)").register(registry);
        Gauge.builder("runnel.controller.preferred.replica.imbalance", this, m -> m.cluster.preferredImbalance())
                .description("Partitions not led by their preferred replica, offline ones included, on the active controller (Kafka's PreferredReplicaImbalanceCount)")
                .register(registry);
        FunctionCounter.builder("runnel.controller.leader.elections", this, m -> m.elections.getAsLong())
                .description("Partition leaders elected by this broker's controller (Kafka's LeaderElectionRateAndTimeMs count)").register(registry);
        FunctionCounter.builder("runnel.controller.unclean.leader.elections", this, m -> m.uncleanElections.getAsLong())
                .description("Of them, leaders chosen outside the in-sync replicas (Kafka's UncleanLeaderElectionsPerSec)").register(registry);
    }

    /** The ISR of a partition led here lost a member. */
    public void isrShrunk() {
        isrShrinks.increment();
    }

    /** The ISR of a partition led here gained a member. */
    public void isrExpanded() {
        isrExpands.increment();
    }

    /** Sets the cluster figures of the moment (before a scrape). */
    public void updateCluster(ClusterFigures figures) {
        cluster = figures;
    }

    /**
     * Counts the leader elections of the controllers this broker runs (Kafka's LeaderElectionRateAndTimeMs and
     * UncleanLeaderElectionsPerSec, counted on the controller).
     */
    public void bindControllerElections(LongSupplier elections, LongSupplier unclean) {
        this.elections = elections;
        this.uncleanElections = unclean;
    }

    public PrometheusMeterRegistry registry() {
        return registry;
    }

    private TopicMeters topic(String topic) {
        TopicMeters m = topics.get(topic);
        if (m != null) return m;
        return topics.computeIfAbsent(topic, t -> new TopicMeters(
                Counter.builder("runnel.topic.records.in").tag("topic", t).description("Records appended").register(registry),
                Counter.builder("runnel.topic.bytes.in").tag("topic", t).description("Record batch bytes appended").register(registry),
                Counter.builder("runnel.topic.records.out").tag("topic", t).description("Records sent to consumers").register(registry),
                Counter.builder("runnel.topic.bytes.out").tag("topic", t).description("Record batch bytes sent to consumers").register(registry)));
    }

    public void recordsIn(String topic, long records, long bytes) {
        TopicMeters m = topic(topic);
        m.recordsIn.increment(records);
        m.bytesIn.increment(bytes);
        recordsIn.add(records);
    }

    public void recordsOut(String topic, long records, long bytes) {
        TopicMeters m = topic(topic);
        m.recordsOut.increment(records);
        m.bytesOut.increment(bytes);
        recordsOut.add(records);
    }

    /** Records appended since start, over all topics. */
    public long recordsInTotal() {
        return recordsIn.sum();
    }

    /** Records sent to consumers since start, over all topics. */
    public long recordsOutTotal() {
        return recordsOut.sum();
    }

    /** One failed authentication (SASL, HTTP Basic or bearer token) on the named endpoint ("kafka" or "http"). */
    public void authenticationFailed(String endpoint, String mechanism) {
        Counter.builder("runnel.authentication.failures").tag("endpoint", endpoint).tag("mechanism", mechanism)
                .description("Failed authentications").register(registry).increment();
    }

    /** One request (or part of one) refused by the ACLs. */
    public void authorizationDenied(String resourceType, String operation) {
        Counter.builder("runnel.authorization.denials").tag("resource_type", resourceType).tag("operation", operation)
                .description("Operations refused by the ACLs").register(registry).increment();
    }

    /** One successful authentication (first or KIP-368 re-authentication) on the named endpoint. */
    public void authenticationSucceeded(String endpoint, String mechanism) {
        Counter.builder("runnel.authentication.successes").tag("endpoint", endpoint).tag("mechanism", mechanism)
                .description("Successful authentications").register(registry).increment();
    }

    /** Time from reading a Kafka request to having its response ready. */
    public void request(ApiKeys api, long nanos) {
        Timer t = requestTimers.get(api.id);
        if (t == null) {
            t = Timer.builder("runnel.kafka.request").tag("api", api.name).description("Kafka request handling time")
                    .publishPercentileHistogram().minimumExpectedValue(Duration.ofNanos(50_000)).maximumExpectedValue(Duration.ofSeconds(60))
                    .register(registry);
            requestTimers.set(api.id, t);
        }
        t.record(nanos, TimeUnit.NANOSECONDS);
    }

    /** Replaces the log gauges with {@code figures} (partitions that are gone disappear). */
    public void updateLogs(List<LogFigures> figures) {
        logSize.register(figures.stream().map(f -> MultiGauge.Row.of(Tags.of("topic", f.topic(), "partition", Integer.toString(f.partition())),
                f.sizeBytes())).toList(), true);
        logEndOffset.register(figures.stream().map(f -> MultiGauge.Row.of(Tags.of("topic", f.topic(), "partition", Integer.toString(f.partition())),
                f.logEndOffset())).toList(), true);
    }

    /** Replaces the offline-replica gauges with {@code offline} (topic and partition of each). */
    public void updateOffline(List<TopicPartition> offline) {
        offlineReplicas.set(offline.size());
        offlineReplica.register(offline.stream().map(tp -> MultiGauge.Row.of(Tags.of("topic", tp.topic(), "partition", Integer.toString(tp.partition())), 1))
                .toList(), true);
    }

    /** Replaces the lag gauges with {@code lags}. */
    public void updateLag(List<Lag> lags) {
        groupLag.register(lags.stream().map(l -> MultiGauge.Row.of(Tags.of("group", l.group(), "topic", l.topic(),
                "partition", Integer.toString(l.partition())), l.lag())).toList(), true);
    }

    /** The Prometheus text exposition of every meter. */
    public String scrape() {
        return registry.scrape();
    }
}
