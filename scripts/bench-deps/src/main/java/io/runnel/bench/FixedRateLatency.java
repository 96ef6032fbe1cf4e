package io.runnel.bench;

import java.io.FileInputStream;
import java.io.IOException;
import java.io.InputStream;
import java.nio.ByteBuffer;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Locale;
import java.util.Properties;
import java.util.concurrent.atomic.AtomicLong;
import java.util.concurrent.locks.LockSupport;
import org.apache.kafka.clients.consumer.ConsumerConfig;
import org.apache.kafka.clients.consumer.ConsumerRecord;
import org.apache.kafka.clients.consumer.KafkaConsumer;
import org.apache.kafka.clients.producer.KafkaProducer;
import org.apache.kafka.clients.producer.ProducerConfig;
import org.apache.kafka.clients.producer.ProducerRecord;
import org.apache.kafka.common.PartitionInfo;
import org.apache.kafka.common.TopicPartition;
import org.apache.kafka.common.serialization.ByteArrayDeserializer;
import org.apache.kafka.common.serialization.ByteArraySerializer;

/**
 * Produce and end-to-end latency at a fixed rate, as the OpenMessaging Benchmark reports them: one producer sends
 * {@code --rate} records a second, each at its scheduled time (i / rate after the start), for {@code --warmup-seconds}
 * unrecorded and then {@code --seconds} recorded; one consumer in the same JVM reads every partition of the topic
 * from its end. Both latencies are measured from the record's scheduled send time (carried in its first 8 bytes), so
 * a producer that falls behind its schedule shows it in the latency instead of hiding it (no coordinated omission):
 * produce latency until the acknowledgement, end-to-end until the consumer has it. Prints, one per line, {@code
 * name value}: the achieved rate of the recorded part (acknowledged records a second), produce and end-to-end latency
 * at p50, p99, p99.9 and max in ms, and the records that failed or never arrived.
 *
 * <pre>FixedRateLatency --bootstrap HOST:PORT --topic T --rate R --seconds S [--warmup-seconds W] [--record-size 100]
 *                  [--acks all] [--config client.properties]</pre>
 */
public final class FixedRateLatency {
    /** At most this many recorded records (two arrays of longs of this size: 160 MB), so that a typo stays bounded. */
    private static final long MAX_RECORDS = 10_000_000L;

