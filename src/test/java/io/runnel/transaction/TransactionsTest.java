package io.runnel.transaction;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.catchThrowable;
import static org.awaitility.Awaitility.await;

import io.runnel.testkit.BrokerPerTest;
import io.runnel.testkit.Brokers;
import io.runnel.testkit.KafkaClients;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.TimeUnit;
import org.apache.kafka.clients.admin.Admin;
import org.apache.kafka.clients.admin.ListTransactionsOptions;
import org.apache.kafka.clients.admin.TopicDescription;
import org.apache.kafka.clients.admin.TransactionDescription;
import org.apache.kafka.clients.admin.TransactionListing;
import org.apache.kafka.clients.admin.TransactionState;
import org.apache.kafka.clients.consumer.ConsumerConfig;
import org.apache.kafka.clients.consumer.ConsumerRecord;
import org.apache.kafka.clients.consumer.KafkaConsumer;
import org.apache.kafka.clients.consumer.OffsetAndMetadata;
import org.apache.kafka.clients.producer.KafkaProducer;
import org.apache.kafka.clients.producer.ProducerConfig;
import org.apache.kafka.clients.producer.ProducerRecord;
import org.apache.kafka.common.KafkaException;
import org.apache.kafka.common.TopicPartition;
import org.apache.kafka.common.errors.InvalidProducerEpochException;
import org.apache.kafka.common.errors.ProducerFencedException;
import org.apache.kafka.common.errors.TransactionalIdNotFoundException;
import org.apache.kafka.common.utils.Time;
import org.junit.jupiter.api.Test;

/**
 * Kafka transactions end to end on one broker, with unmodified kafka-clients 4.4 producers and consumers: committed
 * transactions are seen by read_committed consumers and aborted ones are not, a second producer with the same
 * transactional id fences the first and aborts its open transaction, and a transaction left open past its timeout is
 * aborted by the coordinator.
 */
class TransactionsTest extends BrokerPerTest {
    private static final TopicPartition P0 = new TopicPartition("payments", 0);
    private static final TopicPartition P1 = new TopicPartition("payments", 1);

    @Override
    protected Map<String, String> brokerConfig() {
        return Map.of("transaction.abort.timed.out.transaction.cleanup.interval.ms", "200", "transaction.version", Integer.toString(transactionVersion()));
    }

    /** The transaction.version the broker finalizes: kafka-clients 4.4 uses version 2 when it is 2, version 1 otherwise. */
    protected int transactionVersion() {
        return 2;
    }

    private KafkaProducer<String, String> transactional(String id, Map<String, Object> extra) {
        Map<String, Object> config = new HashMap<>(Map.of(ProducerConfig.TRANSACTIONAL_ID_CONFIG, id));
        config.putAll(extra);
        return KafkaClients.producer(broker.bootstrapServers(), config);
    }

    @Test
    void readCommittedConsumersSeeCommittedTransactionsOnlyAndReadUncommittedOnesSeeEverything() throws Exception {
        createTopic("payments", 2);
        try (KafkaProducer<String, String> p = transactional("payments-app", Map.of())) {
            p.initTransactions();
            p.beginTransaction();
            for (int i = 0; i < 3; i++) p.send(new ProducerRecord<>("payments", i % 2, "k", "committed-" + i));
            p.commitTransaction();
            p.beginTransaction();
            for (int i = 0; i < 2; i++) p.send(new ProducerRecord<>("payments", i % 2, "k", "aborted-" + i));
            p.flush();
            p.abortTransaction();
            p.beginTransaction();
            p.send(new ProducerRecord<>("payments", 1, "k", "committed-3"));
            p.commitTransaction();
        }
        assertThat(readAll("read_committed")).containsExactlyInAnyOrder("committed-0", "committed-1", "committed-2", "committed-3");
        assertThat(readAll("read_uncommitted")).hasSize(6);
        try (Admin admin = KafkaClients.admin(broker.bootstrapServers())) {
            TopicDescription d = admin.describeTopics(List.of("__transaction_state")).allTopicNames().get(30, TimeUnit.SECONDS).get("__transaction_state");
            assertThat(d.isInternal()).isTrue();
            assertThat(admin.describeProducers(List.of(P0, P1)).all().get(30, TimeUnit.SECONDS).values())
                    .allSatisfy(s -> assertThat(s.activeProducers()).allSatisfy(ps -> assertThat(ps.currentTransactionStartOffset()).isEmpty()));
            // Version 2 bumps the producer epoch at the end of each of the three transactions that wrote to P1; version 1 never.
            assertThat(admin.describeProducers(List.of(P1)).partitionResult(P1).get(30, TimeUnit.SECONDS).activeProducers())
                    .singleElement().satisfies(ps -> assertThat(ps.producerEpoch()).isEqualTo(transactionVersion() == 2 ? 3 : 0));
        }
    }

