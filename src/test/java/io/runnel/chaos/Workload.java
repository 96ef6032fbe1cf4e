package io.runnel.chaos;

import io.runnel.chaos.History.Entry;
import io.vertx.core.json.JsonArray;
import io.vertx.core.json.JsonObject;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.WebSocket;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Properties;
import java.util.concurrent.BlockingQueue;
import java.util.concurrent.CompletionStage;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.locks.LockSupport;
import org.apache.kafka.clients.admin.Admin;
import org.apache.kafka.clients.admin.AdminClientConfig;
import org.apache.kafka.clients.admin.ListOffsetsOptions;
import org.apache.kafka.clients.admin.NewTopic;
import org.apache.kafka.clients.admin.OffsetSpec;
import org.apache.kafka.clients.consumer.ConsumerConfig;
import org.apache.kafka.clients.consumer.ConsumerRecord;
import org.apache.kafka.clients.consumer.ConsumerRecords;
import org.apache.kafka.clients.consumer.KafkaConsumer;
import org.apache.kafka.clients.consumer.OffsetAndMetadata;
import org.apache.kafka.clients.producer.KafkaProducer;
import org.apache.kafka.clients.producer.ProducerConfig;
import org.apache.kafka.clients.producer.ProducerRecord;
import org.apache.kafka.common.IsolationLevel;
import org.apache.kafka.common.KafkaException;
import org.apache.kafka.common.TopicPartition;
import org.apache.kafka.common.errors.TopicExistsException;
import org.apache.kafka.common.serialization.StringDeserializer;
import org.apache.kafka.common.serialization.StringSerializer;

/**
 * The load of a chaos run, through unmodified kafka-clients in this JVM (the root namespace): idempotent acks=all
 * producers at a fixed rate, a consumer group that commits after processing (at-least-once), a transactional
 * read-process-write copy (as Kafka Streams' exactly_once_v2 does it: outputs and input offsets in one transaction,
 * every seventh transaction aborted on purpose after writing a marker record), a read_committed reader of the
 * copy's output, and WebSocket subscribers (one per partition, at its leader, with credits, moving to the new
 * leader when leadership moves). Everything it is told and sees goes into the {@link History}. Every loop ends when told to stop.
 */
final class Workload implements AutoCloseable {
    static final String TOPIC = "chaos";
    static final String OUTPUT = "chaos-out";
    static final String GROUP = "chaos-group";
    static final String COPY_GROUP = "chaos-copy";
    static final int PARTITIONS = 6;
    private static final int KEYS_PER_PRODUCER = 16;

    private final String bootstrap;
    private final History history;
    private final int producers;
    private final int consumers;
    private final int recordsPerSecond;
    private final int replicationFactor;
    private final AtomicBoolean stopProducing = new AtomicBoolean();
    private final AtomicBoolean stopReading = new AtomicBoolean();
    private final List<Thread> producerThreads = new ArrayList<>();
    private final List<Thread> readerThreads = new ArrayList<>();
    private final Admin admin;

    Workload(String bootstrap, History history, int producers, int consumers, int recordsPerSecond, int replicationFactor) {
        this.bootstrap = bootstrap;
        this.history = history;
        this.producers = producers;
        this.consumers = consumers;
        this.recordsPerSecond = recordsPerSecond;
        this.replicationFactor = replicationFactor;
        Properties p = common();
        p.put(AdminClientConfig.DEFAULT_API_TIMEOUT_MS_CONFIG, "15000");
        this.admin = Admin.create(p);
    }

    private Properties common() {
        Properties p = new Properties();
        p.put("bootstrap.servers", bootstrap);
        p.put("request.timeout.ms", "10000");
        p.put("metadata.max.age.ms", "5000");
        p.put("reconnect.backoff.max.ms", "1000");
        return p;
    }

