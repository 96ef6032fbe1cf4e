package io.runnel.cluster;

import java.util.Map;
import org.apache.kafka.common.Uuid;

/**
 * Where the controller keeps the cluster's topic metadata (one JSON text per topic, {@link TopicJson}) and the
 * tombstones of deleted topics. Every write is fenced by the controller epoch it is made under: a controller that was
 * replaced gets {@code NOT_CONTROLLER} instead of overwriting its successor's metadata. Calls block (Hazelcast).
 *
 * <p>Two implementations: {@link ApMetadataStore} (Hazelcast maps; the oldest-member controller) and
 * {@link CpMetadata} (one value in the CP subsystem, replicated by Raft; the FencedLock controller). docs/cluster.md
 * explains when each is used.
 */
interface MetadataStore {
    /** Fails with {@code NOT_CONTROLLER} unless {@code epoch} is still the controller epoch of the metadata. */
    void checkEpoch(long epoch);

    /** The topic's JSON, or null. */
    String topic(String name);

    /** Every topic (name to JSON) at once: one read, where a topic at a time would read the CP image per topic. */
    Map<String, String> topics();

    /** Adds the topic unless one of that name exists; false when it does. */
    boolean createTopic(long epoch, String name, String json);

    void putTopic(long epoch, String name, String json);

    /** Tombstones the topic's id (brokers delete their replicas) and removes the topic. */
    void deleteTopic(long epoch, String name, Uuid id);

    boolean isDeleted(Uuid id);

    /**
     * The version of the metadata the quorum has committed (a linearizable read), which a restarting broker waits to
     * have applied before it serves; -1 when this store cannot tell (the broker then serves from its first image).
     */
    default long committedVersion() {
        return -1;
    }
}
