package io.runnel.partition;

import io.runnel.config.Limits;
import io.vertx.core.Future;
import io.vertx.core.Promise;
import io.vertx.core.Vertx;
import java.util.Collection;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.function.Consumer;
import java.util.function.Predicate;
import java.util.function.Supplier;
import org.apache.kafka.common.Uuid;
import org.apache.kafka.common.errors.ApiException;
import org.apache.kafka.common.errors.NotLeaderOrFollowerException;
import org.apache.kafka.common.errors.TimeoutException;
import org.apache.kafka.common.errors.UnknownTopicOrPartitionException;
import org.apache.kafka.common.protocol.Errors;

/**
 * The topics this broker knows, by name and id, with its replicas of their partitions: what every request looks up,
 * and the Kafka errors for a partition it cannot serve. {@link TopicAdmin} and {@link ClusterImageApplier} change it;
 * callers may wait for a change to arrive ({@link #awaitTopic}) or hear every change ({@link #onTopicChange}).
 * Safe from any thread: each topic is an immutable {@link LocalTopic} replaced whole.
 */
public final class TopicRegistry {
    private final Vertx vertx;
    private final int nodeId;
    private final Map<String, LocalTopic> topics = new ConcurrentHashMap<>();
    /** Callers waiting for a topic (any topic when its name is null) to reach a state (a controller's change to arrive). */
    private final List<Waiter> waiters = new CopyOnWriteArrayList<>();
    private final List<Consumer<LocalTopic>> listeners = new CopyOnWriteArrayList<>();

    private record Waiter(String topic, Predicate<LocalTopic> done, Promise<LocalTopic> promise) {
    }

    public TopicRegistry(Vertx vertx, int nodeId) {
        this.vertx = vertx;
        this.nodeId = nodeId;
    }

    /** This broker's node id. */
    public int nodeId() {
        return nodeId;
    }

    public Optional<LocalTopic> topic(String name) {
        return Optional.ofNullable(topics.get(name));
    }

    public Optional<LocalTopic> topicById(Uuid id) {
        for (LocalTopic t : topics.values()) if (t.topicId().equals(id)) return Optional.of(t);
        return Optional.empty();
    }

    public Collection<LocalTopic> topics() {
        return List.copyOf(topics.values());
    }

    /** This broker's replica of a partition, if it holds one. */
    public Optional<PartitionHandle> partition(String topic, int partition) {
        LocalTopic t = topics.get(topic);
        return t == null ? Optional.empty() : Optional.ofNullable(t.local(partition));
    }

    /**
     * Why this broker cannot serve a partition it does not hold: NOT_LEADER_OR_FOLLOWER when the partition exists
     * in the cluster (the client refreshes its metadata and finds the leader), UNKNOWN_TOPIC_OR_PARTITION otherwise.
     */
    public ApiException notHere(String topic, int partition) {
        LocalTopic t = topics.get(topic);
        if (t != null && partition >= 0 && partition < t.partitions().size()) {
            return new NotLeaderOrFollowerException("Partition " + topic + "-" + partition + " is led by broker "
                    + t.placements().get(partition).leader() + ", not by broker " + nodeId);
        }
        return new UnknownTopicOrPartitionException("This server does not host this topic-partition.");
    }

    /**
     * Kafka's check of a client's current leader epoch (KIP-320): -1 skips it; an epoch older than the partition's is
     * FENCED_LEADER_EPOCH (the client's metadata is stale), a newer one UNKNOWN_LEADER_EPOCH (this broker's is).
     */
    public Errors checkLeaderEpoch(String topic, int partition, int clientEpoch) {
        LocalTopic t = topics.get(topic);
        if (clientEpoch < 0 || t == null || partition < 0 || partition >= t.placements().size()) return Errors.NONE;
        int current = t.placements().get(partition).leaderEpoch();
        if (clientEpoch < current) return Errors.FENCED_LEADER_EPOCH;
        if (clientEpoch > current) return Errors.UNKNOWN_LEADER_EPOCH;
        return Errors.NONE;
    }

    /** Calls {@code listener} after each change of a topic (created, changed, its placements: who leads what). */
    public void onTopicChange(Consumer<LocalTopic> listener) {
        listeners.add(listener);
    }

    /**
     * Completes with the topic once {@code done} holds for this broker's view of it (null while it does not exist):
     * a change the controller made reached this broker. Fails with a timeout after
     * {@link Limits#CLUSTER_CHANGE_TIMEOUT_MS} (the change may still arrive).
     */
    public Future<LocalTopic> awaitTopic(String name, Predicate<LocalTopic> done) {
        return await(name, () -> topics.get(name), done, Limits.CLUSTER_CHANGE_TIMEOUT_MS).recover(e -> Future.failedFuture(new TimeoutException(
                "The controller's change of topic '" + name + "' did not reach broker " + nodeId + " within " + Limits.CLUSTER_CHANGE_TIMEOUT_MS + " ms")));
    }

    /**
     * Completes once this broker knows partition {@code partition} of the topic named {@code name} (or, when the name
     * is null, with id {@code id}), or after {@code timeoutMs} whether it does or not: a client that learnt of a new
     * topic or partition from another broker may reach this one before the controller's image did.
     */
    public Future<Void> awaitPartition(String name, Uuid id, int partition, long timeoutMs) {
        Predicate<LocalTopic> done = t -> t != null && (name != null ? t.name().equals(name) : t.topicId().equals(id))
                && partition < t.partitions().size();
        Supplier<LocalTopic> now = () -> name != null ? topics.get(name) : topicById(id).orElse(null);
        return await(name, now, done, timeoutMs).<Void>mapEmpty().otherwiseEmpty();
    }

    /**
     * Waits for {@code done} to hold for the topic named {@code name} (any topic when null); fails after {@code timeoutMs}.
     * The current state is read once the waiter is in place, so that a change between the two is not missed. Completes
     * on the thread that made the change: callers on an event loop go back to their context themselves.
     */
    private Future<LocalTopic> await(String name, Supplier<LocalTopic> current, Predicate<LocalTopic> done, long timeoutMs) {
        Promise<LocalTopic> p = Promise.promise();
        Waiter w = new Waiter(name, done, p);
        waiters.add(w);
        LocalTopic now = current.get();
        if (done.test(now) && p.tryComplete(now)) {
            waiters.remove(w);
            return p.future();
        }
        long timer = vertx.setTimer(timeoutMs, x -> {
            waiters.remove(w);
            p.tryFail(new TimeoutException("waited " + timeoutMs + " ms"));
        });
        return p.future().andThen(x -> vertx.cancelTimer(timer));
    }

    /** Adds or replaces a topic, then tells the waiters and listeners. */
    void put(LocalTopic t) {
        topics.put(t.name(), t);
        changed(t.name());
        listeners.forEach(l -> l.accept(t));
    }

    /** Forgets a topic (it is being deleted), then tells the waiters. */
    void remove(String name) {
        topics.remove(name);
        changed(name);
    }

    /** Forgets every topic (the broker stops). */
    void clear() {
        topics.clear();
    }

    private void changed(String name) {
        LocalTopic t = topics.get(name);
        for (Waiter w : waiters) {
            if ((w.topic() == null || w.topic().equals(name)) && w.done().test(t) && w.promise().tryComplete(t)) waiters.remove(w);
        }
    }
}
