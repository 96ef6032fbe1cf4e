package io.runnel.partition;

import io.vertx.core.Future;
import java.util.List;
import java.util.Map;
import org.apache.kafka.common.TopicPartition;
import org.apache.kafka.common.requests.ApiError;

/**
 * Who decides about topics when the broker is part of a cluster: the controller. {@link TopicAdmin} validates a
 * request locally and hands it over; the change comes back in a cluster image ({@link ClusterImageApplier#apply}).
 * The futures fail with Kafka's exceptions (TopicExistsException, UnknownTopicOrPartitionException,
 * InvalidReplicationFactorException, NotControllerException...).
 */
public interface TopicAuthority {
    Future<Void> createTopic(String name, int partitions, int replicationFactor, Map<String, String> configs);

    /** CreateTopics with a manual assignment: partition p's replicas are {@code assignment.get(p)}, the first preferred. */
    Future<Void> createTopic(String name, List<List<Integer>> assignment, Map<String, String> configs);

    Future<Void> deleteTopic(String name);

    Future<Void> createPartitions(String name, int total);

    Future<Void> alterTopicConfig(String name, Map<String, String> configs);

    /**
     * Kafka's ElectLeaders: preferred (or, with {@code unclean}, any live replica for leaderless partitions) leaders for
     * {@code partitions} ({@code topic -> partitions}; null for all); the result per partition, NONE when elected.
     */
    Future<Map<TopicPartition, ApiError>> electLeaders(boolean unclean,
            Map<String, List<Integer>> partitions);

    /**
     * Kafka's AlterPartitionReassignments for one partition: moves it to {@code replicas}, or cancels a running
     * reassignment when null; {@code allowReplicationFactorChange} false refuses a different replica count (KIP-860).
     */
    Future<Void> reassign(String topic, int partition, List<Integer> replicas, boolean allowReplicationFactorChange);


    /**
     * A leader's ISR change (Kafka's AlterPartition): taken only while it still leads in {@code leaderEpoch}.
     * Completes with the partition epoch of the placement that holds it (the leader goes by the larger of its ISR and
     * the proposed one until it has that placement: Kafka's maximal ISR, KIP-497).
     */
    Future<Integer> alterIsr(String topic, int partition, int leaderEpoch, List<Integer> isr);
}
