package io.runnel.http;

import io.runnel.config.Limits;
import io.runnel.group.GroupOverview;
import io.runnel.metrics.BrokerMetrics;
import io.runnel.partition.LocalTopic;
import io.runnel.partition.PartitionHandle;
import io.vertx.core.DeploymentOptions;
import io.vertx.core.Future;
import io.vertx.core.VerticleBase;
import io.vertx.core.Vertx;
import io.vertx.core.VertxOptions;
import io.vertx.core.http.HttpServer;
import io.vertx.core.http.HttpServerOptions;
import io.vertx.core.json.JsonObject;
import io.vertx.ext.web.Router;
import io.vertx.ext.web.handler.StaticHandler;
import io.runnel.config.SecurityKeys;
import io.runnel.security.TlsSettings;
import java.util.ArrayList;
import java.util.Collections;
import java.util.List;
import org.apache.kafka.common.TopicPartition;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The HTTP endpoint on {@code http.port}, one server for everything a browser or an operator uses: the WebSocket
 * gateway ({@code /ws}, docs/websocket.md), the REST API ({@code /api}, docs/http-api.md), the JavaScript client
 * ({@code /runnel.js}), the web console ({@code /}, static files from the jar, no build step), liveness
 * ({@code /health}), readiness ({@code /ready}) and Prometheus metrics ({@code /metrics}).
 */
public final class HttpEndpoint {
    private static final Logger LOG = LoggerFactory.getLogger(HttpEndpoint.class);
    /** Shared-port id for {@code http.port=0} (Kafka's listeners use -1, -2, ...): every instance binds one random port. */
    private static final int SHARED_RANDOM_PORT = -1000;
    private final Vertx vertx;
    private final String deploymentId;
    private final int port;

    private HttpEndpoint(Vertx vertx, String deploymentId, int port) {
        this.vertx = vertx;
        this.deploymentId = deploymentId;
        this.port = port;
    }

    /**
     * Starts one server instance per event loop (Vert.x shares the port between them), so WebSocket sessions and
     * REST requests are spread over every event loop, as the Kafka listeners are.
     */
    public static Future<HttpEndpoint> start(HttpServices services, String host, int port) {
        int bindPort = port == 0 ? SHARED_RANDOM_PORT : port;
        List<HttpVerticle> verticles = Collections.synchronizedList(new ArrayList<>());
        HttpAuth auth = new HttpAuth(services); // one for every instance: a login made on one event loop holds on all
        return services.vertx().deployVerticle(() -> {
            HttpVerticle v = new HttpVerticle(services, host, bindPort, auth);
            verticles.add(v);
            return v;
        }, new DeploymentOptions().setInstances(VertxOptions.DEFAULT_EVENT_LOOP_POOL_SIZE))
                .map(id -> new HttpEndpoint(services.vertx(), id, verticles.get(0).server.actualPort()));
    }

    /** One HTTP server instance with its router, on one event loop. */
    private static final class HttpVerticle extends VerticleBase {
        private final HttpServices services;
        private final String host;
        private final int port;
        private HttpServer server;
        private long originsTimer = -1;

        private final HttpAuth auth;

        @Override
        public Future<?> stop() {
            if (originsTimer >= 0) vertx.cancelTimer(originsTimer);
            return Future.succeededFuture();
        }

        HttpVerticle(HttpServices services, String host, int port, HttpAuth auth) {
            this.auth = auth;
            this.services = services;
            this.host = host;
            this.port = port;
        }

