package io.runnel.partition;

import io.vertx.core.Future;
import io.vertx.core.VerticleBase;
import io.vertx.core.Vertx;
import java.util.ArrayList;
import java.util.List;
import java.util.Objects;
import java.util.function.Function;
import org.apache.kafka.common.errors.CoordinatorLoadInProgressException;
import org.apache.kafka.common.errors.CoordinatorNotAvailableException;
import org.apache.kafka.common.errors.NotCoordinatorException;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * A coordinator's shards, one verticle per partition of its internal topic that this broker leads (the group
 * coordinator's of {@code __consumer_offsets}, the transaction coordinator's of {@code __transaction_state}), following
 * leadership: when this broker takes over a partition its shard starts (and rebuilds its state from the partition);
 * when it stops leading, the shard stops and clients find the new coordinator. A shard that does not start (its
 * partition's leadership moved while it loaded) is logged and tried again at the topic's next change.
 *
 * @param <S> the shard: a verticle with its own event loop
 */
public final class LeaderShards<S extends VerticleBase> {
    private static final Logger LOG = LoggerFactory.getLogger(LeaderShards.class);

    private final Vertx vertx;
    private final Deployer deployer;
    private final String topic;
    private final Function<PartitionHandle, S> factory;
    private final List<S> shards = new ArrayList<>();
    private final List<String> deploymentIds = new ArrayList<>();
    private final List<PartitionHandle> handles = new ArrayList<>();
    private volatile TopicRegistry topics;

    /** @param factory makes the shard of a partition this broker has just started to lead */
    public LeaderShards(Vertx vertx, Deployer deployer, String topic, Function<PartitionHandle, S> factory) {
        this.vertx = vertx;
        this.deployer = deployer;
        this.topic = topic;
        this.factory = factory;
    }

    /** Deploys the shards of {@code current} (the coordinator's topic) and follows its changes in {@code topics}. */
    public Future<Void> follow(LocalTopic current, TopicRegistry topics) {
        this.topics = topics;
        Future<Void> done = reconcile(current);
        topics.onTopicChange(t -> {
            if (topic.equals(t.name())) vertx.runOnContext(v -> reconcile(t));
        });
        return done;
    }

    private synchronized Future<Void> reconcile(LocalTopic t) {
        List<Future<?>> changes = new ArrayList<>();
        for (int p = 0; p < t.partitions().size(); p++) {
            PartitionHandle handle = t.partitions().get(p);
            boolean lead = handle != null && handle.isLeader();
            while (shards.size() <= p) {
                shards.add(null);
                deploymentIds.add(null);
                handles.add(null);
            }
            handles.set(p, handle);
            S running = shards.get(p);
            if (lead && running == null) {
                S shard = factory.apply(handle);
                shards.set(p, shard);
                int index = p;
                changes.add(deployer.deploy(shard).onSuccess(id -> {
                    boolean current;
                    synchronized (this) {
                        current = shards.get(index) == shard;
                        if (current) deploymentIds.set(index, id);
                    }
                    // The partition's leadership moved while the shard started: it must not keep running here.
                    if (!current) deployer.undeploy(id);
                }).onFailure(e -> {
                    synchronized (this) {
                        if (shards.get(index) == shard) shards.set(index, null);
                    }
                    LOG.warn("The coordinator shard of {}-{} did not start", topic, index, e);
                }));
            } else if (!lead && running != null) {
                String id = deploymentIds.get(p);
                shards.set(p, null);
                deploymentIds.set(p, null);
                if (id != null) changes.add(deployer.undeploy(id));
                LOG.info("This broker no longer coordinates {}-{}", topic, p);
            }
        }
        // Failures were logged above; the coordinator, and the broker's start, go on without those shards.
        return Future.join(changes).transform(ar -> Future.succeededFuture());
    }

    /**
     * The shard of partition {@code p} once it has started (its state rebuilt from the partition), or null when this
     * broker does not lead the partition, the shard is still loading ({@link #loading}): a request served by a shard
     * halfway through its replay would see an id's older state (an older producer epoch, say), or this broker's
     * leadership is in doubt ({@link PartitionHandle#leaderInTouch}): a coordinator cut off from the other brokers,
     * or frozen and woken, may have been replaced, and answering from its state would hand out stale offsets.
     */
    public synchronized S shard(int p) {
        if (p < 0 || p >= shards.size() || deploymentIds.get(p) == null) return null;
        PartitionHandle h = handles.get(p);
        return h != null && h.leaderInTouch() ? shards.get(p) : null;
    }

    /**
     * The broker that coordinates the keys of partition {@code p} of {@code topic}: its leader, -1 while it has none
     * or while this broker leads it without being sure it still does ({@link PartitionHandle#leaderInTouch}; clients
     * get COORDINATOR_NOT_AVAILABLE and ask again), or this broker when the topic does not exist yet (the first
     * FindCoordinator creates it).
     */
    public static int coordinatorNode(TopicRegistry topics, String topic, int p) {
        return topics.topic(topic).map(t -> {
            int leader = t.placements().get(p).leader();
            if (leader != topics.nodeId()) return leader;
            PartitionHandle h = t.partitions().get(p);
            return h != null && h.leaderInTouch() ? leader : -1;
        }).orElse(topics.nodeId());
    }

    /**
     * The started shard of partition {@code p} ({@link #shard}), or what a client of {@code key} (a group or
     * transactional id) is told instead: COORDINATOR_LOAD_IN_PROGRESS while the shard loads, COORDINATOR_NOT_AVAILABLE
     * while this broker leads the partition without being sure it still does, NOT_COORDINATOR naming the leader
     * otherwise. Clients retry all three after finding the coordinator again.
     */
    public Future<S> serving(int p, String key) {
        S shard;
        boolean inDoubt;
        synchronized (this) {
            shard = shard(p);
            inDoubt = shard == null && p >= 0 && p < shards.size() && deploymentIds.get(p) != null;
        }
        if (shard != null) return Future.succeededFuture(shard);
        if (loading(p)) return Future.failedFuture(new CoordinatorLoadInProgressException("The coordinator of " + key + " is loading its state"));
        if (inDoubt) {
            return Future.failedFuture(new CoordinatorNotAvailableException("This broker leads " + topic + "-" + p
                    + " but no in-sync replica has fetched from it lately: it may have been replaced, and does not answer for " + key));
        }
        TopicRegistry registry = topics;
        return Future.failedFuture(new NotCoordinatorException(key + " is coordinated by broker " + (registry == null ? -1 : coordinatorNode(registry, topic, p))));
    }

    /** Whether the shard of partition {@code p} is starting (Kafka answers COORDINATOR_LOAD_IN_PROGRESS meanwhile). */
    public synchronized boolean loading(int p) {
        return p >= 0 && p < shards.size() && shards.get(p) != null && deploymentIds.get(p) == null;
    }

    /** Every started shard. */
    public synchronized List<S> all() {
        List<S> out = new ArrayList<>();
        for (int p = 0; p < shards.size(); p++) if (shards.get(p) != null && deploymentIds.get(p) != null) out.add(shards.get(p));
        return out;
    }

    /** Undeploys every shard (the broker stops). */
    public Future<Void> stop() {
        List<Future<Void>> all = new ArrayList<>();
        synchronized (this) {
            for (String id : deploymentIds) if (id != null) all.add(deployer.undeploy(id));
        }
        return Future.all(all).mapEmpty();
    }
}
