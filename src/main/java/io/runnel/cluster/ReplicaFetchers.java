package io.runnel.cluster;

import io.runnel.config.Limits;
import io.runnel.partition.MetadataImage;
import io.runnel.partition.PartitionHandle;
import io.runnel.partition.Placement;
import io.runnel.partition.TopicMetadata;
import io.runnel.partition.TopicRegistry;
import io.runnel.security.InterBrokerLink;
import io.vertx.core.Context;
import io.vertx.core.Future;
import io.vertx.core.Promise;
import io.vertx.core.Vertx;
import java.nio.ByteBuffer;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.function.Supplier;
import org.apache.kafka.common.errors.KafkaStorageException;
import org.apache.kafka.common.TopicPartition;
import org.apache.kafka.common.Uuid;
import org.apache.kafka.common.message.FetchResponseData;
import org.apache.kafka.common.message.OffsetForLeaderEpochRequestData.OffsetForLeaderPartition;
import org.apache.kafka.common.message.OffsetForLeaderEpochRequestData.OffsetForLeaderTopic;
import org.apache.kafka.common.message.OffsetForLeaderEpochRequestData.OffsetForLeaderTopicCollection;
import org.apache.kafka.common.protocol.Errors;
import org.apache.kafka.common.record.internal.MemoryRecords;
import org.apache.kafka.common.requests.FetchRequest;
import org.apache.kafka.common.requests.FetchResponse;
import org.apache.kafka.common.requests.OffsetsForLeaderEpochRequest;
import org.apache.kafka.common.requests.OffsetsForLeaderEpochResponse;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The follower side of replication, as Kafka's ReplicaFetcherThread: for every leader this broker follows
 * partitions of, one connection that fetches them with the Kafka Fetch API (replica id set, so the leader reads to
 * its log end and learns this follower's position from each fetch offset), appends the batches as they are and takes
 * the leader's high watermark. A partition whose leader or leader epoch changed first asks the leader where its own
 * latest epoch ended (OffsetForLeaderEpoch, KIP-101/279) and truncates what the leader does not have; only then does
 * it fetch again. Everything runs on one Vert.x context; one request per leader is in flight at a time.
 */
public final class ReplicaFetchers {
    private static final Logger LOG = LoggerFactory.getLogger(ReplicaFetchers.class);
    /** Fetch v12: topic names (no ids), flexible, with the replica id in the request body. */
    private static final short FETCH_VERSION = 12;
    private static final short OFFSET_FOR_LEADER_EPOCH_VERSION = 4;

    /** How to reach other brokers (listener, TLS, SASL), read at each new connection. */
    private final Supplier<InterBrokerLink> link;
    private final Vertx vertx;
    private final Context context;
    private final TopicRegistry partitions;
    private final ClusterView view;
    private final int self;
    private final int requestTimeoutMs;
    private final Map<Integer, LeaderLink> links = new HashMap<>();
    private boolean stopped;

    /** {@code requestTimeoutMs}: replica.socket.timeout.ms, after which an unanswered request to a leader fails. */
    public ReplicaFetchers(Vertx vertx, TopicRegistry partitions, ClusterView view, int self, int requestTimeoutMs, Supplier<InterBrokerLink> link) {
        this.link = link;
        this.requestTimeoutMs = requestTimeoutMs;
        this.vertx = vertx;
        this.context = vertx.getOrCreateContext();
        this.partitions = partitions;
        this.view = view;
        this.self = self;
    }

    /** Follows what the cluster image says this broker follows (call after the image is applied to the partitions). */
    public void reconcile(MetadataImage image) {
        context.runOnContext(v -> {
            if (stopped) return;
            Map<Integer, Map<TopicPartition, Integer>> wanted = new HashMap<>();
            for (TopicMetadata t : image.topics().values()) {
                for (int p = 0; p < t.placements().size(); p++) {
                    Placement pl = t.placements().get(p);
                    if (!pl.replicas().contains(self) || !pl.hasLeader() || pl.leader() == self) continue;
                    // An offline replica (an I/O error) fetches nothing: it takes no writes until the broker restarts.
                    if (partitions.partition(t.record().name(), p).filter(h -> h.offline() == null).isEmpty()) continue;
                    wanted.computeIfAbsent(pl.leader(), l -> new HashMap<>()).put(new TopicPartition(t.record().name(), p), pl.leaderEpoch());
                }
            }
            for (var it = links.entrySet().iterator(); it.hasNext(); ) {
                var e = it.next();
                if (!wanted.containsKey(e.getKey())) {
                    e.getValue().stop();
                    it.remove();
                }
            }
            wanted.forEach((leader, parts) -> links.computeIfAbsent(leader, LeaderLink::new).follow(parts));
        });
    }

    public void stop() {
        context.runOnContext(v -> {
            stopped = true;
            links.values().forEach(LeaderLink::stop);
            links.clear();
        });
    }

    /** A follower's state of one partition: the leader epoch it follows and whether its log was checked against it. */
    private static final class Followed {
        final int epoch;
        boolean truncated;
        /** The last append failed for the disk (full): warned once, retried after a pause, until one succeeds. */
        boolean diskFailing;

        Followed(int epoch) {
            this.epoch = epoch;
        }
    }

    private final class LeaderLink {
        private final int leader;
        private final Map<TopicPartition, Followed> parts = new LinkedHashMap<>();
        private BrokerClient client;
        /** Whether the last round failed (its failure was logged as a warning). */
        private boolean failing;
        private boolean running;
        private boolean stopped;

        LeaderLink(int leader) {
            this.leader = leader;
        }

        void follow(Map<TopicPartition, Integer> epochs) {
            parts.keySet().removeIf(tp -> !epochs.containsKey(tp));
            epochs.forEach((tp, epoch) -> {
                Followed f = parts.get(tp);
                if (f == null || f.epoch != epoch) parts.put(tp, new Followed(epoch)); // a new leader epoch: check the log again
            });
            kick();
        }

        void stop() {
            stopped = true;
            if (client != null) client.close();
            client = null;
        }

        private void kick() {
            if (running || stopped) return;
            running = true;
            round();
        }

        private void later() {
            vertx.setTimer(Limits.REPLICA_FETCH_RETRY_MS, x -> {
                if (!stopped) round();
            });
        }

        private BrokerClient client() {
            if (client == null) client = BrokerClient.to(vertx, view, leader, "runnel-replica-" + self, requestTimeoutMs, link.get());
            return client;
        }

        private void round() {
            if (stopped || parts.isEmpty()) {
                running = false;
                return;
            }
            BrokerClient c = client();
            if (c == null) { // the leader has not registered its address yet
                later();
                return;
            }
            List<TopicPartition> unchecked = parts.entrySet().stream().filter(e -> !e.getValue().truncated).map(Map.Entry::getKey).toList();
            Future<?> step = unchecked.isEmpty() ? fetch(c) : truncate(c, unchecked);
            step.onComplete(ar -> {
                if (ar.failed()) {
                    // The first failure of a run is a warning (a wrong inter-broker credential or certificate shows here);
                    // the retries that follow it are debug lines.
                    if (!failing) LOG.warn("Replication from broker {} failed (retrying every {} ms): {}", leader, Limits.REPLICA_FETCH_RETRY_MS, ar.cause().toString());
                    else LOG.debug("Replication from broker {} failed: {}", leader, ar.cause().toString());
                    failing = true;
                    if (client != null) client.close();
                    client = null;
                    later();
                } else {
                    failing = false;
                    round();
                }
            });
        }

        /** Asks the leader where each partition's latest local epoch ended, and cuts the log there. */
        private Future<Void> truncate(BrokerClient c, List<TopicPartition> tps) {
            List<Future<Integer>> latest = new ArrayList<>();
            for (TopicPartition tp : tps) latest.add(handle(tp).map(PartitionHandle::latestEpoch).orElse(Future.succeededFuture(-1)));
            return Future.all(latest).compose(x -> {
                OffsetForLeaderTopicCollection topics = new OffsetForLeaderTopicCollection();
                for (int i = 0; i < tps.size(); i++) {
                    TopicPartition tp = tps.get(i);
                    OffsetForLeaderTopic t = topics.find(tp.topic());
                    if (t == null) {
                        t = new OffsetForLeaderTopic().setTopic(tp.topic());
                        topics.add(t);
                    }
                    t.partitions().add(new OffsetForLeaderPartition().setPartition(tp.partition()).setCurrentLeaderEpoch(parts.get(tp).epoch)
                            .setLeaderEpoch(latest.get(i).result()));
                }
                return c.<OffsetsForLeaderEpochResponse>send(OffsetsForLeaderEpochRequest.Builder.forFollower(topics, self)
                        .build(OFFSET_FOR_LEADER_EPOCH_VERSION), OFFSET_FOR_LEADER_EPOCH_VERSION);
            }).compose(resp -> {
                List<Future<Void>> cuts = new ArrayList<>();
                boolean retry = false;
                for (var t : resp.data().topics()) {
                    for (var p : t.partitions()) {
                        TopicPartition tp = new TopicPartition(t.topic(), p.partition());
                        Followed f = parts.get(tp);
                        Optional<PartitionHandle> h = handle(tp);
                        if (f == null || h.isEmpty()) continue;
                        if (p.errorCode() != Errors.NONE.code()) {
                            retry = true; // the leader has not taken over yet, or our metadata is behind: ask again shortly
                            continue;
                        }
                        // Undefined (the leader knows no epoch that old): keep what is below the high watermark.
                        long cut = p.endOffset() < 0 ? h.get().highWatermark() : p.endOffset();
                        cuts.add(h.get().truncateTo(cut).map(v -> {
                            f.truncated = true;
                            return null;
                        }));
                    }
                }
                return pauseIf(retry, Future.all(cuts).mapEmpty());
            });
        }

        private Future<Void> fetch(BrokerClient c) {
            Map<TopicPartition, FetchRequest.PartitionData> data = new LinkedHashMap<>();
            parts.forEach((tp, f) -> handle(tp).ifPresent(h -> data.put(tp, new FetchRequest.PartitionData(Uuid.ZERO_UUID, h.logEndOffset(), h.logStartOffset(),
                    Limits.REPLICA_FETCH_PARTITION_MAX_BYTES, Optional.of(f.epoch)))));
            if (data.isEmpty()) return Future.succeededFuture();
            FetchRequest request = FetchRequest.Builder.forReplica(FETCH_VERSION, self, -1, Limits.REPLICA_FETCH_MAX_WAIT_MS, 1, data)
                    .setMaxBytes(Limits.REPLICA_FETCH_RESPONSE_MAX_BYTES).build(FETCH_VERSION);
            // The answer's records are views of its pooled buffer, released once every append is done (sendThen).
            return c.<FetchResponse, Long>sendThen(request, FETCH_VERSION, resp -> {
                if (resp.error() != Errors.NONE) return Future.failedFuture(resp.error().exception());
                List<Future<?>> appends = new ArrayList<>();
                boolean backOff = false;
                AtomicBoolean diskFailed = new AtomicBoolean();
                for (FetchResponseData.FetchableTopicResponse t : resp.data().responses()) {
                    for (FetchResponseData.PartitionData p : t.partitions()) {
                        TopicPartition tp = new TopicPartition(t.topic(), p.partitionIndex());
                        Followed f = parts.get(tp);
                        Optional<PartitionHandle> h = handle(tp);
                        if (f == null || h.isEmpty()) continue;
                        Errors error = Errors.forCode(p.errorCode());
                        if (error == Errors.NONE) {
                            ByteBuffer records = p.records() instanceof MemoryRecords m ? m.buffer() : ByteBuffer.allocate(0);
                            // Nothing new and no higher high watermark, as for most partitions of most answers: no
                            // hop to the partition's event loop (the volatile reads say so).
                            if (!records.hasRemaining() && Math.min(p.highWatermark(), h.get().logEndOffset()) <= h.get().highWatermark()) continue;
                            appends.add(h.get().appendFromLeader(records, p.highWatermark()).andThen(ar -> {
                                if (ar.succeeded() && f.diskFailing) {
                                    f.diskFailing = false;
                                    LOG.info("{} takes the records of broker {} again", tp, leader);
                                }
                            }).recover(e -> {
                                if (e instanceof KafkaStorageException) {
                                    // A full disk: the log is intact (a failed append leaves nothing), so only wait and
                                    // try again, as Kafka's replica.fetch.backoff.ms; the leader drops this replica
                                    // from its ISR meanwhile if it lags too long.
                                    if (!f.diskFailing) LOG.warn("Appending {}'s records from broker {} failed: {}; trying again every {} ms", tp, leader,
                                            e.getMessage(), Limits.REPLICA_STORAGE_RETRY_MS);
                                    f.diskFailing = true;
                                    diskFailed.set(true);
                                    return Future.succeededFuture();
                                }
                                LOG.warn("Appending {}'s records from broker {} failed; checking the log against the leader again", tp, leader, e);
                                f.truncated = false;
                                return Future.succeededFuture();
                            }));
                        } else if (error == Errors.OFFSET_OUT_OF_RANGE && p.logStartOffset() > h.get().logEndOffset()) {
                            // Behind the leader's log start (retention removed what this replica lacks, or it is new):
                            // Kafka's follower starts its log afresh at the leader's log start.
                            appends.add(h.get().restartAt(p.logStartOffset()));
                        } else if (error == Errors.OFFSET_OUT_OF_RANGE) {
                            f.truncated = false; // diverged (past the leader's end): check the epochs again
                        } else {
                            backOff = true; // NOT_LEADER_OR_FOLLOWER, FENCED_LEADER_EPOCH...: wait for new metadata
                        }
                    }
                }
                long pauseMs = backOff ? Limits.REPLICA_FETCH_RETRY_MS : 0;
                return Future.join(appends).map(v -> diskFailed.get() ? Limits.REPLICA_STORAGE_RETRY_MS : pauseMs);
            }).compose(this::pause);
        }

        /** Completes after {@code ms} (at once for 0). */
        private Future<Void> pause(long ms) {
            if (ms <= 0) return Future.succeededFuture();
            Promise<Void> wait = Promise.promise();
            vertx.setTimer(ms, id -> wait.complete());
            return wait.future();
        }

        /** {@code step}, followed by a short pause when {@code pause} (the leader or the metadata is catching up). */
        private Future<Void> pauseIf(boolean pause, Future<Void> step) {
            if (!pause) return step;
            return step.compose(v -> pause(Limits.REPLICA_FETCH_RETRY_MS));
        }

        private Optional<PartitionHandle> handle(TopicPartition tp) {
            return partitions.partition(tp.topic(), tp.partition());
        }
    }
}
