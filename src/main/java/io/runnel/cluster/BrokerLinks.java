package io.runnel.cluster;

import io.runnel.config.Limits;
import io.runnel.partition.OnContext;
import io.runnel.security.InterBrokerLink;
import io.vertx.core.Context;
import io.vertx.core.Future;
import io.vertx.core.Promise;
import io.vertx.core.Vertx;
import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.function.Supplier;
import org.apache.kafka.common.IsolationLevel;
import org.apache.kafka.common.TopicPartition;
import org.apache.kafka.common.Uuid;
import org.apache.kafka.common.errors.BrokerNotAvailableException;
import org.apache.kafka.common.errors.ThrottlingQuotaExceededException;
import org.apache.kafka.common.message.FetchResponseData;
import org.apache.kafka.common.message.ListOffsetsRequestData;
import org.apache.kafka.common.message.ListOffsetsResponseData;
import org.apache.kafka.common.message.ProduceRequestData;
import org.apache.kafka.common.message.ProduceResponseData;
import org.apache.kafka.common.protocol.Errors;
import org.apache.kafka.common.record.internal.MemoryRecords;
import org.apache.kafka.common.requests.AbstractRequest;
import org.apache.kafka.common.requests.AbstractResponse;
import org.apache.kafka.common.requests.FetchRequest;
import org.apache.kafka.common.requests.FetchResponse;
import org.apache.kafka.common.requests.ListOffsetsRequest;
import org.apache.kafka.common.requests.ListOffsetsResponse;
import org.apache.kafka.common.requests.ProduceRequest;
import org.apache.kafka.common.requests.ProduceResponse;

/**
 * The requests a broker makes at other brokers for its HTTP and WebSocket clients: produce, fetch and list offsets of
 * partitions another broker leads (and whatever else the HTTP side asks of a leader), over the inter-broker listener
 * with its TLS and SASL, as Kafka's brokers talk to each other. Records travel only there, never over Hazelcast or
 * the event bus.
 *
 * <p>Per broker at most {@link Limits#FORWARD_CONNECTIONS_PER_BROKER} connections carry one request at a time each;
 * more requests wait, at most {@link Limits#FORWARD_QUEUE_PER_BROKER}, and one more fails at once
 * (THROTTLING_QUOTA_EXCEEDED, a 503 for HTTP), so a burst of browsers cannot queue without bound here. Reads that wait
 * for records ({@link #awaitRecords}) do not take those connections: per broker and isolation level they go together
 * in one long-polling Fetch on a connection of their own (as a Kafka consumer's fetcher asks for all its partitions in
 * one request), whose answer is at most {@link Limits#REPLICA_FETCH_RESPONSE_MAX_BYTES}. Everything runs on one
 * context of its own; callers get their answers on theirs.
 */
public final class BrokerLinks {
    /** The client id of these requests; a leader answers a read_uncommitted fetch with this id with its aborted transactions. */
    public static final String CLIENT_ID = "runnel-forwarder";
    private static final short FETCH_VERSION = 12;
    private static final short PRODUCE_VERSION = 11;
    private static final short TXN_PRODUCE_VERSION = 12;
    private static final short LIST_OFFSETS_VERSION = 7;

    private final Vertx vertx;
    private final Context context;
    private final ClusterView view;
    private final long requestTimeoutMs;
    private final Supplier<InterBrokerLink> link;
    private final Map<Integer, Pool> pools = new HashMap<>();
    private final Map<String, Waits> waits = new HashMap<>();
    private boolean closed;

    /** What a partition's leader answered to a read: its records (whole batches) and where its log stands. */
    public record Fetched(Errors error, MemoryRecords records, long highWatermark, long lastStableOffset, long logStartOffset,
                          List<FetchResponseData.AbortedTransaction> aborted) {
        static Fetched of(FetchResponseData.PartitionData p) {
            MemoryRecords records = p.records() instanceof MemoryRecords m ? m : MemoryRecords.EMPTY;
            return new Fetched(Errors.forCode(p.errorCode()), records, p.highWatermark(), p.lastStableOffset(), p.logStartOffset(),
                    p.abortedTransactions() == null ? List.of() : p.abortedTransactions());
        }

        static Fetched error(Errors e) {
            return new Fetched(e, MemoryRecords.EMPTY, -1, -1, -1, List.of());
        }
    }

