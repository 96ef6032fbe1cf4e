package io.runnel.partition;

import io.runnel.log.TopicStore.TopicRecord;
import java.util.List;

/** A topic as the cluster metadata has it: its record (name, id, partition count, configs) and where each partition lives. */
public record ClusterTopic(TopicRecord record, List<Placement> placements) {
    public ClusterTopic {
        placements = List.copyOf(placements);
        if (placements.size() != record.partitions()) {
            throw new IllegalArgumentException(record.name() + ": " + placements.size() + " placements for " + record.partitions() + " partitions");
        }
    }
}
