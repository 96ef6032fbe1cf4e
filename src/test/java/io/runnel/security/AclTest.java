package io.runnel.security;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.runnel.server.Broker;
import io.runnel.testkit.Brokers;
import io.runnel.testkit.KafkaClients;
import io.runnel.testkit.RawKafkaClient;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Collection;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.TimeUnit;
import org.apache.kafka.clients.admin.Admin;
import org.apache.kafka.clients.admin.NewTopic;
import org.apache.kafka.clients.consumer.ConsumerConfig;
import org.apache.kafka.clients.consumer.ConsumerRecord;
import org.apache.kafka.clients.consumer.KafkaConsumer;
import org.apache.kafka.clients.producer.KafkaProducer;
import org.apache.kafka.clients.producer.ProducerConfig;
import org.apache.kafka.clients.producer.ProducerRecord;
import org.apache.kafka.common.TopicPartition;
import org.apache.kafka.common.acl.AccessControlEntry;
import org.apache.kafka.common.acl.AccessControlEntryFilter;
import org.apache.kafka.common.Uuid;
import org.apache.kafka.common.acl.AclBinding;
import org.apache.kafka.common.acl.AclBindingFilter;
import org.apache.kafka.common.acl.AclOperation;
import org.apache.kafka.common.acl.AclPermissionType;
import org.apache.kafka.common.errors.ClusterAuthorizationException;
import org.apache.kafka.common.errors.GroupAuthorizationException;
import org.apache.kafka.common.errors.TopicAuthorizationException;
import org.apache.kafka.common.errors.TransactionalIdAuthorizationException;
import org.apache.kafka.common.message.SaslAuthenticateRequestData;
import org.apache.kafka.common.message.SaslHandshakeRequestData;
import org.apache.kafka.common.message.WriteShareGroupStateRequestData;
import org.apache.kafka.common.message.WriteTxnMarkersRequestData;
import org.apache.kafka.common.protocol.Errors;
import org.apache.kafka.common.requests.SaslAuthenticateRequest;
import org.apache.kafka.common.requests.SaslHandshakeRequest;
import org.apache.kafka.common.requests.WriteShareGroupStateRequest;
import org.apache.kafka.common.requests.WriteShareGroupStateResponse;
import org.apache.kafka.common.requests.WriteTxnMarkersRequest;
import org.apache.kafka.common.requests.WriteTxnMarkersResponse;
import org.apache.kafka.common.resource.PatternType;
import org.apache.kafka.common.resource.ResourcePattern;
import org.apache.kafka.common.resource.ResourcePatternFilter;
import org.apache.kafka.common.resource.ResourceType;
import org.apache.kafka.common.utils.Time;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * ACL authorization with Kafka's StandardAuthorizer semantics, through real kafka-clients 4.4.0 over SASL: one
 * broker, PLAIN users admin (a super user), alice and bob.
 */
class AclTest {
    private static final String JAAS = "org.apache.kafka.common.security.plain.PlainLoginModule required "
            + "user_admin=\"admin-secret\" user_alice=\"alice-secret\" user_bob=\"bob-secret\";";
    @TempDir
    Path data;
    private Broker broker;

    @BeforeEach
    void start() throws Exception {
        broker = Brokers.start(data, config(), Time.SYSTEM);
        try (Admin admin = admin("admin")) {
            admin.createTopics(List.of(new NewTopic("orders", 1, (short) 1), new NewTopic("payments", 1, (short) 1),
                    new NewTopic("logs-app", 1, (short) 1), new NewTopic("metrics", 1, (short) 1), new NewTopic("secret", 1, (short) 1),
                    new NewTopic("public", 1, (short) 1))).all().get(30, TimeUnit.SECONDS);
        }
        try (KafkaProducer<String, String> p = producer("admin", Map.of())) {
            for (String t : List.of("orders", "logs-app", "metrics", "secret", "public")) p.send(new ProducerRecord<>(t, "k", "from-admin")).get(30, TimeUnit.SECONDS);
        }
    }

    @AfterEach
    void stop() throws Exception {
        broker.stop().get(30, TimeUnit.SECONDS);
    }

    private static Map<String, String> config() {
        return Map.of("listeners", "SASL_PLAINTEXT://127.0.0.1:0", "listener.name.sasl_plaintext.plain.sasl.jaas.config", JAAS,
                "authorizer.class.name", "org.apache.kafka.metadata.authorizer.StandardAuthorizer", "super.users", "User:admin");
    }

