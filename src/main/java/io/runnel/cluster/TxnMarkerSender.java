package io.runnel.cluster;

import io.runnel.partition.Acks;
import io.runnel.partition.LocalTopic;
import io.runnel.partition.OnContext;
import io.runnel.partition.PartitionHandle;
import io.runnel.partition.TopicRegistry;
import io.runnel.security.InterBrokerLink;
import io.runnel.transaction.MarkerWriter;
import io.vertx.core.Context;
import io.vertx.core.Future;
import io.vertx.core.Vertx;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.function.Supplier;
import org.apache.kafka.common.TopicPartition;
import org.apache.kafka.common.errors.UnknownTopicOrPartitionException;
import org.apache.kafka.common.message.WriteTxnMarkersResponseData;
import org.apache.kafka.common.protocol.Errors;
import org.apache.kafka.common.requests.TransactionResult;
import org.apache.kafka.common.requests.WriteTxnMarkersRequest;
import org.apache.kafka.common.requests.WriteTxnMarkersResponse;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Writes transaction markers for this broker's transaction coordinator (Kafka's TransactionMarkerChannelManager): a
 * partition this broker leads gets its marker directly, with acks=all; one led by another broker gets it through a
 * WriteTxnMarkers request to that broker, over one connection per broker that carries one request at a time (a
 * {@link BrokerClient}). A partition whose topic is gone counts as done (nothing to end); one without a leader, or
 * whose leader refused or did not answer, is left for the coordinator's next round.
 */
public final class TxnMarkerSender implements MarkerWriter {
    private static final Logger LOG = LoggerFactory.getLogger(TxnMarkerSender.class);
    /** Version 2 carries the transaction's version (KIP-890). */
    private static final short WRITE_TXN_MARKERS_VERSION = 2;

    /** How to reach other brokers (listener, TLS, SASL), read at each new connection. */
    private final Supplier<InterBrokerLink> link;
    private final Vertx vertx;
    private final Context context;
    private final TopicRegistry topics;
    private final ClusterView view;
    private final int self;
    private final long requestTimeoutMs;
    /** Per broker: its connection and the last request queued on it (on {@link #context}). */
    private final Map<Integer, BrokerClient> clients = new HashMap<>();
    private final Map<Integer, Future<?>> tails = new HashMap<>();

    public TxnMarkerSender(Vertx vertx, TopicRegistry topics, ClusterView view, int self, long requestTimeoutMs, Supplier<InterBrokerLink> link) {
        this.link = link;
        this.vertx = vertx;
        this.context = vertx.getOrCreateContext();
        this.topics = topics;
        this.view = view;
        this.self = self;
        this.requestTimeoutMs = requestTimeoutMs;
    }

    @Override
    public Future<Set<TopicPartition>> write(long producerId, short producerEpoch, int coordinatorEpoch, boolean commit, byte transactionVersion,
                                             Set<TopicPartition> partitions) {
        Set<TopicPartition> done = ConcurrentHashMap.newKeySet(); // local answers and remote ones come on different threads
        Map<Integer, List<TopicPartition>> remote = new HashMap<>();
        List<Future<?>> all = new ArrayList<>();
        for (TopicPartition tp : partitions) {
            Optional<LocalTopic> topic = topics.topic(tp.topic());
            if (topic.isEmpty() || tp.partition() >= topic.get().placements().size()) {
                done.add(tp); // deleted meanwhile: no records of the transaction are left to end
                continue;
            }
            int leader = topic.get().placements().get(tp.partition()).leader();
            Optional<PartitionHandle> local = topics.partition(tp.topic(), tp.partition());
            if (leader == self && local.isPresent()) {
                Acks acks = Acks.all(topic.get().config().minInsyncReplicas(), requestTimeoutMs);
                all.add(local.get().appendMarker(producerId, producerEpoch, coordinatorEpoch, commit, transactionVersion, acks).onComplete(ar -> {
                    if (ar.succeeded() || superseded(Errors.forException(ar.cause()), producerId, tp)) done.add(tp);
                    else LOG.debug("Marker of producer {} in {} not written: {}", producerId, tp, ar.cause().toString());
                }));
            } else if (leader >= 0) {
                remote.computeIfAbsent(leader, k -> new ArrayList<>()).add(tp);
            }
        }
        remote.forEach((broker, tps) -> all.add(sendTo(broker, producerId, producerEpoch, coordinatorEpoch, commit, transactionVersion, tps)
                .onSuccess(done::addAll)));
        return Future.join(all).transform(x -> Future.succeededFuture(Set.copyOf(done)));
    }

