package io.runnel.http;

import static org.assertj.core.api.Assertions.assertThat;

import io.runnel.server.Broker;
import io.runnel.testkit.Brokers;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.net.http.WebSocket;
import java.net.http.WebSocketHandshakeException;
import java.nio.file.Path;
import java.time.Duration;
import java.util.Map;
import java.util.concurrent.CompletionException;
import java.util.concurrent.TimeUnit;
import org.apache.kafka.common.utils.Time;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * http.cors.allowed.origins with a real broker and the JDK's HTTP and WebSocket clients playing the browser (they
 * send the Origin header a browser would): CORS headers and preflights for allowed pages only, and WebSocket
 * upgrades refused (403) for pages of other origins, by default too.
 */
class OriginPolicyTest {
    private static final HttpClient HTTP = HttpClient.newBuilder().connectTimeout(Duration.ofSeconds(10)).build();
    private static final String APP = "https://app.example";
    private static final String EVIL = "https://evil.example";
    @TempDir
    Path data;
    private Broker broker;

    @AfterEach
    void stop() throws Exception {
        if (broker != null) broker.stop().get(30, TimeUnit.SECONDS);
    }

    private HttpResponse<String> rest(String method, String origin, Map<String, String> headers) throws Exception {
        HttpRequest.Builder b = HttpRequest.newBuilder(URI.create("http://127.0.0.1:" + broker.httpPort() + "/api/topics"))
                .timeout(Duration.ofSeconds(30)).method(method, HttpRequest.BodyPublishers.noBody());
        if (origin != null) b.header("Origin", origin);
        headers.forEach(b::header);
        return HTTP.send(b.build(), HttpResponse.BodyHandlers.ofString());
    }

    /** The HTTP status of the WebSocket upgrade from a page of {@code origin} (101 when it opened). */
    private int upgrade(String origin) throws Exception {
        WebSocket.Builder b = HTTP.newWebSocketBuilder();
        if (origin != null) b.header("Origin", origin);
        try {
            WebSocket ws = b.buildAsync(URI.create("ws://127.0.0.1:" + broker.httpPort() + "/ws"), new WebSocket.Listener() {
            }).join();
            ws.sendClose(WebSocket.NORMAL_CLOSURE, "").get(10, TimeUnit.SECONDS);
            return 101;
        } catch (CompletionException e) {
            assertThat(e.getCause()).isInstanceOf(WebSocketHandshakeException.class);
            return ((WebSocketHandshakeException) e.getCause()).getResponse().statusCode();
        }
    }

    @Test
    void allowedOriginsGetCorsAndWebSocketsOthersDoNot() throws Exception {
        broker = Brokers.start(data, Map.of("http.cors.allowed.origins", APP), Time.SYSTEM);
        String self = "http://127.0.0.1:" + broker.httpPort();

        HttpResponse<String> allowed = rest("GET", APP, Map.of());
        assertThat(allowed.statusCode()).isEqualTo(200);
        assertThat(allowed.headers().firstValue("Access-Control-Allow-Origin")).hasValue(APP);
        HttpResponse<String> preflight = rest("OPTIONS", APP, Map.of("Access-Control-Request-Method", "POST",
                "Access-Control-Request-Headers", "content-type"));
        assertThat(preflight.statusCode()).isEqualTo(204);
        assertThat(preflight.headers().firstValue("Access-Control-Allow-Methods").orElseThrow()).contains("POST").contains("DELETE");
        assertThat(preflight.headers().firstValue("Access-Control-Allow-Headers")).hasValue("content-type, authorization");

        HttpResponse<String> other = rest("GET", EVIL, Map.of());
        assertThat(other.headers().firstValue("Access-Control-Allow-Origin")).as("no CORS headers: the browser hides the answer").isEmpty();
        assertThat(rest("GET", self, Map.of()).headers().firstValue("Access-Control-Allow-Origin")).as("same origin needs none").isEmpty();

        assertThat(upgrade(APP)).isEqualTo(101);
        assertThat(upgrade(self)).as("the console's own origin").isEqualTo(101);
        assertThat(upgrade(null)).as("not a browser").isEqualTo(101);
        assertThat(upgrade(EVIL)).isEqualTo(403);
    }

    @Test
    void byDefaultOnlyTheBrokersOwnPagesMayOpenWebSockets() throws Exception {
        broker = Brokers.start(data);
        assertThat(upgrade("http://127.0.0.1:" + broker.httpPort())).isEqualTo(101);
        assertThat(upgrade(APP)).isEqualTo(403);
        assertThat(rest("GET", APP, Map.of()).headers().firstValue("Access-Control-Allow-Origin")).isEmpty();
    }

    @Test
    void aStarAllowsEveryOrigin() throws Exception {
        broker = Brokers.start(data, Map.of("http.cors.allowed.origins", "*"), Time.SYSTEM);
        assertThat(rest("GET", EVIL, Map.of()).headers().firstValue("Access-Control-Allow-Origin")).hasValue("*");
        assertThat(upgrade(EVIL)).isEqualTo(101);
    }
}