    private String bootstrap() {
        return "127.0.0.1:" + broker.kafkaPort("SASL_PLAINTEXT");
    }

    private static Map<String, Object> as(String user) {
        return KafkaClients.sasl("SASL_PLAINTEXT", "PLAIN", user, user + "-secret", null, 20_000);
    }

    private Admin admin(String user) {
        return KafkaClients.admin(bootstrap(), as(user));
    }

    private KafkaProducer<String, String> producer(String user, Map<String, Object> extra) {
        Map<String, Object> c = new HashMap<>(as(user));
        c.put(ProducerConfig.MAX_BLOCK_MS_CONFIG, 10_000);
        c.put(ProducerConfig.DELIVERY_TIMEOUT_MS_CONFIG, 10_000);
        c.put(ProducerConfig.REQUEST_TIMEOUT_MS_CONFIG, 5_000);
        c.putAll(extra);
        return KafkaClients.producer(bootstrap(), c);
    }

    private void grant(AclBinding... acls) throws Exception {
        try (Admin admin = admin("admin")) {
            admin.createAcls(List.of(acls)).all().get(30, TimeUnit.SECONDS);
        }
    }

    private static AclBinding acl(String user, ResourceType type, String name, PatternType pattern, AclOperation op, AclPermissionType permission) {
        return new AclBinding(new ResourcePattern(type, name, pattern), new AccessControlEntry("User:" + user, "*", op, permission));
    }

    private static AclBinding allow(String user, ResourceType type, String name, AclOperation op) {
        return acl(user, type, name, PatternType.LITERAL, op, AclPermissionType.ALLOW);
    }

    private void send(String user, String topic) throws Exception {
        try (KafkaProducer<String, String> p = producer(user, Map.of(ProducerConfig.ENABLE_IDEMPOTENCE_CONFIG, false))) {
            p.send(new ProducerRecord<>(topic, "k", "from-" + user)).get(30, TimeUnit.SECONDS);
        }
    }

    /** Reads partition 0 of {@code topic} from the start, assigned (no group), until a record arrives or the client fails. */
    private List<String> read(String user, String topic) {
        Map<String, Object> c = new HashMap<>(as(user));
        try (KafkaConsumer<String, String> consumer = KafkaClients.consumer(bootstrap(), c)) {
            TopicPartition tp = new TopicPartition(topic, 0);
            consumer.assign(List.of(tp));
            consumer.seekToBeginning(List.of(tp));
            List<String> values = new ArrayList<>();
            long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(20);
            while (values.isEmpty() && System.nanoTime() < deadline) consumer.poll(Duration.ofMillis(200)).forEach(r -> values.add(r.value()));
            return values;
        }
    }

    private static void assertCause(ThrowingCall call, Class<? extends Throwable> type) {
        assertThatThrownBy(call::run).satisfies(e -> assertThat(causes(e)).anyMatch(type::isInstance));
    }

    private static List<Throwable> causes(Throwable e) {
        List<Throwable> out = new ArrayList<>();
        for (Throwable t = e; t != null && !out.contains(t); t = t.getCause()) out.add(t);
        return out;
    }

    interface ThrowingCall {
        void run() throws Exception;
    }

    @Test
    void aUserAllowedToWriteOneTopicCannotReadItOrWriteAnother() throws Exception {
        grant(allow("alice", ResourceType.TOPIC, "orders", AclOperation.WRITE));
        send("alice", "orders");
        assertCause(() -> read("alice", "orders"), TopicAuthorizationException.class);
        assertCause(() -> send("alice", "payments"), TopicAuthorizationException.class);
        // The denials are counted in /metrics.
        String metrics = HttpClient.newHttpClient().send(HttpRequest.newBuilder(URI.create("http://127.0.0.1:" + broker.httpPort() + "/metrics")).build(),
                HttpResponse.BodyHandlers.ofString()).body();
        assertThat(metrics).contains("runnel_authorization_denials_total{operation=\"READ\",resource_type=\"TOPIC\"}");
    }

