package io.runnel.http;

import io.vertx.core.Future;
import io.vertx.core.Vertx;
import io.vertx.core.http.HttpServer;
import io.vertx.core.http.HttpServerOptions;
import io.vertx.core.json.JsonObject;
import io.vertx.ext.web.Router;
import java.util.function.BooleanSupplier;

/**
 * The HTTP endpoint on {@code http.port}. For now it serves liveness ({@code /health}) and readiness
 * ({@code /ready}); the REST API, WebSocket gateway and console will be mounted on the same router.
 */
public final class HttpEndpoint {
    private final HttpServer server;

    private HttpEndpoint(HttpServer server) {
        this.server = server;
    }

    public static Future<HttpEndpoint> start(Vertx vertx, String host, int port, BooleanSupplier ready) {
        Router router = Router.router(vertx);
        router.get("/health").handler(ctx -> ctx.json(new JsonObject().put("status", "UP")));
        router.get("/ready").handler(ctx -> {
            boolean ok = ready.getAsBoolean();
            ctx.response().setStatusCode(ok ? 200 : 503);
            ctx.json(new JsonObject().put("status", ok ? "READY" : "STARTING"));
        });
        return vertx.createHttpServer(new HttpServerOptions().setHost(host).setPort(port))
                .requestHandler(router)
                .listen()
                .map(HttpEndpoint::new);
    }

    public int port() {
        return server.actualPort();
    }

    public Future<Void> close() {
        return server.close();
    }
}
