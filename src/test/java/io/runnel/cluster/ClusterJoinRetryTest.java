package io.runnel.cluster;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import com.hazelcast.core.Hazelcast;
import com.hazelcast.core.HazelcastInstance;
import io.runnel.config.BrokerConfig;
import io.runnel.server.Broker;
import io.runnel.testkit.Brokers;
import io.runnel.testkit.FreePorts;
import io.runnel.testkit.KafkaClients;
import io.vertx.core.Future;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.TimeUnit;
import org.apache.kafka.clients.admin.Admin;
import org.apache.kafka.common.utils.Time;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Brokers started together may first form Hazelcast clusters of their own; when those merge at once, a member that is
 * merging refuses the others' joins (cluster state FROZEN) and Hazelcast shuts the refused member down. A broker still
 * starting then joins again instead of failing its start (a CI run lost one of three brokers found through DNS so).
 */
class ClusterJoinRetryTest {
    @TempDir
    Path dir;
    private final List<Broker> started = new ArrayList<>();

    @AfterEach
    void stop() throws Exception {
        for (Broker b : started) b.stop().get(60, TimeUnit.SECONDS);
    }

    @Test
    void aBrokerWhoseMemberHazelcastEndsWhileItJoinsJoinsAgain() throws Exception {
        int[] ports = {FreePorts.freePort(), FreePorts.freePort(), FreePorts.freePort()};
        Future<Broker> first = Broker.start(config(1, ports), Time.SYSTEM);
        // Broker 1 waits for a second founder before the cluster id is chosen: its member alone in its cluster.
        HazelcastInstance member = await().atMost(Duration.ofSeconds(30)).until(this::onlyMember, m -> m != null);
        member.getLifecycleService().terminate(); // as Hazelcast does with a member whose merge was refused

        Future<Broker> third = Broker.start(config(3, ports), Time.SYSTEM);
        Broker second = Brokers.await(Broker.start(config(2, ports), Time.SYSTEM));
        started.add(second);
        started.add(Brokers.await(third));
        Broker one = first.toCompletionStage().toCompletableFuture().get(60, TimeUnit.SECONDS);
        started.add(one);
        assertThat(one.meta().clusterId()).isEqualTo(second.meta().clusterId());
        assertThat(Hazelcast.getAllHazelcastInstances()).hasSize(3).doesNotContain(member);
        try (Admin admin = KafkaClients.admin(one.bootstrapServers())) {
            await().atMost(Duration.ofSeconds(30)).until(() -> admin.describeCluster().nodes().get().size() == 3);
        }
    }

    private HazelcastInstance onlyMember() {
        Set<HazelcastInstance> all = Hazelcast.getAllHazelcastInstances();
        if (all.size() != 1) return null;
        HazelcastInstance m = all.iterator().next();
        return m.getLifecycleService().isRunning() && m.getCluster().getMembers().size() == 1 ? m : null;
    }

    private BrokerConfig config(int node, int[] ports) {
        Map<String, String> m = new HashMap<>(Brokers.testConfig(dir.resolve("broker-" + node)));
        m.put("node.id", String.valueOf(node));
        m.put("cluster.members", "127.0.0.1:" + ports[0] + ",127.0.0.1:" + ports[1] + ",127.0.0.1:" + ports[2]);
        m.put("cluster.quorum.voters", "1,2,3"); // a new cluster waits for two (a majority) before choosing its id
        m.put("cluster.host", "127.0.0.1");
        m.put("cluster.port", String.valueOf(ports[node - 1]));
        return BrokerConfig.of(m);
    }
}
