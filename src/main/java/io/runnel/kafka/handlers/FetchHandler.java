package io.runnel.kafka.handlers;

import io.runnel.cluster.BrokerLinks;
import io.runnel.config.BrokerConfig;
import io.runnel.kafka.RequestContext;
import io.runnel.kafka.TypedApiHandler;
import io.runnel.log.value.AbortedTxn;
import io.runnel.log.value.LogSlice;
import io.runnel.log.value.SliceResult;
import io.runnel.partition.CommittedSlice;
import io.runnel.partition.LocalTopic;
import io.runnel.partition.PartitionHandle;
import io.runnel.partition.TopicRegistry;
import io.vertx.core.Future;
import io.vertx.core.Promise;
import io.vertx.core.Vertx;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.HashSet;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Set;
import org.apache.kafka.common.IsolationLevel;
import org.apache.kafka.common.Node;
import org.apache.kafka.common.TopicPartition;
import org.apache.kafka.common.Uuid;
import org.apache.kafka.common.acl.AclOperation;
import org.apache.kafka.common.message.FetchRequestData.FetchPartition;
import org.apache.kafka.common.message.FetchRequestData.FetchTopic;
import org.apache.kafka.common.message.FetchResponseData.FetchableTopicResponse;
import org.apache.kafka.common.message.FetchResponseData.PartitionData;
import org.apache.kafka.common.message.FetchResponseData;
import org.apache.kafka.common.protocol.ApiKeys;
import org.apache.kafka.common.record.internal.MemoryRecords;
import org.apache.kafka.common.replica.ClientMetadata;
import org.apache.kafka.common.replica.PartitionView;
import org.apache.kafka.common.replica.ReplicaSelector;
import org.apache.kafka.common.replica.ReplicaView;
import org.apache.kafka.common.protocol.Errors;
import org.apache.kafka.common.requests.AbstractResponse;
import org.apache.kafka.common.requests.FetchMetadata;
import org.apache.kafka.common.requests.FetchRequest;
import org.apache.kafka.common.requests.FetchResponse;

/**
 * Fetch, the consumer's credit grant: the broker never sends more than the request's {@code max_bytes} and each
 * partition's {@code partition_max_bytes}, except that the first partition with data returns at least one whole
 * batch (KIP-74). Partitions are read at once and kept in request order within those limits (see readAll).
 *
 * <p>Long poll: when fewer than {@code min_bytes} are available, the fetch parks on every partition it asked for
 * and is answered as soon as appends bring enough bytes, or when {@code max_wait_ms} has passed, whichever comes
 * first; no timer polls the log.
 *
 * <p>Isolation (KIP-98): a read_uncommitted consumer reads below the high watermark; a read_committed one below the
 * last stable offset (no undecided transaction's records), and is sent the aborted transactions its records overlap,
 * whose records the client drops. Every answer carries the last stable offset.
 *
 * <p>Fetching from the closest replica (KIP-392): with {@code replica.selector.class} set, the leader asks the selector
 * (Kafka's RackAwareReplicaSelector picks an in-sync replica in the consumer's {@code client.rack}) and, when it names
 * another replica that has the fetch offset, answers at once with that {@code preferred_read_replica} and no records;
 * the consumer then fetches there. A follower serves such a consumer (Fetch v11 and later) below its own high
 * watermark, or last stable offset for read_committed; an older consumer gets NOT_LEADER_OR_FOLLOWER from it.
 *
 * <p>Fetch sessions (KIP-227) are declined: every response carries session id 0, so clients keep sending full
 * fetch requests; an incremental request for a session gets FETCH_SESSION_ID_NOT_FOUND.
 */
public final class FetchHandler extends TypedApiHandler<FetchRequest> {
    public FetchHandler() {
        super(ApiKeys.FETCH, FetchRequest.class);
    }

    /** The broker's {@code replica.selector.class}, made on first use (the key was checked at start); null: leader only. */
    private volatile ReplicaSelector selector;
    private volatile boolean selectorMade;

    private ReplicaSelector selector(RequestContext ctx) {
        if (!selectorMade) {
            synchronized (this) {
                if (!selectorMade) {
                    String name = ctx.broker().config().get(BrokerConfig.REPLICA_SELECTOR_CLASS);
                    if (name != null) {
                        try {
                            ReplicaSelector made = (ReplicaSelector) Class.forName(name).getDeclaredConstructor().newInstance();
                            made.configure(Map.of());
                            selector = made;
                        } catch (ReflectiveOperationException | RuntimeException e) {
                            throw new IllegalStateException("replica.selector.class " + name + " cannot be made: " + e, e);
                        }
                    }
                    selectorMade = true;
                }
            }
        }
        return selector;
    }