    public BrokerLinks(Vertx vertx, ClusterView view, long requestTimeoutMs, Supplier<InterBrokerLink> link) {
        this.vertx = vertx;
        this.context = vertx.getOrCreateContext();
        this.view = view;
        this.requestTimeoutMs = requestTimeoutMs;
        this.link = link;
    }

    /** Sends {@code request} at {@code version} to broker {@code broker} and answers its response. */
    public <T extends AbstractResponse> Future<T> send(int broker, AbstractRequest request, short version) {
        return OnContext.compose(context, () -> {
            if (closed) return Future.failedFuture(new BrokerNotAvailableException("The broker is stopping"));
            return pools.computeIfAbsent(broker, Pool::new).submit(request, version);
        });
    }

    /**
     * Reads {@code tp} at broker {@code broker} from {@code offset} now: at most {@code maxBytes} (a first batch comes
     * whole), below the high watermark, or below the last stable offset when {@code committed}. A read_uncommitted read
     * also gets the aborted transactions it overlaps.
     */
    public Future<Fetched> fetch(int broker, TopicPartition tp, long offset, int maxBytes, boolean committed) {
        FetchRequest request = fetchRequest(Map.of(tp, partitionData(offset, maxBytes)), 0, maxBytes, committed);
        return this.<FetchResponse>send(broker, request, FETCH_VERSION).map(r -> answer(r, tp));
    }

    /**
     * As {@link #fetch}, but the leader waits up to {@link Limits#FORWARD_FETCH_MAX_WAIT_MS} for records past
     * {@code offset} if there are none; the read goes with the other waiting reads of that broker in one request.
     * Answers with no records when none came in that time.
     */
    public Future<Fetched> awaitRecords(int broker, TopicPartition tp, long offset, boolean committed) {
        return OnContext.compose(context, () -> {
            if (closed) return Future.failedFuture(new BrokerNotAvailableException("The broker is stopping"));
            return waits.computeIfAbsent(broker + (committed ? "c" : "u"), k -> new Waits(broker, committed)).add(tp, offset);
        });
    }

    /**
     * Appends {@code records} (one batch or more) to {@code tp} at its leader {@code broker} with acks=all or acks=1
     * ({@code acksAll}), waiting at most {@code timeoutMs} for the in-sync replicas: the leader's answer for the
     * partition (its error, base offset and log append time).
     */
    public Future<ProduceResponseData.PartitionProduceResponse> produce(int broker, TopicPartition tp, MemoryRecords records, boolean acksAll,
                                                                        int timeoutMs) {
        return produce(broker, tp, records, acksAll, timeoutMs, null);
    }

    /**
     * As {@link #produce(int, TopicPartition, MemoryRecords, boolean, int)}, for transactional batches of
     * {@code transactionalId} when it is not null: sent as a transactions-version-2 producer sends them (Produce
     * version 12), so that the leader adds the partition to the transaction at its coordinator (KIP-890).
     */
    public Future<ProduceResponseData.PartitionProduceResponse> produce(int broker, TopicPartition tp, MemoryRecords records, boolean acksAll,
                                                                        int timeoutMs, String transactionalId) {
        short version = transactionalId == null ? PRODUCE_VERSION : TXN_PRODUCE_VERSION;
        ProduceRequestData.TopicProduceDataCollection topics = new ProduceRequestData.TopicProduceDataCollection();
        topics.add(new ProduceRequestData.TopicProduceData().setName(tp.topic())
                .setPartitionData(List.of(new ProduceRequestData.PartitionProduceData().setIndex(tp.partition()).setRecords(records))));
        ProduceRequestData data = new ProduceRequestData().setAcks((short) (acksAll ? -1 : 1)).setTimeoutMs(timeoutMs).setTopicData(topics)
                .setTransactionalId(transactionalId);
        return this.<ProduceResponse>send(broker, new ProduceRequest.Builder(version, version, data).build(version), version)
                .map(r -> {
                    for (ProduceResponseData.TopicProduceResponse t : r.data().responses()) {
                        if (!t.name().equals(tp.topic())) continue;
                        for (ProduceResponseData.PartitionProduceResponse p : t.partitionResponses()) if (p.index() == tp.partition()) return p;
                    }
                    return new ProduceResponseData.PartitionProduceResponse().setIndex(tp.partition())
                            .setErrorCode(Errors.UNKNOWN_TOPIC_OR_PARTITION.code()).setBaseOffset(-1);
                });
    }

