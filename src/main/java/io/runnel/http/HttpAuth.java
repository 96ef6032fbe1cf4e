package io.runnel.http;

import io.runnel.config.Limits;
import io.runnel.config.SecurityKeys;
import io.runnel.security.BrokerSecurity;
import io.runnel.security.TokenValidator;
import io.vertx.core.Future;
import io.vertx.core.Vertx;
import io.vertx.core.http.Cookie;
import io.vertx.core.http.CookieSameSite;
import io.vertx.core.json.JsonObject;
import io.vertx.ext.web.RoutingContext;
import java.nio.charset.StandardCharsets;
import java.security.SecureRandom;
import java.util.Base64;
import java.util.Iterator;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import org.apache.kafka.common.acl.AclOperation;
import org.apache.kafka.common.resource.ResourceType;
import org.apache.kafka.common.security.auth.KafkaPrincipal;

/**
 * Who is calling the REST API or opening a WebSocket, and what they may do: the same principals and the same ACLs as
 * the Kafka endpoint.
 *
 * <p>Credentials, in this order: {@code Authorization: Bearer <JWT>} (checked as OAUTHBEARER's, against the
 * broker's {@code sasl.oauthbearer.*} JWKS), {@code Authorization: Basic} (checked against the SCRAM users), the
 * console's login cookie ({@code runnel_session}, HttpOnly, SameSite=Strict, Secure under HTTPS; made by
 * {@code POST /api/login}). Never in the URL. A browser cannot set headers on a WebSocket, so a socket may also
 * authenticate with its first frame ({@code {"op":"auth", ...}}, see {@link WsSession}). With
 * {@code http.authentication=required} a call without valid credentials is answered 401; without it, calls are made
 * as ANONYMOUS, which the ACLs (when on) judge like any principal.
 *
 * <p>Login sessions live in memory on this broker, at most {@link Limits#HTTP_SESSIONS_MAX}, each for
 * {@code http.session.timeout.ms}.
 */
final class HttpAuth {
    static final String PRINCIPAL = "runnel.principal";
    static final String COOKIE = "runnel_session";

    private record LoginSession(KafkaPrincipal principal, long expiresAtMs) {
    }

    private final BrokerSecurity security;
    private final Vertx vertx;
    private final long sessionTimeoutMs;
    private final boolean https;
    private final Map<String, LoginSession> sessions = new ConcurrentHashMap<>();
    private final SecureRandom random = new SecureRandom();

    HttpAuth(HttpServices services) {
        this.security = services.security();
        this.vertx = services.vertx();
        this.sessionTimeoutMs = services.config().get(SecurityKeys.HTTP_SESSION_TIMEOUT_MS);
        this.https = security.httpTls() != null;
    }

    boolean required() {
        return security.httpAuthenticationRequired();
    }

    /**
     * Route handler: finds the caller's principal and puts it in the context ({@link #principal}); answers 401 when
     * authentication is required and none is found ({@code allowAnonymous}: let the call through as ANONYMOUS anyway,
     * for the WebSocket upgrade, whose first frame may authenticate).
     */
    void handle(RoutingContext ctx, boolean allowAnonymous) {
        authenticate(ctx).onComplete(ar -> {
            if (ar.failed()) {
                unauthorized(ctx, ar.cause().getMessage());
                return;
            }
            KafkaPrincipal p = ar.result();
            if (p == null && required() && !allowAnonymous) {
                unauthorized(ctx, "Authentication is required: HTTP Basic (a SCRAM user), a bearer token, or the console's login");
                return;
            }
            ctx.put(PRINCIPAL, p == null ? KafkaPrincipal.ANONYMOUS : p);
            ctx.next();
        });
    }

    /** The principal the request's credentials prove, null when it has none, failed when they are wrong. */
    private Future<KafkaPrincipal> authenticate(RoutingContext ctx) {
        String header = ctx.request().getHeader("Authorization");
        String host = host(ctx);
        if (header != null && header.regionMatches(true, 0, "Bearer ", 0, 7)) return bearer(header.substring(7).trim(), host);
        if (header != null && header.regionMatches(true, 0, "Basic ", 0, 6)) {
            String decoded;
            try {
                decoded = new String(Base64.getDecoder().decode(header.substring(6).trim()), StandardCharsets.UTF_8);
            } catch (IllegalArgumentException e) {
                return Future.failedFuture(new IllegalArgumentException("The Basic credentials are not Base64"));
            }
            int colon = decoded.indexOf(':');
            if (colon < 0) return Future.failedFuture(new IllegalArgumentException("The Basic credentials are not user:password"));
            return password(decoded.substring(0, colon), decoded.substring(colon + 1).toCharArray(), host, "BASIC");
        }
        Cookie cookie = ctx.request().getCookie(COOKIE);
        if (cookie != null) {
            LoginSession s = sessions.get(cookie.getValue());
            if (s != null && s.expiresAtMs() > System.currentTimeMillis()) return Future.succeededFuture(s.principal());
            sessions.remove(cookie.getValue());
            return Future.failedFuture(new IllegalArgumentException("The login session expired: log in again"));
        }
        return Future.succeededFuture(null);
    }