    /** Sends one WriteTxnMarkers to {@code broker}, after the requests queued before it; completes with the partitions it wrote. */
    private Future<Set<TopicPartition>> sendTo(int broker, long producerId, short epoch, int coordinatorEpoch, boolean commit, byte transactionVersion,
                                               List<TopicPartition> tps) {
        return OnContext.compose(context, () -> {
            Future<?> before = tails.getOrDefault(broker, Future.succeededFuture());
            Future<Set<TopicPartition>> next = before.transform(x -> {
                BrokerClient client = client(broker);
                if (client == null) return Future.succeededFuture(Set.of());
                WriteTxnMarkersRequest request = new WriteTxnMarkersRequest.Builder(List.of(new WriteTxnMarkersRequest.TxnMarkerEntry(producerId, epoch,
                        coordinatorEpoch, commit ? TransactionResult.COMMIT : TransactionResult.ABORT, tps, transactionVersion))).build(WRITE_TXN_MARKERS_VERSION);
                return client.<WriteTxnMarkersResponse>send(request, WRITE_TXN_MARKERS_VERSION).map(r -> written(r, producerId))
                        .recover(e -> {
                            LOG.debug("WriteTxnMarkers to broker {} failed: {}", broker, e.toString());
                            BrokerClient failed = clients.remove(broker);
                            if (failed != null) failed.close();
                            return Future.succeededFuture(Set.of());
                        });
            });
            tails.put(broker, next);
            return next;
        });
    }

    /** The partitions a WriteTxnMarkers response says were written, or are gone. */
    private static Set<TopicPartition> written(WriteTxnMarkersResponse response, long producerId) {
        Set<TopicPartition> out = new HashSet<>();
        for (WriteTxnMarkersResponseData.WritableTxnMarkerResult m : response.data().markers()) {
            for (var t : m.topics()) {
                for (var p : t.partitions()) {
                    Errors e = Errors.forCode(p.errorCode());
                    TopicPartition tp = new TopicPartition(t.name(), p.partitionIndex());
                    if (e == Errors.NONE || e.exception() instanceof UnknownTopicOrPartitionException || superseded(e, producerId, tp)) out.add(tp);
                }
            }
        }
        return out;
    }

    /**
     * A marker the partition refuses for good (Kafka's TransactionMarkerRequestCompletionHandler gives up on these too):
     * the producer has a newer epoch there (a later marker or transaction ended this one's records), or a newer
     * coordinator wrote there (this one is deposed, and its successor finishes the transaction). Retrying cannot help.
     */
    private static boolean superseded(Errors e, long producerId, TopicPartition tp) {
        if (e != Errors.INVALID_PRODUCER_EPOCH && e != Errors.TRANSACTION_COORDINATOR_FENCED) return false;
        LOG.info("Marker of producer {} in {} is superseded ({}); not written again", producerId, tp, e.name());
        return true;
    }

    private BrokerClient client(int broker) {
        BrokerClient c = clients.get(broker);
        if (c == null) {
            c = BrokerClient.to(vertx, view, broker, "runnel-txn-markers-" + self, requestTimeoutMs, link.get());
            if (c != null) clients.put(broker, c);
        }
        return c;
    }

    /** Closes the connections (the broker is stopping). */
    public void stop() {
        context.runOnContext(v -> {
            clients.values().forEach(BrokerClient::close);
            clients.clear();
        });
    }
}
