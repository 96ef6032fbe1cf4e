package io.runnel.testkit;

import java.time.Duration;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Properties;
import org.apache.kafka.clients.admin.Admin;
import org.apache.kafka.clients.admin.AdminClientConfig;
import org.apache.kafka.clients.consumer.ConsumerConfig;
import org.apache.kafka.clients.consumer.ConsumerRecord;
import org.apache.kafka.clients.consumer.KafkaConsumer;
import org.apache.kafka.clients.consumer.KafkaShareConsumer;
import org.apache.kafka.clients.producer.KafkaProducer;
import org.apache.kafka.clients.producer.ProducerConfig;
import org.apache.kafka.common.TopicPartition;
import org.apache.kafka.common.serialization.StringDeserializer;
import org.apache.kafka.common.serialization.StringSerializer;

/** Real kafka-clients 4.4.0 producers, consumers and admins pointed at a test broker. */
public final class KafkaClients {
    private KafkaClients() {
    }

    public static KafkaProducer<String, String> producer(String bootstrap, Map<String, Object> extra) {
        Properties p = new Properties();
        p.put(ProducerConfig.BOOTSTRAP_SERVERS_CONFIG, bootstrap);
        p.put(ProducerConfig.KEY_SERIALIZER_CLASS_CONFIG, StringSerializer.class.getName());
        p.put(ProducerConfig.VALUE_SERIALIZER_CLASS_CONFIG, StringSerializer.class.getName());
        p.put(ProducerConfig.DELIVERY_TIMEOUT_MS_CONFIG, 30_000);
        p.put(ProducerConfig.REQUEST_TIMEOUT_MS_CONFIG, 10_000);
        p.putAll(extra);
        return new KafkaProducer<>(p);
    }

    public static KafkaConsumer<String, String> consumer(String bootstrap, Map<String, Object> extra) {
        Properties p = new Properties();
        p.put(ConsumerConfig.BOOTSTRAP_SERVERS_CONFIG, bootstrap);
        p.put(ConsumerConfig.KEY_DESERIALIZER_CLASS_CONFIG, StringDeserializer.class.getName());
        p.put(ConsumerConfig.VALUE_DESERIALIZER_CLASS_CONFIG, StringDeserializer.class.getName());
        p.put(ConsumerConfig.ENABLE_AUTO_COMMIT_CONFIG, false);
        p.putAll(extra);
        return new KafkaConsumer<>(p);
    }

    /** A share group member (KIP-932) of {@code group}, with {@code extra} settings (acknowledgement and acquire modes, say). */
    public static KafkaShareConsumer<String, String> shareConsumer(String bootstrap, String group, Map<String, Object> extra) {
        Properties p = new Properties();
        p.put(ConsumerConfig.BOOTSTRAP_SERVERS_CONFIG, bootstrap);
        p.put(ConsumerConfig.GROUP_ID_CONFIG, group);
        p.put(ConsumerConfig.KEY_DESERIALIZER_CLASS_CONFIG, StringDeserializer.class.getName());
        p.put(ConsumerConfig.VALUE_DESERIALIZER_CLASS_CONFIG, StringDeserializer.class.getName());
        p.putAll(extra);
        return new KafkaShareConsumer<>(p);
    }

    /**
     * A consumer in group {@code group} with the given group protocol, reading from the earliest offset. For the
     * classic protocol the session timeout is the broker's minimum (6 s) and heartbeats come every 500 ms; with the
     * consumer protocol (KIP-848) those are the broker's settings and the client refuses them.
     */
    public static KafkaConsumer<String, String> groupConsumer(String bootstrap, String protocol, String group, Map<String, Object> extra) {
        Map<String, Object> m = new HashMap<>(Map.of(ConsumerConfig.GROUP_ID_CONFIG, group,
                ConsumerConfig.AUTO_OFFSET_RESET_CONFIG, "earliest", ConsumerConfig.GROUP_PROTOCOL_CONFIG, protocol));
        if (protocol.equals("classic")) {
            m.put(ConsumerConfig.SESSION_TIMEOUT_MS_CONFIG, 6000);
            m.put(ConsumerConfig.HEARTBEAT_INTERVAL_MS_CONFIG, 500);
        }
        m.putAll(extra);
        return consumer(bootstrap, m);
    }

