package io.runnel.kafka;

import io.runnel.cluster.ClusterView;
import io.runnel.config.BrokerConfig;
import io.runnel.config.DynamicBrokerConfig;
import io.runnel.group.GroupCoordinator;
import io.runnel.metrics.BrokerMetrics;
import io.runnel.partition.ProducerIdManager;
import io.runnel.partition.TopicAdmin;
import io.runnel.partition.TopicRegistry;
import io.runnel.security.BrokerSecurity;
import io.runnel.share.SharePartitionManager;
import io.runnel.transaction.TransactionCoordinator;
import io.runnel.transaction.TxnVerifier;

/**
 * What the Kafka API handlers need from the broker, handed over by {@code server.Broker} (the kafka package does
 * not reach into server).
 */
public record BrokerInfo(int nodeId, String clusterId, BrokerConfig config, DynamicBrokerConfig dynamicConfig, TopicRegistry topics,
                         TopicAdmin topicAdmin, ProducerIdManager producerIds, GroupCoordinator groups, TransactionCoordinator transactions,
                         TxnVerifier txnVerifier, BrokerMetrics metrics, ClusterView cluster,
                         BrokerSecurity security, SharePartitionManager shares) {
}
