package io.runnel.kafka;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import io.runnel.server.Broker;
import io.runnel.testkit.Batches;
import io.runnel.testkit.Brokers;
import io.runnel.testkit.KafkaClients;
import io.runnel.testkit.ProcessStats;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.net.InetSocketAddress;
import java.net.Socket;
import java.nio.ByteBuffer;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Random;
import java.util.concurrent.TimeUnit;
import org.apache.kafka.clients.consumer.ConsumerConfig;
import org.apache.kafka.clients.consumer.ConsumerGroupMetadata;
import org.apache.kafka.clients.consumer.OffsetAndMetadata;
import org.apache.kafka.clients.consumer.ConsumerRecord;
import org.apache.kafka.clients.consumer.KafkaConsumer;
import org.apache.kafka.clients.producer.KafkaProducer;
import org.apache.kafka.clients.producer.ProducerConfig;
import org.apache.kafka.clients.producer.ProducerRecord;
import org.apache.kafka.common.IsolationLevel;
import org.apache.kafka.common.TopicPartition;
import org.apache.kafka.common.compress.Compression;
import org.apache.kafka.common.message.AddOffsetsToTxnRequestData;
import org.apache.kafka.common.message.AddPartitionsToTxnRequestData.AddPartitionsToTxnTopic;
import org.apache.kafka.common.message.AddPartitionsToTxnRequestData.AddPartitionsToTxnTopicCollection;
import org.apache.kafka.common.message.AddPartitionsToTxnRequestData.AddPartitionsToTxnTransaction;
import org.apache.kafka.common.message.AddPartitionsToTxnRequestData.AddPartitionsToTxnTransactionCollection;
import org.apache.kafka.common.message.DescribeTransactionsRequestData;
import org.apache.kafka.common.message.EndTxnRequestData;
import org.apache.kafka.common.message.InitProducerIdRequestData;
import org.apache.kafka.common.message.ListOffsetsRequestData.ListOffsetsPartition;
import org.apache.kafka.common.message.ListOffsetsRequestData.ListOffsetsTopic;
import org.apache.kafka.common.message.ListTransactionsRequestData;
import org.apache.kafka.common.message.MetadataRequestData;
import org.apache.kafka.common.message.ProduceRequestData;
import org.apache.kafka.common.message.TxnOffsetCommitRequestData;
import org.apache.kafka.common.protocol.ApiKeys;
import org.apache.kafka.common.record.internal.MemoryRecords;
import org.apache.kafka.common.record.internal.SimpleRecord;
import org.apache.kafka.common.requests.AbstractRequest;
import org.apache.kafka.common.requests.AddOffsetsToTxnRequest;
import org.apache.kafka.common.requests.AddPartitionsToTxnRequest;
import org.apache.kafka.common.requests.ApiVersionsRequest;
import org.apache.kafka.common.requests.DescribeTransactionsRequest;
import org.apache.kafka.common.requests.EndTxnRequest;
import org.apache.kafka.common.requests.FetchRequest;
import org.apache.kafka.common.requests.InitProducerIdRequest;
import org.apache.kafka.common.requests.ListOffsetsRequest;
import org.apache.kafka.common.requests.ListTransactionsRequest;
import org.apache.kafka.common.requests.MetadataRequest;
import org.apache.kafka.common.requests.ProduceRequest;
import org.apache.kafka.common.requests.RequestHeader;
import org.apache.kafka.common.requests.TransactionResult;
import org.apache.kafka.common.requests.TxnOffsetCommitRequest;
import org.apache.kafka.common.requests.WriteTxnMarkersRequest;
import org.apache.kafka.common.utils.Time;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Thousands of random and mutated frames on several connections: garbage, truncated frames, absurd sizes, unknown
 * APIs and versions, valid requests with flipped bytes. The broker may answer or close each connection, but must
 * stay up, keep serving a normal client, and give back its file handles and heap. Seeded: a failure names its seed.
 */
class ProtocolFuzzTest {
    private static final int FRAMES = 4_000;
    private static final int CONNECTIONS = 4;
    private static final long MAX_MS = 60_000;

    @TempDir
    Path data;

