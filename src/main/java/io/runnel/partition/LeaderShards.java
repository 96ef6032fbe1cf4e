package io.runnel.partition;

import io.vertx.core.Future;
import io.vertx.core.VerticleBase;
import io.vertx.core.Vertx;
import java.util.ArrayList;
import java.util.List;
import java.util.Objects;
import java.util.function.Function;
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

    /** @param factory makes the shard of a partition this broker has just started to lead */
    public LeaderShards(Vertx vertx, Deployer deployer, String topic, Function<PartitionHandle, S> factory) {
        this.vertx = vertx;
        this.deployer = deployer;
        this.topic = topic;
        this.factory = factory;
    }

    /** Deploys the shards of {@code current} (the coordinator's topic) and follows its changes in {@code topics}. */
    public Future<Void> follow(LocalTopic current, TopicRegistry topics) {
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
            }
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
     * broker does not lead the partition or the shard is still loading ({@link #loading}): a request served by a
     * shard halfway through its replay would see an id's older state (an older producer epoch, say).
     */
    public synchronized S shard(int p) {
        return p >= 0 && p < shards.size() && deploymentIds.get(p) != null ? shards.get(p) : null;
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
