package io.runnel.http;

import static org.assertj.core.api.Assertions.assertThat;

import io.runnel.server.Broker;
import io.runnel.testkit.Brokers;
import io.runnel.testkit.TestJwt;
import io.runnel.testkit.TestPki;
import io.runnel.testkit.WsClient;
import io.vertx.core.json.JsonArray;
import io.vertx.core.json.JsonObject;
import java.io.InputStream;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.KeyStore;
import java.time.Duration;
import java.util.Base64;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import javax.net.ssl.SSLContext;
import javax.net.ssl.TrustManagerFactory;
import org.apache.kafka.common.acl.AccessControlEntry;
import org.apache.kafka.common.acl.AclBinding;
import org.apache.kafka.common.acl.AclOperation;
import org.apache.kafka.common.acl.AclPermissionType;
import org.apache.kafka.common.resource.PatternType;
import org.apache.kafka.common.resource.ResourcePattern;
import org.apache.kafka.common.resource.ResourceType;
import org.apache.kafka.common.security.scram.internals.ScramFormatter;
import org.apache.kafka.common.security.scram.internals.ScramMechanism;
import org.apache.kafka.common.utils.Time;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The HTTP endpoint with security on: HTTPS, authentication required, ACLs. REST takes HTTP Basic (a SCRAM user), a
 * bearer JWT and the console's login cookie; a WebSocket authenticates with its first frame (or the upgrade's
 * credentials); the same ACLs decide as on the Kafka endpoint.
 */
class HttpSecurityTest {
    private static final TestPki pki = TestPki.shared();
    private static TestJwt idp;
    @TempDir
    Path dir;
    private Broker broker;
    private HttpClient http;

    @BeforeAll
    static void certificates() throws Exception {
        idp = TestJwt.create();
    }

    @BeforeEach
    void start() throws Exception {
        Path jwks = idp.writeJwks(dir.resolve("jwks.json"));
        broker = Brokers.start(Files.createDirectories(dir.resolve("data")), Map.of("http.ssl.keystore.type", "PKCS12",
                "http.ssl.keystore.location", pki.broker().toString(), "http.ssl.keystore.password", TestPki.PASSWORD,
                "http.authentication", "required", "sasl.oauthbearer.jwks.endpoint.url", jwks.toUri().toString(),
                "sasl.oauthbearer.expected.audience", "runnel", "sasl.oauthbearer.expected.issuer", TestJwt.ISSUER,
                "authorizer.class.name", "org.apache.kafka.metadata.authorizer.StandardAuthorizer", "super.users", "User:admin"), Time.SYSTEM);
        ScramFormatter f = new ScramFormatter(ScramMechanism.SCRAM_SHA_512);
        broker.security().scram().update(Map.of("alice", Map.of(ScramMechanism.SCRAM_SHA_512, f.generateCredential("alice-secret", 4096)),
                "admin", Map.of(ScramMechanism.SCRAM_SHA_512, f.generateCredential("admin-secret", 4096))));
        Brokers.await(broker.topicAdmin().createTopic("orders", 1, Map.of()));
        Brokers.await(broker.topicAdmin().createTopic("payroll", 1, Map.of()));
        broker.security().authorizer().acls().add(List.of(new AclBinding(new ResourcePattern(ResourceType.TOPIC, "orders", PatternType.LITERAL),
                new AccessControlEntry("User:alice", "*", AclOperation.READ, AclPermissionType.ALLOW))));
        KeyStore trust = KeyStore.getInstance("PKCS12");
        try (InputStream in = Files.newInputStream(pki.truststore())) {
            trust.load(in, TestPki.PASSWORD.toCharArray());
        }
        TrustManagerFactory tmf = TrustManagerFactory.getInstance(TrustManagerFactory.getDefaultAlgorithm());
        tmf.init(trust);
        SSLContext tls = SSLContext.getInstance("TLS");
        tls.init(null, tmf.getTrustManagers(), null);
        http = HttpClient.newBuilder().sslContext(tls).connectTimeout(Duration.ofSeconds(10)).build();
    }

    @AfterEach
    void stop() throws Exception {
        broker.stop().get(30, TimeUnit.SECONDS);
    }

    private HttpResponse<String> call(String method, String path, String authorization, String cookie, String body) throws Exception {
        HttpRequest.Builder b = HttpRequest.newBuilder(URI.create("https://localhost:" + broker.httpPort() + path)).timeout(Duration.ofSeconds(20))
                .method(method, body == null ? HttpRequest.BodyPublishers.noBody() : HttpRequest.BodyPublishers.ofString(body))
                .header("content-type", "application/json");
        if (authorization != null) b.header("Authorization", authorization);
        if (cookie != null) b.header("Cookie", cookie);
        return http.send(b.build(), HttpResponse.BodyHandlers.ofString());
    }

    private static String basic(String user, String password) {
        return "Basic " + Base64.getEncoder().encodeToString((user + ":" + password).getBytes(StandardCharsets.UTF_8));
    }

