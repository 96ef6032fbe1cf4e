package io.runnel.kafka;

import static org.assertj.core.api.Assertions.assertThat;

import io.runnel.testkit.Batches;
import io.runnel.testkit.BrokerPerTest;
import io.runnel.testkit.Brokers;
import io.runnel.testkit.RawKafkaClient;
import java.io.ByteArrayOutputStream;
import java.lang.management.BufferPoolMXBean;
import java.lang.management.ManagementFactory;
import java.nio.ByteBuffer;
import java.time.Duration;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import org.apache.kafka.common.TopicPartition;
import org.apache.kafka.common.Uuid;
import org.apache.kafka.common.message.ProduceRequestData;
import org.apache.kafka.common.message.ProduceResponseData.PartitionProduceResponse;
import org.apache.kafka.common.protocol.ApiKeys;
import org.apache.kafka.common.protocol.Errors;
import org.apache.kafka.common.record.internal.MemoryRecords;
import org.apache.kafka.common.requests.AbstractResponse;
import org.apache.kafka.common.requests.FetchRequest;
import org.apache.kafka.common.requests.FetchResponse;
import org.apache.kafka.common.requests.ProduceRequest;
import org.apache.kafka.common.requests.ProduceResponse;
import org.apache.kafka.common.requests.RequestHeader;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

/** Produce and Fetch errors as Kafka reports them, per partition, and the long poll. */
class ProduceFetchErrorsTest extends BrokerPerTest {
    Uuid topicId;

    @Override
    protected Map<String, String> brokerConfig() {
        return Map.of("message.max.bytes", "2000");
    }

    @BeforeEach
    void start() throws Exception {
        topicId = createTopic("errs", 2);
    }

    private ProduceResponse produce(RawKafkaClient c, short acks, String topic, int partition, ByteBuffer records) throws Exception {
        return produce(c, acks, 5000, topic, partition, records);
    }

    private ProduceResponse produce(RawKafkaClient c, short acks, int timeoutMs, String topic, int partition, ByteBuffer records) throws Exception {
        ProduceRequestData data = new ProduceRequestData().setAcks(acks).setTimeoutMs(timeoutMs);
        ProduceRequestData.TopicProduceData t = new ProduceRequestData.TopicProduceData().setName(topic);
        t.partitionData().add(new ProduceRequestData.PartitionProduceData().setIndex(partition).setRecords(MemoryRecords.readableRecords(records)));
        t.partitionData().add(new ProduceRequestData.PartitionProduceData().setIndex(1).setRecords(MemoryRecords.readableRecords(Batches.batch(1, 1L, "ok"))));
        data.topicData().add(t);
        return c.send(ProduceRequest.builder(data).build((short) 11));
    }

    private static PartitionProduceResponse first(ProduceResponse r) {
        return r.data().responses().iterator().next().partitionResponses().get(0);
    }

    @Test
    void eachPartitionGetsItsOwnError() throws Exception {
        try (RawKafkaClient c = new RawKafkaClient(broker.bootstrapServers())) {
            ProduceResponse big = produce(c, (short) 1, "errs", 0, Batches.batch(new long[] {1L}, 3000));
            assertThat(first(big).errorCode()).isEqualTo(Errors.MESSAGE_TOO_LARGE.code());
            assertThat(big.data().responses().iterator().next().partitionResponses().get(1).errorCode()).isZero(); // the other partition is unharmed

            ByteBuffer corrupt = Batches.batch(2, 1L, "c");
            corrupt.put(corrupt.limit() - 2, (byte) 42);
            assertThat(first(produce(c, (short) 1, "errs", 0, corrupt)).errorCode()).isEqualTo(Errors.CORRUPT_MESSAGE.code());
            assertThat(first(produce(c, (short) 1, "errs", 7, Batches.batch(1, 1L, "x"))).errorCode()).isEqualTo(Errors.UNKNOWN_TOPIC_OR_PARTITION.code());
            assertThat(first(produce(c, (short) 1, "nope", 0, Batches.batch(1, 1L, "x"))).errorCode()).isEqualTo(Errors.UNKNOWN_TOPIC_OR_PARTITION.code());
            ProduceResponse badAcks = produce(c, (short) 2, "errs", 0, Batches.batch(1, 1L, "x"));
            assertThat(first(badAcks).errorCode()).isEqualTo(Errors.INVALID_REQUIRED_ACKS.code());
            assertThat(broker.topics().partition("errs", 0).orElseThrow().logEndOffset()).isZero();
            // A timeout below zero: as Kafka's DelayedProduce, acks=all counts what is replicated at once (here, by the
            // only in-sync replica).
            assertThat(first(produce(c, (short) -1, -1, "errs", 0, Batches.batch(1, 1L, "now"))).errorCode()).isZero();
        }
    }

