package io.runnel.cluster;

import static org.assertj.core.api.Assertions.assertThat;

import com.hazelcast.config.JoinConfig;
import io.runnel.config.BrokerConfig;
import java.util.HashMap;
import java.util.Map;
import org.junit.jupiter.api.Test;

/** cluster.discovery becomes exactly one of Hazelcast's join mechanisms, with Runnel's keys as its properties. */
class HazelcastJoinConfigTest {

    private static JoinConfig join(Map<String, String> keys) {
        Map<String, String> all = new HashMap<>(keys);
        if (!keys.containsKey("cluster.members")) all.put("cluster.quorum.voters", "0,1,2");
        return HazelcastMember.hazelcastConfig(BrokerConfig.of(all)).getNetworkConfig().getJoin();
    }

    @Test
    void membersIsTcpIpToTheList() {
        JoinConfig j = join(Map.of("cluster.members", "10.0.0.1:5701,10.0.0.2"));
        assertThat(j.getTcpIpConfig().isEnabled()).isTrue();
        assertThat(j.getTcpIpConfig().getMembers()).containsExactly("10.0.0.1:5701", "10.0.0.2:5701");
        assertThat(j.getMulticastConfig().isEnabled()).isFalse();
        assertThat(j.getKubernetesConfig().isEnabled()).isFalse();
        assertThat(j.getAutoDetectionConfig().isEnabled()).as("never a cluster it was not told about").isFalse();
    }

    @Test
    void multicastUsesTheGroupAndPort() {
        JoinConfig j = join(Map.of("cluster.discovery", "multicast", "cluster.multicast.group", "239.9.9.9", "cluster.multicast.port", "54400"));
        assertThat(j.getMulticastConfig().isEnabled()).isTrue();
        assertThat(j.getMulticastConfig().getMulticastGroup()).isEqualTo("239.9.9.9");
        assertThat(j.getMulticastConfig().getMulticastPort()).isEqualTo(54400);
        assertThat(j.getTcpIpConfig().isEnabled()).isFalse();
        assertThat(j.getKubernetesConfig().isEnabled()).isFalse();
    }

    @Test
    void kubernetesDnsLooksUpTheServiceAndJoinsOnTheClusterPort() {
        JoinConfig j = join(Map.of("cluster.discovery", "kubernetes-dns", "cluster.kubernetes.service.dns", "runnel-headless.prod.svc.cluster.local",
                "cluster.port", "5801"));
        assertThat(j.getKubernetesConfig().isEnabled()).isTrue();
        assertThat(j.getKubernetesConfig().getProperty("service-dns")).isEqualTo("runnel-headless.prod.svc.cluster.local");
        assertThat(j.getKubernetesConfig().getProperty("service-port")).isEqualTo("5801");
        assertThat(j.getTcpIpConfig().isEnabled()).isFalse();
        assertThat(j.getMulticastConfig().isEnabled()).isFalse();
    }

    @Test
    void kubernetesApiAsksForTheServicesEndpoints() {
        JoinConfig j = join(Map.of("cluster.discovery", "kubernetes-api", "cluster.kubernetes.namespace", "prod",
                "cluster.kubernetes.service.name", "runnel-headless"));
        assertThat(j.getKubernetesConfig().isEnabled()).isTrue();
        assertThat(j.getKubernetesConfig().getProperty("namespace")).isEqualTo("prod");
        assertThat(j.getKubernetesConfig().getProperty("service-name")).isEqualTo("runnel-headless");
        assertThat(j.getKubernetesConfig().getProperty("service-dns")).isNull();
        assertThat(join(Map.of("cluster.discovery", "kubernetes-api")).getKubernetesConfig().getProperty("namespace"))
                .as("by default Hazelcast reads the pod's namespace").isNull();
    }
}
