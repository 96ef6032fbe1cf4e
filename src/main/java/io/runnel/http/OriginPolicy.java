package io.runnel.http;

import io.vertx.core.http.HttpMethod;
import io.vertx.core.http.HttpServerRequest;
import io.vertx.ext.web.RoutingContext;
import java.net.URI;
import java.util.List;
import java.util.Locale;

/**
 * Which web pages may use this broker from a browser ({@code http.cors.allowed.origins}). A request without an
 * {@code Origin} header (not a browser, or a same-origin GET) and a request from the broker's own origin (the
 * console) always pass. For the REST API, an allowed origin gets the CORS headers (and its preflight an answer);
 * another gets none, so the browser keeps the response from the page. A WebSocket has no CORS: a browser opens one
 * from any page, with the user's network position, so the upgrade itself is refused (403) for an origin not allowed
 * (cross-site WebSocket hijacking).
 */
final class OriginPolicy {
    private final List<String> allowed;
    private final boolean any;

    OriginPolicy(List<String> allowed) {
        this.any = allowed.contains("*");
        this.allowed = allowed.stream().map(o -> o.toLowerCase(Locale.ROOT)).toList();
    }

    /** Whether {@code origin} is listed in {@code http.cors.allowed.origins} (or the list is {@code *}). */
    private boolean listed(String origin) {
        return any || allowed.contains(origin.toLowerCase(Locale.ROOT));
    }

    /** Refuses (403) the WebSocket upgrade of a page whose origin may not use this broker; passes the others on. */
    void guardWebSocket(RoutingContext ctx) {
        String origin = ctx.request().getHeader("Origin");
        if (origin == null || sameOrigin(origin, ctx.request()) || listed(origin)) {
            ctx.next();
            return;
        }
        ctx.response().setStatusCode(403).end("Pages of origin " + origin + " may not open WebSocket sessions here (http.cors.allowed.origins)");
    }

    /** The broker's own origin: the page was served by this endpoint (the console), at the address it was asked by. */
    private static boolean sameOrigin(String origin, HttpServerRequest request) {
        String host = request.getHeader("Host");
        if (host == null) return false;
        try {
            URI u = URI.create(origin);
            return u.getRawAuthority() != null && u.getRawAuthority().equalsIgnoreCase(host);
        } catch (IllegalArgumentException e) {
            return false;
        }
    }

    /** The REST API's CORS handler: headers for allowed cross-origin requests, answers to their preflights. */
    void cors(RoutingContext ctx) {
        HttpServerRequest request = ctx.request();
        String origin = request.getHeader("Origin");
        if (origin == null || sameOrigin(origin, request) || !listed(origin)) {
            ctx.next();
            return;
        }
        ctx.response().putHeader("Access-Control-Allow-Origin", any ? "*" : origin).putHeader("Vary", "Origin");
        if (request.method() == HttpMethod.OPTIONS && request.getHeader("Access-Control-Request-Method") != null) {
            ctx.response().putHeader("Access-Control-Allow-Methods", "GET, POST, PUT, DELETE")
                    .putHeader("Access-Control-Allow-Headers", "content-type, authorization").putHeader("Access-Control-Max-Age", "600")
                    .setStatusCode(204).end();
            return;
        }
        ctx.next();
    }
}
