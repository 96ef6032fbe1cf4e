package io.runnel.config;

import static io.runnel.config.ConfigKey.enumKey;
import static io.runnel.config.ConfigKey.intKey;
import static io.runnel.config.ConfigKey.longKey;

import io.runnel.log.LogConfig;
import java.util.ArrayList;
import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.TreeSet;

/**
 * A topic's configuration: Kafka's topic-level keys, each overriding the broker key that is its default (the
 * "synonym" of Kafka's DescribeConfigs: {@code retention.ms} falls back to {@code log.retention.ms}, and so on).
 * Only keys that Runnel honours are accepted; anything else is refused by name, as Kafka refuses unknown keys.
 */
public final class TopicConfig {

    public static final ConfigKey<String> CLEANUP_POLICY = new ConfigKey<>("cleanup.policy", "delete",
            "delete, compact, or both (a comma-separated list)", TopicConfig::cleanupPolicy,
            "delete: old segments go by retention time and size; compact: closed segments keep only the latest record per key.");
    public static final ConfigKey<Long> DELETE_RETENTION_MS = longKey("delete.retention.ms", null, 0, Long.MAX_VALUE,
            "How long compaction keeps a tombstone (a record with a null value) so that consumers see the deletion.");
    public static final ConfigKey<Long> RETENTION_MS = longKey("retention.ms", null, -1, Long.MAX_VALUE, "See log.retention.ms.");
    public static final ConfigKey<Long> RETENTION_BYTES = longKey("retention.bytes", null, -1, Long.MAX_VALUE, "See log.retention.bytes.");
    public static final ConfigKey<Integer> SEGMENT_BYTES = intKey("segment.bytes", null, 14, Integer.MAX_VALUE, "See log.segment.bytes.");
    public static final ConfigKey<Long> SEGMENT_MS = longKey("segment.ms", null, 1, Long.MAX_VALUE, "See log.roll.ms.");
    public static final ConfigKey<Integer> MAX_MESSAGE_BYTES = intKey("max.message.bytes", null, 0, Integer.MAX_VALUE, "See message.max.bytes.");
    public static final ConfigKey<Long> FLUSH_MESSAGES = longKey("flush.messages", null, 1, Long.MAX_VALUE, "See log.flush.interval.messages.");
    public static final ConfigKey<Long> FLUSH_MS = longKey("flush.ms", null, 0, Long.MAX_VALUE, "See log.flush.interval.ms.");
    public static final ConfigKey<Integer> INDEX_INTERVAL_BYTES = intKey("index.interval.bytes", null, 0, Integer.MAX_VALUE, "See log.index.interval.bytes.");
    public static final ConfigKey<Integer> MIN_INSYNC_REPLICAS = intKey("min.insync.replicas", null, 1, Short.MAX_VALUE, "See min.insync.replicas.");
    public static final ConfigKey<String> MESSAGE_TIMESTAMP_TYPE = enumKey("message.timestamp.type", null,
            Set.of("CreateTime", "LogAppendTime"), "See log.message.timestamp.type.");

    public static final List<ConfigKey<?>> KEYS = List.of(CLEANUP_POLICY, DELETE_RETENTION_MS, RETENTION_MS, RETENTION_BYTES, SEGMENT_BYTES,
            SEGMENT_MS, MAX_MESSAGE_BYTES, FLUSH_MESSAGES, FLUSH_MS, INDEX_INTERVAL_BYTES, MESSAGE_TIMESTAMP_TYPE, MIN_INSYNC_REPLICAS);

    private final Map<String, String> overrides;
    private final LogConfig logConfig;
    private final int minInsyncReplicas;

    /** The broker key whose value a topic key falls back to (Kafka's synonyms); null when there is none. */
    public static final Map<String, String> BROKER_SYNONYMS = Map.of(
            "retention.ms", "log.retention.ms", "retention.bytes", "log.retention.bytes", "segment.bytes", "log.segment.bytes",
            "segment.ms", "log.roll.ms", "max.message.bytes", "message.max.bytes", "flush.messages", "log.flush.interval.messages",
            "flush.ms", "log.flush.interval.ms", "index.interval.bytes", "log.index.interval.bytes",
            "message.timestamp.type", "log.message.timestamp.type", "min.insync.replicas", "min.insync.replicas");

    private TopicConfig(Map<String, String> overrides, LogConfig logConfig, int minInsyncReplicas) {
        this.overrides = Collections.unmodifiableMap(overrides);
        this.logConfig = logConfig;
        this.minInsyncReplicas = minInsyncReplicas;
    }

    /** The fewest in-sync replicas for an acks=all produce (min.insync.replicas, else the broker's). */
    public int minInsyncReplicas() {
        return minInsyncReplicas;
    }