    /** Creates the topics (retrying while the cluster forms), at most {@code timeout}. */
    void createTopics(Duration timeout) throws InterruptedException {
        long deadline = System.nanoTime() + timeout.toNanos();
        Map<String, String> configs = Map.of("min.insync.replicas", Integer.toString(Math.min(2, replicationFactor)));
        for (String topic : List.of(TOPIC, OUTPUT)) {
            while (true) {
                try {
                    admin.createTopics(List.of(new NewTopic(topic, PARTITIONS, (short) replicationFactor).configs(configs))).all().get(20, TimeUnit.SECONDS);
                    break;
                } catch (ExecutionException e) {
                    if (e.getCause() instanceof TopicExistsException) break;
                    if (System.nanoTime() > deadline) throw new IllegalStateException("cannot create " + topic, e.getCause());
                } catch (java.util.concurrent.TimeoutException e) {
                    if (System.nanoTime() > deadline) throw new IllegalStateException("cannot create " + topic + " in " + timeout);
                }
                LockSupport.parkNanos(TimeUnit.MILLISECONDS.toNanos(500)); // the cluster is still forming: ask again shortly
            }
        }
    }

    void start() {
        for (int i = 0; i < producers; i++) {
            int id = i;
            producerThreads.add(thread("chaos-producer-" + i, () -> produce(id)));
        }
        for (int i = 0; i < consumers; i++) readerThreads.add(thread("chaos-consumer-" + i, this::consume));
        readerThreads.add(thread("chaos-copy", this::copy));
        readerThreads.add(thread("chaos-read-committed", this::readCommitted));
        readerThreads.add(thread("chaos-offsets", this::observeOffsets));
        for (int p = 0; p < PARTITIONS; p++) {
            int partition = p;
            readerThreads.add(thread("chaos-websocket-" + p, () -> subscribeWebSocket(partition)));
        }
    }

    private static Thread thread(String name, Runnable r) {
        Thread t = new Thread(r, name);
        t.setDaemon(true);
        t.start();
        return t;
    }

    // ---- producers

    private void produce(int id) {
        Properties p = common();
        p.put(ProducerConfig.ACKS_CONFIG, "all");
        p.put(ProducerConfig.ENABLE_IDEMPOTENCE_CONFIG, "true");
        p.put(ProducerConfig.LINGER_MS_CONFIG, "5");
        p.put(ProducerConfig.DELIVERY_TIMEOUT_MS_CONFIG, "60000");
        p.put(ProducerConfig.MAX_BLOCK_MS_CONFIG, "10000");
        p.put(ProducerConfig.BUFFER_MEMORY_CONFIG, Integer.toString(4 << 20));
        long[] seq = new long[KEYS_PER_PRODUCER];
        long intervalNanos = TimeUnit.SECONDS.toNanos(1) / Math.max(1, recordsPerSecond);
        try (KafkaProducer<String, String> producer = new KafkaProducer<>(p, new StringSerializer(), new StringSerializer())) {
            long next = System.nanoTime();
            int n = 0;
            while (!stopProducing.get()) {
                int k = n++ % KEYS_PER_PRODUCER;
                String key = "p" + id + "-k" + k;
                String value = key + ":" + seq[k]++;
                try {
                    producer.send(new ProducerRecord<>(TOPIC, key, value), (md, e) -> {
                        if (e == null) {
                            history.acks.add(new History.Ack(value, md.partition(), md.offset(), System.currentTimeMillis()));
                        } else {
                            history.sendFailures.incrementAndGet();
                            history.failedSends.add(new History.SendFailure(md == null ? -1 : md.partition(), System.currentTimeMillis()));
                            history.error("produce", e);
                        }
                    });
                } catch (KafkaException e) {
                    history.sendFailures.incrementAndGet();
                    history.failedSends.add(new History.SendFailure(-1, System.currentTimeMillis()));
                    history.error("produce", e);
                }
                next += intervalNanos;
                long wait = next - System.nanoTime();
                if (wait > 0) LockSupport.parkNanos(wait); // pacing at the fixed rate
                else if (wait < -TimeUnit.SECONDS.toNanos(1)) next = System.nanoTime(); // blocked for long: do not burst to catch up
            }
            producer.flush();
        }
    }

    // ---- the consumer group, at-least-once: process, then commit