    /**
     * The offset of {@code tp} at its leader {@code broker} for {@code timestamp} (ListOffsets: -2 the log start, -1 the
     * end, which is the last stable offset when {@code committed}, else the first offset whose timestamp is at least
     * it, -1 when none is), or the leader's error.
     */
    public Future<Long> listOffset(int broker, TopicPartition tp, long timestamp, boolean committed) {
        ListOffsetsRequestData.ListOffsetsTopic topic = new ListOffsetsRequestData.ListOffsetsTopic().setName(tp.topic())
                .setPartitions(List.of(new ListOffsetsRequestData.ListOffsetsPartition().setPartitionIndex(tp.partition()).setTimestamp(timestamp)));
        ListOffsetsRequest request = ListOffsetsRequest.Builder.forConsumer(false, committed ? IsolationLevel.READ_COMMITTED : IsolationLevel.READ_UNCOMMITTED)
                .setTargetTimes(List.of(topic)).build(LIST_OFFSETS_VERSION);
        return this.<ListOffsetsResponse>send(broker, request, LIST_OFFSETS_VERSION).compose(r -> {
            for (ListOffsetsResponseData.ListOffsetsTopicResponse t : r.data().topics()) {
                if (!t.name().equals(tp.topic())) continue;
                for (ListOffsetsResponseData.ListOffsetsPartitionResponse p : t.partitions()) {
                    if (p.partitionIndex() != tp.partition()) continue;
                    Errors e = Errors.forCode(p.errorCode());
                    return e == Errors.NONE ? Future.succeededFuture(p.offset()) : Future.failedFuture(e.exception());
                }
            }
            return Future.failedFuture(Errors.UNKNOWN_TOPIC_OR_PARTITION.exception());
        });
    }

    private static FetchRequest.PartitionData partitionData(long offset, int maxBytes) {
        return new FetchRequest.PartitionData(Uuid.ZERO_UUID, offset, -1, maxBytes, Optional.empty());
    }

    private static FetchRequest fetchRequest(Map<TopicPartition, FetchRequest.PartitionData> data, int maxWaitMs, int maxBytes, boolean committed) {
        return FetchRequest.Builder.forConsumer(FETCH_VERSION, maxWaitMs, 1, data).setMaxBytes(maxBytes)
                .isolationLevel(committed ? IsolationLevel.READ_COMMITTED : IsolationLevel.READ_UNCOMMITTED).build(FETCH_VERSION);
    }

    private static Fetched answer(FetchResponse r, TopicPartition tp) {
        if (r.error() != Errors.NONE) return Fetched.error(r.error());
        for (FetchResponseData.FetchableTopicResponse t : r.data().responses()) {
            if (!t.topic().equals(tp.topic())) continue;
            for (FetchResponseData.PartitionData p : t.partitions()) if (p.partitionIndex() == tp.partition()) return Fetched.of(p);
        }
        return Fetched.error(Errors.UNKNOWN_TOPIC_OR_PARTITION);
    }

    /** Closes every connection; later requests fail. */
    public void close() {
        context.runOnContext(v -> {
            closed = true;
            pools.values().forEach(Pool::close);
            waits.values().forEach(Waits::close);
            pools.clear();
            waits.clear();
        });
    }

    /** One broker's connections for single requests, and the requests waiting for one. On the context. */
    private final class Pool {
        private final int broker;
        private final ArrayDeque<BrokerClient> idle = new ArrayDeque<>();
        private final ArrayDeque<Runnable> waiting = new ArrayDeque<>();
        private int open;

        Pool(int broker) {
            this.broker = broker;
        }

        <T extends AbstractResponse> Future<T> submit(AbstractRequest request, short version) {
            Promise<T> answer = Promise.promise();
            Runnable run = () -> run(request, version, answer);
            if (!idle.isEmpty() || open < Limits.FORWARD_CONNECTIONS_PER_BROKER) {
                run.run();
            } else if (waiting.size() >= Limits.FORWARD_QUEUE_PER_BROKER) {
                answer.fail(new ThrottlingQuotaExceededException(Limits.FORWARD_QUEUE_PER_BROKER + " requests already wait for broker " + broker));
            } else {
                waiting.add(run);
            }
            return answer.future();
        }