    @Test
    void prefixedPatternsAndADenyThatBeatsAnAllow() throws Exception {
        grant(acl("bob", ResourceType.TOPIC, "logs-", PatternType.PREFIXED, AclOperation.READ, AclPermissionType.ALLOW),
                allow("alice", ResourceType.TOPIC, "*", AclOperation.ALL),
                acl("alice", ResourceType.TOPIC, "secret", PatternType.LITERAL, AclOperation.READ, AclPermissionType.DENY));
        assertThat(read("bob", "logs-app")).containsExactly("from-admin");
        assertCause(() -> read("bob", "metrics"), TopicAuthorizationException.class);
        assertThat(read("alice", "public")).containsExactly("from-admin");
        assertCause(() -> read("alice", "secret"), TopicAuthorizationException.class);
        send("alice", "secret"); // only READ is denied
    }

    @Test
    void consumerGroupsNeedReadOnTheGroup() throws Exception {
        grant(allow("bob", ResourceType.TOPIC, "orders", AclOperation.READ));
        Map<String, Object> c = new HashMap<>(as("bob"));
        c.put(ConsumerConfig.GROUP_ID_CONFIG, "bobs-group");
        c.put(ConsumerConfig.AUTO_OFFSET_RESET_CONFIG, "earliest");
        try (KafkaConsumer<String, String> consumer = KafkaClients.consumer(bootstrap(), c)) {
            consumer.subscribe(List.of("orders"));
            assertCause(() -> {
                for (int i = 0; i < 100; i++) consumer.poll(Duration.ofMillis(200));
            }, GroupAuthorizationException.class);
        }
        grant(allow("bob", ResourceType.GROUP, "bobs-", AclOperation.READ), // literal "bobs-" does not cover bobs-group
                acl("bob", ResourceType.GROUP, "bobs-", PatternType.PREFIXED, AclOperation.READ, AclPermissionType.ALLOW));
        try (KafkaConsumer<String, String> consumer = KafkaClients.consumer(bootstrap(), c)) {
            consumer.subscribe(List.of("orders"));
            List<ConsumerRecord<String, String>> got = KafkaClients.pollAtLeast(consumer, 1);
            assertThat(got.get(0).value()).isEqualTo("from-admin");
            consumer.commitSync();
        }
    }

    @Test
    void transactionsNeedWriteOnTheTransactionalId() throws Exception {
        grant(allow("alice", ResourceType.TOPIC, "orders", AclOperation.WRITE));
        try (KafkaProducer<String, String> p = producer("alice", Map.of(ProducerConfig.TRANSACTIONAL_ID_CONFIG, "alice-tx"))) {
            assertCause(p::initTransactions, TransactionalIdAuthorizationException.class);
        }
        grant(allow("alice", ResourceType.TRANSACTIONAL_ID, "alice-tx", AclOperation.WRITE));
        try (KafkaProducer<String, String> p = producer("alice", Map.of(ProducerConfig.TRANSACTIONAL_ID_CONFIG, "alice-tx"))) {
            p.initTransactions();
            p.beginTransaction();
            p.send(new ProducerRecord<>("orders", "k", "in-txn")).get(30, TimeUnit.SECONDS);
            p.commitTransaction();
        }
    }

    @Test
    void metadataListsOnlyDescribableTopicsAndAutoCreationNeedsCreate() throws Exception {
        grant(allow("alice", ResourceType.TOPIC, "orders", AclOperation.READ), allow("alice", ResourceType.TOPIC, "brand-new", AclOperation.WRITE));
        try (Admin alice = admin("alice")) {
            assertThat(alice.listTopics().names().get(30, TimeUnit.SECONDS)).containsExactly("orders");
        }
        assertCause(() -> send("alice", "brand-new"), TopicAuthorizationException.class);
        assertThat(broker.topics().topic("brand-new")).isEmpty();
        grant(allow("alice", ResourceType.TOPIC, "brand-new", AclOperation.CREATE));
        send("alice", "brand-new");
        assertThat(broker.topics().topic("brand-new")).isPresent();
    }

