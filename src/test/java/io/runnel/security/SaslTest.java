package io.runnel.security;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.runnel.server.Broker;
import io.runnel.testkit.Brokers;
import io.runnel.testkit.KafkaClients;
import io.runnel.testkit.RawKafkaClient;
import io.runnel.testkit.TestPki;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;
import org.apache.kafka.clients.admin.Admin;
import org.apache.kafka.clients.admin.ScramCredentialInfo;
import org.apache.kafka.clients.admin.ScramMechanism;
import org.apache.kafka.clients.admin.UserScramCredentialDeletion;
import org.apache.kafka.clients.admin.UserScramCredentialUpsertion;
import org.apache.kafka.clients.admin.UserScramCredentialsDescription;
import org.apache.kafka.clients.producer.KafkaProducer;
import org.apache.kafka.clients.producer.ProducerConfig;
import org.apache.kafka.clients.producer.ProducerRecord;
import org.apache.kafka.common.errors.ResourceNotFoundException;
import org.apache.kafka.common.errors.SaslAuthenticationException;
import org.apache.kafka.common.errors.UnacceptableCredentialException;
import org.apache.kafka.common.message.ApiVersionsRequestData;
import org.apache.kafka.common.message.MetadataRequestData;
import org.apache.kafka.common.message.SaslAuthenticateRequestData;
import org.apache.kafka.common.message.SaslHandshakeRequestData;
import org.apache.kafka.common.protocol.Errors;
import org.apache.kafka.common.requests.ApiVersionsRequest;
import org.apache.kafka.common.requests.ApiVersionsResponse;
import org.apache.kafka.common.requests.MetadataRequest;
import org.apache.kafka.common.requests.SaslAuthenticateRequest;
import org.apache.kafka.common.requests.SaslAuthenticateResponse;
import org.apache.kafka.common.requests.SaslHandshakeRequest;
import org.apache.kafka.common.requests.SaslHandshakeResponse;
import org.apache.kafka.common.utils.Time;
import org.awaitility.Awaitility;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * SASL with real kafka-clients 4.4.0: PLAIN users from a Kafka {@code server.properties} JAAS line, SCRAM-SHA-256 and
 * SCRAM-SHA-512 users created through the Admin API (KIP-554) and kept across a restart, KIP-368 re-authentication,
 * and clients that do not follow the exchange.
 */
class SaslTest {
    private static final String JAAS = "org.apache.kafka.common.security.plain.PlainLoginModule required "
            + "username=\"admin\" password=\"admin-secret\" user_admin=\"admin-secret\" user_alice=\"alice-secret\";";
    private static final TestPki pki = TestPki.shared();
    @TempDir
    Path data;
    private Broker broker;

    @AfterEach
    void stopBroker() throws Exception {
        if (broker != null) broker.stop().get(30, TimeUnit.SECONDS);
    }

    /** A broker with a SASL_SSL and a SASL_PLAINTEXT listener, as an existing Kafka server.properties sets them up. */
    private Broker start(Map<String, String> extra) throws Exception {
        Map<String, String> m = new HashMap<>();
        m.put("listeners", "SASL_SSL://127.0.0.1:0,SASL_PLAINTEXT://127.0.0.1:0");
        m.put("ssl.keystore.type", "PKCS12");
        m.put("ssl.keystore.location", pki.broker().toString());
        m.put("ssl.keystore.password", TestPki.PASSWORD);
        m.put("listener.name.sasl_ssl.plain.sasl.jaas.config", JAAS);
        m.put("listener.name.sasl_plaintext.plain.sasl.jaas.config", JAAS);
        m.putAll(extra);
        broker = Brokers.start(data, m, Time.SYSTEM);
        return broker;
    }

    private String saslSsl() {
        return "localhost:" + broker.kafkaPort("SASL_SSL");
    }

    private String saslPlaintext() {
        return "127.0.0.1:" + broker.kafkaPort("SASL_PLAINTEXT");
    }

    private static Map<String, Object> client(String protocol, String mechanism, String user, String password) {
        return KafkaClients.sasl(protocol, mechanism, user, password, pki.caPem(), 10_000);
    }

