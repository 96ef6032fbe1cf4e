package io.runnel.security;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.runnel.server.Broker;
import io.runnel.testkit.Brokers;
import io.runnel.testkit.KafkaClients;
import io.runnel.testkit.RawKafkaClient;
import io.runnel.testkit.TestPki;
import java.io.InputStream;
import java.math.BigInteger;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.security.KeyStore;
import java.security.cert.X509Certificate;
import java.time.Duration;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;
import javax.net.ssl.SSLContext;
import javax.net.ssl.SSLSocket;
import javax.net.ssl.TrustManagerFactory;
import org.apache.kafka.clients.admin.Admin;
import org.apache.kafka.clients.admin.AdminClientConfig;
import org.apache.kafka.clients.consumer.ConsumerConfig;
import org.apache.kafka.clients.consumer.KafkaConsumer;
import org.apache.kafka.clients.producer.KafkaProducer;
import org.apache.kafka.clients.producer.ProducerRecord;
import org.apache.kafka.common.config.SslConfigs;
import org.apache.kafka.common.errors.SslAuthenticationException;
import org.apache.kafka.common.utils.Time;
import org.awaitility.Awaitility;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * SSL listeners with real kafka-clients 4.4.0: OpenSSL and JDK engines, PKCS12 and PEM key stores, mutual TLS, a
 * plaintext and a TLS listener side by side, a certificate renewed on disk, and garbage on the TLS port.
 */
class TlsListenerTest {
    private static final TestPki pki = TestPki.shared();
    @TempDir
    Path data;
    private Broker broker;

    @BeforeAll
    static void makeCertificates() throws Exception {
        pki.issue("alice", "CN=alice,OU=clients,O=Runnel");
    }

    @AfterEach
    void stopBroker() throws Exception {
        if (broker != null) broker.stop().get(30, TimeUnit.SECONDS);
    }

    private Broker start(Map<String, String> extra, String... without) throws Exception {
        Map<String, String> m = new HashMap<>();
        m.put("listeners", "SSL://127.0.0.1:0");
        m.put("ssl.keystore.type", "PKCS12");
        m.put("ssl.keystore.location", pki.broker().toString());
        m.put("ssl.keystore.password", TestPki.PASSWORD);
        m.put("ssl.truststore.type", "PKCS12");
        m.put("ssl.truststore.location", pki.truststore().toString());
        m.put("ssl.truststore.password", TestPki.PASSWORD);
        m.putAll(extra);
        for (String k : without) m.remove(k);
        broker = Brokers.start(data, m, Time.SYSTEM);
        return broker;
    }

    private static Map<String, Object> sslClient(boolean withCertificate) {
        Map<String, Object> c = new HashMap<>();
        c.put(AdminClientConfig.SECURITY_PROTOCOL_CONFIG, "SSL");
        c.put(SslConfigs.SSL_TRUSTSTORE_TYPE_CONFIG, "PKCS12");
        c.put(SslConfigs.SSL_TRUSTSTORE_LOCATION_CONFIG, pki.truststore().toString());
        c.put(SslConfigs.SSL_TRUSTSTORE_PASSWORD_CONFIG, TestPki.PASSWORD);
        if (withCertificate) {
            c.put(SslConfigs.SSL_KEYSTORE_TYPE_CONFIG, "PKCS12");
            c.put(SslConfigs.SSL_KEYSTORE_LOCATION_CONFIG, pki.dir().resolve("alice.p12").toString());
            c.put(SslConfigs.SSL_KEYSTORE_PASSWORD_CONFIG, TestPki.PASSWORD);
        }
        return c;
    }

    private static void roundTrip(String bootstrap, Map<String, Object> client, String topic) throws Exception {
        try (KafkaProducer<String, String> p = KafkaClients.producer(bootstrap, client)) {
            for (int i = 0; i < 50; i++) p.send(new ProducerRecord<>(topic, "k" + i, "v" + i)).get(30, TimeUnit.SECONDS);
        }
        Map<String, Object> c = new HashMap<>(client);
        c.put(ConsumerConfig.AUTO_OFFSET_RESET_CONFIG, "earliest");
        c.put(ConsumerConfig.GROUP_ID_CONFIG, "g-" + topic);
        try (KafkaConsumer<String, String> consumer = KafkaClients.consumer(bootstrap, c)) {
            consumer.subscribe(List.of(topic));
            List<String> values = new java.util.ArrayList<>();
            long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(30);
            while (values.size() < 50 && System.nanoTime() < deadline) {
                consumer.poll(Duration.ofMillis(200)).forEach(r -> values.add(r.value()));
            }
            assertThat(values).hasSize(50).startsWith("v0", "v1").endsWith("v49");
        }
    }