    @Test
    void aclsRoundTripThroughTheAdminApiAndSurviveARestartAndOnlyAdministratorsMayChangeThem() throws Exception {
        AclBinding a = allow("alice", ResourceType.TOPIC, "orders", AclOperation.READ);
        AclBinding b = acl("bob", ResourceType.GROUP, "g-", PatternType.PREFIXED, AclOperation.READ, AclPermissionType.ALLOW);
        AclBinding c = acl("bob", ResourceType.CLUSTER, "kafka-cluster", PatternType.LITERAL, AclOperation.DESCRIBE, AclPermissionType.DENY);
        grant(a, b, c);
        try (Admin admin = admin("admin")) {
            assertThat(admin.describeAcls(AclBindingFilter.ANY).values().get(30, TimeUnit.SECONDS)).containsExactlyInAnyOrder(a, b, c);
            AclBindingFilter bobs = new AclBindingFilter(ResourcePatternFilter.ANY,
                    new AccessControlEntryFilter("User:bob", null, AclOperation.ANY, AclPermissionType.ANY));
            assertThat(admin.describeAcls(bobs).values().get(30, TimeUnit.SECONDS)).containsExactlyInAnyOrder(b, c);
            // Kafka's validation: the cluster resource has one name.
            assertCause(() -> admin.createAcls(List.of(allow("bob", ResourceType.CLUSTER, "other", AclOperation.ALTER))).all().get(30, TimeUnit.SECONDS),
                    org.apache.kafka.common.errors.InvalidRequestException.class);
        }
        try (Admin alice = admin("alice")) {
            assertCause(() -> alice.createAcls(List.of(allow("alice", ResourceType.TOPIC, "*", AclOperation.ALL))).all().get(30, TimeUnit.SECONDS),
                    ClusterAuthorizationException.class);
            assertCause(() -> alice.describeAcls(AclBindingFilter.ANY).values().get(30, TimeUnit.SECONDS), ClusterAuthorizationException.class);
        }
        broker.stop().get(30, TimeUnit.SECONDS);
        broker = Brokers.start(data, config(), Time.SYSTEM);
        try (Admin admin = admin("admin")) {
            assertThat(admin.describeAcls(AclBindingFilter.ANY).values().get(30, TimeUnit.SECONDS)).containsExactlyInAnyOrder(a, b, c);
            Collection<AclBinding> deleted = admin.deleteAcls(List.of(new AclBindingFilter(
                    new ResourcePatternFilter(ResourceType.TOPIC, null, PatternType.ANY), AccessControlEntryFilter.ANY))).all().get(30, TimeUnit.SECONDS);
            assertThat(deleted).containsExactly(a);
            assertThat(admin.describeAcls(AclBindingFilter.ANY).values().get(30, TimeUnit.SECONDS)).containsExactlyInAnyOrder(b, c);
        }
        // No ACL names "public" any more, and allow.everyone.if.no.acl.found is false.
        assertCause(() -> read("alice", "public"), TopicAuthorizationException.class);
    }

    @Test
    void transactionMarkersAreOnlyTakenFromBrokers() throws Exception {
        grant(allow("alice", ResourceType.TOPIC, "orders", AclOperation.ALL));
        long end = broker.topics().partition("orders", 0).orElseThrow().logEndOffset();
        try (RawKafkaClient raw = new RawKafkaClient(bootstrap())) {
            raw.send(new SaslHandshakeRequest(new SaslHandshakeRequestData().setMechanism("PLAIN"), (short) 1));
            raw.send(new SaslAuthenticateRequest(new SaslAuthenticateRequestData().setAuthBytes("\0alice\0alice-secret".getBytes()), (short) 2));
            WriteTxnMarkersRequestData d = new WriteTxnMarkersRequestData().setMarkers(List.of(new WriteTxnMarkersRequestData.WritableTxnMarker()
                    .setProducerId(4242).setProducerEpoch((short) 0).setTransactionResult(true).setCoordinatorEpoch(0)
                    .setTopics(List.of(new WriteTxnMarkersRequestData.WritableTxnMarkerTopic().setName("orders").setPartitionIndexes(List.of(0))))));
            WriteTxnMarkersResponse r = raw.send(new WriteTxnMarkersRequest.Builder(d).build((short) 1));
            Set<Errors> errors = new java.util.HashSet<>();
            r.errorsByProducerId().values().forEach(m -> errors.addAll(m.values()));
            assertThat(errors).containsExactly(Errors.CLUSTER_AUTHORIZATION_FAILED);
        }
        assertThat(broker.topics().partition("orders", 0).orElseThrow().logEndOffset()).as("no marker written").isEqualTo(end);
    }

