package io.runnel.kafka;

import static org.assertj.core.api.Assertions.assertThat;

import io.runnel.testkit.KafkaClients;
import io.runnel.testkit.SharedBroker;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.stream.IntStream;
import java.util.stream.LongStream;
import org.apache.kafka.clients.admin.NewTopic;
import org.apache.kafka.clients.consumer.ConsumerRecord;
import org.apache.kafka.clients.consumer.KafkaConsumer;
import org.apache.kafka.clients.producer.KafkaProducer;
import org.apache.kafka.clients.producer.ProducerConfig;
import org.apache.kafka.clients.producer.ProducerRecord;
import org.apache.kafka.clients.producer.RecordMetadata;
import org.apache.kafka.common.TopicPartition;
import org.apache.kafka.common.header.internals.RecordHeader;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/** Unmodified kafka-clients 4.4.0 against a real broker on an ephemeral loopback port. */
class KafkaClientsTest extends SharedBroker {
    @ParameterizedTest
    @ValueSource(strings = {"none", "gzip", "snappy", "lz4", "zstd"})
    void producerDefaultsRoundTripKeysValuesHeadersAndTimestamps(String compression) throws Exception {
        String topic = "rt-" + compression;
        admin.createTopics(List.of(new NewTopic(topic, 2, (short) 1))).all().get();
        List<ProducerRecord<String, String>> sent = new ArrayList<>();
        long ts = 1_700_000_000_000L;
        try (KafkaProducer<String, String> p = KafkaClients.producer(bootstrap, Map.of(ProducerConfig.COMPRESSION_TYPE_CONFIG, compression,
                ProducerConfig.LINGER_MS_CONFIG, 5))) {
            for (int i = 0; i < 200; i++) {
                ProducerRecord<String, String> r = new ProducerRecord<>(topic, i % 2, ts + i, "key-" + i, "value-" + i,
                        List.of(new RecordHeader("h", ("header-" + i).getBytes(StandardCharsets.UTF_8))));
                sent.add(r);
                p.send(r);
            }
            p.flush();
        }
        try (KafkaConsumer<String, String> c = KafkaClients.consumer(bootstrap, Map.of())) {
            List<TopicPartition> tps = List.of(new TopicPartition(topic, 0), new TopicPartition(topic, 1));
            c.assign(tps);
            c.seekToBeginning(tps);
            List<ConsumerRecord<String, String>> got = KafkaClients.pollAtLeast(c, 200);
            assertThat(got).hasSize(200);
            for (ConsumerRecord<String, String> r : got) {
                int i = Integer.parseInt(r.key().substring(4));
                assertThat(r.value()).isEqualTo("value-" + i);
                assertThat(r.timestamp()).isEqualTo(ts + i);
                assertThat(r.partition()).isEqualTo(i % 2);
                assertThat(new String(r.headers().lastHeader("h").value(), StandardCharsets.UTF_8)).isEqualTo("header-" + i);
            }
            for (int p = 0; p < 2; p++) {
                final int part = p;
                List<Long> offsets = got.stream().filter(r -> r.partition() == part).map(ConsumerRecord::offset).toList();
                assertThat(offsets).isSorted().hasSize(100).startsWith(0L).endsWith(99L);
            }
        }
    }

    @ParameterizedTest
    @ValueSource(strings = {"0", "1", "all"})
    void everyAcksSettingDelivers(String acks) throws Exception {
        String topic = "acks-" + acks;
        List<RecordMetadata> acked = new ArrayList<>();
        try (KafkaProducer<String, String> p = KafkaClients.producer(bootstrap, Map.of(ProducerConfig.ACKS_CONFIG, acks,
                ProducerConfig.ENABLE_IDEMPOTENCE_CONFIG, acks.equals("all")))) {
            for (int i = 0; i < 50; i++) acked.add(p.send(new ProducerRecord<>(topic, "k" + i, "v" + i)).get());
        }
        if (!acks.equals("0")) assertThat(acked).extracting(RecordMetadata::offset).containsExactlyElementsOf(
                LongStream.range(0, 50).boxed().toList());
        try (KafkaConsumer<String, String> c = KafkaClients.consumer(bootstrap, Map.of())) {
            TopicPartition tp = new TopicPartition(topic, 0);
            c.assign(List.of(tp));
            c.seekToBeginning(List.of(tp));
            assertThat(KafkaClients.pollAtLeast(c, 50)).extracting(ConsumerRecord::value)
                    .containsExactlyElementsOf(IntStream.range(0, 50).mapToObj(i -> "v" + i).toList());
        }
    }
}