    /**
     * Client settings for a SASL listener: {@code protocol} SASL_PLAINTEXT or SASL_SSL (then trusting the CA of
     * {@code caPem}), PLAIN or SCRAM-SHA-256/512 with that user and password, and {@code timeoutMs} as the default API
     * timeout (requests time out after half of it).
     */
    public static Map<String, Object> sasl(String protocol, String mechanism, String user, String password, java.nio.file.Path caPem, int timeoutMs) {
        Map<String, Object> c = new HashMap<>();
        c.put(AdminClientConfig.SECURITY_PROTOCOL_CONFIG, protocol);
        c.put(org.apache.kafka.common.config.SaslConfigs.SASL_MECHANISM, mechanism);
        String module = mechanism.equals("PLAIN") ? "org.apache.kafka.common.security.plain.PlainLoginModule"
                : "org.apache.kafka.common.security.scram.ScramLoginModule";
        c.put(org.apache.kafka.common.config.SaslConfigs.SASL_JAAS_CONFIG, module + " required username=\"" + user + "\" password=\"" + password + "\";");
        if (protocol.equals("SASL_SSL")) {
            c.put(org.apache.kafka.common.config.SslConfigs.SSL_TRUSTSTORE_TYPE_CONFIG, "PEM");
            c.put(org.apache.kafka.common.config.SslConfigs.SSL_TRUSTSTORE_LOCATION_CONFIG, caPem.toString());
        }
        c.put(AdminClientConfig.DEFAULT_API_TIMEOUT_MS_CONFIG, timeoutMs);
        c.put(AdminClientConfig.REQUEST_TIMEOUT_MS_CONFIG, timeoutMs / 2);
        return c;
    }

    public static Admin admin(String bootstrap) {
        return admin(bootstrap, Map.of());
    }

    /** An admin with extra settings (security, timeouts). */
    public static Admin admin(String bootstrap, Map<String, Object> extra) {
        Properties p = new Properties();
        p.put(AdminClientConfig.BOOTSTRAP_SERVERS_CONFIG, bootstrap);
        p.put(AdminClientConfig.DEFAULT_API_TIMEOUT_MS_CONFIG, 30_000);
        p.putAll(extra);
        return Admin.create(p);
    }

    /**
     * Every record of {@code partitions} from their start to their end offsets (the last stable offset for
     * {@code isolation} read_committed, the high watermark for read_uncommitted), read by a consumer of that isolation;
     * bounded by 30 seconds, after which it asserts nothing and returns what it read.
     */
    public static List<ConsumerRecord<String, String>> readToEnd(String bootstrap, String isolation, List<TopicPartition> partitions) {
        try (KafkaConsumer<String, String> c = consumer(bootstrap, Map.of(ConsumerConfig.ISOLATION_LEVEL_CONFIG, isolation))) {
            c.assign(partitions);
            c.seekToBeginning(partitions);
            Map<TopicPartition, Long> end = c.endOffsets(partitions);
            List<ConsumerRecord<String, String>> out = new ArrayList<>();
            long deadline = System.nanoTime() + Duration.ofSeconds(30).toNanos();
            while (partitions.stream().anyMatch(tp -> c.position(tp) < end.get(tp)) && System.nanoTime() < deadline) {
                c.poll(Duration.ofMillis(200)).forEach(out::add);
            }
            return out;
        }
    }

    /** {@link #readToEnd} with read_committed, the records' values. */
    public static List<String> committedValues(String bootstrap, List<TopicPartition> partitions) {
        return readToEnd(bootstrap, "read_committed", partitions).stream().map(ConsumerRecord::value).toList();
    }

    /** Polls until {@code count} records have arrived or 30 seconds have passed. */
    public static List<ConsumerRecord<String, String>> pollAtLeast(KafkaConsumer<String, String> c, int count) {
        List<ConsumerRecord<String, String>> out = new ArrayList<>();
        long deadline = System.currentTimeMillis() + 30_000;
        while (out.size() < count && System.currentTimeMillis() < deadline) {
            c.poll(Duration.ofMillis(200)).forEach(out::add);
        }
        return out;
    }
}
