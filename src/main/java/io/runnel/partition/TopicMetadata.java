package io.runnel.partition;

import io.runnel.log.value.TopicRecord;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;

/**
 * What a topic is, the same on every broker: its record (name, id, partition count, config overrides), where each
 * partition lives and who leads it, and the partitions being reassigned (KIP-455): while a reassignment runs, a
 * partition's replicas are the target followed by the replicas being removed, and it completes once every target
 * replica is in the ISR. The controller decides it and every broker receives it in a {@link MetadataImage}; a broker
 * alone holds every partition itself ({@link Placement#alone}).
 *
 * <p>Three types describe a topic, each adding what the one below cannot know: {@code TopicRecord} (package
 * {@code log}) is what a broker stores in {@code topics/<name>.properties} and needs to open its logs; this type adds
 * the placements, which only the controller decides and which no broker's files are the truth for;
 * {@link LocalTopic} adds what runs on this broker (the effective configuration and the replicas' handles).
 */
public record TopicMetadata(TopicRecord record, List<Placement> placements, Map<Integer, Reassignment> reassignments) {
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

    public TopicMetadata {
        placements = List.copyOf(placements);
        reassignments = Map.copyOf(reassignments);
        if (placements.size() != record.partitions()) {
            throw new IllegalArgumentException(record.name() + ": " + placements.size() + " placements for " + record.partitions() + " partitions");
        }
    }

    public TopicMetadata(TopicRecord record, List<Placement> placements) {
        this(record, placements, Map.of());
    }

    /** The same topic with other placements (running reassignments kept). */
    public TopicMetadata withPlacements(List<Placement> next) {
        return new TopicMetadata(record, next, reassignments);
    }

    /** The same topic with another record (a config change, more partitions), placements and reassignments kept. */
    public TopicMetadata withRecord(TopicRecord r, List<Placement> next) {
        return new TopicMetadata(r, next, reassignments);
    }
}