    /** Validates {@code overrides} (throws {@link ConfigException} naming the bad key) and merges the broker defaults. */
    public static TopicConfig of(BrokerConfig broker, Map<String, String> overrides) {
        Map<String, ConfigKey<?>> known = new LinkedHashMap<>();
        KEYS.forEach(k -> known.put(k.name(), k));
        Map<String, Object> parsed = new LinkedHashMap<>();
        for (Map.Entry<String, String> e : overrides.entrySet()) {
            ConfigKey<?> key = known.get(e.getKey());
            if (key == null) {
                throw new ConfigException("Unknown topic configuration key '" + e.getKey() + "'; Runnel honours " + names() + ".");
            }
            parsed.put(e.getKey(), key.parse(e.getValue(), "topic configuration"));
        }
        LogConfig log = new LogConfig(
                (Integer) parsed.getOrDefault(SEGMENT_BYTES.name(), broker.get(BrokerConfig.LOG_SEGMENT_BYTES)),
                (Long) parsed.getOrDefault(SEGMENT_MS.name(), broker.rollMs()),
                (Long) parsed.getOrDefault(RETENTION_MS.name(), broker.retentionMs()),
                (Long) parsed.getOrDefault(RETENTION_BYTES.name(), broker.get(BrokerConfig.LOG_RETENTION_BYTES)),
                (Integer) parsed.getOrDefault(MAX_MESSAGE_BYTES.name(), broker.get(BrokerConfig.MESSAGE_MAX_BYTES)),
                (Integer) parsed.getOrDefault(INDEX_INTERVAL_BYTES.name(), broker.get(BrokerConfig.LOG_INDEX_INTERVAL_BYTES)),
                (Long) parsed.getOrDefault(FLUSH_MESSAGES.name(), broker.get(BrokerConfig.LOG_FLUSH_INTERVAL_MESSAGES)),
                (Long) parsed.getOrDefault(FLUSH_MS.name(), broker.flushIntervalMs()),
                "LogAppendTime".equals(parsed.getOrDefault(MESSAGE_TIMESTAMP_TYPE.name(),
                        broker.get(BrokerConfig.LOG_MESSAGE_TIMESTAMP_TYPE))),
                ((String) parsed.getOrDefault(CLEANUP_POLICY.name(), "delete")).contains("compact"),
                ((String) parsed.getOrDefault(CLEANUP_POLICY.name(), "delete")).contains("delete"),
                (Long) parsed.getOrDefault(DELETE_RETENTION_MS.name(), 86_400_000L));
        int minIsr = parsed.containsKey(MIN_INSYNC_REPLICAS.name()) ? (Integer) parsed.get(MIN_INSYNC_REPLICAS.name())
                : broker.get(BrokerConfig.MIN_INSYNC_REPLICAS);
        return new TopicConfig(new LinkedHashMap<>(overrides), log, minIsr);
    }

    private static String cleanupPolicy(String text) {
        Set<String> parts = new TreeSet<>();
        for (String p : text.split(",")) parts.add(p.trim());
        if (parts.isEmpty() || !Set.of("delete", "compact").containsAll(parts)) throw new IllegalArgumentException();
        return String.join(",", parts);
    }

    /** One effective topic setting, as DescribeConfigs reports it. */
    public record Entry(String name, String value, boolean overridden, String brokerKey, String brokerValue, String doc) {
    }

    /** Every topic key with its effective value: the override, else the broker's value for its synonym. */
    public List<Entry> describe(BrokerConfig broker) {
        List<Entry> out = new ArrayList<>();
        for (ConfigKey<?> k : KEYS) {
            String brokerKey = BROKER_SYNONYMS.get(k.name());
            String brokerValue = switch (k.name()) {
                case "cleanup.policy" -> "delete";
                case "delete.retention.ms" -> "86400000";
                case "retention.ms" -> Long.toString(broker.retentionMs());
                case "segment.ms" -> Long.toString(broker.rollMs());
                case "flush.ms" -> Long.toString(broker.flushIntervalMs());
                default -> String.valueOf(broker.values().get(brokerKey));
            };
            String override = overrides.get(k.name());
            out.add(new Entry(k.name(), override != null ? override : brokerValue, override != null, brokerKey, brokerValue, k.doc()));
        }
        return out;
    }

    private static String names() {
        return String.join(", ", KEYS.stream().map(ConfigKey::name).toList());
    }

    /** The keys set on the topic itself, as given. */
    public Map<String, String> overrides() {
        return overrides;
    }

    /** The largest record batch the topic accepts, in bytes (max.message.bytes, else message.max.bytes). */
    public int maxMessageBytes() {
        return logConfig.maxMessageBytes();
    }

    public LogConfig logConfig() {
        return logConfig;
    }
}
