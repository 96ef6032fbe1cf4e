package io.runnel.http;

import io.runnel.cluster.BrokerLinks;
import io.runnel.cluster.ClusterView;
import io.runnel.config.BrokerConfig;
import io.runnel.config.DynamicBrokerConfig;
import io.runnel.group.GroupCoordinator;
import io.runnel.metrics.BrokerMetrics;
import io.runnel.partition.TopicAdmin;
import io.runnel.partition.TopicRegistry;
import io.runnel.security.BrokerSecurity;
import io.runnel.share.SharePartitionManager;
import io.runnel.transaction.TransactionCoordinator;
import io.runnel.transaction.TxnVerifier;
import io.vertx.core.Vertx;
import java.util.Map;
import java.util.function.BooleanSupplier;
import java.util.function.Supplier;
import org.apache.kafka.common.utils.Time;

/**
 * What the HTTP endpoint needs from the broker, handed over by {@code server.Broker} (http does not reach into
 * server).
 *
 * @param kafkaListeners the Kafka listeners as clients reach them ({@code host:port} by listener name), once bound
 */
public record HttpServices(Vertx vertx, int nodeId, String clusterId, BrokerConfig config, DynamicBrokerConfig dynamicConfig, TopicRegistry topics,
                           TopicAdmin topicAdmin, GroupCoordinator groups, BrokerMetrics metrics, Time time, Supplier<Map<String, String>> kafkaListeners,
                           BooleanSupplier ready, ClusterView cluster, TransactionCoordinator transactions, TxnVerifier txnVerifier,
                           BrokerSecurity security, BrokerLinks links, SharePartitionManager shares, Publisher publisher) {
    /**
     * @param links how this broker reaches the leaders of partitions it does not lead (in a cluster), or null for a
     *              single broker
     * @param shares the share-partitions this broker leads (share groups' delivery state)
     */
    public HttpServices(Vertx vertx, int nodeId, String clusterId, BrokerConfig config, DynamicBrokerConfig dynamicConfig, TopicRegistry topics,
                        TopicAdmin topicAdmin, GroupCoordinator groups, BrokerMetrics metrics, Time time, Supplier<Map<String, String>> kafkaListeners,
                        BooleanSupplier ready, ClusterView cluster, TransactionCoordinator transactions, TxnVerifier txnVerifier, BrokerSecurity security,
                        BrokerLinks links, SharePartitionManager shares) {
        this(vertx, nodeId, clusterId, config, dynamicConfig, topics, topicAdmin, groups, metrics, time, kafkaListeners, ready, cluster,
                transactions, txnVerifier, security, links, shares, new Publisher(topics, time, metrics, links, vertx));
    }

    /**
     * {@code node} when it is another broker this one can carry a call to (in a cluster), else -1: no broker (-1), this
     * broker, or no cluster, where the call is made here.
     */
    public int elsewhere(int node) {
        return links == null || node < 0 || node == nodeId ? -1 : node;
    }
}
