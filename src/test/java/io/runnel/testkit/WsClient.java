package io.runnel.testkit;

import static org.awaitility.Awaitility.await;

import io.vertx.core.Vertx;
import io.vertx.core.buffer.Buffer;
import io.vertx.core.http.ClientWebSocket;
import io.vertx.core.http.WebSocketClient;
import io.vertx.core.http.WebSocketClientOptions;
import io.vertx.core.http.WebSocketConnectOptions;
import io.vertx.core.json.JsonArray;
import io.vertx.core.json.JsonObject;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.TimeUnit;
import java.util.function.Predicate;

/**
 * A real WebSocket client (Vert.x's, in its own Vert.x instance) for tests of {@code /ws}: it records every frame the
 * server sends, in order, and lets a test wait for one that matches.
 */
public final class WsClient implements AutoCloseable {
    private final Vertx vertx;
    /** Held on purpose: Vert.x 5 closes a client, and its connections, once the client object is garbage. */
    private final WebSocketClient client;
    private final ClientWebSocket ws;
    private final List<JsonObject> frames = new CopyOnWriteArrayList<>();
    private volatile boolean closed;
    private int nextId = 1;

    /** Sets the handlers on a socket not connected yet: no frame of the server's can come before them. */
    private WsClient(Vertx vertx, WebSocketClient client, ClientWebSocket ws) {
        this.vertx = vertx;
        this.client = client;
        this.ws = ws;
        ws.textMessageHandler(t -> frames.add(new JsonObject(t)));
        ws.closeHandler(v -> closed = true);
    }

    public static WsClient connect(int httpPort) throws Exception {
        return connect(httpPort, null, null);
    }

    /**
     * A socket over TLS ({@code caPem}: the PEM certificate of the authority to trust; null for plain ws://) with
     * extra upgrade headers (such as {@code Authorization}; null for none).
     */
    public static WsClient connect(int httpPort, java.nio.file.Path caPem, java.util.Map<String, String> headers) throws Exception {
        Vertx vertx = Vertx.vertx();
        try {
            WebSocketClientOptions options = new WebSocketClientOptions().setMaxFrameSize(4 << 20).setMaxMessageSize(8 << 20);
            if (caPem != null) options.setSsl(true).setTrustOptions(new io.vertx.core.net.PemTrustOptions().addCertPath(caPem.toString()));
            WebSocketClient client = vertx.createWebSocketClient(options);
            WebSocketConnectOptions connect = new WebSocketConnectOptions().setHost(caPem != null ? "localhost" : "127.0.0.1").setPort(httpPort)
                    .setURI("/ws").setSsl(caPem != null);
            if (headers != null) headers.forEach(connect::addHeader);
            // The handlers are set before the socket connects (the server's hello follows the handshake at once).
            WsClient c = new WsClient(vertx, client, client.webSocket());
            c.ws.connect(connect).toCompletionStage().toCompletableFuture().get(30, TimeUnit.SECONDS);
            c.awaitFrame(f -> "hello".equals(f.getString("type")));
            return c;
        } catch (Exception e) {
            vertx.close();
            throw e;
        }
    }

    /** Sends {@code frame} with a fresh {@code id} (unless it has one) and returns the id. */
    public int send(JsonObject frame) {
        int id = frame.containsKey("id") ? frame.getInteger("id") : nextId++;
        sendText(frame.copy().put("id", id).encode());
        return id;
    }

    public void sendText(String text) {
        ws.writeTextMessage(text).toCompletionStage().toCompletableFuture().join();
    }

    public void sendBinary(byte[] bytes) {
        ws.writeBinaryMessage(Buffer.buffer(bytes)).toCompletionStage().toCompletableFuture().join();
    }

    /** Sends and waits for the answer to it (a frame with the same id). */
    public JsonObject request(JsonObject frame) {
        int id = send(frame);
        return awaitFrame(f -> Integer.valueOf(id).equals(f.getValue("id")));
    }

    /** Every frame received so far, in order. */
    public List<JsonObject> frames() {
        return new ArrayList<>(frames);
    }

    public JsonObject awaitFrame(Predicate<JsonObject> match) {
        return awaitFrame(match, Duration.ofSeconds(30));
    }

    public JsonObject awaitFrame(Predicate<JsonObject> match, Duration timeout) {
        JsonObject[] found = new JsonObject[1];
        await().atMost(timeout).pollInterval(Duration.ofMillis(5)).until(() -> {
            for (JsonObject f : frames) {
                if (match.test(f)) {
                    found[0] = f;
                    return true;
                }
            }
            return false;
        });
        return found[0];
    }

    /** Records received by subscription {@code sid} so far, in order. */
    public List<JsonObject> records(String sid) {
        List<JsonObject> out = new ArrayList<>();
        for (JsonObject f : frames) {
            if ("records".equals(f.getString("type")) && sid.equals(f.getString("subscription"))) {
                JsonArray a = f.getJsonArray("records");
                for (int i = 0; i < a.size(); i++) out.add(a.getJsonObject(i));
            }
        }
        return out;
    }

    public List<JsonObject> awaitRecords(String sid, int atLeast) {
        await().atMost(Duration.ofSeconds(60)).pollInterval(Duration.ofMillis(5)).until(() -> records(sid).size() >= atLeast);
        return records(sid);
    }

    /** Stops reading the socket (the server's frames pile up in the kernel, then in the server's write queue). */
    public void pause() {
        ws.pause();
    }

    public void resume() {
        ws.resume();
    }

    public boolean isClosed() {
        return closed;
    }

    @Override
    public void close() throws Exception {
        try {
            if (!closed) ws.close().toCompletionStage().toCompletableFuture().get(10, TimeUnit.SECONDS);
        } catch (Exception ignored) {
            // the server may have closed it already
        } finally {
            vertx.close().toCompletionStage().toCompletableFuture().get(10, TimeUnit.SECONDS);
        }
    }
}
