package io.runnel.testkit;

import java.time.Duration;
import java.util.Properties;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import org.apache.kafka.clients.consumer.ConsumerConfig;
import org.apache.kafka.common.serialization.Serdes;
import org.apache.kafka.streams.KafkaStreams;
import org.apache.kafka.streams.StreamsBuilder;
import org.apache.kafka.streams.StreamsConfig;
import org.apache.kafka.streams.kstream.Consumed;
import org.apache.kafka.streams.kstream.Materialized;
import org.apache.kafka.streams.kstream.Produced;
import org.apache.kafka.streams.state.Stores;

/**
 * A test program: a Kafka Streams application with {@code processing.guarantee=exactly_once_v2} in its own JVM, so
 * that a test can kill it with -9: it counts the records of each key of topic {@code words} (an in-memory store,
 * restored from its transactional changelog after a restart) and writes every new count to {@code counts}, spending
 * 20 ms on each record. Arguments:
 * bootstrap, state directory. Prints {@code RUNNING} once it processes. Bounded: it stops by itself after 120 seconds.
 */
public final class StreamsCountMain {
    private StreamsCountMain() {
    }

    /** A few milliseconds of work per record, so that a kill lands in the middle of a transaction more often than not. */
    private static void work() {
        long until = System.nanoTime() + 20_000_000L;
        while (System.nanoTime() < until) Thread.onSpinWait();
    }

    public static void main(String[] args) throws InterruptedException {
        StreamsBuilder b = new StreamsBuilder();
        b.stream("words", Consumed.with(Serdes.String(), Serdes.String()))
                .peek((k, v) -> work())
                .groupByKey()
                .count(Materialized.as(Stores.inMemoryKeyValueStore("word-counts")))
                .toStream()
                .to("counts", Produced.with(Serdes.String(), Serdes.Long()));
        Properties p = new Properties();
        p.put(StreamsConfig.APPLICATION_ID_CONFIG, "word-counter");
        p.put(StreamsConfig.BOOTSTRAP_SERVERS_CONFIG, args[0]);
        p.put(StreamsConfig.STATE_DIR_CONFIG, args[1]);
        p.put(StreamsConfig.PROCESSING_GUARANTEE_CONFIG, StreamsConfig.EXACTLY_ONCE_V2);
        p.put(StreamsConfig.COMMIT_INTERVAL_MS_CONFIG, 100);
        p.put(StreamsConfig.STATESTORE_CACHE_MAX_BYTES_CONFIG, 0); // every count is written, so the test sees each one
        p.put(StreamsConfig.REPLICATION_FACTOR_CONFIG, 1);
        p.put(StreamsConfig.consumerPrefix(ConsumerConfig.SESSION_TIMEOUT_MS_CONFIG), 6000);
        p.put(StreamsConfig.consumerPrefix(ConsumerConfig.HEARTBEAT_INTERVAL_MS_CONFIG), 1000);
        p.put(StreamsConfig.consumerPrefix(ConsumerConfig.MAX_POLL_RECORDS_CONFIG), 10);
        CountDownLatch running = new CountDownLatch(1);
        CountDownLatch ended = new CountDownLatch(1);
        try (KafkaStreams streams = new KafkaStreams(b.build(), p)) {
            streams.setStateListener((next, old) -> {
                if (next == KafkaStreams.State.RUNNING) running.countDown();
                if (next == KafkaStreams.State.ERROR || next == KafkaStreams.State.NOT_RUNNING) ended.countDown();
            });
            streams.start();
            if (running.await(60, TimeUnit.SECONDS)) System.out.println("RUNNING");
            // Until the application fails or stops, for at most the process's bounded lifetime; tests kill it sooner.
            if (!ended.await(120, TimeUnit.SECONDS)) System.out.println("LIFETIME OVER");
            streams.close(Duration.ofSeconds(5));
        }
    }
}