    @Test
    void kafkaClientsProduceAndConsumeOverTlsWithTheOpenSslEngine() throws Exception {
        assertThat(io.netty.handler.ssl.OpenSsl.isAvailable()).as("netty-tcnative's BoringSSL loads on this machine").isTrue();
        start(Map.of());
        assertThat(broker.security().listener("SSL").tls().openSsl()).isTrue();
        roundTrip("localhost:" + broker.kafkaPort("SSL"), sslClient(false), "tls-openssl");
    }

    @Test
    void theJdkEngineServesAPemKeyStore() throws Exception {
        Path pem = pki.toPem(pki.broker(), "broker");
        start(Map.of("ssl.engine", "jdk", "ssl.keystore.type", "PEM", "ssl.keystore.location", pem.toString()), "ssl.keystore.password");
        assertThat(broker.security().listener("SSL").tls().openSsl()).isFalse();
        roundTrip("localhost:" + broker.kafkaPort("SSL"), sslClient(false), "tls-jdk-pem");
    }

    @Test
    void mutualTlsRefusesAClientWithoutACertificate() throws Exception {
        start(Map.of("ssl.client.auth", "required"));
        String bootstrap = "localhost:" + broker.kafkaPort("SSL");
        Map<String, Object> noCert = new HashMap<>(sslClient(false));
        noCert.put(AdminClientConfig.DEFAULT_API_TIMEOUT_MS_CONFIG, 5_000);
        noCert.put(AdminClientConfig.REQUEST_TIMEOUT_MS_CONFIG, 5_000);
        try (Admin admin = KafkaClients.admin(bootstrap, noCert)) {
            assertThatThrownBy(() -> admin.describeCluster().clusterId().get(20, TimeUnit.SECONDS))
                    .isInstanceOf(ExecutionException.class).hasRootCauseInstanceOf(javax.net.ssl.SSLException.class)
                    .cause().isInstanceOf(SslAuthenticationException.class);
        }
        roundTrip(bootstrap, sslClient(true), "mtls");
    }

    @Test
    void plaintextAndTlsListenersServeSideBySideAndMetadataAdvertisesEachClientsOwn() throws Exception {
        start(Map.of("listeners", "PLAINTEXT://127.0.0.1:0,SSL://127.0.0.1:0"));
        roundTrip("127.0.0.1:" + broker.kafkaPort("PLAINTEXT"), Map.of(), "plain-side");
        // The TLS client bootstraps and then connects to the address Metadata gave it: the SSL port, or it would fail.
        roundTrip("localhost:" + broker.kafkaPort("SSL"), sslClient(false), "tls-side");
    }

    @Test
    void aCertificateRenewedOnDiskIsUsedForNewConnectionsWithoutARestart() throws Exception {
        Path store = data.resolveSibling(data.getFileName() + "-keystore.p12");
        Files.copy(pki.broker(), store, StandardCopyOption.REPLACE_EXISTING);
        try {
            start(Map.of("ssl.keystore.location", store.toString(), "ssl.certificate.reload.interval.ms", "200"));
            int port = broker.kafkaPort("SSL");
            BigInteger before = serverCertificateSerial(port);
            Path renewed = pki.issue("broker-renewed", "CN=localhost,OU=brokers,O=Runnel");
            // Replace the file as a certificate manager does: write beside it, then rename over it.
            Path tmp = store.resolveSibling(store.getFileName() + ".new");
            Files.copy(renewed, tmp, StandardCopyOption.REPLACE_EXISTING);
            Files.move(tmp, store, StandardCopyOption.REPLACE_EXISTING, StandardCopyOption.ATOMIC_MOVE);
            Awaitility.await().atMost(Duration.ofSeconds(20)).until(() -> !serverCertificateSerial(port).equals(before));
            roundTrip("localhost:" + port, sslClient(false), "after-renewal");
        } finally {
            Files.deleteIfExists(store);
        }
    }

    @Test
    void garbageOnTheTlsPortClosesOnlyThatConnection() throws Exception {
        start(Map.of());
        int port = broker.kafkaPort("SSL");
        try (RawKafkaClient raw = new RawKafkaClient("127.0.0.1:" + port)) {
            // A Kafka ApiVersions request in clear text where a TLS ClientHello belongs, then noise.
            raw.sendBytes(new byte[]{0, 0, 0, 10, 0, 18, 0, 3, 0, 0, 0, 1, 0, 0});
            raw.sendBytes(new byte[4096]);
            assertThat(raw.closedByBroker()).isTrue();
        }
        roundTrip("localhost:" + port, sslClient(false), "after-garbage");
    }

