package io.runnel.http;

import io.vertx.core.http.HttpMethod;
import io.vertx.core.http.HttpServerRequest;
import io.vertx.ext.web.RoutingContext;
import java.net.URI;
import java.util.Collection;
import java.util.List;
import java.util.Locale;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.function.Supplier;

/**
 * Which web pages may use this broker from a browser ({@code http.cors.allowed.origins}). A request without an
 * {@code Origin} header (not a browser, or a same-origin GET) and a request from the broker's own origin (the
 * console), or from another broker of its cluster, always pass. For the REST API, an allowed origin gets the CORS headers (and its preflight an answer);
 * another gets none, so the browser keeps the response from the page. A WebSocket has no CORS: a browser opens one
 * from any page, with the user's network position, so the upgrade itself is refused (403) for an origin not allowed
 * (cross-site WebSocket hijacking).
 */
final class OriginPolicy {
    private final List<String> allowed;
    private final boolean any;
    /** The HTTP addresses ({@code host:port}) of the cluster's brokers: their pages (the console) are the cluster's own. */
    private final Supplier<Collection<String>> clusterBrokers;
    private final Set<String> seenBrokers = ConcurrentHashMap.newKeySet();
    private static final int MAX_REMEMBERED_BROKERS = 1_000;

    OriginPolicy(List<String> allowed) {
        this(allowed, List::of);
    }

    OriginPolicy(List<String> allowed, Supplier<Collection<String>> clusterBrokers) {
        this.any = allowed.contains("*");
        this.allowed = allowed.stream().map(o -> o.toLowerCase(Locale.ROOT)).toList();
        this.clusterBrokers = clusterBrokers;
    }

    /**
     * Whether {@code origin} is listed in {@code http.cors.allowed.origins} (or the list is {@code *}), or is one of
     * the cluster's brokers: a page one broker served may use the others (runnel.js moves to another broker when its
     * own goes away).
     */
    private boolean listed(String origin) {
        if (any || allowed.contains(origin.toLowerCase(Locale.ROOT))) return true;
        String authority;
        try {
            authority = URI.create(origin).getRawAuthority();
        } catch (IllegalArgumentException e) {
            return false;
        }
        if (authority == null) return false;
        remember();
        return seenBrokers.contains(authority.toLowerCase(Locale.ROOT));
    }

    /**
     * Remembers the cluster's live brokers (called every {@link io.runnel.config.Limits#HTTP_CLUSTER_ORIGINS_REFRESH_MS}
     * and at each check): a page of a broker that just died moves its socket to another broker, whose origin check
     * must still know it. At most {@value #MAX_REMEMBERED_BROKERS} addresses.
     */
    void remember() {
        for (String b : clusterBrokers.get()) if (seenBrokers.size() < MAX_REMEMBERED_BROKERS) seenBrokers.add(b.toLowerCase(Locale.ROOT));
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