    /** A member of consumer group {@code group} that commits by itself, from the earliest offset, failing over within 10 s. */
    private Properties groupMember(String group) {
        Properties p = common();
        p.put(ConsumerConfig.GROUP_ID_CONFIG, group);
        p.put(ConsumerConfig.AUTO_OFFSET_RESET_CONFIG, "earliest");
        p.put(ConsumerConfig.ENABLE_AUTO_COMMIT_CONFIG, "false");
        p.put(ConsumerConfig.SESSION_TIMEOUT_MS_CONFIG, "10000");
        p.put(ConsumerConfig.HEARTBEAT_INTERVAL_MS_CONFIG, "1000");
        return p;
    }

    private void consume() {
        Properties p = groupMember(GROUP);
        try (KafkaConsumer<String, String> consumer = new KafkaConsumer<>(p, new StringDeserializer(), new StringDeserializer())) {
            consumer.subscribe(List.of(TOPIC));
            while (!stopReading.get()) {
                try {
                    ConsumerRecords<String, String> records = consumer.poll(Duration.ofMillis(500));
                    if (records.isEmpty()) continue;
                    Map<TopicPartition, OffsetAndMetadata> next = new HashMap<>();
                    for (ConsumerRecord<String, String> r : records) {
                        history.reads.add(new History.Read(History.GROUP, r.partition(), r.offset(), r.value()));
                        next.put(new TopicPartition(r.topic(), r.partition()), new OffsetAndMetadata(r.offset() + 1));
                    }
                    consumer.commitSync(next, Duration.ofSeconds(10));
                    long now = System.currentTimeMillis();
                    next.forEach((tp, o) -> history.commits.add(new History.Offset(tp.partition(), o.offset(), now)));
                } catch (KafkaException e) {
                    history.error("consume", e);
                }
            }
        }
    }

    private void observeOffsets() {
        while (!stopReading.get()) {
            try {
                long now = System.currentTimeMillis();
                admin.listConsumerGroupOffsets(GROUP).partitionsToOffsetAndMetadata().get(10, TimeUnit.SECONDS)
                        .forEach((tp, o) -> {
                            if (o != null) history.observedOffsets.add(new History.Offset(tp.partition(), o.offset(), now));
                        });
            } catch (ExecutionException | java.util.concurrent.TimeoutException e) {
                history.error("list offsets", e);
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                return;
            }
            LockSupport.parkNanos(TimeUnit.SECONDS.toNanos(1)); // one observation a second
        }
    }

    // ---- the transactional copy, read_committed in, transactions out

    private void copy() {
        long transactions = 0;
        while (!stopReading.get()) {
            KafkaConsumer<String, String> consumer = null;
            KafkaProducer<String, String> producer = null;
            try {
                Properties c = groupMember(COPY_GROUP);
                c.put(ConsumerConfig.ISOLATION_LEVEL_CONFIG, "read_committed");
                consumer = new KafkaConsumer<>(c, new StringDeserializer(), new StringDeserializer());
                Properties p = common();
                p.put(ProducerConfig.TRANSACTIONAL_ID_CONFIG, "chaos-copy");
                p.put(ProducerConfig.TRANSACTION_TIMEOUT_CONFIG, "30000");
                p.put(ProducerConfig.DELIVERY_TIMEOUT_MS_CONFIG, "30000");
                p.put(ProducerConfig.MAX_BLOCK_MS_CONFIG, "20000");
                producer = new KafkaProducer<>(p, new StringSerializer(), new StringSerializer());
                producer.initTransactions();
                consumer.subscribe(List.of(TOPIC));
                while (!stopReading.get()) {
                    ConsumerRecords<String, String> records = consumer.poll(Duration.ofMillis(500));
                    if (records.isEmpty()) continue;
                    transactions++;
                    Map<TopicPartition, OffsetAndMetadata> next = new HashMap<>();
                    Map<TopicPartition, Long> first = new HashMap<>();
                    producer.beginTransaction();
                    for (ConsumerRecord<String, String> r : records) {
                        producer.send(new ProducerRecord<>(OUTPUT, r.partition(), r.key(), r.value()));
                        TopicPartition tp = new TopicPartition(r.topic(), r.partition());
                        first.putIfAbsent(tp, r.offset());
                        next.put(tp, new OffsetAndMetadata(r.offset() + 1));
                    }
                    if (transactions % 7 == 0) {
                        producer.send(new ProducerRecord<>(OUTPUT, 0, null, History.ABORTED_PREFIX + transactions));
                        producer.flush();
                        producer.abortTransaction();
                        history.transactionsAborted.incrementAndGet();
                        first.forEach(consumer::seek); // the aborted inputs are processed again
                    } else {
                        producer.sendOffsetsToTransaction(next, consumer.groupMetadata());
                        producer.commitTransaction();
                        history.transactionsCommitted.incrementAndGet();
                    }
                }
            } catch (KafkaException | IllegalStateException e) {
                // Whatever failed, start again as Kafka Streams does with a task: a new producer's initTransactions
                // completes or aborts the open transaction, and a new consumer resumes from the committed offsets,
                // which moved together with the outputs.
                history.error("copy", e);
            } finally {
                if (producer != null) producer.close(Duration.ofSeconds(5));
                if (consumer != null) consumer.close(Duration.ofSeconds(5));
            }
        }
    }