    /** One asked partition and, after a read, its answer. */
    private static final class Item {
        final String topic;
        final Uuid topicId;
        final FetchPartition request;
        final Optional<PartitionHandle> handle;
        /** The topic and partition exist, led by another broker (in a cluster). */
        boolean elsewhere;
        /** The principal may not read the topic (or, as a follower, act as a broker). */
        boolean denied;
        PartitionData answer;
        long waitAfter;
        /** The leader sent the consumer to another replica (KIP-392): answered at once. */
        boolean redirected;

        Item(String topic, Uuid topicId, FetchPartition request, Optional<PartitionHandle> handle) {
            this.topic = topic;
            this.topicId = topicId;
            this.request = request;
            this.handle = handle;
        }
    }

    @Override
    protected Future<AbstractResponse> serve(RequestContext ctx, FetchRequest r) {
        FetchMetadata session = r.metadata();
        if (session.sessionId() != FetchMetadata.INVALID_SESSION_ID) {
            return Future.succeededFuture(FetchResponse.of(new FetchResponseData().setErrorCode(Errors.FETCH_SESSION_ID_NOT_FOUND.code())));
        }
        TopicRegistry partitions = ctx.broker().topics();
        boolean byId = ctx.apiVersion() >= 13;
        List<Item> items = new ArrayList<>();
        // Kafka's checks: a follower needs CLUSTER_ACTION on the cluster, a consumer READ on each topic.
        boolean follower = r.replicaId() >= 0;
        boolean followerDenied = follower && !ctx.authorizeCluster(AclOperation.CLUSTER_ACTION);
        for (FetchTopic t : r.data().topics()) {
            Optional<LocalTopic> topic = byId ? partitions.topicById(t.topicId()) : partitions.topic(t.topic());
            String name = byId ? topic.map(LocalTopic::name).orElse(null) : t.topic();
            boolean denied = follower ? followerDenied : name != null && !ctx.authorizeTopic(AclOperation.READ, name);
            for (FetchPartition p : t.partitions()) {
                Item item = new Item(t.topic(), t.topicId(), p, topic.flatMap(info -> partitions.partition(info.name(), p.partition())));
                item.denied = denied;
                item.elsewhere = item.handle.isEmpty() && topic.isPresent() && p.partition() >= 0 && p.partition() < topic.get().partitions().size();
                items.add(item);
            }
        }
        Promise<AbstractResponse> response = Promise.promise();
        Vertx vertx = Vertx.currentContext().owner();
        long deadline = System.nanoTime() + Math.max(0, r.maxWait()) * 1_000_000L;
        attempt(ctx, r, items, byId, vertx, deadline, response);
        return response.future();
    }

    private void attempt(RequestContext ctx, FetchRequest r, List<Item> items, boolean byId, Vertx vertx, long deadline,
                         Promise<AbstractResponse> response) {
        int maxBytes = Math.min(r.maxBytes(), ctx.broker().config().get(BrokerConfig.FETCH_MAX_BYTES));
        int replica = r.replicaId();
        boolean committed = replica < 0 && r.isolationLevel() == IsolationLevel.READ_COMMITTED;
        Reader reader = new Reader(ctx, r, replica, committed);
        readAll(reader, items, maxBytes).onComplete(ar -> {
            if (ar.failed()) { // not expected (each read answers its own errors): the partitions not answered get the error
                for (Item i : items) {
                    if (i.answer == null) {
                        i.answer = new PartitionData().setPartitionIndex(i.request.partition()).setErrorCode(Errors.forException(ar.cause()).code())
                                .setHighWatermark(FetchResponse.INVALID_HIGH_WATERMARK);
                    }
                }
                response.complete(build(items, byId));
                return;
            }
            long bytes = items.stream().mapToLong(i -> i.answer.records() == null ? 0 : i.answer.records().sizeInBytes()).sum();
            boolean errors = items.stream().anyMatch(i -> i.answer.errorCode() != Errors.NONE.code() || i.redirected);
            long remainingMs = (deadline - System.nanoTime()) / 1_000_000L;
            if (bytes >= r.minBytes() || errors || remainingMs <= 0 || items.isEmpty()) {
                if (bytes > 0 && replica < 0) count(ctx, items);
                response.complete(build(items, byId));
                return;
            }
            // Park until an append to any asked partition, or until max_wait_ms.
            Promise<Void> wake = Promise.promise();
            long timer = vertx.setTimer(remainingMs, id -> wake.tryComplete());
            // A consumer waits for the high watermark to move, a follower for the log end.
            for (Item i : items) {
                PartitionHandle h = i.handle.get();
                (replica >= 0 ? h.awaitLogEndAfter(i.waitAfter, wake.future()) : h.awaitDataAfter(i.waitAfter, wake.future()))
                        .onComplete(x -> wake.tryComplete());
            }
            wake.future().onComplete(x -> {
                vertx.cancelTimer(timer);
                attempt(ctx, r, items, byId, vertx, deadline, response);
            });
        });
    }

