package io.runnel.kafka;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import io.runnel.server.Broker;
import io.runnel.testkit.Batches;
import io.runnel.testkit.Brokers;
import io.runnel.testkit.ProcessStats;
import io.runnel.testkit.RawKafkaClient;
import java.io.IOException;
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
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicLong;
import org.apache.kafka.common.TopicPartition;
import org.apache.kafka.common.message.MetadataRequestData;
import org.apache.kafka.common.message.ProduceRequestData;
import org.apache.kafka.common.record.internal.MemoryRecords;
import org.apache.kafka.common.requests.AbstractRequest;
import org.apache.kafka.common.requests.FetchRequest;
import org.apache.kafka.common.requests.MetadataRequest;
import org.apache.kafka.common.requests.MetadataResponse;
import org.apache.kafka.common.requests.ProduceRequest;
import org.apache.kafka.common.requests.RequestHeader;
import org.apache.kafka.common.utils.Time;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Producers that flood the broker and never read their responses: with a tiny in-flight credit the broker stops
 * reading them, its request bytes in flight stay within queued.max.request.bytes plus one request per connection,
 * its heap stays bounded, and a second client is still served promptly.
 */
class BackPressureTest {
    private static final int FLOODERS = 4;
    private static final int REQUESTS_PER_FLOODER = 3_000;
    private static final long FLOOD_MS = 20_000;
    private static final int QUEUED_MAX = 1 << 20;
    /** Fetch requests the non-reading client tries to send: ~90 MB, far more than the kernel's socket buffers hold. */
    private static final int FETCHES = 1_000_000;

    @TempDir
    Path data;

    @Test
    void aProducerFloodStaysWithinItsCreditAndOtherClientsAreStillServed() throws Exception {
        Broker broker = Brokers.start(data, Map.of("connection.max.inflight.bytes", "65536", "queued.max.request.bytes", Integer.toString(QUEUED_MAX)),
                Time.SYSTEM);
        List<Socket> sockets = new ArrayList<>();
        List<Thread> threads = new ArrayList<>();
        try {
            Brokers.await(broker.topicAdmin().createTopic("flood", 1, Map.of()));
            byte[] frame = produceFrame();
            long heapBefore = ProcessStats.heapUsedAfterGc();
            AtomicLong written = new AtomicLong();
            long deadline = System.currentTimeMillis() + FLOOD_MS;
            for (int i = 0; i < FLOODERS; i++) {
                Socket s = connect(broker);
                sockets.add(s);
                threads.add(flood(s, frame, REQUESTS_PER_FLOODER, deadline, written));
            }
            await().atMost(Duration.ofSeconds(30)).until(() -> written.get() > 4L * QUEUED_MAX);
            long maxInflight = 0;
            for (int i = 0; i < 20; i++) {
                maxInflight = Math.max(maxInflight, broker.kafkaInflightRequestBytes());
                assertServed(broker);
            }
            // Each connection stops reading once its credit is spent, so the broker holds at most the credit plus
            // the one request that crossed it, per connection.
            assertThat(maxInflight).isLessThanOrEqualTo(FLOODERS * (65536L + frame.length));
            assertThat(ProcessStats.heapUsedAfterGc()).isLessThan(heapBefore + (128L << 20));
        } finally {
            stopFlood(sockets, threads, broker);
        }
    }

    @Test
    void aClientThatDoesNotReadItsResponsesIsNoLongerRead() throws Exception {
        Broker broker = Brokers.start(data, Map.of(), Time.SYSTEM);
        List<Socket> sockets = new ArrayList<>();
        List<Thread> threads = new ArrayList<>();
        try {
            Brokers.await(broker.topicAdmin().createTopic("big", 1, Map.of()));
            var h = broker.topics().partition("big", 0).orElseThrow();
            long[] ts = new long[1000];
            Arrays.fill(ts, 1_700_000_000_000L);
            for (int i = 0; i < 8; i++) Brokers.await(h.append(Batches.batch(ts, 1000))); // 8 MB to fetch again and again
            byte[] fetch = fetchFrame(broker);
            long heapBefore = ProcessStats.heapUsedAfterGc();
            AtomicLong written = new AtomicLong();
            Socket s = connect(broker);
            sockets.add(s);
            threads.add(flood(s, fetch, FETCHES, System.currentTimeMillis() + FLOOD_MS, written));
            // Each fetch asks for 8 MB of responses; the client reads none: the broker's write queue fills, it stops
            // reading the socket, and the client's writes stall although it has far more to send.
            AtomicLong last = new AtomicLong(-1);
            await().pollInSameThread().during(Duration.ofSeconds(2)).atMost(Duration.ofSeconds(30)).pollInterval(Duration.ofMillis(100))
                    .until(() -> written.get() == last.getAndSet(written.get()));
            assertThat(written.get()).isLessThan((long) FETCHES * fetch.length);
            assertServed(broker);
            assertThat(ProcessStats.heapUsedAfterGc()).isLessThan(heapBefore + (256L << 20));
        } finally {
            stopFlood(sockets, threads, broker);
        }
    }