    @Test
    void oversizedRequestsAndUnknownApisCloseOnlyTheirConnection() throws Exception {
        try (RawKafkaClient healthy = new RawKafkaClient(broker.bootstrapServers())) {
            try (RawKafkaClient huge = new RawKafkaClient(broker.bootstrapServers())) {
                huge.sendBytes(new byte[] {0x7f, 0x00, 0x00, 0x00}); // a 2 GB size prefix (socket.request.max.bytes is 100 MB)
                assertThat(huge.closedByBroker()).isTrue();
            }
            try (RawKafkaClient unknown = new RawKafkaClient(broker.bootstrapServers())) {
                unknown.sendFrame(ByteBuffer.allocate(14).putShort((short) 4).putShort((short) 7).putInt(1).putShort((short) -1).flip()); // LeaderAndIsr
                assertThat(unknown.closedByBroker()).isTrue();
            }
            assertThat(first(produce(healthy, (short) 1, "errs", 0, Batches.batch(1, 1L, "still"))).errorCode()).isZero();
        }
    }

    /**
     * Size prefixes of the largest allowed request (100 MB) with little after them, on 30 connections: together
     * three times the test JVM's direct memory if the broker reserved them on the prefix. It allocates as bytes
     * arrive: its direct memory stays small and another client is served.
     */
    @Test
    void sizePrefixesAloneReserveNoMemory() throws Exception {
        List<RawKafkaClient> waiting = new ArrayList<>();
        try {
            for (int i = 0; i < 30; i++) {
                RawKafkaClient c = new RawKafkaClient(broker.bootstrapServers());
                waiting.add(c);
                c.sendBytes(ByteBuffer.allocate(4 + 100).putInt(104_857_600).array()); // the prefix and 100 bytes of it
            }
            try (RawKafkaClient healthy = new RawKafkaClient(broker.bootstrapServers())) {
                assertThat(first(produce(healthy, (short) 1, "errs", 0, Batches.batch(1, 1L, "served"))).errorCode()).isZero();
            }
            org.awaitility.Awaitility.await().during(Duration.ofMillis(500)).atMost(Duration.ofSeconds(5))
                    .until(() -> directMemoryUsed() < (256L << 20));
        } finally {
            for (RawKafkaClient c : waiting) c.close();
        }
    }

    /** Direct buffers in use in this JVM (the in-process broker's included), in bytes. */
    private static long directMemoryUsed() {
        return ManagementFactory.getPlatformMXBeans(BufferPoolMXBean.class).stream()
                .filter(b -> b.getName().equals("direct")).mapToLong(BufferPoolMXBean::getMemoryUsed).sum();
    }

    @Test
    void fetchOutOfRangeAndUnknownPartitions() throws Exception {
        Brokers.await(broker.topics().partition("errs", 0).orElseThrow().append(Batches.batch(3, 1L, "v")));
        try (RawKafkaClient c = new RawKafkaClient(broker.bootstrapServers())) {
            LinkedHashMap<TopicPartition, FetchRequest.PartitionData> parts = new LinkedHashMap<>();
            parts.put(new TopicPartition("errs", 0), new FetchRequest.PartitionData(topicId, 10, -1, 1000, Optional.empty()));
            parts.put(new TopicPartition("errs", 9), new FetchRequest.PartitionData(topicId, 0, -1, 1000, Optional.empty()));
            FetchResponse r = c.send(FetchRequest.Builder.forConsumer((short) 12, 0, 1, parts).build((short) 12));
            var ps = r.data().responses().get(0).partitions();
            assertThat(ps.get(0).errorCode()).isEqualTo(Errors.OFFSET_OUT_OF_RANGE.code());
            assertThat(ps.get(0).highWatermark()).isEqualTo(3);
            assertThat(ps.get(1).errorCode()).isEqualTo(Errors.UNKNOWN_TOPIC_OR_PARTITION.code());
        }
    }

