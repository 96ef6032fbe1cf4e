package io.runnel.log.value;

import java.util.Map;
import org.apache.kafka.common.Uuid;

/**
 * A topic as a broker stores it in {@code topics/<name>.properties} ({@code TopicStore}): its name, id, partition
 * count and configuration overrides, which is what opening its logs needs. {@code partition.TopicMetadata}'s header
 * says why a topic has three types.
 */
public record TopicRecord(String name, Uuid topicId, int partitions, Map<String, String> configs) {
}