        @Override
        public Future<?> start() {
            Router router = Router.router(vertx);
            router.get("/health").handler(ctx -> ctx.json(new JsonObject().put("status", "UP")));
            router.get("/ready").handler(ctx -> {
                boolean ok = services.ready().getAsBoolean();
                ctx.response().setStatusCode(ok ? 200 : 503);
                ctx.json(new JsonObject().put("status", ok ? "READY" : "STARTING"));
            });
            if (services.config().get(SecurityKeys.HTTP_METRICS_AUTHENTICATION)) router.get("/metrics").handler(ctx -> auth.handle(ctx, false));
            router.get("/metrics").handler(ctx -> refreshGauges(services).onComplete(ar -> ctx.response()
                    .putHeader("content-type", "text/plain; version=0.0.4; charset=utf-8").end(services.metrics().scrape())));
            OriginPolicy origins = new OriginPolicy(services.config().corsAllowedOrigins(),
                    () -> services.cluster().brokers().stream().map(b -> b.http()).filter(h -> h != null && !h.isEmpty()).toList());
            if (services.cluster().clustered()) originsTimer = vertx.setPeriodic(Limits.HTTP_CLUSTER_ORIGINS_REFRESH_MS, x -> origins.remember());
            router.get("/ws").handler(origins::guardWebSocket);
            router.get("/ws").handler(ctx -> {
                // Checking credentials may take a worker's time: hold the request unread, or Vert.x ends it and the
                // upgrade fails. The first frame may authenticate instead of the upgrade's credentials.
                ctx.request().pause();
                auth.handle(ctx, true);
            });
            router.get("/ws").handler(ctx -> ctx.request().toWebSocket()
                    .onSuccess(ws -> new WsSession(ws, services, auth, HttpAuth.principal(ctx), HttpAuth.host(ctx)).start())
                    .onFailure(e -> {
                        if (!ctx.response().ended()) ctx.response().setStatusCode(400).end("A WebSocket upgrade is expected at /ws: " + e.getMessage());
                    }));
            router.route("/api/*").handler(origins::cors);
            RestApi.mount(router, services, auth);
            router.route("/*").handler(StaticHandler.create("webroot").setIndexPage("index.html").setCachingEnabled(false));
            // A connection that sends nothing for the read-idle timeout is closed: WebSocket clients answer the
            // server's pings (browsers do it by themselves), so only dead peers time out and leave their groups.
            HttpServerOptions options = new HttpServerOptions().setHost(host).setPort(port)
                    .setMaxWebSocketFrameSize(Limits.HTTP_MAX_BODY_BYTES).setMaxWebSocketMessageSize(Limits.HTTP_MAX_BODY_BYTES)
                    .setReadIdleTimeout(Limits.HTTP_READ_IDLE_TIMEOUT_S)
                    // No cleartext HTTP/2 upgrade (h2c, deprecated by RFC 9113 and used by no browser): a client that
                    // asks for it (Java's HttpClient does by default) is answered in HTTP/1.1. With the upgrade, an
                    // answer written after the handler waited on another context (/metrics, the REST API) was at
                    // times never delivered, and the client saw EOF after the 60 s idle timeout.
                    .setHttp2ClearTextEnabled(false);
            TlsSettings tls = services.security().httpTls();
            if (tls != null) tls.applyTo(options); // HTTPS (and WSS) with the http.ssl.* keys
            server = vertx.createHttpServer(options).requestHandler(router).exceptionHandler(e -> LOG.debug("HTTP connection failed", e));
            return server.listen();
        }
    }

    /** Updates the gauges that are figures of the moment (log sizes and ends, group lag) before a scrape. */
    private static Future<Void> refreshGauges(HttpServices s) {
        List<Future<BrokerMetrics.LogFigures>> logs = new ArrayList<>();
        List<TopicPartition> offline = new ArrayList<>();
        for (LocalTopic t : s.topics().topics()) {
            for (PartitionHandle h : t.localPartitions()) {
                if (h.offline() != null) {
                    offline.add(h.topicPartition());
                    continue;
                }
                logs.add(h.sizeInBytes().map(size -> new BrokerMetrics.LogFigures(t.name(), h.topicPartition().partition(), size, h.logEndOffset())));
            }
        }
        s.metrics().updateOffline(offline);
        s.metrics().updateCluster(ClusterStatus.of(s).figures(s));
        Future<Void> logsDone = Future.join(logs).transform(x -> {
            s.metrics().updateLogs(logs.stream().filter(Future::succeeded).map(Future::result).toList());
            return Future.succeededFuture();
        });
        Future<Void> lagDone = s.groups().listGroups().compose(groups -> {
            List<Future<List<BrokerMetrics.Lag>>> all = new ArrayList<>();
            for (GroupOverview g : groups) {
                all.add(s.groups().fetchOffsets(g.groupId()).map(offsets -> {
                    List<BrokerMetrics.Lag> lags = new ArrayList<>();
                    offsets.forEach((tp, c) -> s.topics().partition(tp.topic(), tp.partition()).ifPresent(h ->
                            lags.add(new BrokerMetrics.Lag(g.groupId(), tp.topic(), tp.partition(), Math.max(0, h.highWatermark() - c.offset())))));
                    return lags;
                }));
            }
            return Future.join(all).transform(x -> {
                s.metrics().updateLag(all.stream().filter(Future::succeeded).flatMap(f -> f.result().stream()).toList());
                return Future.<Void>succeededFuture();
            });
        });
        return Future.join(logsDone, lagDone).mapEmpty();
    }

    public int port() {
        return port;
    }

    public Future<Void> close() {
        return vertx.undeploy(deploymentId);
    }
}