    private static void produce(String bootstrap, Map<String, Object> client, String topic, int count) throws Exception {
        Map<String, Object> c = new HashMap<>(client);
        c.put(ProducerConfig.MAX_BLOCK_MS_CONFIG, 10_000);
        try (KafkaProducer<String, String> p = KafkaClients.producer(bootstrap, c)) {
            for (int i = 0; i < count; i++) p.send(new ProducerRecord<>(topic, "k" + i, "v" + i)).get(30, TimeUnit.SECONDS);
        }
    }

    private static void assertRefused(String bootstrap, Map<String, Object> client) {
        try (Admin admin = KafkaClients.admin(bootstrap, client)) {
            assertThatThrownBy(() -> admin.describeCluster().clusterId().get(30, TimeUnit.SECONDS))
                    .isInstanceOf(ExecutionException.class).cause().isInstanceOf(SaslAuthenticationException.class);
        }
    }

    @Test
    void plainUsersOfTheJaasLineAuthenticateOverSaslSslAndAWrongPasswordIsRefused() throws Exception {
        start(Map.of());
        produce(saslSsl(), client("SASL_SSL", "PLAIN", "alice", "alice-secret"), "plain-ssl", 20);
        assertRefused(saslSsl(), client("SASL_SSL", "PLAIN", "alice", "wrong"));
        assertRefused(saslSsl(), client("SASL_SSL", "PLAIN", "mallory", "alice-secret"));
        String metrics = HttpClient.newHttpClient().send(HttpRequest.newBuilder(URI.create("http://127.0.0.1:" + broker.httpPort() + "/metrics")).build(),
                HttpResponse.BodyHandlers.ofString()).body();
        assertThat(metrics).containsPattern("runnel_authentication_failures_total\\{endpoint=\"kafka\",mechanism=\"PLAIN\"[^}]*} [2-9]");
        // DescribeConfigs never shows a password: sensitive, no value (as Kafka).
        try (Admin admin = KafkaClients.admin(saslSsl(), client("SASL_SSL", "PLAIN", "alice", "alice-secret"))) {
            var resource = new org.apache.kafka.common.config.ConfigResource(org.apache.kafka.common.config.ConfigResource.Type.BROKER, "1");
            var entry = admin.describeConfigs(List.of(resource)).all().get(30, TimeUnit.SECONDS).get(resource).get("ssl.keystore.password");
            assertThat(entry.isSensitive()).isTrue();
            assertThat(entry.value()).isNull();
        }
    }

