package io.runnel.partition;

import java.util.Map;
import java.util.Set;
import org.apache.kafka.common.Uuid;

/**
 * The cluster's topic metadata as a broker receives it, whole (KRaft's metadata image): every topic with its
 * placements, and the ids of deleted topics, whose replicas are deleted wherever they remain. A broker applies images
 * in version order and ignores one that is not newer than the last it applied ({@link ClusterImageApplier}). In CP
 * mode the version is the metadata quorum's; in oldest-member mode a broker numbers the images it assembles from
 * Hazelcast's map events itself, in the order it assembles them.
 */
public record MetadataImage(long version, Map<String, TopicMetadata> topics, Set<Uuid> deleted) {
    public MetadataImage {
        topics = Map.copyOf(topics);
        deleted = Set.copyOf(deleted);
    }
}
