package io.runnel.partition;

import io.runnel.config.TopicConfig;
import java.util.ArrayList;
import java.util.Collections;
import java.util.List;
import java.util.Objects;
import org.apache.kafka.common.Uuid;

/**
 * A topic as this broker runs it: its {@link TopicMetadata} (the same on every broker), the configuration in effect
 * here (the topic's overrides over this broker's defaults), and, per partition, the handle of this broker's replica
 * and its deployment id, or null for a partition held elsewhere. Immutable; a change replaces it in the
 * {@link TopicRegistry}. {@link TopicMetadata}'s header says why a topic has three types.
 */
public record LocalTopic(TopicMetadata metadata, TopicConfig config, List<PartitionHandle> partitions, List<String> deploymentIds) {
    public LocalTopic {
        partitions = Collections.unmodifiableList(new ArrayList<>(partitions));
        deploymentIds = Collections.unmodifiableList(new ArrayList<>(deploymentIds));
        if (partitions.size() != metadata.placements().size() || deploymentIds.size() != partitions.size()) {
            throw new IllegalArgumentException(metadata.record().name() + ": " + partitions.size() + " replicas and " + deploymentIds.size()
                    + " deployments for " + metadata.placements().size() + " partitions");
        }
    }

    public String name() {
        return metadata.record().name();
    }

    public Uuid topicId() {
        return metadata.record().topicId();
    }

    /** Where each partition lives and who leads it. */
    public List<Placement> placements() {
        return metadata.placements();
    }

    /** This broker's replica of partition {@code p}, or null when it holds none (or there is no such partition). */
    public PartitionHandle local(int p) {
        return p >= 0 && p < partitions.size() ? partitions.get(p) : null;
    }

    /**
     * The leader of partition {@code p} as this broker knows it now (-1: none): its own replica's placement when it
     * holds one (newest, applied by the replica), else the topic's.
     */
    public int leader(int p) {
        PartitionHandle h = local(p);
        return (h != null ? h.placement() : placements().get(p)).leader();
    }

    /** The handles of this broker's replicas. */
    public List<PartitionHandle> localPartitions() {
        return partitions.stream().filter(Objects::nonNull).toList();
    }

    /** The same replicas under another configuration (new overrides or new broker defaults). */
    LocalTopic withConfig(TopicMetadata m, TopicConfig c) {
        return new LocalTopic(m, c, partitions, deploymentIds);
    }
}