    /**
     * What one attempt reads with: the request's replica id and isolation and, for a consumer, whether it may read from
     * a follower and the selector that may send it to one (KIP-392).
     */
    private final class Reader {
        final TopicRegistry partitions;
        final int replica;
        final boolean committed;
        /** Fetch v11 and later: the consumer may read from a follower (Kafka's clientMetadata is defined). */
        final boolean mayReadFollower;
        final ReplicaSelector selector;
        final ClientMetadata client;
        final RequestContext ctx;
        /**
         * Another Runnel broker reading for its HTTP or WebSocket clients (cluster.BrokerLinks): a read_uncommitted
         * read gets the aborted transactions it overlaps too, so that it can tell its clients which records were
         * aborted, as this broker's own REST and WebSocket readers do. Kafka's schema carries them for any isolation
         * level and Kafka's consumers ignore them at read_uncommitted.
         */
        final boolean forwarder;

        Reader(RequestContext ctx, FetchRequest r, int replica, boolean committed) {
            this.ctx = ctx;
            this.partitions = ctx.broker().topics();
            this.replica = replica;
            this.committed = committed;
            this.mayReadFollower = replica < 0 && ctx.apiVersion() >= 11;
            this.forwarder = replica < 0 && !committed && BrokerLinks.CLIENT_ID.equals(ctx.header().clientId());
            String rack = r.data().rackId();
            this.selector = mayReadFollower && rack != null && !rack.isEmpty() ? selector(ctx) : null;
            this.client = selector == null ? null : new ClientMetadata.DefaultClientMetadata(rack, ctx.header().clientId(), null,
                    ctx.session().principal(), ctx.endpoint().listenerName());
        }
    }

    /**
     * Reads the partitions, each within what is left of the response's byte limit in request order, as if one after
     * the other. Each read is a hop to its partition's event loop and back, so they are all sent at once, each with
     * the response's whole limit (and a partition's own): one after the other, a follower's fetch of twenty
     * partitions waited for forty hops on every append. Then, in request order, an answer that fits what is left is
     * kept: reads return whole batches, so a read within what is left returns the same ones. The first partition
     * with data keeps at least one batch (KIP-74), as before. Only an answer that does not fit is read again within
     * what is left, in order. Reads are file regions (slices), so reading more than is kept costs no copy.
     */
    private static Future<Void> readAll(Reader reader, List<Item> items, int responseMaxBytes) {
        for (Item i : items) {
            i.answer = null; // this attempt's answers only
            i.redirected = false;
        }
        List<Future<Void>> reads = new ArrayList<>(items.size());
        for (Item i : items) reads.add(readOrRedirect(reader, i, new int[] {responseMaxBytes}, new boolean[] {false}));
        return Future.join(reads).transform(x -> {
            int[] remaining = {responseMaxBytes};
            boolean[] haveData = {false};
            Future<Void> chain = Future.succeededFuture();
            for (Item i : items) {
                chain = chain.compose(v -> {
                    int size = i.answer == null || i.answer.records() == null ? 0 : i.answer.records().sizeInBytes();
                    if (size == 0 || !haveData[0] || size <= remaining[0]) {
                        remaining[0] -= size;
                        haveData[0] |= size > 0;
                        return Future.succeededFuture();
                    }
                    return readOne(reader, i, remaining, haveData);
                });
            }
            return chain;
        });
    }