    @Test
    void restNeedsCredentialsAndTheAclsDecideWhatTheyMayDo() throws Exception {
        // Open: health and readiness. Closed: the API, with a 401 that says how to authenticate.
        assertThat(call("GET", "/health", null, null, null).statusCode()).isEqualTo(200);
        assertThat(call("GET", "/ready", null, null, null).statusCode()).isEqualTo(200);
        HttpResponse<String> anonymous = call("GET", "/api/topics", null, null, null);
        assertThat(anonymous.statusCode()).isEqualTo(401);
        assertThat(new JsonObject(anonymous.body()).getString("code")).isEqualTo("UNAUTHENTICATED");
        assertThat(anonymous.headers().firstValue("WWW-Authenticate")).hasValueSatisfying(v -> assertThat(v).contains("Basic", "Bearer"));
        assertThat(call("GET", "/api/topics", basic("alice", "wrong"), null, null).statusCode()).isEqualTo(401);

        // Basic with a SCRAM user: alice sees and reads "orders" only, and may not write it.
        String alice = basic("alice", "alice-secret");
        JsonArray topics = new JsonArray(call("GET", "/api/topics", alice, null, null).body());
        assertThat(topics.stream().map(t -> ((JsonObject) t).getString("name")).toList()).containsExactly("orders");
        HttpResponse<String> write = call("POST", "/api/topics/orders/records", alice, null, "{\"records\":[{\"value\":\"x\"}]}");
        assertThat(write.statusCode()).isEqualTo(403);
        assertThat(new JsonObject(write.body()).getString("code")).isEqualTo("TOPIC_AUTHORIZATION_FAILED");
        assertThat(call("GET", "/api/topics/payroll/partitions/0/records", alice, null, null).statusCode()).isEqualTo(403);
        assertThat(call("POST", "/api/topics/orders/records", basic("admin", "admin-secret"), null, "{\"records\":[{\"value\":\"x\"}]}").statusCode())
                .isEqualTo(200);
        HttpResponse<String> read = call("GET", "/api/topics/orders/partitions/0/records?offset=earliest", alice, null, null);
        assertThat(read.statusCode()).isEqualTo(200);
        assertThat(new JsonObject(read.body()).getJsonArray("records")).hasSize(1);

        // A bearer JWT names the same principal; one for another audience is refused.
        assertThat(call("GET", "/api/topics/orders/partitions/0/records", "Bearer " + idp.token("alice", "runnel", 600), null, null).statusCode())
                .isEqualTo(200);
        assertThat(call("GET", "/api/topics", "Bearer " + idp.token("alice", "elsewhere", 600), null, null).statusCode()).isEqualTo(401);

        // The console's login: a cookie that is HttpOnly, Secure and SameSite=Strict, then calls without a header.
        HttpResponse<String> login = call("POST", "/api/login", null, null, "{\"username\":\"alice\",\"password\":\"alice-secret\"}");
        assertThat(login.statusCode()).isEqualTo(200);
        String setCookie = login.headers().firstValue("set-cookie").orElseThrow();
        assertThat(setCookie).containsIgnoringCase("HttpOnly").containsIgnoringCase("Secure").containsIgnoringCase("SameSite=Strict");
        String cookie = setCookie.substring(0, setCookie.indexOf(';'));
        assertThat(new JsonObject(call("GET", "/api/whoami", null, cookie, null).body()).getString("principal")).isEqualTo("User:alice");
        assertThat(call("POST", "/api/login", null, null, "{\"username\":\"alice\",\"password\":\"nope\"}").statusCode()).isEqualTo(401);
        call("POST", "/api/logout", null, cookie, null);
        assertThat(call("GET", "/api/whoami", null, cookie, null).statusCode()).isEqualTo(401);
    }

    @Test
    void aWebSocketAuthenticatesWithItsFirstFrameAndTheAclsApply() throws Exception {
        try (WsClient ws = WsClient.connect(broker.httpPort(), pki.caPem(), null)) {
            assertThat(ws.frames().get(0).getBoolean("authenticate")).isTrue();
            JsonObject refused = ws.request(new JsonObject().put("op", "subscribe").put("topic", "orders"));
            assertThat(refused.getString("code")).isEqualTo("UNAUTHENTICATED");
            JsonObject ok = ws.request(new JsonObject().put("op", "auth").put("token", idp.token("alice", "runnel", 600)));
            assertThat(ok.getString("type")).isEqualTo("authenticated");
            assertThat(ok.getString("principal")).isEqualTo("User:alice");
            assertThat(ws.request(new JsonObject().put("op", "subscribe").put("topic", "payroll")).getString("code")).isEqualTo("TOPIC_AUTHORIZATION_FAILED");
            assertThat(ws.request(new JsonObject().put("op", "produce").put("topic", "orders").put("records", new JsonArray().add(new JsonObject().put("value", "v"))))
                    .getString("code")).isEqualTo("TOPIC_AUTHORIZATION_FAILED");
            assertThat(ws.request(new JsonObject().put("op", "subscribe").put("topic", "orders").put("from", "earliest")).getString("type"))
                    .isEqualTo("subscribed");
        }
        // Wrong credentials in the first frame: refused, and the socket is closed.
        try (WsClient ws = WsClient.connect(broker.httpPort(), pki.caPem(), null)) {
            JsonObject refused = ws.request(new JsonObject().put("op", "auth").put("username", "alice").put("password", "guess"));
            assertThat(refused.getString("code")).isEqualTo("UNAUTHENTICATED");
            org.awaitility.Awaitility.await().atMost(Duration.ofSeconds(10)).until(ws::isClosed);
        }
        // Credentials on the upgrade itself (a client that can set headers): no auth frame needed.
        try (WsClient ws = WsClient.connect(broker.httpPort(), pki.caPem(), Map.of("Authorization", basic("alice", "alice-secret")))) {
            assertThat(ws.frames().get(0).getBoolean("authenticate")).isFalse();
            assertThat(ws.request(new JsonObject().put("op", "subscribe").put("topic", "orders")).getString("type")).isEqualTo("subscribed");
        }
    }
}