    @Test
    void garbageNeverHurtsTheBrokerOrOtherClients() throws Exception {
        long seed = Long.getLong("fuzz.seed", System.nanoTime());
        Random rnd = new Random(seed);
        Broker broker = Brokers.start(data, Map.of("auto.create.topics.enable", "false", "socket.request.max.bytes", "1048576"),
                Time.SYSTEM);
        try {
            Brokers.await(broker.topicAdmin().createTopic("fuzz", 2, Map.of()));
            String[] hp = broker.bootstrapServers().split(":");
            InetSocketAddress addr = new InetSocketAddress(hp[0], Integer.parseInt(hp[1]));
            List<byte[]> templates = templates(broker);
            // Warm up, then take the baseline.
            roundTrip(broker.bootstrapServers(), "warm-up");
            transactionalRoundTrip(broker.bootstrapServers(), "warm-up"); // creates __transaction_state and __consumer_offsets first
            long filesBefore = ProcessStats.filesUnder(data);
            long heapBefore = ProcessStats.heapUsedAfterGc();

            FuzzConnection[] conns = new FuzzConnection[CONNECTIONS];
            for (int i = 0; i < CONNECTIONS; i++) conns[i] = new FuzzConnection(addr);
            long deadline = System.currentTimeMillis() + MAX_MS;
            int reconnects = 0;
            for (int i = 0; i < FRAMES && System.currentTimeMillis() < deadline; i++) {
                int c = rnd.nextInt(CONNECTIONS);
                if (!conns[c].send(frame(rnd, templates))) {
                    conns[c].close();
                    conns[c] = new FuzzConnection(addr);
                    reconnects++;
                }
            }
            for (FuzzConnection c : conns) c.close();
            assertThat(reconnects).as("seed %d: some frames must have been refused", seed).isPositive();

            roundTrip(broker.bootstrapServers(), "after-fuzz");
            transactionalRoundTrip(broker.bootstrapServers(), "after-fuzz");
            assertThat(broker.isReady()).isTrue();
            await().atMost(Duration.ofSeconds(30)).untilAsserted(() -> {
                assertThat(ProcessStats.filesUnder(data)).as("seed %d: open files of the log", seed).isLessThanOrEqualTo(filesBefore);
                assertThat(ProcessStats.connectionsAcceptedOn(addr.getPort())).as("seed %d: connections still open", seed).isZero();
                assertThat(ProcessStats.heapUsedAfterGc()).as("seed %d: heap", seed).isLessThan(heapBefore + (64L << 20));
                assertThat(broker.kafkaInflightRequestBytes()).isZero();
            });
        } finally {
            broker.stop().get(30, TimeUnit.SECONDS);
        }
    }

    /** Valid requests of several APIs and versions, serialized with their size prefix. */
    private static List<byte[]> templates(Broker broker) {
        List<AbstractRequest> requests = new ArrayList<>();
        requests.add(new ApiVersionsRequest.Builder().build((short) 3));
        requests.add(new MetadataRequest(new MetadataRequestData().setTopics(MetadataRequest.convertToMetadataRequestTopic(List.of("fuzz")))
                .setAllowAutoTopicCreation(false), (short) 12));
        requests.add(new MetadataRequest(new MetadataRequestData().setTopics(MetadataRequest.convertToMetadataRequestTopic(List.of("fuzz"))), (short) 0));
        ProduceRequestData pd = new ProduceRequestData().setAcks((short) 1).setTimeoutMs(1000);
        ProduceRequestData.TopicProduceData t = new ProduceRequestData.TopicProduceData().setName("fuzz");
        t.partitionData().add(new ProduceRequestData.PartitionProduceData().setIndex(0).setRecords(MemoryRecords.readableRecords(Batches.batch(3, 1L, "f"))));
        pd.topicData().add(t);
        requests.add(ProduceRequest.builder(pd).build((short) 9));
        requests.add(ProduceRequest.builder(pd).build((short) 3));
        var parts = new LinkedHashMap<TopicPartition, FetchRequest.PartitionData>();
        parts.put(new TopicPartition("fuzz", 0), new FetchRequest.PartitionData(broker.topics().topic("fuzz").orElseThrow().topicId(), 0, -1, 10000,
                Optional.empty()));
        requests.add(FetchRequest.Builder.forConsumer((short) 12, 10, 1, parts).build((short) 12));
        requests.add(FetchRequest.Builder.forConsumer((short) 4, 10, 1, parts).build((short) 4));
        ListOffsetsTopic lt = new ListOffsetsTopic().setName("fuzz");
        lt.partitions().add(new ListOffsetsPartition().setPartitionIndex(1).setTimestamp(-1));
        requests.add(ListOffsetsRequest.Builder.forConsumer(false, IsolationLevel.READ_UNCOMMITTED).setTargetTimes(List.of(lt)).build((short) 5));
        requests.addAll(transactionTemplates());
        List<byte[]> out = new ArrayList<>();
        int id = 0;
        for (AbstractRequest r : requests) {
            ByteBuffer body = r.serializeWithHeader(new RequestHeader(r.apiKey(), r.version(), "fuzzer", ++id));
            byte[] b = new byte[4 + body.remaining()];
            ByteBuffer.wrap(b).putInt(body.remaining()).put(body);
            out.add(b);
        }
        return out;
    }

