package io.runnel.partition;

import io.runnel.log.TopicStore.TopicRecord;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;

/**
 * A topic as the cluster metadata has it: its record (name, id, partition count, configs), where each partition
 * lives, and the partitions being reassigned (KIP-455): while a reassignment runs, a partition's replicas are the
 * target followed by the replicas being removed, and it completes once every target replica is in the ISR.
 */
public record ClusterTopic(TopicRecord record, List<Placement> placements, Map<Integer, Reassignment> reassignments) {
    /** A running reassignment: the replicas before it ({@code origin}, restored on cancel) and the wanted ones. */
    public record Reassignment(List<Integer> origin, List<Integer> target) {
        public Reassignment {
            origin = List.copyOf(origin);
            target = List.copyOf(target);
        }

        /** Replicas being added: in the target and not in the origin. */
        public List<Integer> adding() {
            return target.stream().filter(r -> !origin.contains(r)).toList();
        }

        /** The partition's replicas while it runs: the target, then the replicas being removed. */
        public List<Integer> replicas() {
            List<Integer> out = new ArrayList<>(target);
            for (int r : origin) if (!out.contains(r)) out.add(r);
            return List.copyOf(out);
        }

        /** Replicas being removed: in the origin and not in the target. */
        public List<Integer> removing() {
            return origin.stream().filter(r -> !target.contains(r)).toList();
        }
    }

    public ClusterTopic {
        placements = List.copyOf(placements);
        reassignments = Map.copyOf(reassignments);
        if (placements.size() != record.partitions()) {
            throw new IllegalArgumentException(record.name() + ": " + placements.size() + " placements for " + record.partitions() + " partitions");
        }
    }

    public ClusterTopic(TopicRecord record, List<Placement> placements) {
        this(record, placements, Map.of());
    }

    /** The same topic with other placements (running reassignments kept). */
    public ClusterTopic withPlacements(List<Placement> next) {
        return new ClusterTopic(record, next, reassignments);
    }

    /** The same topic with another record (a config change, more partitions), placements and reassignments kept. */
    public ClusterTopic withRecord(TopicRecord r, List<Placement> next) {
        return new ClusterTopic(r, next, reassignments);
    }
}