    @Test
    void onlyTheEnabledProtocolsAreAccepted() throws Exception {
        start(Map.of("ssl.enabled.protocols", "TLSv1.3"));
        String bootstrap = "localhost:" + broker.kafkaPort("SSL");
        Map<String, Object> tls12 = new HashMap<>(sslClient(false));
        tls12.put(SslConfigs.SSL_PROTOCOL_CONFIG, "TLSv1.2");
        tls12.put(SslConfigs.SSL_ENABLED_PROTOCOLS_CONFIG, "TLSv1.2");
        tls12.put(AdminClientConfig.DEFAULT_API_TIMEOUT_MS_CONFIG, 5_000);
        tls12.put(AdminClientConfig.REQUEST_TIMEOUT_MS_CONFIG, 5_000);
        try (Admin admin = KafkaClients.admin(bootstrap, tls12)) {
            assertThatThrownBy(() -> admin.describeCluster().clusterId().get(20, TimeUnit.SECONDS))
                    .isInstanceOf(ExecutionException.class).cause().isInstanceOf(SslAuthenticationException.class);
        }
        roundTrip(bootstrap, sslClient(false), "tls13"); // kafka-clients 4.4 speaks TLSv1.3 by default
    }

    @Test
    void aJksKeyStoreWorksToo() throws Exception {
        Path jks = pki.toJks(pki.broker(), "broker");
        start(Map.of("ssl.keystore.type", "JKS", "ssl.keystore.location", jks.toString()));
        roundTrip("localhost:" + broker.kafkaPort("SSL"), sslClient(false), "tls-jks");
    }

    @Test
    void theClientCertificatesNameShapedByTheMappingRulesIsThePrincipalTheAclsJudge() throws Exception {
        // alice's certificate says CN=alice,OU=clients,O=Runnel; the rule makes that User:alice.
        start(Map.of("ssl.client.auth", "required", "ssl.principal.mapping.rules", "RULE:^CN=([^,]+),.*$/$1/L,DEFAULT",
                "authorizer.class.name", "org.apache.kafka.metadata.authorizer.StandardAuthorizer"));
        broker.security().authorizer().acls().add(List.of(new org.apache.kafka.common.acl.AclBinding(
                new org.apache.kafka.common.resource.ResourcePattern(org.apache.kafka.common.resource.ResourceType.TOPIC, "mtls-",
                        org.apache.kafka.common.resource.PatternType.PREFIXED),
                new org.apache.kafka.common.acl.AccessControlEntry("User:alice", "*", org.apache.kafka.common.acl.AclOperation.ALL,
                        org.apache.kafka.common.acl.AclPermissionType.ALLOW)),
                new org.apache.kafka.common.acl.AclBinding(new org.apache.kafka.common.resource.ResourcePattern(
                        org.apache.kafka.common.resource.ResourceType.GROUP, "g-mtls-", org.apache.kafka.common.resource.PatternType.PREFIXED),
                        new org.apache.kafka.common.acl.AccessControlEntry("User:alice", "*", org.apache.kafka.common.acl.AclOperation.READ,
                                org.apache.kafka.common.acl.AclPermissionType.ALLOW))));
        String bootstrap = "localhost:" + broker.kafkaPort("SSL");
        roundTrip(bootstrap, sslClient(true), "mtls-orders");
        Map<String, Object> strict = new HashMap<>(sslClient(true));
        strict.put(org.apache.kafka.clients.producer.ProducerConfig.MAX_BLOCK_MS_CONFIG, 10_000);
        try (KafkaProducer<String, String> p = KafkaClients.producer(bootstrap, strict)) {
            assertThatThrownBy(() -> p.send(new ProducerRecord<>("elsewhere", "k", "v")).get(30, TimeUnit.SECONDS))
                    .hasCauseInstanceOf(org.apache.kafka.common.errors.TopicAuthorizationException.class);
        }
    }

    /** The serial number of the certificate the broker presents to a new TLS connection. */
    private static BigInteger serverCertificateSerial(int port) throws Exception {
        KeyStore trust = KeyStore.getInstance("PKCS12");
        try (InputStream in = Files.newInputStream(pki.truststore())) {
            trust.load(in, TestPki.PASSWORD.toCharArray());
        }
        TrustManagerFactory tmf = TrustManagerFactory.getInstance(TrustManagerFactory.getDefaultAlgorithm());
        tmf.init(trust);
        SSLContext ctx = SSLContext.getInstance("TLS");
        ctx.init(null, tmf.getTrustManagers(), null);
        try (SSLSocket s = (SSLSocket) ctx.getSocketFactory().createSocket("127.0.0.1", port)) {
            s.setSoTimeout(10_000);
            s.startHandshake();
            return ((X509Certificate) s.getSession().getPeerCertificates()[0]).getSerialNumber();
        }
    }
}
