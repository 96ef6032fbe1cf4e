package io.runnel.cluster;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import io.runnel.testkit.KafkaClients;
import io.runnel.testkit.LocalCluster;
import io.runnel.testkit.TestPki;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import org.apache.kafka.clients.admin.Admin;
import org.apache.kafka.clients.admin.NewTopic;
import org.apache.kafka.clients.admin.ScramCredentialInfo;
import org.apache.kafka.clients.admin.ScramMechanism;
import org.apache.kafka.clients.admin.UserScramCredentialUpsertion;
import org.apache.kafka.clients.consumer.ConsumerRecord;
import org.apache.kafka.clients.consumer.KafkaConsumer;
import org.apache.kafka.clients.producer.KafkaProducer;
import org.apache.kafka.clients.producer.ProducerConfig;
import org.apache.kafka.clients.producer.ProducerRecord;
import org.apache.kafka.common.TopicPartition;
import org.apache.kafka.common.TopicPartitionInfo;
import org.apache.kafka.common.acl.AccessControlEntry;
import org.apache.kafka.common.acl.AclBinding;
import org.apache.kafka.common.acl.AclBindingFilter;
import org.apache.kafka.common.acl.AclOperation;
import org.apache.kafka.common.acl.AclPermissionType;
import org.apache.kafka.common.resource.PatternType;
import org.apache.kafka.common.resource.ResourcePattern;
import org.apache.kafka.common.resource.ResourceType;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * A three-broker cluster whose only listener is SASL_SSL, with ACLs on: a SCRAM user and ACLs created through one
 * broker reach every broker; replication and transaction traffic between brokers go over TLS with SASL PLAIN
 * credentials from the listener's JAAS line (the brokers' principal is a super user); and a leader killed with -9
 * under acks=all load loses nothing.
 */
class ClusterSecurityTest {
    private static final String JAAS = "org.apache.kafka.common.security.plain.PlainLoginModule required "
            + "username=\"broker\" password=\"broker-secret\" user_broker=\"broker-secret\" user_app=\"app-secret\";";
    private static final TestPki pki = TestPki.shared();
    @TempDir
    Path root;

    private static String[] brokerArgs() throws Exception {
        return new String[]{"--listeners=SASL_SSL://127.0.0.1:0", "--inter.broker.listener.name=SASL_SSL",
                "--sasl.mechanism.inter.broker.protocol=PLAIN", "--listener.name.sasl_ssl.plain.sasl.jaas.config=" + JAAS,
                "--ssl.keystore.type=PKCS12", "--ssl.keystore.location=" + pki.broker(), "--ssl.keystore.password=" + TestPki.PASSWORD,
                "--ssl.truststore.type=PKCS12", "--ssl.truststore.location=" + pki.truststore(), "--ssl.truststore.password=" + TestPki.PASSWORD,
                "--replica.lag.time.max.ms=5000",
                // ACLs on: the brokers' own principal is a super user (as Kafka requires), so replication and
                // transaction traffic pass the CLUSTER_ACTION checks; "app" gets its rights from ACLs.
                "--authorizer.class.name=org.apache.kafka.metadata.authorizer.StandardAuthorizer", "--super.users=User:broker"};
    }

    private static Map<String, Object> app() {
        return client("PLAIN", "app", "app-secret");
    }

    private static Map<String, Object> client(String mechanism, String user, String password) {
        return KafkaClients.sasl("SASL_SSL", mechanism, user, password, pki.caPem(), 20_000);
    }