    /** Checks a bearer JWT on a worker; the failure says why, never the token. */
    Future<KafkaPrincipal> bearer(String jwt, String host) {
        TokenValidator tokens = security.httpTokens();
        if (tokens == null) return Future.failedFuture(new IllegalArgumentException("Bearer tokens are not accepted: no sasl.oauthbearer.jwks.endpoint.url"));
        return vertx.executeBlocking(() -> {
            try {
                return new KafkaPrincipal(KafkaPrincipal.USER_TYPE, tokens.validate(jwt).principalName());
            } catch (IllegalArgumentException e) {
                security.authenticationFailed("http", "BEARER", host, null, e.getMessage());
                throw e;
            }
        }, false);
    }

    /** Checks a user name and password against the SCRAM users on a worker (PBKDF2). */
    Future<KafkaPrincipal> password(String user, char[] password, String host, String method) {
        return vertx.executeBlocking(() -> {
            KafkaPrincipal p = security.checkPassword(user, password);
            if (p == null) {
                security.authenticationFailed("http", method, host, user, "invalid user name or password");
                throw new IllegalArgumentException("Invalid user name or password");
            }
            security.authenticationSucceeded("http", method);
            return p;
        }, false);
    }

    /** {@code POST /api/login} with {@code {"username", "password"}}: sets the session cookie. */
    void login(RoutingContext ctx) {
        JsonObject body;
        try {
            body = ctx.body().asJsonObject();
        } catch (RuntimeException e) {
            body = null;
        }
        if (body == null || !(body.getValue("username") instanceof String user) || !(body.getValue("password") instanceof String pw)) {
            RestApi.send(ctx, ApiError.badRequest("The body must be {\"username\": ..., \"password\": ...}"));
            return;
        }
        password(user, pw.toCharArray(), host(ctx), "LOGIN").onComplete(ar -> {
            if (ar.failed()) {
                unauthorized(ctx, ar.cause().getMessage());
                return;
            }
            expire();
            if (sessions.size() >= Limits.HTTP_SESSIONS_MAX) {
                RestApi.send(ctx, new ApiError(503, "TOO_MANY_SESSIONS", "The broker holds " + Limits.HTTP_SESSIONS_MAX + " login sessions; try again later"));
                return;
            }
            byte[] id = new byte[32];
            random.nextBytes(id);
            String token = Base64.getUrlEncoder().withoutPadding().encodeToString(id);
            sessions.put(token, new LoginSession(ar.result(), System.currentTimeMillis() + sessionTimeoutMs));
            ctx.response().addCookie(Cookie.cookie(COOKIE, token).setHttpOnly(true).setSecure(https).setSameSite(CookieSameSite.STRICT).setPath("/")
                    .setMaxAge(sessionTimeoutMs / 1000));
            ctx.json(new JsonObject().put("principal", ar.result().toString()));
        });
    }

    /** {@code POST /api/logout}: ends the session of the cookie. */
    void logout(RoutingContext ctx) {
        Cookie cookie = ctx.request().getCookie(COOKIE);
        if (cookie != null) sessions.remove(cookie.getValue());
        ctx.response().addCookie(Cookie.cookie(COOKIE, "").setPath("/").setMaxAge(0));
        ctx.json(new JsonObject().put("principal", (String) null));
    }

    /** {@code GET /api/whoami}: the caller's principal and whether authentication is required. */
    void whoami(RoutingContext ctx) {
        ctx.json(new JsonObject().put("principal", principal(ctx).toString()).put("authenticationRequired", required()));
    }

    private void expire() {
        long now = System.currentTimeMillis();
        for (Iterator<LoginSession> it = sessions.values().iterator(); it.hasNext(); ) if (it.next().expiresAtMs() <= now) it.remove();
    }

    /** The caller's principal (ANONYMOUS when it has none). */
    static KafkaPrincipal principal(RoutingContext ctx) {
        KafkaPrincipal p = ctx.get(PRINCIPAL);
        return p == null ? KafkaPrincipal.ANONYMOUS : p;
    }

    /** Throws 403 with Kafka's error name unless the caller may do {@code op} on the resource. */
    static void authorize(HttpServices s, KafkaPrincipal principal, String host, AclOperation op, ResourceType type, String name) {
        if (s.security().authorizer().authorize(principal, host, op, type, name)) return;
        String code = switch (type) {
            case TOPIC -> "TOPIC_AUTHORIZATION_FAILED";
            case GROUP -> "GROUP_AUTHORIZATION_FAILED";
            case TRANSACTIONAL_ID -> "TRANSACTIONAL_ID_AUTHORIZATION_FAILED";
            default -> "CLUSTER_AUTHORIZATION_FAILED";
        };
        throw new ApiError(403, code, principal + " may not " + op + " " + type + " " + name);
    }

    static String host(RoutingContext ctx) {
        return ctx.request().remoteAddress() == null ? "" : ctx.request().remoteAddress().host();
    }

    private static void unauthorized(RoutingContext ctx, String message) {
        // A Basic challenge makes a browser pop up its own password dialog over the console (which has a login form):
        // requests from pages (they carry Sec-Fetch-Mode) are offered Bearer only; other clients both.
        boolean page = ctx.request().getHeader("Sec-Fetch-Mode") != null;
        ctx.response().putHeader("WWW-Authenticate", page ? "Bearer realm=\"runnel\"" : "Basic realm=\"runnel\", Bearer realm=\"runnel\"");
        RestApi.send(ctx, new ApiError(401, "UNAUTHENTICATED", message));
    }

}
