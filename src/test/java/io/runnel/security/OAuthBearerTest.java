package io.runnel.security;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.runnel.server.Broker;
import io.runnel.testkit.Brokers;
import io.runnel.testkit.KafkaClients;
import io.runnel.testkit.TestJwt;
import io.runnel.testkit.TestPki;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import org.apache.kafka.clients.CommonClientConfigs;
import org.apache.kafka.clients.admin.Admin;
import org.apache.kafka.clients.producer.KafkaProducer;
import org.apache.kafka.clients.producer.ProducerConfig;
import org.apache.kafka.clients.producer.ProducerRecord;
import org.apache.kafka.common.config.SaslConfigs;
import org.apache.kafka.common.errors.SaslAuthenticationException;
import org.apache.kafka.common.utils.Time;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * OAUTHBEARER (KIP-768) over SASL_SSL with kafka-clients 4.4.0: the broker checks JWTs against a JWKS file holding a key the test
 * made; the client reads its token from a file (Kafka's file token retriever). A token signed by another key, expired,
 * or for another audience is refused; the principal is the token's subject (an ACL on it decides).
 */
class OAuthBearerTest {
    private static TestJwt trusted;
    private static TestJwt other;
    private static final TestPki pki = TestPki.shared();
    @TempDir
    Path dir;
    private Broker broker;

    @BeforeAll
    static void keys() throws Exception {
        trusted = TestJwt.create();
        other = TestJwt.create();
    }

    @BeforeEach
    void start() throws Exception {
        Path jwks = trusted.writeJwks(dir.resolve("jwks.json"));
        Path data = Files.createDirectories(dir.resolve("data"));
        broker = Brokers.start(data, pairs("listeners", "SASL_SSL://127.0.0.1:0", "sasl.enabled.mechanisms", "OAUTHBEARER",
                "ssl.keystore.type", "PKCS12", "ssl.keystore.location", pki.broker().toString(), "ssl.keystore.password", TestPki.PASSWORD,
                "listener.name.sasl_ssl.oauthbearer.sasl.jaas.config", "org.apache.kafka.common.security.oauthbearer.OAuthBearerLoginModule required;",
                "listener.name.sasl_ssl.oauthbearer.sasl.server.callback.handler.class",
                "org.apache.kafka.common.security.oauthbearer.OAuthBearerValidatorCallbackHandler",
                "sasl.oauthbearer.jwks.endpoint.url", jwks.toUri().toString(), "sasl.oauthbearer.expected.audience", "runnel",
                "sasl.oauthbearer.expected.issuer", "https://issuer.test",
                "authorizer.class.name", "org.apache.kafka.metadata.authorizer.StandardAuthorizer", "allow.everyone.if.no.acl.found", "false"), Time.SYSTEM);
    }

    @AfterEach
    void stop() throws Exception {
        broker.stop().get(30, TimeUnit.SECONDS);
    }

    private static Map<String, String> pairs(String... kv) {
        Map<String, String> m = new HashMap<>();
        for (int i = 0; i < kv.length; i += 2) m.put(kv[i], kv[i + 1]);
        return m;
    }

    private static String jwt(TestJwt key, String subject, String audience, long expSeconds) throws Exception {
        return key.token(subject, audience, expSeconds);
    }

    /** Client settings that read the token from a file, as Kafka's file token retriever does. */
    private Map<String, Object> client(String token) throws Exception {
        Path file = Files.createTempFile(dir, "token", ".jwt");
        Files.writeString(file, token);
        // Kafka 4 clients read a token file only when two system properties allow it.
        for (String[] p : new String[][]{{"org.apache.kafka.sasl.oauthbearer.allowed.files", file.toString()},
                {"org.apache.kafka.sasl.oauthbearer.allowed.urls", file.toUri().toString()}}) {
            String allowed = System.getProperty(p[0], "");
            System.setProperty(p[0], (allowed.isEmpty() ? "" : allowed + ",") + p[1]);
        }
        Map<String, Object> c = new HashMap<>();
        c.put(CommonClientConfigs.SECURITY_PROTOCOL_CONFIG, "SASL_SSL");
        c.put("ssl.truststore.type", "PEM");
        c.put("ssl.truststore.location", pki.caPem().toString());
        c.put(SaslConfigs.SASL_MECHANISM, "OAUTHBEARER");
        c.put(SaslConfigs.SASL_JAAS_CONFIG, "org.apache.kafka.common.security.oauthbearer.OAuthBearerLoginModule required;");
        c.put(SaslConfigs.SASL_LOGIN_CALLBACK_HANDLER_CLASS, "org.apache.kafka.common.security.oauthbearer.OAuthBearerLoginCallbackHandler");
        c.put(SaslConfigs.SASL_OAUTHBEARER_TOKEN_ENDPOINT_URL, file.toUri().toString());
        c.put(CommonClientConfigs.DEFAULT_API_TIMEOUT_MS_CONFIG, 15_000);
        c.put(CommonClientConfigs.REQUEST_TIMEOUT_MS_CONFIG, 10_000);
        return c;
    }

    private String bootstrap() {
        return "localhost:" + broker.kafkaPort("SASL_SSL");
    }

    @Test
    void aSignedTokenAuthenticatesItsSubjectAndBadTokensAreRefused() throws Exception {
        // The principal is the token's subject: alice may write "orders" by an ACL.
        try (Admin admin = KafkaClients.admin(bootstrap(), client(jwt(trusted, "alice", "runnel", 600)))) {
            assertThat(admin.describeCluster().nodes().get(15, TimeUnit.SECONDS)).hasSize(1);
        }
        broker.security().authorizer().acls().add(List.of(new org.apache.kafka.common.acl.AclBinding(
                new org.apache.kafka.common.resource.ResourcePattern(org.apache.kafka.common.resource.ResourceType.TOPIC, "orders",
                        org.apache.kafka.common.resource.PatternType.LITERAL),
                new org.apache.kafka.common.acl.AccessControlEntry("User:alice", "*", org.apache.kafka.common.acl.AclOperation.ALL,
                        org.apache.kafka.common.acl.AclPermissionType.ALLOW))));
        Map<String, Object> producer = new HashMap<>(client(jwt(trusted, "alice", "runnel", 600)));
        producer.put(ProducerConfig.MAX_BLOCK_MS_CONFIG, 15_000);
        try (KafkaProducer<String, String> p = KafkaClients.producer(bootstrap(), producer)) {
            p.send(new ProducerRecord<>("orders", "k", "v")).get(30, TimeUnit.SECONDS);
        }
        assertThat(broker.topics().topic("orders")).isPresent();

        // Signed by another key, or for another audience: the broker refuses them.
        for (String bad : List.of(jwt(other, "alice", "runnel", 600), jwt(trusted, "alice", "someone-else", 600))) {
            try (Admin admin = KafkaClients.admin(bootstrap(), client(bad))) {
                assertThatThrownBy(() -> admin.describeCluster().nodes().get(15, TimeUnit.SECONDS))
                        .satisfies(e -> assertThat(causes(e)).anyMatch(t -> t instanceof SaslAuthenticationException));
            }
        }
        String metrics = java.net.http.HttpClient.newHttpClient().send(java.net.http.HttpRequest.newBuilder(
                java.net.URI.create("http://127.0.0.1:" + broker.httpPort() + "/metrics")).build(), java.net.http.HttpResponse.BodyHandlers.ofString()).body();
        assertThat(metrics).containsPattern("runnel_authentication_failures_total\\{endpoint=\"kafka\",mechanism=\"OAUTHBEARER\"[^}]*} [2-9]");
        // Expired: refused too (Kafka's client does not even send it; a client that did would be refused the same way).
        assertThatThrownBy(() -> broker.security().listener("SASL_SSL").sasl().tokens().validate(jwt(trusted, "alice", "runnel", -600)))
                .isInstanceOf(IllegalArgumentException.class);
    }

    @Test
    void theSameValidatorChecksBearerTokensForOtherEndpoints() throws Exception {
        TokenValidator v = broker.security().listener("SASL_SSL").sasl().tokens();
        assertThat(v.validate(jwt(trusted, "bob", "runnel", 600)).principalName()).isEqualTo("bob");
        assertThatThrownBy(() -> v.validate(jwt(other, "bob", "runnel", 600))).isInstanceOf(IllegalArgumentException.class);
        assertThatThrownBy(() -> v.validate("not-a-jwt")).isInstanceOf(IllegalArgumentException.class).hasMessageNotContaining("not-a-jwt");
    }

    private static List<Throwable> causes(Throwable e) {
        List<Throwable> out = new ArrayList<>();
        for (Throwable t = e; t != null && !out.contains(t); t = t.getCause()) out.add(t);
        return out;
    }
}