    @Test
    void usersAndAclsReachEveryBrokerAndAKilledLeaderLosesNothingAcknowledgedOverSaslSsl() throws Exception {
        try (LocalCluster cluster = LocalCluster.start(root, 3, brokerArgs())) {
            String bootstrap = cluster.bootstrap();
            // Through broker 1 only: a SCRAM user, and ACLs that let "app" work with the topic "secure".
            try (Admin admin = KafkaClients.admin(cluster.broker(1).kafkaBootstrap(), client("PLAIN", "broker", "broker-secret"))) {
                await().atMost(Duration.ofSeconds(30)).until(() -> admin.describeCluster().nodes().get().size() == 3);
                admin.alterUserScramCredentials(List.of(new UserScramCredentialUpsertion("carol",
                        new ScramCredentialInfo(ScramMechanism.SCRAM_SHA_512, 4096), "carol-secret"))).all().get(30, TimeUnit.SECONDS);
                List<AclBinding> acls = new ArrayList<>();
                for (AclOperation op : List.of(AclOperation.CREATE, AclOperation.WRITE, AclOperation.READ, AclOperation.DESCRIBE)) {
                    acls.add(new AclBinding(new ResourcePattern(ResourceType.TOPIC, "secure", PatternType.LITERAL),
                            new AccessControlEntry("User:app", "*", op, AclPermissionType.ALLOW)));
                }
                admin.createAcls(acls).all().get(30, TimeUnit.SECONDS);
            }
            // Every broker knows them: carol authenticates with SCRAM at each one, and each enforces app's ACLs.
            for (int b = 1; b <= 3; b++) {
                String one = cluster.broker(b).kafkaBootstrap();
                await().atMost(Duration.ofSeconds(30)).ignoreExceptions().untilAsserted(() -> {
                    try (Admin carol = KafkaClients.admin(one, client("SCRAM-SHA-512", "carol", "carol-secret"))) {
                        assertThat(carol.describeCluster().nodes().get(10, TimeUnit.SECONDS)).hasSize(3);
                    }
                    try (Admin admin = KafkaClients.admin(one, client("PLAIN", "broker", "broker-secret"))) {
                        assertThat(admin.describeAcls(AclBindingFilter.ANY).values().get(10, TimeUnit.SECONDS)).hasSize(4);
                    }
                });
            }
            try (Admin admin = KafkaClients.admin(bootstrap, app())) {
                admin.createTopics(List.of(new NewTopic("secure", 1, (short) 3).configs(Map.of("min.insync.replicas", "2"))))
                        .all().get(30, TimeUnit.SECONDS);
                assertThat(admin.listTopics().names().get(30, TimeUnit.SECONDS)).containsExactly("secure");
            }
            int leader = awaitIsr(bootstrap, 3).leader().id();
            Map<String, Object> producerConfig = new HashMap<>(app());
            producerConfig.put(ProducerConfig.ACKS_CONFIG, "all");
            producerConfig.put(ProducerConfig.DELIVERY_TIMEOUT_MS_CONFIG, 90_000);
            producerConfig.put(ProducerConfig.REQUEST_TIMEOUT_MS_CONFIG, 10_000);
            int acked = 0;
            try (KafkaProducer<String, String> producer = KafkaClients.producer(bootstrap, producerConfig)) {
                for (int i = 0; i < 100; i++) producer.send(new ProducerRecord<>("secure", "k", "v" + acked++)).get(30, TimeUnit.SECONDS);
                awaitIsr(bootstrap, 3); // the followers fetched it all over SASL_SSL
                cluster.broker(leader).kill9();
                for (int i = 0; i < 100; i++) producer.send(new ProducerRecord<>("secure", "k", "v" + acked++)).get(90, TimeUnit.SECONDS);
            }
            Map<String, Object> consumerConfig = new HashMap<>(app());
            try (KafkaConsumer<String, String> c = KafkaClients.consumer(bootstrap, consumerConfig)) {
                TopicPartition tp = new TopicPartition("secure", 0);
                c.assign(List.of(tp));
                c.seekToBeginning(List.of(tp));
                List<String> values = KafkaClients.pollAtLeast(c, acked).stream().map(ConsumerRecord::value).toList();
                for (int i = 0; i < acked; i++) assertThat(values).contains("v" + i);
            }
        }
    }

    private static TopicPartitionInfo awaitIsr(String bootstrap, int size) {
        TopicPartitionInfo[] seen = new TopicPartitionInfo[1];
        await().atMost(Duration.ofSeconds(90)).ignoreExceptions().untilAsserted(() -> {
            try (Admin admin = KafkaClients.admin(bootstrap, app())) {
                TopicPartitionInfo p = admin.describeTopics(List.of("secure")).allTopicNames().get(10, TimeUnit.SECONDS).get("secure").partitions().get(0);
                assertThat(p.isr()).hasSize(size);
                seen[0] = p;
            }
        });
        return seen[0];
    }
}