    /** The transaction APIs, client and broker forms, both protocol versions (KIP-98, KIP-890). */
    private static List<AbstractRequest> transactionTemplates() {
        String id = "fuzz-txn";
        long pid = 1000;
        short epoch = 0;
        TopicPartition fuzz0 = new TopicPartition("fuzz", 0);
        List<AbstractRequest> out = new ArrayList<>();
        out.add(new InitProducerIdRequest.Builder(new InitProducerIdRequestData().setTransactionalId(id).setTransactionTimeoutMs(60_000)
                .setProducerId(-1).setProducerEpoch((short) -1)).build((short) 5));
        out.add(AddPartitionsToTxnRequest.Builder.forClient(id, pid, epoch, List.of(fuzz0)).build((short) 3));
        AddPartitionsToTxnTopicCollection topics = new AddPartitionsToTxnTopicCollection();
        topics.add(new AddPartitionsToTxnTopic().setName("fuzz").setPartitions(List.of(0, 1)));
        AddPartitionsToTxnTransactionCollection txns = new AddPartitionsToTxnTransactionCollection();
        txns.add(new AddPartitionsToTxnTransaction().setTransactionalId(id).setProducerId(pid).setProducerEpoch(epoch).setVerifyOnly(true)
                .setTopics(topics));
        out.add(AddPartitionsToTxnRequest.Builder.forBroker(txns).build((short) 5));
        out.add(new AddOffsetsToTxnRequest.Builder(new AddOffsetsToTxnRequestData().setTransactionalId(id).setProducerId(pid).setProducerEpoch(epoch)
                .setGroupId("fuzz-group")).build((short) 3));
        TxnOffsetCommitRequestData commit = new TxnOffsetCommitRequestData().setTransactionalId(id).setGroupId("fuzz-group").setProducerId(pid)
                .setProducerEpoch(epoch).setGenerationIdOrMemberEpoch(-1).setMemberId("").setTopics(List.of(
                        new TxnOffsetCommitRequestData.TxnOffsetCommitRequestTopic().setName("fuzz").setPartitions(List.of(
                                new TxnOffsetCommitRequestData.TxnOffsetCommitRequestPartition().setPartitionIndex(0).setCommittedOffset(1)))));
        out.add(TxnOffsetCommitRequest.Builder.forTopicNames(commit, true).build((short) 5));
        out.add(new EndTxnRequest.Builder(new EndTxnRequestData().setTransactionalId(id).setProducerId(pid).setProducerEpoch(epoch).setCommitted(true),
                true).build((short) 5));
        out.add(new WriteTxnMarkersRequest.Builder(List.of(new WriteTxnMarkersRequest.TxnMarkerEntry(pid, epoch, 0, TransactionResult.ABORT,
                List.of(fuzz0), (short) 2))).build((short) 2));
        out.add(new DescribeTransactionsRequest.Builder(new DescribeTransactionsRequestData().setTransactionalIds(List.of(id))).build((short) 0));
        out.add(new ListTransactionsRequest.Builder(new ListTransactionsRequestData()).build((short) 1));
        ProduceRequestData pd = new ProduceRequestData().setAcks((short) -1).setTimeoutMs(1000).setTransactionalId(id);
        ProduceRequestData.TopicProduceData t = new ProduceRequestData.TopicProduceData().setName("fuzz");
        t.partitionData().add(new ProduceRequestData.PartitionProduceData().setIndex(1).setRecords(MemoryRecords.withTransactionalRecords(
                Compression.NONE, pid, epoch, 0, new SimpleRecord(1L, null, "t".getBytes()))));
        pd.topicData().add(t);
        out.add(ProduceRequest.builder(pd).build((short) 12));
        return out;
    }