    public static void main(String[] args) throws Exception {
        String bootstrap = null;
        String topic = null;
        String acks = "all";
        String config = null;
        double rate = 0;
        int seconds = 0;
        int warmupSeconds = 5;
        int size = 100;
        for (int i = 0; i + 1 < args.length; i += 2) {
            switch (args[i]) {
                case "--bootstrap" -> bootstrap = args[i + 1];
                case "--topic" -> topic = args[i + 1];
                case "--rate" -> rate = Double.parseDouble(args[i + 1]);
                case "--seconds" -> seconds = Integer.parseInt(args[i + 1]);
                case "--warmup-seconds" -> warmupSeconds = Integer.parseInt(args[i + 1]);
                case "--record-size" -> size = Integer.parseInt(args[i + 1]);
                case "--acks" -> acks = args[i + 1];
                case "--config" -> config = args[i + 1];
                default -> throw new IllegalArgumentException("unknown argument " + args[i]);
            }
        }
        if (bootstrap == null || topic == null || rate <= 0 || seconds <= 0 || size < 8 || warmupSeconds < 0) {
            throw new IllegalArgumentException("usage: --bootstrap HOST:PORT --topic T --rate R --seconds S [--warmup-seconds W] "
                    + "[--record-size >= 8] [--acks all] [--config FILE]");
        }
        long warmup = (long) (rate * warmupSeconds);
        long recorded = (long) (rate * seconds);
        if (recorded > MAX_RECORDS) throw new IllegalArgumentException("rate x seconds is above " + MAX_RECORDS + " records");

        Properties common = new Properties();
        if (config != null && !config.isEmpty()) {
            try (InputStream in = new FileInputStream(config)) {
                common.load(in);
            }
        }
        common.put("bootstrap.servers", bootstrap);
        Properties pp = new Properties();
        pp.putAll(common);
        pp.put(ProducerConfig.ACKS_CONFIG, acks);
        // The OpenMessaging Benchmark's Kafka driver: linger.ms=1, large batches.
        pp.put(ProducerConfig.LINGER_MS_CONFIG, "1");
        pp.put(ProducerConfig.BATCH_SIZE_CONFIG, "131072");
        pp.put(ProducerConfig.KEY_SERIALIZER_CLASS_CONFIG, ByteArraySerializer.class.getName());
        pp.put(ProducerConfig.VALUE_SERIALIZER_CLASS_CONFIG, ByteArraySerializer.class.getName());
        Properties cp = new Properties();
        cp.putAll(common);
        cp.put(ConsumerConfig.KEY_DESERIALIZER_CLASS_CONFIG, ByteArrayDeserializer.class.getName());
        cp.put(ConsumerConfig.VALUE_DESERIALIZER_CLASS_CONFIG, ByteArrayDeserializer.class.getName());
        cp.put(ConsumerConfig.ENABLE_AUTO_COMMIT_CONFIG, "false");

        long total = warmup + recorded;
        long[] produceNs = new long[(int) recorded];
        long[] e2eNs = new long[(int) recorded];
        AtomicLong acked = new AtomicLong();
        AtomicLong failed = new AtomicLong();
        AtomicLong lastAckNs = new AtomicLong();
        long[] received = {0};
        try (KafkaProducer<byte[], byte[]> producer = new KafkaProducer<>(pp);
             KafkaConsumer<byte[], byte[]> consumer = new KafkaConsumer<>(cp)) {
            List<TopicPartition> parts = new ArrayList<>();
            for (PartitionInfo p : producer.partitionsFor(topic)) parts.add(new TopicPartition(topic, p.partition()));
            consumer.assign(parts);
            consumer.seekToEnd(parts);
            for (TopicPartition tp : parts) consumer.position(tp); // resolve the end now, before anything is sent
            long start = System.nanoTime();
            long measureFrom = start + (long) (warmupSeconds * 1e9);
            double intervalNs = 1e9 / rate;
            // The reader stops when every record is in, or 30 s after the last was due.
            long deadline = start + (long) (total * intervalNs) + 30_000_000_000L;
            Thread reader = new Thread(() -> {
                long seen = 0;
                while (seen < total && System.nanoTime() < deadline) {
                    for (ConsumerRecord<byte[], byte[]> r : consumer.poll(Duration.ofMillis(100))) {
                        long now = System.nanoTime();
                        long scheduled = ByteBuffer.wrap(r.value()).getLong();
                        seen++;
                        if (scheduled >= measureFrom && received[0] < e2eNs.length) e2eNs[(int) received[0]++] = now - scheduled;
                    }
                }
            }, "fixed-rate-consumer");
            reader.start();
            for (long i = 0; i < total; i++) {
                long scheduled = start + (long) (i * intervalNs);
                long wait;
                while ((wait = scheduled - System.nanoTime()) > 0) LockSupport.parkNanos(Math.min(wait, 200_000));
                byte[] value = new byte[size];
                ByteBuffer.wrap(value).putLong(scheduled);
                long index = i - warmup;
                producer.send(new ProducerRecord<>(topic, value), (md, e) -> {
                    long now = System.nanoTime();
                    if (index < 0) return;
                    if (e != null) {
                        failed.incrementAndGet();
                        return;
                    }
                    produceNs[(int) index] = now - scheduled;
                    acked.incrementAndGet();
                    lastAckNs.accumulateAndGet(now, Math::max);
                });
            }
            producer.flush();
            reader.join();
            long ok = acked.get();
            double elapsedS = (lastAckNs.get() - measureFrom) / 1e9;
            System.out.printf(Locale.ROOT, "achieved_per_s %.0f%n", elapsedS > 0 ? ok / elapsedS : 0);
            print("produce", compact(produceNs));
            print("e2e", Arrays.copyOf(e2eNs, (int) received[0]));
            System.out.printf(Locale.ROOT, "failed %d%n", failed.get());
            System.out.printf(Locale.ROOT, "missing %d%n", recorded - received[0]);
        }
    }

    /** The acknowledged records' latencies (a failed record's slot stays 0 and is left out). */
    private static long[] compact(long[] ns) {
        return Arrays.stream(ns).filter(v -> v > 0).toArray();
    }

    private static void print(String what, long[] ns) {
        Arrays.sort(ns);
        for (String[] q : new String[][] {{"p50", "0.5"}, {"p99", "0.99"}, {"p99.9", "0.999"}, {"max", "1"}}) {
            double ms = ns.length == 0 ? 0 : ns[(int) Math.min(ns.length - 1, Math.ceil(Double.parseDouble(q[1]) * ns.length) - 1)] / 1e6;
            System.out.printf(Locale.ROOT, "%s.%s_ms %.2f%n", what, q[0], ms);
        }
    }

    private FixedRateLatency() {
    }
}