    @Test
    void theAdminClientDescribesAndListsTransactionsWithTheirStateAndPartitions() throws Exception {
        createTopic("payments", 2);
        try (KafkaProducer<String, String> p = transactional("described-app", Map.of());
             Admin admin = KafkaClients.admin(broker.bootstrapServers())) {
            p.initTransactions();
            p.beginTransaction();
            p.send(new ProducerRecord<>("payments", 1, "k", "v"));
            p.flush();
            TransactionDescription open = admin.describeTransactions(List.of("described-app")).all().get(30, TimeUnit.SECONDS).get("described-app");
            assertThat(open.state()).isEqualTo(TransactionState.ONGOING);
            assertThat(open.topicPartitions()).containsExactly(P1);
            assertThat(open.coordinatorId()).isEqualTo(1);
            assertThat(admin.listTransactions(new ListTransactionsOptions().filterStates(List.of(TransactionState.ONGOING))).all()
                    .get(30, TimeUnit.SECONDS)).extracting(TransactionListing::transactionalId).containsExactly("described-app");
            p.commitTransaction();
            await().atMost(Duration.ofSeconds(30)).until(() -> admin.describeTransactions(List.of("described-app")).all().get(30, TimeUnit.SECONDS)
                    .get("described-app").state() == TransactionState.COMPLETE_COMMIT);
            assertThat(catchThrowable(() -> admin.describeTransactions(List.of("nobody")).all().get(30, TimeUnit.SECONDS)))
                    .hasCauseInstanceOf(TransactionalIdNotFoundException.class);
        }
    }

    @Test
    void aTransactionOpenAcrossABrokerRestartCommitsAfterwardsAndOneDecidedBeforeItIsCompleted() throws Exception {
        createTopic("payments", 2);
        try (KafkaProducer<String, String> p = transactional("restart-app", Map.of(ProducerConfig.DELIVERY_TIMEOUT_MS_CONFIG, 60_000,
                ProducerConfig.MAX_BLOCK_MS_CONFIG, 60_000))) {
            p.initTransactions();
            p.beginTransaction();
            p.send(new ProducerRecord<>("payments", 0, "k", "before-restart"));
            p.flush();
            restart();
            // The coordinator rebuilt the open transaction from __transaction_state, the partition its producer state.
            assertThat(endOffset("read_committed", P0)).as("still open: the last stable offset holds").isZero();
            p.send(new ProducerRecord<>("payments", 1, "k", "after-restart"));
            p.commitTransaction();
        }
        assertThat(readAll("read_committed")).containsExactlyInAnyOrder("before-restart", "after-restart");
    }

    @Test
    void aNewProducerWithTheSameTransactionalIdFencesTheOldOneAndAbortsItsOpenTransaction() throws Exception {
        createTopic("payments", 2);
        try (KafkaProducer<String, String> old = transactional("fenced-app", Map.of());
             KafkaProducer<String, String> successor = transactional("fenced-app", Map.of())) {
            old.initTransactions();
            old.beginTransaction();
            old.send(new ProducerRecord<>("payments", 0, "k", "zombie"));
            old.flush();

            successor.initTransactions(); // retried until the old producer's transaction is aborted
            successor.beginTransaction();
            successor.send(new ProducerRecord<>("payments", 0, "k", "successor"));
            successor.commitTransaction();

            Throwable fenced = catchThrowable(old::commitTransaction);
            assertThat(fenced).isInstanceOfAny(ProducerFencedException.class, InvalidProducerEpochException.class, KafkaException.class);
        }
        assertThat(readAll("read_committed")).containsExactly("successor");
    }

    @Test
    void aTransactionOpenPastItsTimeoutIsAbortedAndItsProducerFenced() throws Exception {
        createTopic("payments", 2);
        try (KafkaProducer<String, String> slow = transactional("slow-app", Map.of(ProducerConfig.TRANSACTION_TIMEOUT_CONFIG, 1000))) {
            slow.initTransactions();
            slow.beginTransaction();
            slow.send(new ProducerRecord<>("payments", 0, "k", "too-late"));
            slow.flush();
            // The coordinator aborts it: the partition's last stable offset moves past the record and its marker.
            await().atMost(Duration.ofSeconds(30)).until(() -> endOffset("read_committed", P0) == 2);
            Throwable fenced = catchThrowable(slow::commitTransaction);
            assertThat(fenced).as("the producer's epoch was bumped").isInstanceOf(KafkaException.class);
        }
        assertThat(readAll("read_committed")).isEmpty();
    }