    private static byte[] frame(Random rnd, List<byte[]> templates) {
        byte[] t = templates.get(rnd.nextInt(templates.size())).clone();
        switch (rnd.nextInt(8)) {
            case 0 -> { // pure garbage
                byte[] g = new byte[1 + rnd.nextInt(300)];
                rnd.nextBytes(g);
                return g;
            }
            case 1 -> { // absurd size prefix: gigabytes, negative or zero
                ByteBuffer.wrap(t).putInt(new int[] {Integer.MAX_VALUE, -1, 0, 1 << 30}[rnd.nextInt(4)]);
                return t;
            }
            case 2 -> { // unknown API key or version
                ByteBuffer.wrap(t).putShort(4, (short) (rnd.nextBoolean() ? 999 : ApiKeys.LEADER_AND_ISR.id)).putShort(6, (short) rnd.nextInt(200));
                return t;
            }
            case 3 -> { // truncated body with an honest size prefix
                int len = 4 + rnd.nextInt(t.length - 4);
                byte[] cut = Arrays.copyOf(t, len);
                ByteBuffer.wrap(cut).putInt(len - 4);
                return cut;
            }
            case 4, 5, 6 -> { // a few flipped bytes after the size prefix
                for (int k = 0; k < 1 + rnd.nextInt(4); k++) {
                    int at = 4 + rnd.nextInt(t.length - 4);
                    t[at] = (byte) rnd.nextInt(256);
                }
                return t;
            }
            default -> {
                return t; // a valid request in between
            }
        }
    }

    private static void roundTrip(String bootstrap, String value) throws Exception {
        try (KafkaProducer<String, String> p = KafkaClients.producer(bootstrap, Map.of())) {
            p.send(new ProducerRecord<>("fuzz", 1, "k", value)).get(30, TimeUnit.SECONDS);
        }
        try (KafkaConsumer<String, String> c = KafkaClients.consumer(bootstrap, Map.of())) {
            TopicPartition tp = new TopicPartition("fuzz", 1);
            c.assign(List.of(tp));
            c.seekToBeginning(List.of(tp));
            List<ConsumerRecord<String, String>> got = new ArrayList<>();
            long end = System.currentTimeMillis() + 30_000;
            while (got.stream().noneMatch(r -> r.value().equals(value)) && System.currentTimeMillis() < end) {
                c.poll(Duration.ofMillis(200)).forEach(got::add);
            }
            assertThat(got).extracting(ConsumerRecord::value).contains(value);
        }
    }

    /**
     * A transaction with offsets commits and is read by a read_committed consumer: the transaction APIs survived the
     * garbage too.
     */
    private static void transactionalRoundTrip(String bootstrap, String value) throws Exception {
        try (KafkaProducer<String, String> p = KafkaClients.producer(bootstrap, Map.of(ProducerConfig.TRANSACTIONAL_ID_CONFIG, value + "-txn"))) {
            p.initTransactions();
            p.beginTransaction();
            p.send(new ProducerRecord<>("fuzz", 0, "k", value));
            p.sendOffsetsToTransaction(Map.of(new TopicPartition("fuzz", 1), new OffsetAndMetadata(0)), new ConsumerGroupMetadata(value + "-group"));
            p.commitTransaction();
        }
        try (KafkaConsumer<String, String> c = KafkaClients.consumer(bootstrap, Map.of(ConsumerConfig.ISOLATION_LEVEL_CONFIG, "read_committed"))) {
            TopicPartition tp = new TopicPartition("fuzz", 0);
            c.assign(List.of(tp));
            c.seekToBeginning(List.of(tp));
            List<String> got = new ArrayList<>();
            long end = System.currentTimeMillis() + 30_000;
            while (!got.contains(value) && System.currentTimeMillis() < end) {
                c.poll(Duration.ofMillis(200)).forEach(r -> got.add(r.value()));
            }
            assertThat(got).contains(value);
        }
    }

    /** A raw socket whose responses are drained by a daemon thread, so the broker is never blocked by us. */
    private static final class FuzzConnection {
        private final Socket socket;
        private final OutputStream out;
        private volatile boolean closedByBroker;

        FuzzConnection(InetSocketAddress addr) throws IOException {
            socket = new Socket();
            socket.connect(addr, 5_000);
            socket.setSoTimeout(30_000);
            out = socket.getOutputStream();
            InputStream in = socket.getInputStream();
            Thread drain = new Thread(() -> {
                byte[] buf = new byte[8192];
                try {
                    while (in.read(buf) >= 0) {
                        // discard
                    }
                } catch (IOException ignored) {
                    // closed
                }
                closedByBroker = true;
            }, "fuzz-drain");
            drain.setDaemon(true);
            drain.start();
        }

        boolean send(byte[] frame) {
            if (closedByBroker) return false;
            try {
                out.write(frame);
                out.flush();
                return !socket.isClosed();
            } catch (IOException e) {
                return false;
            }
        }

        void close() throws IOException {
            socket.close();
        }
    }
}
