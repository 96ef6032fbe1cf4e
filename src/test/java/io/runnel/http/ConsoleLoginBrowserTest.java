package io.runnel.http;

import static org.assertj.core.api.Assertions.assertThat;

import io.runnel.testkit.BrokerPerTest;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import org.apache.kafka.common.acl.AccessControlEntry;
import org.apache.kafka.common.acl.AclBinding;
import org.apache.kafka.common.acl.AclOperation;
import org.apache.kafka.common.acl.AclPermissionType;
import org.apache.kafka.common.resource.PatternType;
import org.apache.kafka.common.resource.ResourcePattern;
import org.apache.kafka.common.resource.ResourceType;
import org.apache.kafka.common.security.scram.internals.ScramFormatter;
import org.apache.kafka.common.security.scram.internals.ScramMechanism;
import org.junit.jupiter.api.Test;

/**
 * The console's login page in headless Chromium, against a broker that requires authentication and enforces ACLs:
 * a wrong password is refused on the page, a SCRAM user logs in (an HttpOnly cookie), sees only the topics the ACLs let
 * them describe, and logs out. The screenshot lands in target/console-login.png.
 */
class ConsoleLoginBrowserTest extends BrokerPerTest {
    @Override
    protected Map<String, String> brokerConfig() {
        return Map.of("http.authentication", "required", "authorizer.class.name", "org.apache.kafka.metadata.authorizer.StandardAuthorizer");
    }

    @Test
    void aUserLogsInSeesWhatTheAclsAllowAndLogsOut() throws Exception {
        broker.security().scram().update(Map.of("alice", Map.of(ScramMechanism.SCRAM_SHA_256,
                new ScramFormatter(ScramMechanism.SCRAM_SHA_256).generateCredential("alice-secret", 4096))));
        createTopic("orders", 1);
        createTopic("payroll", 1);
        broker.security().authorizer().acls().add(List.of(new AclBinding(new ResourcePattern(ResourceType.TOPIC, "orders", PatternType.LITERAL),
                new AccessControlEntry("User:alice", "*", AclOperation.READ, AclPermissionType.ALLOW))));
        Path shots = Path.of("target").toAbsolutePath();
        Files.createDirectories(shots);
        Process p = new ProcessBuilder("node", "src/test/js/console-login.mjs", "http://127.0.0.1:" + broker.httpPort() + "/", "alice", "alice-secret",
                shots.toString()).redirectErrorStream(true).start();
        try {
            String out = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
            assertThat(p.waitFor(120, TimeUnit.SECONDS)).isTrue();
            assertThat(p.exitValue()).as("browser script output:%n%s", out).isZero();
            assertThat(out).contains("\"refused\":\"Invalid user name or password\"").contains("\"whoami\":\"User:alice\"")
                    .contains("\"topics\":[\"orders\"]").contains("\"loggedOut\":true").contains("\"errors\":[]");
        } finally {
            p.destroyForcibly();
        }
        assertThat(shots.resolve("console-login.png")).isNotEmptyFile();
    }
}