    /** One partition's read, or the answer that sends the consumer to another replica (KIP-392). */
    private static Future<Void> readOrRedirect(Reader reader, Item i, int[] remaining, boolean[] haveData) {
        return preferredReplica(reader, i).compose(other -> {
            if (other < 0) return readOne(reader, i, remaining, haveData);
            PartitionHandle h = i.handle.get();
            i.redirected = true;
            i.answer = new PartitionData().setPartitionIndex(i.request.partition()).setPreferredReadReplica(other)
                    .setHighWatermark(h.highWatermark()).setLastStableOffset(h.lastStableOffset()).setLogStartOffset(h.logStartOffset())
                    .setRecords(MemoryRecords.EMPTY);
            return Future.succeededFuture();
        });
    }

    /**
     * The replica the selector prefers for this consumer's fetch, when it is not this leader (-1 otherwise): among
     * the leader and the in-sync followers that have the fetch offset, as Kafka's leader chooses (KIP-392).
     */
    private static Future<Integer> preferredReplica(Reader reader, Item i) {
        if (reader.selector == null || i.denied || i.handle.isEmpty() || !i.handle.get().isLeader()) return Future.succeededFuture(-1);
        PartitionHandle h = i.handle.get();
        long offset = i.request.fetchOffset();
        // As Kafka's leader: a fetch with a stale or unknown leader epoch, or outside this log (OFFSET_OUT_OF_RANGE, so
        // that the consumer's reset policy applies), is answered here, not sent on.
        if (reader.partitions.checkLeaderEpoch(h.topicPartition().topic(), h.topicPartition().partition(), i.request.currentLeaderEpoch())
                != Errors.NONE || offset < h.logStartOffset() || offset > h.logEndOffset()) {
            return Future.succeededFuture(-1);
        }
        return h.inSyncFollowers().map(followers -> {
            // Brokers the consumer can reach: on its listener, unfenced (those its Metadata lists), with their racks.
            Map<Integer, String> racks = new HashMap<>();
            for (RequestContext.NodeEndpoint b : reader.ctx.brokers()) racks.put(b.nodeId(), b.rack());
            int self = reader.ctx.broker().nodeId();
            ReplicaView leader = new ReplicaView.DefaultReplicaView(new Node(self, "", -1, reader.ctx.broker().config().get(BrokerConfig.BROKER_RACK)),
                    h.logEndOffset(), 0);
            Set<ReplicaView> replicas = new HashSet<>();
            replicas.add(leader);
            long now = System.currentTimeMillis();
            for (PartitionHandle.FollowerView f : followers) {
                // It must have the offset (its log start told, at or below it) and be reachable.
                if (f.logEndOffset() < offset || f.logStartOffset() < 0 || f.logStartOffset() > offset || !racks.containsKey(f.nodeId())) continue;
                replicas.add(new ReplicaView.DefaultReplicaView(new Node(f.nodeId(), "", -1, racks.get(f.nodeId())), f.logEndOffset(),
                        Math.max(0, now - f.lastCaughtUpMs())));
            }
            Optional<ReplicaView> chosen = reader.selector.select(h.topicPartition(), reader.client, new PartitionView.DefaultPartitionView(replicas, leader));
            return chosen.map(v -> v.endpoint().id()).filter(id -> id != self).orElse(-1);
        }).recover(e -> Future.succeededFuture(-1)); // a selector's failure only means no redirect
    }