    private void readCommitted() {
        Properties p = common();
        p.put(ConsumerConfig.ISOLATION_LEVEL_CONFIG, "read_committed");
        try (KafkaConsumer<String, String> consumer = new KafkaConsumer<>(p, new StringDeserializer(), new StringDeserializer())) {
            List<TopicPartition> tps = new ArrayList<>();
            for (int i = 0; i < PARTITIONS; i++) tps.add(new TopicPartition(OUTPUT, i));
            consumer.assign(tps);
            consumer.seekToBeginning(tps);
            while (!stopReading.get()) {
                try {
                    for (ConsumerRecord<String, String> r : consumer.poll(Duration.ofMillis(500))) {
                        history.reads.add(new History.Read(History.COMMITTED_READER, r.partition(), r.offset(), r.value()));
                    }
                } catch (KafkaException e) {
                    history.error("read_committed", e);
                }
            }
        }
    }

    // ---- WebSocket subscribers: one per partition, at its leader, following it when it moves

    /**
     * Reads partition {@code partition} over the leader's WebSocket endpoint with credits (250 records at a time),
     * and when the socket fails or the broker stops leading, subscribes again at the new leader from the next offset.
     */
    private void subscribeWebSocket(int partition) {
        HttpClient http = HttpClient.newBuilder().connectTimeout(Duration.ofSeconds(3)).build();
        long next = 0;
        while (!stopReading.get()) {
            WebSocket ws = null;
            try {
                org.apache.kafka.common.Node leaderNode = admin.describeTopics(List.of(TOPIC)).allTopicNames().get(10, TimeUnit.SECONDS).get(TOPIC)
                        .partitions().get(partition).leader();
                if (leaderNode == null || leaderNode.isEmpty()) {
                    LockSupport.parkNanos(TimeUnit.MILLISECONDS.toNanos(500)); // no leader at the moment: ask again shortly
                    continue;
                }
                String leader = leaderNode.host();
                // One frame is asked for at a time (the reader asks for the next), so the queue holds at most that
                // frame and the close signal.
                BlockingQueue<JsonObject> frames = new LinkedBlockingQueue<>(4);
                ws = http.newWebSocketBuilder().connectTimeout(Duration.ofSeconds(3))
                        .buildAsync(URI.create("ws://" + leader + ":" + ChaosCluster.HTTP_PORT + "/ws"), new Frames(frames)).get(10, TimeUnit.SECONDS);
                ws.sendText(new JsonObject().put("op", "subscribe").put("id", 1).put("topic", TOPIC).put("partitions", new JsonArray().add(partition))
                        .put("from", new JsonObject().put("offset", next)).put("credit", new JsonObject().put("records", 250)).encode(), true);
                int sinceCredit = 0;
                long leaderCheckAt = System.nanoTime() + TimeUnit.SECONDS.toNanos(5);
                while (!stopReading.get()) {
                    JsonObject f = frames.poll(1, TimeUnit.SECONDS);
                    if (System.nanoTime() - leaderCheckAt > 0) {
                        // The server does not end a subscription when its broker stops leading: follow the leader.
                        leaderCheckAt = System.nanoTime() + TimeUnit.SECONDS.toNanos(5);
                        org.apache.kafka.common.Node now = admin.describeTopics(List.of(TOPIC)).allTopicNames().get(10, TimeUnit.SECONDS).get(TOPIC)
                                .partitions().get(partition).leader();
                        if (now != null && !now.isEmpty() && !now.host().equals(leader)) break;
                    }
                    if (f == null) continue;
                    ws.request(1);
                    String type = f.getString("type", "");
                    if (type.equals("error") || type.equals("closed")) {
                        history.error("websocket", new IllegalStateException(f.getString("code", "closed")));
                        break;
                    }
                    if (!type.equals("records")) continue;
                    for (Object o : f.getJsonArray("records")) {
                        JsonObject r = (JsonObject) o;
                        history.reads.add(new History.Read(History.WEBSOCKET, r.getInteger("partition"), r.getLong("offset"), r.getString("value")));
                        next = r.getLong("offset") + 1;
                        sinceCredit++;
                    }
                    if (sinceCredit >= 125) {
                        ws.sendText(new JsonObject().put("op", "credit").put("subscription", f.getString("subscription")).put("records", sinceCredit).encode(), true);
                        sinceCredit = 0;
                    }
                }
            } catch (ExecutionException | java.util.concurrent.TimeoutException | RuntimeException e) {
                history.error("websocket", e);
                LockSupport.parkNanos(TimeUnit.MILLISECONDS.toNanos(500)); // no leader or no socket yet: ask again shortly
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                return;
            } finally {
                if (ws != null) ws.abort();
            }
        }
    }

