package io.runnel.cluster;

import io.runnel.config.Limits;
import io.runnel.partition.OnContext;
import io.runnel.security.InterBrokerLink;
import io.runnel.transaction.TransactionCoordinator;
import io.runnel.transaction.TxnVerifier;
import io.vertx.core.Context;
import io.vertx.core.Future;
import io.vertx.core.Promise;
import io.vertx.core.Vertx;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.function.Supplier;
import org.apache.kafka.common.TopicPartition;
import org.apache.kafka.common.message.AddPartitionsToTxnRequestData.AddPartitionsToTxnTopic;
import org.apache.kafka.common.message.AddPartitionsToTxnRequestData.AddPartitionsToTxnTopicCollection;
import org.apache.kafka.common.message.AddPartitionsToTxnRequestData.AddPartitionsToTxnTransaction;
import org.apache.kafka.common.message.AddPartitionsToTxnRequestData.AddPartitionsToTxnTransactionCollection;
import org.apache.kafka.common.message.AddPartitionsToTxnResponseData.AddPartitionsToTxnResult;
import org.apache.kafka.common.protocol.Errors;
import org.apache.kafka.common.requests.AddPartitionsToTxnRequest;
import org.apache.kafka.common.requests.AddPartitionsToTxnResponse;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * {@link TxnVerifier} for this broker (Kafka's {@code AddPartitionsToTxnManager}): an id coordinated here is asked
 * directly; one coordinated by another broker through the broker form of AddPartitionsToTxn (v5, several transactions
 * per request). Per coordinator broker one request is in flight at a time, over one connection ({@link BrokerClient});
 * what arrives meanwhile waits, at most {@link Limits#TXN_VERIFICATIONS_QUEUED_PER_BROKER} transactional ids, and goes
 * in the next request. Two waiting checks of one id merge when they carry the same producer id, epoch and mode; when
 * they do not, the older epoch is answered INVALID_PRODUCER_EPOCH and, for equal epochs, the earlier one
 * NETWORK_EXCEPTION, which its producer retries (Kafka's rules). A coordinator that cannot be reached gives
 * NETWORK_EXCEPTION; one without a leader COORDINATOR_NOT_AVAILABLE.
 */
public final class TxnVerificationSender implements TxnVerifier {
    private static final Logger LOG = LoggerFactory.getLogger(TxnVerificationSender.class);
    private static final short VERSION = 5;

    /** How to reach other brokers (listener, TLS, SASL), read at each new connection. */
    private final Supplier<InterBrokerLink> link;
    private final Vertx vertx;
    private final Context context;
    private final ClusterView view;
    private final int self;
    private final long requestTimeoutMs;
    private final TransactionCoordinator coordinator;
    private final Map<Integer, Node> nodes = new HashMap<>();

    /** A check waiting for the next request to its coordinator; several producers' requests may share it. */
    private static final class Waiting {
        final long producerId;
        final short epoch;
        final Mode mode;
        final Set<TopicPartition> partitions = new LinkedHashSet<>();
        final List<Promise<Map<TopicPartition, Errors>>> promises = new ArrayList<>();

        Waiting(long producerId, short epoch, Mode mode) {
            this.producerId = producerId;
            this.epoch = epoch;
            this.mode = mode;
        }

        void answer(Map<TopicPartition, Errors> raw) {
            Map<TopicPartition, Errors> shaped = TxnVerifier.forProducer(raw, mode);
            for (Promise<Map<TopicPartition, Errors>> p : promises) p.tryComplete(shaped);
        }

        void fail(Errors error) {
            answer(each(partitions, error));
        }
    }

    /** One coordinator broker: its connection, whether a request is out, and the checks waiting for the next one. */
    private static final class Node {
        BrokerClient client;
        boolean inFlight;
        final LinkedHashMap<String, Waiting> waiting = new LinkedHashMap<>();
    }

    public TxnVerificationSender(Vertx vertx, ClusterView view, int self, long requestTimeoutMs, TransactionCoordinator coordinator,
                                 Supplier<InterBrokerLink> link) {
        this.link = link;
        this.vertx = vertx;
        this.context = vertx.getOrCreateContext();
        this.view = view;
        this.self = self;
        this.requestTimeoutMs = requestTimeoutMs;
        this.coordinator = coordinator;
    }

    @Override
    public Future<Map<TopicPartition, Errors>> check(String transactionalId, long producerId, short epoch, Set<TopicPartition> partitions, Mode mode) {
        int node = coordinator.coordinatorNode(transactionalId);
        if (node == self) {
            return coordinator.joinOrVerify(transactionalId, producerId, epoch, partitions, mode != Mode.ADD)
                    .map(raw -> TxnVerifier.forProducer(raw, mode));
        }
        if (node < 0) return Future.succeededFuture(each(partitions, Errors.COORDINATOR_NOT_AVAILABLE));
        return OnContext.compose(context, () -> enqueue(node, transactionalId, producerId, epoch, partitions, mode));
    }

    private Future<Map<TopicPartition, Errors>> enqueue(int broker, String id, long producerId, short epoch, Set<TopicPartition> partitions, Mode mode) {
        Node node = nodes.computeIfAbsent(broker, b -> new Node());
        Waiting w = node.waiting.get(id);
        if (w != null && !(w.producerId == producerId && w.epoch == epoch && w.mode == mode)) {
            if (epoch < w.epoch) return Future.succeededFuture(each(partitions, Errors.INVALID_PRODUCER_EPOCH));
            node.waiting.remove(id);
            w.fail(epoch > w.epoch ? Errors.INVALID_PRODUCER_EPOCH : Errors.NETWORK_EXCEPTION);
            w = null;
        }
        if (w == null) {
            if (node.waiting.size() >= Limits.TXN_VERIFICATIONS_QUEUED_PER_BROKER) {
                // retriable: the producer comes back once the queue drains
                return Future.succeededFuture(each(partitions, Errors.CONCURRENT_TRANSACTIONS));
            }
            w = new Waiting(producerId, epoch, mode);
            node.waiting.put(id, w);
        }
        w.partitions.addAll(partitions);
        Promise<Map<TopicPartition, Errors>> p = Promise.promise();
        w.promises.add(p);
        sendNext(broker, node);
        // Each producer request gets the answers for its own partitions.
        return p.future().map(all -> {
            Map<TopicPartition, Errors> mine = new LinkedHashMap<>();
            all.forEach((tp, e) -> {
                if (partitions.contains(tp)) mine.put(tp, e);
            });
            return mine;
        });
    }

    /** Sends what waits for {@code broker} in one request, unless one is out already. */
    private void sendNext(int broker, Node node) {
        if (node.inFlight || node.waiting.isEmpty()) return;
        Map<String, Waiting> batch = new LinkedHashMap<>(node.waiting);
        node.waiting.clear();
        BrokerClient client = client(broker, node);
        if (client == null) {
            batch.values().forEach(w -> w.fail(Errors.COORDINATOR_NOT_AVAILABLE));
            return;
        }
        AddPartitionsToTxnTransactionCollection txns = new AddPartitionsToTxnTransactionCollection();
        batch.forEach((id, w) -> {
            AddPartitionsToTxnTopicCollection topics = new AddPartitionsToTxnTopicCollection();
            Map<String, List<Integer>> byTopic = new LinkedHashMap<>();
            for (TopicPartition tp : w.partitions) byTopic.computeIfAbsent(tp.topic(), t -> new ArrayList<>()).add(tp.partition());
            byTopic.forEach((t, ps) -> topics.add(new AddPartitionsToTxnTopic().setName(t).setPartitions(ps)));
            txns.add(new AddPartitionsToTxnTransaction().setTransactionalId(id).setProducerId(w.producerId).setProducerEpoch(w.epoch)
                    .setVerifyOnly(w.mode != Mode.ADD).setTopics(topics));
        });
        node.inFlight = true;
        client.<AddPartitionsToTxnResponse>send(AddPartitionsToTxnRequest.Builder.forBroker(txns).build(VERSION), VERSION).onComplete(ar -> {
            node.inFlight = false;
            if (ar.failed()) {
                LOG.debug("AddPartitionsToTxn to broker {} failed: {}", broker, ar.cause().toString());
                node.client = null;
                client.close();
                batch.values().forEach(w -> w.fail(Errors.NETWORK_EXCEPTION));
            } else {
                answer(batch, ar.result());
            }
            sendNext(broker, node);
        });
    }

    /** {@code error} for each partition. */
    private static Map<TopicPartition, Errors> each(Set<TopicPartition> partitions, Errors error) {
        Map<TopicPartition, Errors> out = new LinkedHashMap<>();
        for (TopicPartition tp : partitions) out.put(tp, error);
        return out;
    }

    private static void answer(Map<String, Waiting> batch, AddPartitionsToTxnResponse response) {
        Errors top = Errors.forCode(response.data().errorCode());
        if (top != Errors.NONE) {
            // As Kafka: a producer is not shown the coordinator's refusal of this broker, only that verification failed.
            Errors shown = top == Errors.CLUSTER_AUTHORIZATION_FAILED ? Errors.INVALID_TXN_STATE : top;
            batch.values().forEach(w -> w.fail(shown));
            return;
        }
        Map<String, Map<TopicPartition, Errors>> byTxn = new HashMap<>();
        for (AddPartitionsToTxnResult r : response.data().resultsByTransaction()) {
            byTxn.put(r.transactionalId(), AddPartitionsToTxnResponse.errorsForTransaction(r.topicResults()));
        }
        batch.forEach((id, w) -> {
            Map<TopicPartition, Errors> raw = byTxn.get(id);
            if (raw == null) w.fail(Errors.UNKNOWN_SERVER_ERROR);
            else w.answer(raw);
        });
    }

    private BrokerClient client(int broker, Node node) {
        if (node.client == null) node.client = BrokerClient.to(vertx, view, broker, "runnel-txn-verification-" + self, requestTimeoutMs, link.get());
        return node.client;
    }

    /** Closes the connections (the broker is stopping). */
    public void stop() {
        context.runOnContext(v -> {
            nodes.values().forEach(n -> {
                if (n.client != null) n.client.close();
                n.waiting.values().forEach(w -> w.fail(Errors.NETWORK_EXCEPTION));
            });
            nodes.clear();
        });
    }
}
