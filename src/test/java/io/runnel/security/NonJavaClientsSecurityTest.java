package io.runnel.security;

import static org.assertj.core.api.Assertions.assertThat;

import io.runnel.server.Broker;
import io.runnel.testkit.Brokers;
import io.runnel.testkit.KafkaClients;
import io.runnel.testkit.TestPki;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import org.apache.kafka.clients.admin.Admin;
import org.apache.kafka.clients.admin.ScramCredentialInfo;
import org.apache.kafka.clients.admin.ScramMechanism;
import org.apache.kafka.clients.admin.UserScramCredentialUpsertion;
import org.apache.kafka.common.utils.Time;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * librdkafka (Debian's kcat) and kafkajs over SASL_SSL with SCRAM-SHA-512 and SCRAM-SHA-256 users created through the
 * Admin API, trusting the test CA's certificate in PEM, as docs/security.md tells their users to configure them.
 */
class NonJavaClientsSecurityTest {
    private static final String JAAS = "org.apache.kafka.common.security.plain.PlainLoginModule required user_admin=\"admin-secret\";";
    private static final TestPki pki = TestPki.shared();
    @TempDir
    Path data;
    private Broker broker;

    @BeforeEach
    void start() throws Exception {
        broker = Brokers.start(data, Map.of("listeners", "SASL_SSL://127.0.0.1:0", "ssl.keystore.type", "PKCS12",
                "ssl.keystore.location", pki.broker().toString(), "ssl.keystore.password", TestPki.PASSWORD,
                "listener.name.sasl_ssl.plain.sasl.jaas.config", JAAS), Time.SYSTEM);
        Map<String, Object> admin = KafkaClients.sasl("SASL_SSL", "PLAIN", "admin", "admin-secret", pki.caPem(), 30_000);
        try (Admin a = KafkaClients.admin(bootstrap(), admin)) {
            a.alterUserScramCredentials(List.of(
                    new UserScramCredentialUpsertion("rdkafka", new ScramCredentialInfo(ScramMechanism.SCRAM_SHA_512, 8192), "rd-secret"),
                    new UserScramCredentialUpsertion("js", new ScramCredentialInfo(ScramMechanism.SCRAM_SHA_256, 4096), "js-secret")))
                    .all().get(30, TimeUnit.SECONDS);
        }
    }

    @AfterEach
    void stop() throws Exception {
        broker.stop().get(30, TimeUnit.SECONDS);
    }

    private String bootstrap() {
        return "localhost:" + broker.kafkaPort("SASL_SSL");
    }

    private static String run(Map<String, String> env, String stdin, List<String> cmd) throws Exception {
        ProcessBuilder pb = new ProcessBuilder(cmd).redirectErrorStream(true);
        pb.environment().putAll(env);
        Process p = pb.start();
        if (stdin != null) p.getOutputStream().write(stdin.getBytes(StandardCharsets.UTF_8));
        p.getOutputStream().close();
        String out = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
        if (!p.waitFor(60, TimeUnit.SECONDS)) {
            p.destroyForcibly();
            throw new AssertionError(cmd + " did not finish:\n" + out);
        }
        assertThat(p.exitValue()).as("%s:%n%s", cmd, out).isZero();
        return out;
    }

    private List<String> kcat(String user, String password, String... args) {
        List<String> cmd = new ArrayList<>(List.of("kcat", "-b", bootstrap(), "-X", "security.protocol=SASL_SSL", "-X", "sasl.mechanisms=SCRAM-SHA-512",
                "-X", "sasl.username=" + user, "-X", "sasl.password=" + password, "-X", "ssl.ca.location=" + pki.caPem()));
        cmd.addAll(List.of(args));
        return cmd;
    }

    @Test
    void kcatProducesAndConsumesOverSaslSslWithScram() throws Exception {
        StringBuilder in = new StringBuilder();
        for (int i = 0; i < 20; i++) in.append("k").append(i).append(":v").append(i).append('\n');
        run(Map.of(), in.toString(), kcat("rdkafka", "rd-secret", "-P", "-t", "rd-secure", "-K", ":", "-X", "topic.request.required.acks=-1"));
        String out = run(Map.of(), null, kcat("rdkafka", "rd-secret", "-C", "-t", "rd-secure", "-o", "beginning", "-e", "-q", "-f", "%k=%s\\n"));
        assertThat(out.lines().toList()).hasSize(20).startsWith("k0=v0").endsWith("k19=v19");
        // A wrong password is refused: kcat's metadata request fails.
        ProcessBuilder wrong = new ProcessBuilder(kcat("rdkafka", "wrong", "-L", "-m", "5")).redirectErrorStream(true);
        Process p = wrong.start();
        String failed = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
        assertThat(p.waitFor(60, TimeUnit.SECONDS)).isTrue();
        assertThat(p.exitValue()).as(failed).isNotZero();
        assertThat(failed).containsIgnoringCase("authentication");
    }

    @Test
    void kafkajsProducesConsumesAndCommitsOverSaslSslWithScram() throws Exception {
        String out = run(Map.of("KAFKAJS_SASL", "{\"mechanism\":\"scram-sha-256\",\"username\":\"js\",\"password\":\"js-secret\"}",
                        "KAFKAJS_CA", pki.caPem().toString()), null,
                List.of("node", "src/test/js/kafkajs-roundtrip.mjs", bootstrap(), "js-secure", "30"));
        assertThat(out).contains("\"received\":30").contains("\"high\":\"30\"");
    }
}
