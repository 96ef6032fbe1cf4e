package io.runnel.partition;

import static org.assertj.core.api.Assertions.assertThat;

import io.runnel.server.Broker;
import io.runnel.testkit.Brokers;
import io.vertx.core.Vertx;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import org.apache.kafka.common.utils.Time;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * What a broker assumes at start about the replicas it finds on disk. A broker alone leads them at once; a broker of
 * a cluster holds them without a leader until the controller's placement arrives, so that a broker restarted while
 * the cluster went on (or while no controller could answer) neither acknowledges writes nor coordinates groups on a
 * log the cluster has moved past, to truncate later what it acknowledged (a fault campaign saw committed offsets go
 * backwards that way).
 */
class StoredReplicasTest {
    @TempDir
    Path data;

    @Test
    void aClusteredBrokerHoldsItsStoredReplicasWithoutLeadingThem() throws Exception {
        Broker broker = Brokers.start(data);
        try {
            Brokers.await(broker.topicAdmin().createTopic("kept", 2, Map.of()));
        } finally {
            broker.stop().get(30, TimeUnit.SECONDS);
        }
        int nodeId = 1;
        Vertx vertx = Vertx.vertx();
        try {
            LocalReplicas replicas = new LocalReplicas(vertx, null, null, data, Time.SYSTEM, nodeId);
            List<LocalReplicas.Stored> clustered = Brokers.await(replicas.loadStored(true));
            LocalReplicas.Stored kept = clustered.stream().filter(s -> s.record().name().equals("kept")).findFirst().orElseThrow();
            assertThat(kept.held()).hasSize(2).allSatisfy(p -> {
                assertThat(p.hasLeader()).as("led by nobody until the controller says").isFalse();
                assertThat(p.replicas()).containsExactly(nodeId);
                assertThat(p.standIn(nodeId)).isTrue();
            });
            List<LocalReplicas.Stored> alone = Brokers.await(replicas.loadStored(false));
            assertThat(alone.stream().filter(s -> s.record().name().equals("kept")).findFirst().orElseThrow().held())
                    .containsOnly(Placement.alone(nodeId));
        } finally {
            vertx.close().toCompletionStage().toCompletableFuture().get(30, TimeUnit.SECONDS);
        }
    }
}