    /**
     * A fetch's byte limits across partitions (KIP-74): partitions answered in request order, each within what the
     * response has left, except that the first one with data returns at least one whole batch; what does not fit
     * is left for the next fetch. The partitions are read at once, so this is what keeps the answer as if read one
     * after the other.
     */
    @Test
    void aFetchFillsItsByteLimitInRequestOrder() throws Exception {
        Uuid id = createTopic("limits", 4);
        int batchBytes = Batches.batch(1, 1L, "b").remaining();
        for (int p = 1; p < 4; p++) {
            for (int b = 0; b < 3; b++) Brokers.await(broker.topics().partition("limits", p).orElseThrow().append(Batches.batch(1, 1L, "b")));
        }
        try (RawKafkaClient c = new RawKafkaClient(broker.bootstrapServers())) {
            // Room for four batches and a bit: p0 has none, p1 gives its three, p2 one, p3 none.
            assertThat(batchesPerPartition(c, id, 4 * batchBytes + batchBytes / 2, 0, 1, 2, 3)).containsExactly(0, 3, 1, 0);
            // Room for less than one: the first partition with data still returns one batch, the others nothing.
            assertThat(batchesPerPartition(c, id, batchBytes / 2, 0, 3, 1, 2)).containsExactly(0, 1, 0, 0);
            // Room for two, asked in another order: that order decides who gets them.
            assertThat(batchesPerPartition(c, id, 2 * batchBytes, 3, 2, 1)).containsExactly(2, 0, 0);
        }
    }

    /** The batches each partition of "limits" returned to a fetch from offset 0 with {@code maxBytes}, in request order. */
    private static List<Integer> batchesPerPartition(RawKafkaClient c, Uuid id, int maxBytes, int... partitions) throws Exception {
        LinkedHashMap<TopicPartition, FetchRequest.PartitionData> parts = new LinkedHashMap<>();
        for (int p : partitions) parts.put(new TopicPartition("limits", p), new FetchRequest.PartitionData(id, 0, -1, 1_000_000, Optional.empty()));
        FetchResponse r = c.send(FetchRequest.Builder.forConsumer((short) 12, 0, 1, parts).setMaxBytes(maxBytes).build((short) 12));
        List<Integer> batches = new ArrayList<>();
        List<Integer> order = new ArrayList<>();
        for (var p : r.data().responses().get(0).partitions()) {
            assertThat(p.errorCode()).isZero();
            order.add(p.partitionIndex());
            int n = 0;
            for (var ignored : ((MemoryRecords) p.records()).batches()) n++;
            batches.add(n);
        }
        assertThat(order).containsExactlyElementsOf(java.util.Arrays.stream(partitions).boxed().toList());
        return batches;
    }

    @Test
    void aLongPollIsAnsweredByTheAppendNotByTheTimeout() throws Exception {
        try (RawKafkaClient c = new RawKafkaClient(broker.bootstrapServers())) {
            LinkedHashMap<TopicPartition, FetchRequest.PartitionData> parts = new LinkedHashMap<>();
            parts.put(new TopicPartition("errs", 0), new FetchRequest.PartitionData(topicId, 0, -1, 100_000, Optional.empty()));
            // max.wait.ms of 60 s: only an append can answer this fetch within the test's time.
            CompletableFuture<FetchResponse> pending = CompletableFuture.supplyAsync(() -> {
                try {
                    return c.send(FetchRequest.Builder.forConsumer((short) 12, 60_000, 1, parts).build((short) 12));
                } catch (Exception e) {
                    throw new RuntimeException(e);
                }
            });
            org.awaitility.Awaitility.await().during(Duration.ofMillis(300)).atMost(Duration.ofSeconds(5)).until(() -> !pending.isDone());
            long t0 = System.nanoTime();
            Brokers.await(broker.topics().partition("errs", 0).orElseThrow().append(Batches.batch(2, 1L, "wake")));
            FetchResponse r = pending.get(10, TimeUnit.SECONDS);
            assertThat(Duration.ofNanos(System.nanoTime() - t0)).isLessThan(Duration.ofSeconds(10));
            assertThat(Batches.decode(((MemoryRecords) r.data().responses().get(0).partitions().get(0).records()).buffer()))
                    .extracting(Batches.Rec::value).containsExactly("wake-0", "wake-1");
        }
    }