    @Test
    void scramUsersCreatedThroughTheAdminApiAuthenticateWithBothMechanismsAndSurviveARestart() throws Exception {
        start(Map.of());
        try (Admin admin = KafkaClients.admin(saslPlaintext(), client("SASL_PLAINTEXT", "PLAIN", "admin", "admin-secret"))) {
            admin.alterUserScramCredentials(List.of(
                    new UserScramCredentialUpsertion("bob", new ScramCredentialInfo(ScramMechanism.SCRAM_SHA_256, 8192), "bob-secret"),
                    new UserScramCredentialUpsertion("carol", new ScramCredentialInfo(ScramMechanism.SCRAM_SHA_512, 4096), "carol-secret")))
                    .all().get(30, TimeUnit.SECONDS);
            Map<String, UserScramCredentialsDescription> described = admin.describeUserScramCredentials().all().get(30, TimeUnit.SECONDS);
            assertThat(described.get("bob").credentialInfos()).containsExactly(new ScramCredentialInfo(ScramMechanism.SCRAM_SHA_256, 8192));
            assertThat(described.get("carol").credentialInfos()).containsExactly(new ScramCredentialInfo(ScramMechanism.SCRAM_SHA_512, 4096));
            // Kafka's validation: too few iterations, and describing a user that does not exist.
            assertThatThrownBy(() -> admin.alterUserScramCredentials(List.of(new UserScramCredentialUpsertion("dave",
                    new ScramCredentialInfo(ScramMechanism.SCRAM_SHA_256, 100), "x"))).all().get(30, TimeUnit.SECONDS))
                    .cause().isInstanceOf(UnacceptableCredentialException.class);
            assertThatThrownBy(() -> admin.describeUserScramCredentials(List.of("nobody")).description("nobody").get(30, TimeUnit.SECONDS))
                    .cause().isInstanceOf(ResourceNotFoundException.class);
        }
        String file = Files.readString(data.resolve("security").resolve(ScramCredentials.FILE));
        assertThat(file).contains("bob", "storedKey").doesNotContain("bob-secret");

        produce(saslPlaintext(), client("SASL_PLAINTEXT", "SCRAM-SHA-256", "bob", "bob-secret"), "scram", 10);
        produce(saslSsl(), client("SASL_SSL", "SCRAM-SHA-512", "carol", "carol-secret"), "scram", 10);
        assertRefused(saslPlaintext(), client("SASL_PLAINTEXT", "SCRAM-SHA-256", "bob", "wrong"));
        assertRefused(saslPlaintext(), client("SASL_PLAINTEXT", "SCRAM-SHA-512", "bob", "bob-secret")); // bob has no SHA-512 credential
        // PLAIN also accepts a SCRAM user's password (checked against the stored key, not a stored password).
        produce(saslSsl(), client("SASL_SSL", "PLAIN", "bob", "bob-secret"), "scram", 1);

        broker.stop().get(30, TimeUnit.SECONDS);
        start(Map.of());
        produce(saslPlaintext(), client("SASL_PLAINTEXT", "SCRAM-SHA-256", "bob", "bob-secret"), "scram", 1);
        try (Admin admin = KafkaClients.admin(saslPlaintext(), client("SASL_PLAINTEXT", "SCRAM-SHA-512", "carol", "carol-secret"))) {
            admin.alterUserScramCredentials(List.of(new UserScramCredentialDeletion("bob", ScramMechanism.SCRAM_SHA_256)))
                    .all().get(30, TimeUnit.SECONDS);
        }
        assertRefused(saslPlaintext(), client("SASL_PLAINTEXT", "SCRAM-SHA-256", "bob", "bob-secret"));
    }

    @Test
    void clientsReauthenticateOnTheirConnectionsWhenTheSessionLifetimeEnds() throws Exception {
        start(Map.of("connections.max.reauth.ms", "1000"));
        Map<String, Object> c = new HashMap<>(client("SASL_PLAINTEXT", "PLAIN", "alice", "alice-secret"));
        c.put(ProducerConfig.MAX_BLOCK_MS_CONFIG, 10_000);
        try (KafkaProducer<String, String> p = KafkaClients.producer(saslPlaintext(), c)) {
            p.send(new ProducerRecord<>("reauth", "k", "first")).get(30, TimeUnit.SECONDS);
            double before = successes();
            // Keep sending across several session lifetimes: every send succeeds because the client authenticates again
            // on its connections before their sessions end, and the broker counts those authentications.
            int[] sent = {0};
            Awaitility.await().atMost(Duration.ofSeconds(30)).pollInterval(Duration.ofMillis(100)).until(() -> {
                p.send(new ProducerRecord<>("reauth", "k", "v" + sent[0]++)).get(30, TimeUnit.SECONDS);
                return successes() >= before + 2;
            });
            assertThat(successes()).isGreaterThanOrEqualTo(before + 2);
        }
    }

    private double successes() throws Exception {
        String metrics = HttpClient.newHttpClient().send(HttpRequest.newBuilder(URI.create("http://127.0.0.1:" + broker.httpPort() + "/metrics")).build(),
                HttpResponse.BodyHandlers.ofString()).body();
        return metrics.lines().filter(l -> l.startsWith("runnel_authentication_successes_total{endpoint=\"kafka\",mechanism=\"PLAIN\""))
                .mapToDouble(l -> Double.parseDouble(l.substring(l.lastIndexOf(' ') + 1))).sum();
    }

