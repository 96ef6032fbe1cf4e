package io.runnel.http;

import org.apache.kafka.common.acl.AclOperation;
import org.apache.kafka.common.resource.ResourceType;
import org.apache.kafka.common.security.auth.KafkaPrincipal;
import io.runnel.config.Limits;
import io.runnel.http.RecordJson.Outgoing;
import io.vertx.core.Future;
import io.vertx.core.buffer.Buffer;
import io.vertx.core.http.ServerWebSocket;
import io.vertx.core.json.DecodeException;
import io.vertx.core.json.JsonArray;
import io.vertx.core.json.JsonObject;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * One WebSocket connection to {@code /ws}: JSON text frames in both directions (the protocol is in
 * docs/websocket.md). Runs on the event loop of the socket; every call into partitions and groups returns a future
 * completed back on it.
 *
 * <p>Back pressure both ways. Produce: the server grants a credit of records and bytes in flight (sent and not yet
 * acknowledged); each acknowledgement returns it; a frame past it gets an error frame and is dropped, never queued.
 * Consume: a subscription sends at most the records and bytes the client granted; it reads the log only while it has
 * credit and the socket's write queue is not full. When the client stops reading, the socket is paused, so its
 * frames are not read either.
 */
final class WsSession {
    private static final Logger LOG = LoggerFactory.getLogger(WsSession.class);

    private final ServerWebSocket ws;
    private final HttpServices services;
    private final Map<String, WsStream> subscriptions = new LinkedHashMap<>();
    private final WsTransactions transactions;
    private int subscriptionSeq;
    private long produceRecordsInFlight;
    private long produceBytesInFlight;
    private boolean closed;
    private long pingTimer = -1;

    private final HttpAuth auth;
    private final String host;
    /** Who this socket acts for: from the upgrade's credentials, or its {@code auth} frame. */
    private KafkaPrincipal principal;
    private boolean authenticating;

    WsSession(ServerWebSocket ws, HttpServices services, HttpAuth auth, KafkaPrincipal principal, String host) {
        this.ws = ws;
        this.services = services;
        this.transactions = new WsTransactions(services);
        this.auth = auth;
        this.principal = principal;
        this.host = host;
    }

    /** Whether frames other than {@code auth} may be served: authenticated, or authentication is not required. */
    private boolean admitted() {
        return !auth.required() || !principal.equals(KafkaPrincipal.ANONYMOUS);
    }

    /**
     * {@code {"op":"auth","token":"<JWT>"}} or {@code {"op":"auth","username":...,"password":...}}: the socket acts for
     * that principal from now on. A failure is answered UNAUTHENTICATED and closes the socket, as a failed Kafka SASL
     * exchange closes its connection.
     */
    private void authenticate(JsonObject frame, Object id) {
        if (authenticating) throw ApiError.badRequest("An authentication is already in progress on this socket");
        Future<KafkaPrincipal> checked;
        if (frame.getValue("token") instanceof String token) {
            checked = auth.bearer(token, host);
        } else if (frame.getValue("username") instanceof String user && frame.getValue("password") instanceof String pw) {
            checked = auth.password(user, pw.toCharArray(), host, "WEBSOCKET");
        } else {
            throw ApiError.badRequest("\"auth\" takes {\"token\": <JWT>} or {\"username\", \"password\"}");
        }
        authenticating = true;
        checked.onComplete(ar -> {
            authenticating = false;
            if (closed) return;
            if (ar.failed()) {
                error(id, "UNAUTHENTICATED", ar.cause().getMessage());
                ws.close((short) 1008, "authentication failed");
                return;
            }
            principal = ar.result();
            send(new JsonObject().put("type", "authenticated").put("id", id).put("principal", principal.toString()));
        });
    }

    /** Throws 403 with Kafka's error name unless this socket's principal may do {@code op} on the resource. */
    void authorize(AclOperation op, ResourceType type, String name) {
        HttpAuth.authorize(services, principal, host, op, type, name);
    }

    void start() {
        ws.textMessageHandler(this::onText);
        ws.binaryMessageHandler(b -> error(null, "BAD_REQUEST", "Binary frames are not part of this protocol: send JSON text frames "
                + "(binary keys and values as base64 strings with \"encoding\": \"base64\")"));
        ws.exceptionHandler(e -> LOG.debug("WebSocket {} failed", ws.remoteAddress(), e));
        ws.closeHandler(v -> close());
        pingTimer = services.vertx().setPeriodic(Limits.WS_PING_INTERVAL_MS, id -> {
            if (!closed) ws.writePing(Buffer.buffer());
        });
        JsonObject hello = new JsonObject().put("type", "hello").put("protocol", 1).put("credit", produceCredit()).put("authenticate", !admitted());
        if (services.cluster().clustered()) hello.put("brokers", brokers(services));
        send(hello);
    }