        private <T extends AbstractResponse> void run(AbstractRequest request, short version, Promise<T> answer) {
            BrokerClient c = idle.poll();
            if (c == null) {
                c = BrokerClient.to(vertx, view, broker, CLIENT_ID, requestTimeoutMs, link.get());
                if (c == null) {
                    answer.fail(new BrokerNotAvailableException("Broker " + broker + " is not registered (or not on the inter-broker listener)"));
                    next();
                    return;
                }
                open++;
            }
            BrokerClient client = c;
            client.<T>send(request, version).onComplete(ar -> {
                if (ar.succeeded() && !closed) {
                    idle.push(client);
                } else {
                    client.close(); // a failed or timed-out connection is not used again
                    open--;
                }
                answer.handle(ar);
                next();
            });
        }

        private void next() {
            if (!waiting.isEmpty() && (!idle.isEmpty() || open < Limits.FORWARD_CONNECTIONS_PER_BROKER)) waiting.poll().run();
        }

        void close() {
            idle.forEach(BrokerClient::close);
            idle.clear();
            waiting.clear();
        }
    }

    /**
     * The waiting reads of one broker and isolation level: each round sends every read that waits in one Fetch (per
     * partition the lowest offset asked; readers take the records from their own offset on) and answers them all;
     * reads that arrive meanwhile go in the next round. On the context.
     */
    private final class Waits {
        private final int broker;
        private final boolean committed;
        private Map<TopicPartition, Waiting> pending = new LinkedHashMap<>();
        private BrokerClient client;
        private boolean inFlight;

        private static final class Waiting {
            long offset = Long.MAX_VALUE;
            final List<Promise<Fetched>> promises = new ArrayList<>();
        }

        Waits(int broker, boolean committed) {
            this.broker = broker;
            this.committed = committed;
        }

        Future<Fetched> add(TopicPartition tp, long offset) {
            if (pending.size() >= Limits.FORWARD_QUEUE_PER_BROKER && !pending.containsKey(tp)) {
                return Future.failedFuture(new ThrottlingQuotaExceededException(Limits.FORWARD_QUEUE_PER_BROKER + " partitions already wait at broker " + broker));
            }
            Waiting w = pending.computeIfAbsent(tp, x -> new Waiting());
            w.offset = Math.min(w.offset, offset);
            Promise<Fetched> p = Promise.promise();
            w.promises.add(p);
            if (!inFlight) round();
            return p.future();
        }

        private void round() {
            if (pending.isEmpty() || closed) return;
            Map<TopicPartition, Waiting> batch = pending;
            pending = new LinkedHashMap<>();
            if (client == null) client = BrokerClient.to(vertx, view, broker, CLIENT_ID, requestTimeoutMs, link.get());
            if (client == null) {
                batch.values().forEach(w -> w.promises.forEach(p -> p.fail(new BrokerNotAvailableException("Broker " + broker + " is not registered"))));
                return;
            }
            Map<TopicPartition, FetchRequest.PartitionData> data = new LinkedHashMap<>();
            batch.forEach((tp, w) -> data.put(tp, partitionData(w.offset, Limits.FORWARD_WAIT_READ_BYTES)));
            inFlight = true;
            BrokerClient c = client;
            c.<FetchResponse>send(fetchRequest(data, Limits.FORWARD_FETCH_MAX_WAIT_MS, Limits.REPLICA_FETCH_RESPONSE_MAX_BYTES, committed), FETCH_VERSION)
                    .onComplete(ar -> {
                        inFlight = false;
                        if (ar.failed()) {
                            c.close();
                            if (client == c) client = null; // the next round connects again (the broker's address may have changed)
                        }
                        batch.forEach((tp, w) -> {
                            if (ar.failed()) w.promises.forEach(p -> p.fail(ar.cause()));
                            else w.promises.forEach(p -> p.complete(answer(ar.result(), tp)));
                        });
                        round();
                    });
        }

        void close() {
            if (client != null) client.close();
            pending.values().forEach(w -> w.promises.forEach(p -> p.tryFail(new BrokerNotAvailableException("The broker is stopping"))));
            pending.clear();
        }
    }
}