    private static Future<Void> readOne(Reader reader, Item i, int[] remaining, boolean[] haveData) {
        TopicRegistry partitions = reader.partitions;
        int replica = reader.replica;
        boolean committed = reader.committed;
        PartitionData out = new PartitionData().setPartitionIndex(i.request.partition());
        i.answer = out;
        if (i.denied) {
            out.setErrorCode(Errors.TOPIC_AUTHORIZATION_FAILED.code()).setHighWatermark(FetchResponse.INVALID_HIGH_WATERMARK);
            return Future.succeededFuture();
        }
        if (i.handle.isEmpty()) {
            out.setErrorCode((i.elsewhere ? Errors.NOT_LEADER_OR_FOLLOWER
                            : i.topic == null || i.topic.isEmpty() ? Errors.UNKNOWN_TOPIC_ID : Errors.UNKNOWN_TOPIC_OR_PARTITION).code())
                    .setHighWatermark(FetchResponse.INVALID_HIGH_WATERMARK);
            return Future.succeededFuture();
        }
        PartitionHandle h = i.handle.get();
        Errors epoch = partitions.checkLeaderEpoch(h.topicPartition().topic(), h.topicPartition().partition(), i.request.currentLeaderEpoch());
        if (epoch != Errors.NONE) {
            out.setErrorCode(epoch.code());
            return Future.succeededFuture();
        }
        int max = Math.min(i.request.partitionMaxBytes(), Math.max(0, remaining[0]));
        boolean minOneBatch = !haveData[0];
        // A follower (replica id set) reads to the log end and tells the leader how far it has got; a consumer reads
        // below the high watermark. Either way the answer is a slice of a segment file that the connection sends
        // from the file (zero-copy); only batch headers are read here.
        Future<SliceResult> read;
        // A consumer the leader sent here (KIP-392) reads from this follower; an older one is told to ask the leader.
        boolean fromFollower = replica < 0 && reader.mayReadFollower && !h.isLeader();
        if (replica >= 0) {
            read = h.sliceForReplica(replica, i.request.fetchOffset(), i.request.logStartOffset(), max);
        } else if (committed || reader.forwarder && !fromFollower) {
            Future<CommittedSlice> slice = !committed ? h.sliceWithAborted(i.request.fetchOffset(), max, minOneBatch)
                    : fromFollower ? h.sliceCommittedAsFollower(i.request.fetchOffset(), max, minOneBatch)
                    : h.sliceCommitted(i.request.fetchOffset(), max, minOneBatch);
            read = slice.map(cs -> {
                List<FetchResponseData.AbortedTransaction> aborted = new ArrayList<>();
                for (AbortedTxn t : cs.aborted()) {
                    aborted.add(new FetchResponseData.AbortedTransaction().setProducerId(t.producerId()).setFirstOffset(t.firstOffset()));
                }
                out.setAbortedTransactions(aborted);
                return new SliceResult(cs.slice().records(), cs.slice().logStartOffset(), cs.highWatermark());
            });
        } else {
            read = fromFollower ? h.sliceAsFollower(i.request.fetchOffset(), max, minOneBatch) : h.slice(i.request.fetchOffset(), max, minOneBatch);
        }
        return read.map(rr -> {
            answer(out, rr);
            out.setLastStableOffset(h.lastStableOffset());
            if (replica >= 0) out.setHighWatermark(h.highWatermark());
            int size = rr.records().size();
            remaining[0] -= size;
            haveData[0] |= size > 0;
            i.waitAfter = Math.max(i.request.fetchOffset(), rr.logEndOffset()); // wake on data past what exists now
            return (Void) null;
        }).recover(e -> {
            out.setErrorCode(Errors.forException(e).code()).setHighWatermark(h.highWatermark()).setLastStableOffset(h.lastStableOffset())
                    .setLogStartOffset(h.logStartOffset());
            return Future.succeededFuture();
        });
    }

    /**
     * Counts the records and bytes sent, per topic: the offsets from the fetch offset to the slice's last offset (the
     * records a consumer receives; a compacted log's gaps count too).
     */
    private static void count(RequestContext ctx, List<Item> items) {
        for (Item i : items) {
            if (!(i.answer.records() instanceof LogSlice slice) || slice.size() == 0) continue;
            long records = slice.lastOffset() - i.request.fetchOffset() + 1;
            ctx.broker().metrics().recordsOut(i.handle.get().topicPartition().topic(), Math.max(0, records), slice.size());
        }
    }

    private static void answer(PartitionData out, SliceResult rr) {
        out.setHighWatermark(rr.logEndOffset()).setLogStartOffset(rr.logStartOffset()).setRecords(rr.records());
    }

    private static AbstractResponse build(List<Item> items, boolean byId) {
        Map<String, FetchableTopicResponse> topics = new LinkedHashMap<>();
        for (Item i : items) {
            String key = byId ? i.topicId.toString() : i.topic;
            topics.computeIfAbsent(key, k -> new FetchableTopicResponse().setTopic(byId ? "" : i.topic).setTopicId(i.topicId))
                    .partitions().add(i.answer);
        }
        return FetchResponse.of(new FetchResponseData().setSessionId(FetchMetadata.INVALID_SESSION_ID)
                .setResponses(new ArrayList<>(topics.values())));
    }
}
