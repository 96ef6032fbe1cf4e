package io.runnel.partition;

import io.vertx.core.Future;
import java.util.Map;

/**
 * Who decides about topics when the broker is part of a cluster: the controller. {@link Partitions} validates a
 * request locally and hands it over; the change comes back as a new cluster image ({@link Partitions#applyCluster}).
 * The futures fail with Kafka's exceptions (TopicExistsException, UnknownTopicOrPartitionException,
 * InvalidReplicationFactorException, NotControllerException...).
 */
public interface TopicAuthority {
    Future<Void> createTopic(String name, int partitions, int replicationFactor, Map<String, String> configs);

    Future<Void> deleteTopic(String name);

    Future<Void> createPartitions(String name, int total);

    Future<Void> alterTopicConfig(String name, Map<String, String> configs);

    /**
     * Kafka's ElectLeaders: preferred (or, with {@code unclean}, any live replica for leaderless partitions) leaders for
     * {@code partitions} ({@code topic -> partitions}; null for all); the result per partition, NONE when elected.
     */
    Future<java.util.Map<org.apache.kafka.common.TopicPartition, org.apache.kafka.common.requests.ApiError>> electLeaders(boolean unclean,
            java.util.Map<String, java.util.List<Integer>> partitions);

    /**
     * Kafka's AlterPartitionReassignments for one partition: moves it to {@code replicas}, or cancels a running
     * reassignment when null; {@code allowReplicationFactorChange} false refuses a different replica count (KIP-860).
     */
    Future<Void> reassign(String topic, int partition, java.util.List<Integer> replicas, boolean allowReplicationFactorChange);

    /** The running reassignments as this broker's copy of the metadata has them. */
    java.util.Map<org.apache.kafka.common.TopicPartition, ClusterTopic.Reassignment> reassignments();

    /** A leader's ISR change (Kafka's AlterPartition): taken only while it still leads in {@code leaderEpoch}. */
    Future<Void> alterIsr(String topic, int partition, int leaderEpoch, java.util.List<Integer> isr);
}