    @Test
    void clientsThatDoNotFollowTheExchangeAreClosedAndOthersAreNotHarmed() throws Exception {
        start(Map.of("sasl.server.max.receive.size", "1024"));
        // The broker logs through slf4j-simple to System.out, looked up at each line: capture it to check what is logged.
        java.io.PrintStream original = System.out;
        java.io.ByteArrayOutputStream logged = new java.io.ByteArrayOutputStream();
        System.setOut(new java.io.PrintStream(new java.io.OutputStream() {
            @Override
            public void write(int b) {
                original.write(b);
                logged.write(b);
            }

            @Override
            public void write(byte[] b, int off, int len) {
                original.write(b, off, len);
                logged.write(b, off, len);
            }
        }, true));
        try {
            misbehave();
        } finally {
            System.setOut(original);
        }
        String log = logged.toString(java.nio.charset.StandardCharsets.UTF_8);
        assertThat(log).contains("Authentication failed").doesNotContain("guess").doesNotContain("alice-secret");
    }

    private void misbehave() throws Exception {
        // A request other than ApiVersions or SaslHandshake before authentication.
        try (RawKafkaClient raw = new RawKafkaClient(saslPlaintext())) {
            ApiVersionsResponse versions = raw.send(new ApiVersionsRequest(new ApiVersionsRequestData().setClientSoftwareName("raw").setClientSoftwareVersion("1"), (short) 3));
            assertThat(versions.data().errorCode()).isZero();
            raw.sendOneWay(new MetadataRequest(new MetadataRequestData().setTopics(null), (short) 12));
            assertThat(raw.closedByBroker()).isTrue();
        }
        // An unsupported mechanism: the error and the enabled ones, then the connection closes.
        try (RawKafkaClient raw = new RawKafkaClient(saslPlaintext())) {
            SaslHandshakeResponse r = raw.send(new SaslHandshakeRequest(new SaslHandshakeRequestData().setMechanism("GSSAPI"), (short) 1));
            assertThat(Errors.forCode(r.data().errorCode())).isEqualTo(Errors.UNSUPPORTED_SASL_MECHANISM);
            assertThat(r.data().mechanisms()).containsExactly("PLAIN", "SCRAM-SHA-256", "SCRAM-SHA-512");
            assertThat(raw.closedByBroker()).isTrue();
        }
        // A token above sasl.server.max.receive.size.
        try (RawKafkaClient raw = new RawKafkaClient(saslPlaintext())) {
            raw.send(new SaslHandshakeRequest(new SaslHandshakeRequestData().setMechanism("PLAIN"), (short) 1));
            raw.sendOneWay(new SaslAuthenticateRequest(new SaslAuthenticateRequestData().setAuthBytes(new byte[4096]), (short) 2));
            assertThat(raw.closedByBroker()).isTrue();
        }
        // A malformed PLAIN token: SASL_AUTHENTICATION_FAILED, then closed.
        try (RawKafkaClient raw = new RawKafkaClient(saslPlaintext())) {
            raw.send(new SaslHandshakeRequest(new SaslHandshakeRequestData().setMechanism("PLAIN"), (short) 1));
            SaslAuthenticateResponse r = raw.send(new SaslAuthenticateRequest(new SaslAuthenticateRequestData().setAuthBytes("no-nul-bytes".getBytes()),
                    (short) 2));
            assertThat(Errors.forCode(r.data().errorCode())).isEqualTo(Errors.SASL_AUTHENTICATION_FAILED);
            assertThat(raw.closedByBroker()).isTrue();
        }
        // Many failed logins from one client, then a good one on another connection.
        for (int i = 0; i < 20; i++) {
            try (RawKafkaClient raw = new RawKafkaClient(saslPlaintext())) {
                raw.send(new SaslHandshakeRequest(new SaslHandshakeRequestData().setMechanism("PLAIN"), (short) 1));
                SaslAuthenticateResponse r = raw.send(new SaslAuthenticateRequest(new SaslAuthenticateRequestData()
                        .setAuthBytes("\0alice\0guess".getBytes()), (short) 2));
                assertThat(Errors.forCode(r.data().errorCode())).isEqualTo(Errors.SASL_AUTHENTICATION_FAILED);
            }
        }
        produce(saslPlaintext(), client("SASL_PLAINTEXT", "PLAIN", "alice", "alice-secret"), "survivor", 5);
    }
}
