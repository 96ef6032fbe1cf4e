package io.runnel.chaos;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import io.runnel.testkit.KafkaClients;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.net.InetAddress;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.stream.IntStream;
import org.apache.kafka.clients.admin.Admin;
import org.apache.kafka.clients.admin.NewTopic;
import org.apache.kafka.clients.consumer.ConsumerRecord;
import org.apache.kafka.clients.producer.KafkaProducer;
import org.apache.kafka.clients.producer.ProducerConfig;
import org.apache.kafka.clients.producer.ProducerRecord;
import org.apache.kafka.common.TopicPartition;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * {@code cluster.discovery} beyond a fixed member list, on a real network: three brokers, each in its own network
 * namespace on a bridge the test makes ({@link Netns}), none told the others' addresses. Multicast: they find each
 * other by Hazelcast's multicast announcements across the bridge, and a broker restarted finds them again. Kubernetes
 * DNS: one name resolves to the three addresses, as a headless Service's name does in Kubernetes (here through a hosts
 * file the brokers' JVMs read, {@code jdk.net.hosts.file}, so no DNS server is needed). Either way the three form one
 * cluster with the metadata quorum of {@code cluster.quorum.voters} and serve a replicated topic with acks=all. A new
 * cluster's brokers found by discovery first form clusters of one and merge seconds later: the test also checks that
 * they still agree on one cluster id (they failed to before a new cluster waited for a majority of its voters).
 */
class ClusterDiscoveryTest {
    private static final String SERVICE = "runnel-headless.runnel.svc.cluster.local";

    @TempDir
    Path dir;

    @BeforeAll
    static void needsNamespaces() {
        assumeTrue(Files.isExecutable(Path.of("/usr/sbin/ip")), "needs iproute2 for network namespaces");
        try (Netns probe = Netns.create(1)) {
            assumeTrue(probe.size() == 1);
        } catch (IOException e) {
            assumeTrue(false, "cannot make network namespaces here (root with CAP_NET_ADMIN is needed): " + e.getMessage());
        }
    }

    @Test
    void brokersFindEachOtherByMulticastAndARestartedOneFindsThemAgain() throws Exception {
        ChaosCluster.Join multicast = new ChaosCluster.Join(net -> List.of("--cluster.discovery=multicast",
                "--cluster.multicast.group=239.77.1.1", "--cluster.multicast.port=54399", "--cluster.quorum.voters=1,2,3"), net -> List.of(), 1);
        try (ChaosCluster c = ChaosCluster.start(3, dir.resolve("run"), System.getProperty("java.class.path"), List.of(), 64L << 20, multicast)) {
            awaitWhole(c);
            produceAndReadBack(c, "found-by-multicast", 0);
            c.kill(3);
            c.restart(3);
            awaitWhole(c);
            produceAndReadBack(c, "found-by-multicast", 20);
        }
        assertThat(Netns.run(List.of("ip", "netns", "list"))).as("namespaces removed").doesNotContain("rnc" + ProcessHandle.current().pid());
    }

    @Test
    void brokersFindEachOtherThroughANameThatResolvesToAllOfThem() throws Exception {
        Path hosts = dir.resolve("hosts");
        // Node ids 0, 1 and 2, as deploy/kubernetes gives a StatefulSet's pods (their ordinals).
        ChaosCluster.Join dns = new ChaosCluster.Join(net -> List.of("--cluster.discovery=kubernetes-dns",
                "--cluster.kubernetes.service.dns=" + SERVICE, "--cluster.quorum.voters=0,1,2"),
                net -> List.of("-Djdk.net.hosts.file=" + writeHosts(hosts, net)), 0);
        try (ChaosCluster c = ChaosCluster.start(3, dir.resolve("run"), System.getProperty("java.class.path"), List.of(), 64L << 20, dns)) {
            awaitWhole(c);
            produceAndReadBack(c, "found-by-dns", 0);
        }
    }

    /** The hosts file of a headless Service's name: one line per broker address, and this machine's own name. */
    private static Path writeHosts(Path file, Netns net) {
        List<String> lines = new ArrayList<>(List.of("127.0.0.1 localhost " + hostName()));
        IntStream.rangeClosed(1, net.size()).forEach(i -> lines.add(net.address(i) + " " + SERVICE));
        try {
            Files.write(file, lines);
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
        return file;
    }

    private static String hostName() {
        try {
            return InetAddress.getLocalHost().getHostName();
        } catch (IOException e) {
            return "localhost";
        }
    }

    /** Every broker answers, names the same controller and sees all three registered. */
    private static void awaitWhole(ChaosCluster c) throws IOException {
        try {
            await().atMost(Duration.ofSeconds(120)).pollInterval(Duration.ofMillis(500)).until(c::whole);
        } catch (org.awaitility.core.ConditionTimeoutException e) {
            StringBuilder logs = new StringBuilder("no whole cluster in 120 s; the brokers' logs end with:");
            for (int b = 1; b <= c.size(); b++) {
                List<String> lines = Files.readAllLines(c.logFile(b));
                logs.append("\n---- broker ").append(b).append('\n').append(String.join("\n", lines.subList(Math.max(0, lines.size() - 40), lines.size())));
            }
            throw new AssertionError(logs.toString(), e);
        }
    }

    /** Twenty records acks=all into a topic replicated on all three, all read back in order. */
    private static void produceAndReadBack(ChaosCluster c, String topic, int from) throws Exception {
        try (Admin admin = KafkaClients.admin(c.bootstrap())) {
            if (from == 0) admin.createTopics(List.of(new NewTopic(topic, 1, (short) 3))).all().get();
        }
        try (KafkaProducer<String, String> p = KafkaClients.producer(c.bootstrap(), Map.of(ProducerConfig.ACKS_CONFIG, "all",
                ProducerConfig.DELIVERY_TIMEOUT_MS_CONFIG, 60_000))) {
            for (int i = from; i < from + 20; i++) p.send(new ProducerRecord<>(topic, "k", "v" + i)).get();
        }
        List<String> values = KafkaClients.readToEnd(c.bootstrap(), "read_uncommitted", List.of(new TopicPartition(topic, 0))).stream()
                .map(ConsumerRecord::value).toList();
        assertThat(values).containsExactlyElementsOf(IntStream.range(0, from + 20).mapToObj(i -> "v" + i).toList());
        assertThat(Optional.ofNullable(c.clusterInfo(1)).map(i -> i.getJsonArray("brokers").size())).contains(3);
    }
}