    /** Collects a socket's text frames (reassembling fragments) as JSON; a close becomes a {@code closed} frame. */
    private static final class Frames implements WebSocket.Listener {
        private final BlockingQueue<JsonObject> frames;
        private final StringBuilder partial = new StringBuilder();

        Frames(BlockingQueue<JsonObject> frames) {
            this.frames = frames;
        }

        @Override
        public CompletionStage<?> onText(WebSocket ws, CharSequence data, boolean last) {
            partial.append(data);
            if (last) {
                frames.offer(new JsonObject(partial.toString())); // room: one frame is asked for at a time
                partial.setLength(0);
            } else {
                ws.request(1); // the rest of this frame
            }
            return null;
        }

        @Override
        public CompletionStage<?> onClose(WebSocket ws, int status, String reason) {
            frames.offer(new JsonObject().put("type", "closed"));
            return null;
        }

        @Override
        public void onError(WebSocket ws, Throwable error) {
            frames.offer(new JsonObject().put("type", "closed"));
        }
    }

    // ---- the end of a run

    void stopProducers() throws InterruptedException {
        stopProducing.set(true);
        for (Thread t : producerThreads) t.join(TimeUnit.SECONDS.toMillis(90));
    }

    /**
     * Waits until the consumer group and the copy have committed everything produced; false if they have not within
     * {@code timeout} (the cluster did not recover).
     */
    boolean awaitCaughtUp(Duration timeout) throws InterruptedException {
        long deadline = System.nanoTime() + timeout.toNanos();
        while (System.nanoTime() < deadline) {
            try {
                Map<TopicPartition, Long> ends = endOffsets(TOPIC);
                if (committedAtLeast(GROUP, ends) && committedAtLeast(COPY_GROUP, ends)) return true;
            } catch (ExecutionException | java.util.concurrent.TimeoutException e) {
                // a partition without a leader yet: ask again
            }
            LockSupport.parkNanos(TimeUnit.MILLISECONDS.toNanos(500)); // polling for a condition
        }
        return false;
    }

    private Map<TopicPartition, Long> endOffsets(String topic) throws ExecutionException, InterruptedException, java.util.concurrent.TimeoutException {
        Map<TopicPartition, OffsetSpec> specs = new HashMap<>();
        for (int i = 0; i < PARTITIONS; i++) specs.put(new TopicPartition(topic, i), OffsetSpec.latest());
        Map<TopicPartition, Long> out = new HashMap<>();
        admin.listOffsets(specs).all().get(10, TimeUnit.SECONDS).forEach((tp, info) -> out.put(tp, info.offset()));
        return out;
    }

