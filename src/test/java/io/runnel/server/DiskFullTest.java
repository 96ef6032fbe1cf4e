package io.runnel.server;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import io.runnel.testkit.Brokers;
import io.runnel.testkit.KafkaClients;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;
import org.apache.kafka.clients.consumer.ConsumerRecord;
import org.apache.kafka.clients.consumer.KafkaConsumer;
import org.apache.kafka.clients.producer.KafkaProducer;
import org.apache.kafka.clients.producer.ProducerConfig;
import org.apache.kafka.clients.producer.ProducerRecord;
import org.apache.kafka.common.TopicPartition;
import org.apache.kafka.common.errors.KafkaStorageException;
import org.apache.kafka.common.utils.Time;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * A broker whose disk fills up (its {@code log.dirs} on a small tmpfs the test mounts; needs root, as {@code .ci/run}
 * has): a write that does not fit fails with KAFKA_STORAGE_ERROR, which Kafka clients retry; every record
 * acknowledged before stays readable meanwhile; once space returns the same partition takes writes again; and after
 * a restart the log holds exactly the acknowledged records, in order, without a torn batch or a broken index.
 */
class DiskFullTest {
    private static final int VALUE_BYTES = 8 * 1024;

    @TempDir
    Path dir;

    @Test
    void aFullDiskRefusesWritesRetriablyKeepsReadsAndTakesWritesAgainWhenSpaceReturns() throws Exception {
        Path disk = dir.resolve("disk");
        Files.createDirectories(disk);
        assumeTrue(run("mount", "-t", "tmpfs", "-o", "size=16m", "tmpfs", disk.toString()) == 0, "mounting a tmpfs needs root");
        Map<String, String> config = Map.of("log.segment.bytes", "262144", "offsets.topic.num.partitions", "1",
                "transaction.state.log.num.partitions", "1");
        Path data = disk.resolve("data");
        Path filler = disk.resolve("filler");
        List<String> acknowledged = new ArrayList<>();
        try {
            Broker broker = Brokers.start(data, config, Time.SYSTEM);
            try {
                Brokers.await(broker.topicAdmin().createTopic("full", 1, Map.of()));
                // Leave about 600 KB: a few dozen records fit, then the disk is full.
                fill(filler, Files.getFileStore(disk).getUsableSpace() - 600 * 1024);
                Throwable refused = null;
                try (KafkaProducer<String, String> p = KafkaClients.producer(broker.bootstrapServers(),
                        Map.of(ProducerConfig.RETRIES_CONFIG, 0, ProducerConfig.ENABLE_IDEMPOTENCE_CONFIG, false, ProducerConfig.ACKS_CONFIG, "1",
                                ProducerConfig.LINGER_MS_CONFIG, 0, ProducerConfig.MAX_IN_FLIGHT_REQUESTS_PER_CONNECTION, 1))) {
                    for (int i = 0; i < 1000 && refused == null; i++) {
                        String v = value(i);
                        try {
                            p.send(new ProducerRecord<>("full", 0, "k" + i, v)).get(30, TimeUnit.SECONDS);
                            acknowledged.add(v);
                        } catch (ExecutionException e) {
                            refused = e.getCause();
                        }
                    }
                    assertThat(refused).as("a write that does not fit fails, retriably").isInstanceOf(KafkaStorageException.class);
                    assertThat(acknowledged).hasSizeBetween(10, 999);
                    // Reads go on while the disk is full.
                    assertThat(readAll(broker.bootstrapServers())).containsExactlyElementsOf(acknowledged);
                    // Still full: refused again, and nothing of it is kept.
                    assertThatThrownBy(() -> p.send(new ProducerRecord<>("full", 0, "again", value(5000))).get(30, TimeUnit.SECONDS))
                            .hasCauseInstanceOf(KafkaStorageException.class);
                    Files.delete(filler);
                    for (int i = 1000; i < 1020; i++) {
                        String v = value(i);
                        p.send(new ProducerRecord<>("full", 0, "k" + i, v)).get(30, TimeUnit.SECONDS);
                        acknowledged.add(v);
                    }
                }
                assertThat(readAll(broker.bootstrapServers())).containsExactlyElementsOf(acknowledged);
            } finally {
                broker.stop().get(30, TimeUnit.SECONDS);
            }
            broker = Brokers.start(data, config, Time.SYSTEM);
            try {
                assertThat(readAll(broker.bootstrapServers())).as("after a restart").containsExactlyElementsOf(acknowledged);
            } finally {
                broker.stop().get(30, TimeUnit.SECONDS);
            }
        } finally {
            run("umount", "-l", disk.toString());
        }
    }

    /** A distinct value of {@link #VALUE_BYTES} characters. */
    private static String value(int i) {
        String head = "v" + i + ":";
        return head + "x".repeat(VALUE_BYTES - head.length());
    }

    private static List<String> readAll(String bootstrap) {
        try (KafkaConsumer<String, String> c = KafkaClients.consumer(bootstrap, Map.of())) {
            TopicPartition tp = new TopicPartition("full", 0);
            c.assign(List.of(tp));
            c.seekToBeginning(List.of(tp));
            long end = c.endOffsets(List.of(tp)).get(tp);
            List<String> out = new ArrayList<>();
            for (ConsumerRecord<String, String> r : KafkaClients.pollAtLeast(c, (int) end)) out.add(r.value());
            return out;
        }
    }

    /** Writes {@code bytes} bytes into {@code file} (real blocks, not a sparse file). */
    private static void fill(Path file, long bytes) throws IOException {
        ByteBuffer block = ByteBuffer.allocate(1 << 20);
        try (FileChannel ch = FileChannel.open(file, StandardOpenOption.CREATE, StandardOpenOption.WRITE)) {
            long left = bytes;
            while (left > 0) {
                block.clear().limit((int) Math.min(block.capacity(), left));
                left -= ch.write(block);
            }
        }
    }

    private static int run(String... command) throws IOException, InterruptedException {
        Process p = new ProcessBuilder(command).redirectErrorStream(true).redirectOutput(ProcessBuilder.Redirect.DISCARD).start();
        return p.waitFor(30, TimeUnit.SECONDS) ? p.exitValue() : -1;
    }
}
