package io.runnel.transaction;

import io.runnel.config.BrokerConfig;
import io.runnel.partition.Deployer;
import io.runnel.partition.InternalTopics;
import io.runnel.partition.LeaderShards;
import io.runnel.partition.LocalTopic;
import io.runnel.partition.OnContext;
import io.runnel.partition.TopicAdmin;
import io.runnel.partition.TopicRegistry;
import io.vertx.core.Future;
import io.vertx.core.Vertx;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.function.Function;
import java.util.function.Supplier;
import org.apache.kafka.common.TopicPartition;
import org.apache.kafka.common.errors.CoordinatorNotAvailableException;
import org.apache.kafka.common.errors.TopicExistsException;
import org.apache.kafka.common.protocol.Errors;
import org.apache.kafka.common.utils.Time;
import org.apache.kafka.common.utils.Utils;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The transaction coordinator of this broker: transactional ids and their transactions, kept in the internal topic
 * {@code __transaction_state}. An id belongs to the partition {@code abs(hash(id)) % partitions}, as in Kafka, and each
 * partition this broker leads has a {@link TransactionShard} on its own event loop; the set follows leadership, as the
 * group coordinator's does with {@code __consumer_offsets}. The topic is created when the first transactional producer
 * appears (FindCoordinator, InitProducerId), or loaded at start when it exists.
 */
public final class TransactionCoordinator {
    public static final String TRANSACTION_TOPIC = InternalTopics.TRANSACTION_STATE;
    private static final Logger LOG = LoggerFactory.getLogger(TransactionCoordinator.class);

    private final Vertx vertx;
    private final TopicRegistry topics;
    private final TopicAdmin admin;
    private final TransactionSettings settings;
    private final Time time;
    private final Supplier<Future<Long>> producerIds;
    private final MarkerWriter markers;
    private final LeaderShards<TransactionShard> shards;
    private Future<Void> ready;

    public TransactionCoordinator(Vertx vertx, Deployer deployer, TopicRegistry topics, TopicAdmin admin, BrokerConfig config, Time time,
                                  Supplier<Future<Long>> producerIds, MarkerWriter markers) {
        this.vertx = vertx;
        this.topics = topics;
        this.admin = admin;
        this.settings = TransactionSettings.from(config);
        this.time = time;
        this.producerIds = producerIds;
        this.markers = markers;
        this.shards = new LeaderShards<>(vertx, deployer, TRANSACTION_TOPIC, handle -> {
            LocalTopic t = topics.topic(TRANSACTION_TOPIC).orElseThrow();
            int minIsr = Math.max(1, Math.min(t.config().minInsyncReplicas(), handle.placement().replicas().size()));
            return new TransactionShard(handle, settings, minIsr, time, producerIds, markers);
        });
    }

    /** Loads the transactional ids when {@code __transaction_state} exists already; otherwise it is created on first use. */
    public synchronized Future<Void> start() {
        if (topics.topic(TRANSACTION_TOPIC).isPresent()) return ensureReady();
        return Future.succeededFuture();
    }

    /** Creates {@code __transaction_state} if needed and deploys the shards, once; completes on the caller's context. */
    public Future<Void> ensureReady() {
        return OnContext.deliver(started());
    }

    /** The coordinator's start: one future for all callers, belonging to the context of whoever asked first. */
    private synchronized Future<Void> started() {
        if (ready != null) return ready;
        int rf = admin.clustered() ? settings.replicationFactor() : 1;
        // Compacted, as Kafka's; min.insync.replicas is transaction.state.log.min.isr, capped by the replicas it gets.
        ready = admin.createTopic(TRANSACTION_TOPIC, settings.partitions(), rf, Map.of("cleanup.policy", "compact",
                        "segment.bytes", Integer.toString(settings.segmentBytes()), "min.insync.replicas", Integer.toString(Math.min(settings.minIsr(), rf))))
                .recover(e -> e instanceof TopicExistsException && topics.topic(TRANSACTION_TOPIC).isPresent()
                        ? Future.succeededFuture(topics.topic(TRANSACTION_TOPIC).get())
                        : Future.failedFuture(e instanceof TopicExistsException
                        ? new CoordinatorNotAvailableException("The transaction coordinator is starting") : e))
                .compose(this::deployShards)
                .onFailure(e -> {
                    synchronized (this) {
                        ready = null;
                    }
                    LOG.error("The transaction coordinator could not start", e);
                });
        return ready;
    }

    /** A shard for each partition this broker leads, following leadership (see {@link LeaderShards}). */
    private Future<Void> deployShards(LocalTopic topic) {
        return shards.follow(topic, topics);
    }

    int partitionFor(String transactionalId) {
        return Utils.abs(transactionalId.hashCode()) % settings.partitions();
    }