    /**
     * The HTTP addresses ({@code host:port}) of the cluster's live, unfenced brokers, this one first: where a client
     * whose broker goes away may connect again (runnel.js does).
     */
    static JsonArray brokers(HttpServices services) {
        JsonArray out = new JsonArray();
        for (var b : services.cluster().brokers()) {
            if (b.http() == null || b.http().isEmpty() || services.cluster().fenced(b.nodeId())) continue;
            if (b.nodeId() == services.nodeId()) out.add(0, b.http());
            else out.add(b.http());
        }
        return out;
    }

    private JsonObject produceCredit() {
        return new JsonObject().put("records", Limits.WS_PRODUCE_CREDIT_RECORDS - produceRecordsInFlight)
                .put("bytes", Limits.WS_PRODUCE_CREDIT_BYTES - produceBytesInFlight);
    }

    private void onText(String text) {
        if (closed) return;
        JsonObject frame;
        try {
            frame = new JsonObject(text);
        } catch (DecodeException | ClassCastException e) {
            error(null, "BAD_REQUEST", "The frame is not a JSON object: " + e.getMessage());
            return;
        }
        Object id = frame.getValue("id");
        try {
            Object op = frame.getValue("op");
            if (!(op instanceof String name)) throw ApiError.badRequest("The frame has no \"op\" (produce, subscribe, credit, commit, ack, unsubscribe)");
            if (name.equals("auth")) {
                authenticate(frame, id);
                return;
            }
            if (!admitted()) throw new ApiError(401, "UNAUTHENTICATED", "Authenticate first: {\"op\": \"auth\", \"token\": ...} or "
                    + "{\"op\": \"auth\", \"username\": ..., \"password\": ...}");
            switch (name) {
                case "produce" -> produce(frame, id, text.length());
                case "subscribe" -> subscribe(frame, id);
                case "credit" -> subscription(frame).grant(RecordJson.nonNegative(frame, "records"), RecordJson.nonNegative(frame, "bytes"));
                case "commit" -> {
                    if (!(subscription(frame) instanceof WsSubscription s)) throw ApiError.badRequest("A share subscription has nothing to commit: acknowledge its records (\"ack\")");
                    s.commit(frame.getValue("offsets"), id);
                }
                case "ack" -> {
                    if (!(subscription(frame) instanceof WsShareSubscription s)) throw ApiError.badRequest("Only a share subscription acknowledges records (subscribe with \"share\")");
                    s.acknowledge(frame.getValue("records"), id);
                }
                case "unsubscribe" -> {
                    WsStream s = subscription(frame);
                    subscriptions.remove(s.id());
                    s.close();
                    send(new JsonObject().put("type", "unsubscribed").put("id", id).put("subscription", s.id()));
                }
                default -> throw ApiError.badRequest("Unknown op \"" + name + "\" (produce, subscribe, credit, commit, ack, unsubscribe)");
            }
        } catch (ApiError e) {
            error(id, e.code(), e.getMessage());
        }
    }

    private WsStream subscription(JsonObject frame) {
        Object id = frame.getValue("subscription");
        WsStream s = id instanceof String sid ? subscriptions.get(sid) : null;
        if (s == null) throw ApiError.badRequest("No subscription " + (id == null ? "given (\"subscription\")" : "\"" + id + "\" on this socket"));
        return s;
    }

    // ---- produce ----