    /**
     * Framing: requests that arrive one byte per TCP segment, and several requests in one write, are each read
     * whole and answered in order; the records fetched back (sent from the segment file) are byte for byte the
     * ones produced, across two partitions in one response.
     */
    @Test
    void requestsSplitAnyWayAreReadWholeAndFetchedBytesAreExact() throws Exception {
        try (RawKafkaClient c = new RawKafkaClient(broker.bootstrapServers())) {
            ByteBuffer first = Batches.batch(3, 1L, "split");
            ProduceRequestData data = new ProduceRequestData().setAcks((short) 1).setTimeoutMs(5000);
            ProduceRequestData.TopicProduceData t = new ProduceRequestData.TopicProduceData().setName("errs");
            t.partitionData().add(new ProduceRequestData.PartitionProduceData().setIndex(0).setRecords(MemoryRecords.readableRecords(first.duplicate())));
            data.topicData().add(t);
            ProduceRequest request = ProduceRequest.builder(data).build((short) 11);
            RequestHeader h1 = new RequestHeader(request.apiKey(), (short) 11, "split", 1);
            for (byte b : frame(request.serializeWithHeader(h1))) c.sendBytes(new byte[] {b}); // one segment per byte (TCP_NODELAY)
            assertThat(first((ProduceResponse) AbstractResponse.parseResponse(c.readFrame(), h1)).errorCode()).isZero();

            // Three requests in one write: two produces (one per partition) and then the fetch of both.
            ByteArrayOutputStream three = new ByteArrayOutputStream();
            RequestHeader[] produceHeaders = new RequestHeader[2];
            for (int p = 0; p < 2; p++) {
                ProduceRequestData d = new ProduceRequestData().setAcks((short) 1).setTimeoutMs(5000);
                ProduceRequestData.TopicProduceData tp = new ProduceRequestData.TopicProduceData().setName("errs");
                tp.partitionData().add(new ProduceRequestData.PartitionProduceData().setIndex(p)
                        .setRecords(MemoryRecords.readableRecords(Batches.batch(2 + p, 2L, "together" + p))));
                d.topicData().add(tp);
                produceHeaders[p] = new RequestHeader(ApiKeys.PRODUCE, (short) 11, "split", 2 + p);
                three.write(frame(ProduceRequest.builder(d).build((short) 11).serializeWithHeader(produceHeaders[p])));
            }
            LinkedHashMap<TopicPartition, FetchRequest.PartitionData> parts = new LinkedHashMap<>();
            parts.put(new TopicPartition("errs", 0), new FetchRequest.PartitionData(topicId, 0, -1, 1 << 20, Optional.empty()));
            parts.put(new TopicPartition("errs", 1), new FetchRequest.PartitionData(topicId, 0, -1, 1 << 20, Optional.empty()));
            FetchRequest fetch = FetchRequest.Builder.forConsumer((short) 12, 0, 1, parts).build((short) 12);
            RequestHeader fetchHeader = new RequestHeader(fetch.apiKey(), (short) 12, "split", 4);
            three.write(frame(fetch.serializeWithHeader(fetchHeader)));
            c.sendBytes(three.toByteArray());
            for (int i = 0; i < 2; i++) assertThat(first((ProduceResponse) AbstractResponse.parseResponse(c.readFrame(), produceHeaders[i])).errorCode()).isZero();
            FetchResponse r = (FetchResponse) AbstractResponse.parseResponse(c.readFrame(), fetchHeader);
            var ps = r.data().responses().get(0).partitions();
            assertThat(Batches.decode(((MemoryRecords) ps.get(0).records()).buffer())).extracting(Batches.Rec::value)
                    .containsExactly("split-0", "split-1", "split-2", "together0-0", "together0-1");
            assertThat(Batches.decode(((MemoryRecords) ps.get(1).records()).buffer())).extracting(Batches.Rec::value)
                    .containsExactly("together1-0", "together1-1", "together1-2");
        }
    }

    private static byte[] frame(ByteBuffer body) {
        byte[] bytes = new byte[4 + body.remaining()];
        ByteBuffer.wrap(bytes).putInt(body.remaining()).put(body.duplicate());
        return bytes;
    }
}