    private static Socket connect(Broker broker) throws IOException {
        String[] hp = broker.bootstrapServers().split(":");
        Socket s = new Socket();
        s.connect(new InetSocketAddress(hp[0], Integer.parseInt(hp[1])), 5_000);
        return s;
    }

    /** Writes {@code frame} up to {@code count} times or until the deadline, never reading; returns the thread. */
    private static Thread flood(Socket s, byte[] frame, int count, long deadline, AtomicLong written) {
        Thread t = new Thread(() -> {
            try {
                OutputStream out = s.getOutputStream();
                for (int n = 0; n < count && System.currentTimeMillis() < deadline; n++) {
                    out.write(frame); // blocks once the broker stops reading: that is the point
                    written.addAndGet(frame.length);
                }
            } catch (IOException closed) {
                // the test closes the socket to end the flood
            }
        }, "flooder");
        t.setDaemon(true);
        t.start();
        return t;
    }

    private static void assertServed(Broker broker) throws Exception {
        try (RawKafkaClient c = new RawKafkaClient(broker.bootstrapServers())) {
            long t0 = System.nanoTime();
            MetadataResponse m = c.send(new MetadataRequest(new MetadataRequestData()
                    .setTopics(MetadataRequest.convertToMetadataRequestTopic(List.of())).setAllowAutoTopicCreation(false), (short) 12));
            assertThat(m.brokers()).hasSize(1);
            assertThat(Duration.ofNanos(System.nanoTime() - t0)).isLessThan(Duration.ofSeconds(5));
        }
    }

    private static void stopFlood(List<Socket> sockets, List<Thread> threads, Broker broker) throws Exception {
        for (Socket s : sockets) s.close();
        for (Thread t : threads) t.join(10_000);
        await().atMost(Duration.ofSeconds(30)).until(() -> broker.kafkaInflightRequestBytes() == 0);
        broker.stop().get(30, TimeUnit.SECONDS);
    }

    private static byte[] fetchFrame(Broker broker) {
        var parts = new LinkedHashMap<TopicPartition, FetchRequest.PartitionData>();
        parts.put(new TopicPartition("big", 0), new FetchRequest.PartitionData(
                broker.topics().topic("big").orElseThrow().topicId(), 0, -1, 16 << 20, Optional.empty()));
        var r = FetchRequest.Builder.forConsumer((short) 12, 0, 1, parts).setMaxBytes(16 << 20).build((short) 12);
        return frameOf(r);
    }

    private static byte[] frameOf(AbstractRequest r) {
        ByteBuffer body = r.serializeWithHeader(new RequestHeader(r.apiKey(), r.version(), "flooder", 1));
        byte[] b = new byte[4 + body.remaining()];
        ByteBuffer.wrap(b).putInt(body.remaining()).put(body);
        return b;
    }

    /** A produce request (acks=1) of about 16 KB, with its size prefix. */
    private static byte[] produceFrame() {
        long[] ts = new long[100];
        Arrays.fill(ts, 1_700_000_000_000L);
        ProduceRequestData pd = new ProduceRequestData().setAcks((short) 1).setTimeoutMs(1000);
        ProduceRequestData.TopicProduceData t = new ProduceRequestData.TopicProduceData().setName("flood");
        t.partitionData().add(new ProduceRequestData.PartitionProduceData().setIndex(0)
                .setRecords(MemoryRecords.readableRecords(Batches.batch(ts, 150))));
        pd.topicData().add(t);
        return frameOf(ProduceRequest.builder(pd).build((short) 9));
    }
}