    private boolean committedAtLeast(String group, Map<TopicPartition, Long> ends) throws ExecutionException, InterruptedException, java.util.concurrent.TimeoutException {
        Map<TopicPartition, OffsetAndMetadata> committed = admin.listConsumerGroupOffsets(group).partitionsToOffsetAndMetadata().get(10, TimeUnit.SECONDS);
        for (Map.Entry<TopicPartition, Long> e : ends.entrySet()) {
            OffsetAndMetadata o = committed.get(e.getKey());
            if (e.getValue() > 0 && (o == null || o.offset() < e.getValue())) return false;
        }
        return true;
    }

    void stopReaders() throws InterruptedException {
        stopReading.set(true);
        for (Thread t : readerThreads) t.join(TimeUnit.SECONDS.toMillis(60));
    }

    /** Reads back the topics and the committed offsets into the history. */
    void readFinalState() throws Exception {
        awaitNoOpenTransactions(Duration.ofSeconds(60));
        history.finalLog = readAll(TOPIC, "read_uncommitted");
        history.finalOutput = readAll(OUTPUT, "read_committed");
        history.finalCommitted = committed(GROUP);
        history.copyCommitted = committed(COPY_GROUP);
    }

    /**
     * Waits until the output's last stable offset is its end (no transaction left open by a copy that was replaced
     * mid-transaction: the coordinator aborts it within the transaction timeout), so that the read_committed read
     * sees every decided transaction.
     */
    private void awaitNoOpenTransactions(Duration timeout) throws Exception {
        Map<TopicPartition, OffsetSpec> specs = new HashMap<>();
        for (int i = 0; i < PARTITIONS; i++) specs.put(new TopicPartition(OUTPUT, i), OffsetSpec.latest());
        long deadline = System.nanoTime() + timeout.toNanos();
        while (System.nanoTime() < deadline) {
            Map<TopicPartition, Long> stable = new HashMap<>();
            admin.listOffsets(specs, new ListOffsetsOptions(IsolationLevel.READ_COMMITTED)).all().get(10, TimeUnit.SECONDS)
                    .forEach((tp, info) -> stable.put(tp, info.offset()));
            if (stable.equals(endOffsets(OUTPUT))) return;
            LockSupport.parkNanos(TimeUnit.MILLISECONDS.toNanos(500)); // polling for a condition
        }
    }

    private Map<Integer, Long> committed(String group) throws Exception {
        Map<Integer, Long> out = new HashMap<>();
        admin.listConsumerGroupOffsets(group).partitionsToOffsetAndMetadata().get(30, TimeUnit.SECONDS).forEach((tp, o) -> {
            if (o != null && tp.topic().equals(TOPIC)) out.put(tp.partition(), o.offset());
        });
        return out;
    }

    private Map<Integer, List<Entry>> readAll(String topic, String isolation) {
        Properties p = common();
        p.put(ConsumerConfig.ISOLATION_LEVEL_CONFIG, isolation);
        Map<Integer, List<Entry>> out = new HashMap<>();
        try (KafkaConsumer<String, String> consumer = new KafkaConsumer<>(p, new StringDeserializer(), new StringDeserializer())) {
            List<TopicPartition> tps = new ArrayList<>();
            for (int i = 0; i < PARTITIONS; i++) {
                tps.add(new TopicPartition(topic, i));
                out.put(i, new ArrayList<>());
            }
            consumer.assign(tps);
            consumer.seekToBeginning(tps);
            Map<TopicPartition, Long> ends = consumer.endOffsets(tps, Duration.ofSeconds(30));
            long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(120);
            while (tps.stream().anyMatch(tp -> consumer.position(tp, Duration.ofSeconds(30)) < ends.get(tp))) {
                if (System.nanoTime() > deadline) throw new IllegalStateException("could not read " + topic + " to its end in 120 s");
                for (ConsumerRecord<String, String> r : consumer.poll(Duration.ofMillis(500))) {
                    out.get(r.partition()).add(new Entry(r.offset(), r.value()));
                }
            }
        }
        return out;
    }

    @Override
    public void close() throws InterruptedException {
        stopProducing.set(true);
        stopReading.set(true);
        for (Thread t : producerThreads) t.join(TimeUnit.SECONDS.toMillis(30));
        for (Thread t : readerThreads) t.join(TimeUnit.SECONDS.toMillis(30));
        admin.close(Duration.ofSeconds(5));
    }
}