    @Test
    void shareGroupStateIsOnlyWrittenByBrokers() throws Exception {
        grant(allow("alice", ResourceType.TOPIC, "orders", AclOperation.ALL), allow("alice", ResourceType.GROUP, "workers", AclOperation.ALL));
        Uuid topicId = broker.topics().topic("orders").orElseThrow().topicId();
        try (RawKafkaClient raw = new RawKafkaClient(bootstrap())) {
            raw.send(new SaslHandshakeRequest(new SaslHandshakeRequestData().setMechanism("PLAIN"), (short) 1));
            raw.send(new SaslAuthenticateRequest(new SaslAuthenticateRequestData().setAuthBytes("\0alice\0alice-secret".getBytes()), (short) 2));
            WriteShareGroupStateRequestData d = new WriteShareGroupStateRequestData()
                    .setGroupId("workers").setTopics(List.of(new WriteShareGroupStateRequestData.WriteStateData()
                            .setTopicId(topicId).setPartitions(List.of(new WriteShareGroupStateRequestData.PartitionData()
                                    .setPartition(0).setStartOffset(1000)))));
            WriteShareGroupStateResponse r = raw.send(
                    new WriteShareGroupStateRequest.Builder(d).build((short) 1));
            assertThat(Errors.forCode(r.data().results().get(0).partitions().get(0).errorCode())).isEqualTo(Errors.CLUSTER_AUTHORIZATION_FAILED);
        }
    }

    @Test
    void withoutAnAuthorizerAclApisAnswerSecurityDisabled() throws Exception {
        broker.stop().get(30, TimeUnit.SECONDS);
        Map<String, String> open = new HashMap<>(config());
        open.remove("authorizer.class.name");
        broker = Brokers.start(data, open, Time.SYSTEM);
        try (Admin alice = admin("alice")) {
            assertCause(() -> alice.describeAcls(AclBindingFilter.ANY).values().get(30, TimeUnit.SECONDS),
                    org.apache.kafka.common.errors.SecurityDisabledException.class);
        }
        send("alice", "orders"); // and everyone may do everything
    }

    @Test
    void everyVersionOfTheSecurityApisWorks() throws Exception {
        for (short authVersion = 0; authVersion <= 2; authVersion++) {
            try (RawKafkaClient raw = new RawKafkaClient(bootstrap())) {
                raw.send(new SaslHandshakeRequest(new SaslHandshakeRequestData().setMechanism("PLAIN"), (short) 1));
                org.apache.kafka.common.requests.SaslAuthenticateResponse auth = raw.send(new SaslAuthenticateRequest(
                        new SaslAuthenticateRequestData().setAuthBytes("\0admin\0admin-secret".getBytes()), authVersion));
                assertThat(auth.data().errorCode()).as("SaslAuthenticate v%d", authVersion).isZero();
                if (authVersion > 0) continue;
                for (short v = 1; v <= 3; v++) {
                    String topic = "acl-v" + v;
                    AclBinding b = allow("bob", ResourceType.TOPIC, topic, AclOperation.READ);
                    org.apache.kafka.common.requests.CreateAclsResponse created = raw.send(new org.apache.kafka.common.requests.CreateAclsRequest.Builder(
                            new org.apache.kafka.common.message.CreateAclsRequestData().setCreations(List.of(
                                    org.apache.kafka.common.requests.CreateAclsRequest.aclCreation(b)))).build(v));
                    assertThat(created.results().get(0).errorCode()).as("CreateAcls v%d", v).isZero();
                    AclBindingFilter filter = new AclBindingFilter(new ResourcePatternFilter(ResourceType.TOPIC, topic, PatternType.LITERAL),
                            AccessControlEntryFilter.ANY);
                    org.apache.kafka.common.requests.DescribeAclsResponse described = raw.send(
                            new org.apache.kafka.common.requests.DescribeAclsRequest.Builder(filter).build(v));
                    assertThat(org.apache.kafka.common.requests.DescribeAclsResponse.aclBindings(described.acls())).as("DescribeAcls v%d", v).containsExactly(b);
                    org.apache.kafka.common.requests.DeleteAclsResponse deleted = raw.send(new org.apache.kafka.common.requests.DeleteAclsRequest.Builder(
                            new org.apache.kafka.common.message.DeleteAclsRequestData().setFilters(List.of(
                                    org.apache.kafka.common.requests.DeleteAclsRequest.deleteAclsFilter(filter)))).build(v));
                    assertThat(deleted.filterResults().get(0).matchingAcls()).as("DeleteAcls v%d", v).hasSize(1);
                }
                org.apache.kafka.common.requests.DescribeUserScramCredentialsResponse users = raw.send(
                        new org.apache.kafka.common.requests.DescribeUserScramCredentialsRequest.Builder(
                                new org.apache.kafka.common.message.DescribeUserScramCredentialsRequestData().setUsers(null)).build((short) 0));
                assertThat(users.data().errorCode()).isZero();
            }
        }
    }
}