    private void produce(JsonObject frame, Object id, int frameChars) {
        if (!(frame.getValue("topic") instanceof String topic)) throw ApiError.badRequest("\"topic\" (a string) is required");
        List<Outgoing> records = RecordJson.parse(frame.getValue("records"), RecordJson.encoding(frame.getValue("encoding"), "encoding", false));
        boolean acksAll = RecordJson.acksAll(frame.getValue("acks"));
        Object txnId = frame.getValue("transactionalId");
        if (txnId != null && !(txnId instanceof String)) throw ApiError.badRequest("\"transactionalId\" must be a string");
        if (txnId != null && !acksAll) throw ApiError.badRequest("A transaction is written with acks=all (as Kafka's transactional producer)");
        // Kafka's checks for Produce: WRITE on the topic, and on the transactional id of a transaction.
        authorize(AclOperation.WRITE, ResourceType.TOPIC, topic);
        if (txnId != null) authorize(AclOperation.WRITE, ResourceType.TRANSACTIONAL_ID, (String) txnId);
        long bytes = frameChars;
        if (produceRecordsInFlight + records.size() > Limits.WS_PRODUCE_CREDIT_RECORDS
                || produceBytesInFlight + bytes > Limits.WS_PRODUCE_CREDIT_BYTES) {
            error(id, "CREDIT_EXCEEDED", "The frame's " + records.size() + " record(s) and " + bytes + " bytes exceed the produce credit ("
                    + produceCredit().encode() + "); wait for acknowledgements, which return credit");
            return;
        }
        produceRecordsInFlight += records.size();
        produceBytesInFlight += bytes;
        Future<List<Publisher.Result>> published = txnId == null ? services.publisher().publish(topic, records, acksAll)
                : transactions.publish((String) txnId, topic, records, true);
        published.onComplete(ar -> {
            produceRecordsInFlight -= records.size();
            produceBytesInFlight -= bytes;
            if (closed) return;
            if (ar.failed()) {
                ApiError e = ApiError.of(ar.cause());
                send(new JsonObject().put("type", "error").put("id", id).put("code", e.code()).put("message", e.getMessage())
                        .put("credit", produceCredit()));
                return;
            }
            JsonObject ack = new JsonObject().put("type", "ack").put("id", id).put("topic", topic).put("results", Publisher.toJson(ar.result()))
                    .put("credit", produceCredit());
            if (txnId != null) ack.put("transactionalId", txnId).put("committed", true);
            send(ack);
        });
    }

    // ---- subscribe ----

    private void subscribe(JsonObject frame, Object id) {
        if (subscriptions.size() >= Limits.WS_SUBSCRIPTIONS_MAX) {
            throw new ApiError(429, "TOO_MANY_SUBSCRIPTIONS", "At most " + Limits.WS_SUBSCRIPTIONS_MAX + " subscriptions per socket");
        }
        // Kafka's checks for a consumer: READ on the topic, and READ on the group of a group or share subscription.
        if (frame.getValue("topic") instanceof String topic) authorize(AclOperation.READ, ResourceType.TOPIC, topic);
        if (frame.getValue("group") instanceof String group) authorize(AclOperation.READ, ResourceType.GROUP, group);
        if (frame.getValue("share") instanceof String group) authorize(AclOperation.READ, ResourceType.GROUP, group);
        String sid = "s" + (++subscriptionSeq);
        WsStream s = frame.getValue("share") != null ? WsShareSubscription.create(this, sid, frame, id) : WsSubscription.create(this, sid, frame, id);
        subscriptions.put(sid, s);
        s.start().onFailure(e -> {
            subscriptions.remove(sid);
            s.close();
            ApiError err = ApiError.of(e);
            error(id, err.code(), err.getMessage());
        });
    }

    // ---- plumbing for subscriptions ----

    HttpServices services() {
        return services;
    }

    boolean closed() {
        return closed;
    }

    /** Whether the socket can take another frame now; if not, {@code resume} runs once it can. */
    boolean writable(Runnable resume) {
        if (closed) return false;
        if (!ws.writeQueueFull()) return true;
        ws.drainHandler(v -> {
            ws.drainHandler(null);
            if (!closed) {
                ws.resume();
                resume.run();
                subscriptions.values().forEach(WsStream::pump);
            }
        });
        ws.pause(); // a client that does not read gets its own frames left unread too
        return false;
    }

    void send(JsonObject frame) {
        if (closed) return;
        ws.writeTextMessage(frame.encode());
        if (ws.writeQueueFull()) writable(() -> { });
    }

    void error(Object id, String code, String message) {
        JsonObject e = new JsonObject().put("type", "error");
        if (id != null) e.put("id", id);
        send(e.put("code", code).put("message", message));
    }

    void subscriptionEnded(WsStream s, String code, String message) {
        subscriptionEnded(s, null, code, message);
    }

    /** The same, answering the subscribe request {@code requestId} too when the subscription never started. */
    void subscriptionEnded(WsStream s, Object requestId, String code, String message) {
        subscriptions.remove(s.id());
        s.close();
        JsonObject e = new JsonObject().put("type", "error").put("subscription", s.id()).put("code", code).put("message", message);
        if (requestId != null) e.put("id", requestId);
        send(e);
    }

    private void close() {
        if (closed) return;
        closed = true;
        services.vertx().cancelTimer(pingTimer);
        for (WsStream s : subscriptions.values()) s.close();
        subscriptions.clear();
    }
}