    @Test
    void consumeTransformProduceCommitsOutputAndOffsetsTogetherSoAnAbortedBatchIsProcessedAgainExactlyOnce() throws Exception {
        createTopic("payments", 2);
        createTopic("receipts", 1);
        try (KafkaProducer<String, String> p = KafkaClients.producer(broker.bootstrapServers(), Map.of())) {
            for (int i = 0; i < 20; i++) p.send(new ProducerRecord<>("payments", i % 2, "k" + i, "p" + i));
        }
        Map<String, Object> consumerConfig = Map.of(ConsumerConfig.ISOLATION_LEVEL_CONFIG, "read_committed", ConsumerConfig.MAX_POLL_RECORDS_CONFIG, 4);
        int abortedOnce = 0;
        try (KafkaProducer<String, String> producer = transactional("receipts-app", Map.of());
             KafkaConsumer<String, String> consumer = KafkaClients.groupConsumer(broker.bootstrapServers(), "classic", "receipts", consumerConfig)) {
            producer.initTransactions();
            consumer.subscribe(List.of("payments"));
            long deadline = System.nanoTime() + Duration.ofSeconds(60).toNanos();
            int processed = 0;
            while (processed < 20 && System.nanoTime() < deadline) {
                var records = consumer.poll(Duration.ofMillis(200));
                if (records.isEmpty()) continue;
                producer.beginTransaction();
                Map<TopicPartition, OffsetAndMetadata> next = new HashMap<>();
                for (ConsumerRecord<String, String> r : records) {
                    producer.send(new ProducerRecord<>("receipts", r.key(), "receipt-" + r.value()));
                    next.put(new TopicPartition(r.topic(), r.partition()), new OffsetAndMetadata(r.offset() + 1));
                }
                producer.sendOffsetsToTransaction(next, consumer.groupMetadata());
                if (abortedOnce == 0 && processed >= 8) {
                    // A failure in the middle: the output and the offsets of this batch go together, and the batch comes again.
                    producer.abortTransaction();
                    abortedOnce = records.count();
                    for (TopicPartition tp : consumer.assignment()) {
                        OffsetAndMetadata committed = consumer.committed(Set.of(tp)).get(tp);
                        consumer.seek(tp, committed == null ? 0 : committed.offset());
                    }
                    continue;
                }
                producer.commitTransaction();
                processed += records.count();
            }
            assertThat(processed).isEqualTo(20);
        }
        assertThat(abortedOnce).isPositive();
        List<String> receipts = new ArrayList<>();
        TopicPartition out = new TopicPartition("receipts", 0);
        try (KafkaConsumer<String, String> c = KafkaClients.consumer(broker.bootstrapServers(), Map.of(ConsumerConfig.ISOLATION_LEVEL_CONFIG, "read_committed"))) {
            c.assign(List.of(out));
            c.seekToBeginning(List.of(out));
            long end = c.endOffsets(List.of(out)).get(out);
            long deadline = System.nanoTime() + Duration.ofSeconds(30).toNanos();
            while (c.position(out) < end && System.nanoTime() < deadline) c.poll(Duration.ofMillis(200)).forEach(r -> receipts.add(r.value()));
        }
        assertThat(receipts).as("every payment once, none twice").hasSize(20).doesNotHaveDuplicates();
        assertThat(committedOffsets("receipts")).isEqualTo(20);
        // After a restart the group coordinator rebuilds them from the log: offsets written in transactions, then markers.
        broker.stop().get(30, TimeUnit.SECONDS);
        broker = Brokers.start(data, brokerConfig(), Time.SYSTEM);
        assertThat(committedOffsets("receipts")).isEqualTo(20);
    }

    /** Restarts the broker on the same Kafka port, so that a producer's connections find it again. */
    private void restart() throws Exception {
        int port = broker.kafkaPort("PLAINTEXT");
        broker.stop().get(30, TimeUnit.SECONDS);
        broker = Brokers.start(data, Map.of("listeners", "PLAINTEXT://127.0.0.1:" + port, "transaction.abort.timed.out.transaction.cleanup.interval.ms", "200"),
                Time.SYSTEM);
    }

    private long committedOffsets(String group) throws Exception {
        try (Admin admin = KafkaClients.admin(broker.bootstrapServers())) {
            return admin.listConsumerGroupOffsets(group).partitionsToOffsetAndMetadata().get(30, TimeUnit.SECONDS).values().stream()
                    .mapToLong(OffsetAndMetadata::offset).sum();
        }
    }

    private long endOffset(String isolation, TopicPartition tp) {
        try (KafkaConsumer<String, String> c = KafkaClients.consumer(broker.bootstrapServers(), Map.of(ConsumerConfig.ISOLATION_LEVEL_CONFIG, isolation))) {
            return c.endOffsets(List.of(tp)).get(tp);
        }
    }

    /** Every record of both partitions a consumer of {@code isolation} reads up to its end offsets. */
    private List<String> readAll(String isolation) {
        try (KafkaConsumer<String, String> c = KafkaClients.consumer(broker.bootstrapServers(), Map.of(ConsumerConfig.ISOLATION_LEVEL_CONFIG, isolation))) {
            List<TopicPartition> tps = List.of(P0, P1);
            c.assign(tps);
            c.seekToBeginning(tps);
            Map<TopicPartition, Long> end = c.endOffsets(tps);
            List<String> out = new ArrayList<>();
            long deadline = System.nanoTime() + Duration.ofSeconds(30).toNanos();
            while (tps.stream().anyMatch(tp -> c.position(tp) < end.get(tp)) && System.nanoTime() < deadline) {
                for (ConsumerRecord<String, String> r : c.poll(Duration.ofMillis(200))) out.add(r.value());
            }
            for (TopicPartition tp : tps) assertThat(c.position(tp)).as("read to the end of %s", tp).isEqualTo(end.get(tp));
            return out;
        }
    }
}
