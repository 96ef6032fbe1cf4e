package io.runnel.quorum;

import io.microraft.RaftEndpoint;
import java.util.Objects;

/**
 * A broker as a member of the metadata quorum: its node id and the id of the metadata directory it keeps the quorum's
 * log in. The directory id (as Kafka's KIP-853 directory id) tells a voter that kept its disk from one that lost it: a
 * broker that comes back with an empty directory has a new id and is a new member, never the old voter whose votes
 * and log entries it no longer has.
 *
 * @param nodeId      the broker's {@code node.id}
 * @param directoryId made once, when the broker's quorum directory is created
 */
public record QuorumEndpoint(int nodeId, String directoryId) implements RaftEndpoint {
    public QuorumEndpoint {
        Objects.requireNonNull(directoryId);
    }

    @Override
    public Object getId() {
        return nodeId + "/" + directoryId;
    }

    @Override
    public String toString() {
        return "broker " + nodeId + " (" + directoryId + ")";
    }
}