    /**
     * The broker that coordinates {@code transactionalId}: the leader of its {@code __transaction_state} partition (this
     * broker while the topic does not exist yet), or -1 while that partition has no leader.
     */
    public int coordinatorNode(String transactionalId) {
        return LeaderShards.coordinatorNode(topics, TRANSACTION_TOPIC, partitionFor(transactionalId));
    }

    private <T> Future<T> onTxn(String transactionalId, Function<TransactionShard, Future<T>> call) {
        return OnContext.deliver(ensureReady().compose(v -> {
            return shards.serving(partitionFor(transactionalId), "transactional id " + transactionalId)
                    .compose(shard -> OnContext.compose(shard.context(), () -> call.apply(shard)));
        }));
    }

    public Future<ProducerIdEpoch> initProducerId(String transactionalId, int timeoutMs, long producerId, short epoch) {
        return onTxn(transactionalId, s -> s.initProducerId(transactionalId, timeoutMs, producerId, epoch));
    }

    /** Adds partitions to the id's transaction; {@code clientVersion} 2 for a partition leader's or group coordinator's add (KIP-890). */
    public Future<Void> addPartitions(String transactionalId, long producerId, short epoch, Set<TopicPartition> partitions, byte clientVersion) {
        return onTxn(transactionalId, s -> s.addPartitions(transactionalId, producerId, epoch, partitions, clientVersion));
    }

    /** Whether each partition is in the id's open transaction (NONE or TRANSACTION_ABORTABLE); the whole call fails with Kafka's error. */
    public Future<Map<TopicPartition, Errors>> verify(String transactionalId, long producerId, short epoch, Set<TopicPartition> partitions) {
        return onTxn(transactionalId, s -> s.verify(transactionalId, producerId, epoch, partitions));
    }

    /**
     * One transaction of the broker form of AddPartitionsToTxn (v4 and later, KIP-890): verifies that the partitions are
     * in the id's open transaction, or adds them to it under transactions version 2. Answers per partition, never fails.
     */
    public Future<Map<TopicPartition, Errors>> joinOrVerify(String transactionalId, long producerId, short epoch, Set<TopicPartition> partitions,
                                                            boolean verifyOnly) {
        if (transactionalId == null || transactionalId.isEmpty()) return Future.succeededFuture(each(partitions, Errors.INVALID_REQUEST));
        Future<Map<TopicPartition, Errors>> f = verifyOnly ? verify(transactionalId, producerId, epoch, partitions)
                : addPartitions(transactionalId, producerId, epoch, partitions, TxnMetadata.TV_2).map(v -> each(partitions, Errors.NONE));
        return f.recover(e -> Future.succeededFuture(each(partitions, Errors.forException(e))));
    }

    private static Map<TopicPartition, Errors> each(Set<TopicPartition> partitions, Errors error) {
        Map<TopicPartition, Errors> out = new LinkedHashMap<>();
        for (TopicPartition tp : partitions) out.put(tp, error);
        return out;
    }

    /** Ends the id's transaction; answers the producer id and epoch for its next one ({@code clientVersion} 2: bumped). */
    public Future<ProducerIdEpoch> endTransaction(String transactionalId, long producerId, short epoch, boolean commit, byte clientVersion) {
        return onTxn(transactionalId, s -> s.endTransaction(transactionalId, producerId, epoch, commit, clientVersion));
    }

    /** The finalized {@code transaction.version} this broker advertises. */
    public byte transactionVersion() {
        return settings.version();
    }

    /** The id's metadata at its coordinator (DescribeTransactions), or null when the id is unknown there. */
    public Future<TxnMetadata> describe(String transactionalId) {
        if (topics.topic(TRANSACTION_TOPIC).isEmpty()) return Future.succeededFuture(null);
        return onTxn(transactionalId, s -> Future.succeededFuture(s.describe(transactionalId)));
    }

    /** The ids this broker coordinates (ListTransactions asks every broker), none while no transactional producer appeared. */
    public Future<List<TxnMetadata>> list() {
        if (topics.topic(TRANSACTION_TOPIC).isEmpty()) return Future.succeededFuture(List.of());
        return OnContext.deliver(ensureReady().compose(v -> {
            List<Future<List<TxnMetadata>>> all = new ArrayList<>();
            for (TransactionShard s : shards.all()) all.add(OnContext.compose(s.context(), () -> Future.succeededFuture(s.list())));
            return Future.all(all).map(cf -> all.stream().flatMap(f -> f.result().stream()).toList());
        }));
    }

    public static boolean isInternal(String topic) {
        return TRANSACTION_TOPIC.equals(topic);
    }

    public Future<Void> stop() {
        return shards.stop();
    }
}
