package io.runnel.kafka.handlers;

import io.runnel.config.SecurityKeys;
import io.runnel.kafka.ApiHandler;
import io.runnel.kafka.CloseConnectionException;
import io.runnel.kafka.RequestContext;
import io.runnel.kafka.TypedApiHandler;
import io.runnel.security.Session;
import io.vertx.core.Future;
import io.vertx.core.Promise;
import io.vertx.core.Vertx;
import java.nio.charset.StandardCharsets;
import java.util.List;
import javax.security.sasl.SaslException;
import javax.security.sasl.SaslServer;
import org.apache.kafka.common.errors.SaslAuthenticationException;
import org.apache.kafka.common.message.SaslAuthenticateResponseData;
import org.apache.kafka.common.message.SaslHandshakeResponseData;
import org.apache.kafka.common.protocol.ApiKeys;
import org.apache.kafka.common.protocol.Errors;
import org.apache.kafka.common.security.authenticator.SaslInternalConfigs;
import org.apache.kafka.common.requests.AbstractResponse;
import org.apache.kafka.common.requests.SaslAuthenticateRequest;
import org.apache.kafka.common.requests.SaslAuthenticateResponse;
import org.apache.kafka.common.requests.SaslHandshakeRequest;
import org.apache.kafka.common.requests.SaslHandshakeResponse;

/**
 * SaslHandshake and SaslAuthenticate, as Kafka's {@code SaslServerAuthenticator} serves them: the handshake picks an
 * enabled mechanism, then each SaslAuthenticate carries one token of it to kafka-clients' SASL server and its answer
 * back. A failed authentication is answered with {@code SASL_AUTHENTICATION_FAILED} and the connection is closed after
 * {@code connection.failed.authentication.delay.ms}. The {@link Session} (which the connection consults before every
 * request) holds the state.
 */
public final class SaslHandlers {
    private SaslHandlers() {
    }

    public static List<ApiHandler> all() {
        return List.of(new Handshake(), new Authenticate());
    }

    static final class Handshake extends TypedApiHandler<SaslHandshakeRequest> {
        Handshake() {
            super(ApiKeys.SASL_HANDSHAKE, SaslHandshakeRequest.class);
        }

        @Override
        protected Future<AbstractResponse> serve(RequestContext ctx, SaslHandshakeRequest request) {
            Session session = ctx.session();
            SaslHandshakeResponseData out = new SaslHandshakeResponseData();
            if (session.sasl() == null) {
                // A listener without SASL: Kafka answers ILLEGAL_SASL_STATE and keeps the connection.
                return Future.succeededFuture(new SaslHandshakeResponse(out.setErrorCode(Errors.ILLEGAL_SASL_STATE.code())));
            }
            List<String> enabled = session.sasl().enabled();
            out.setMechanisms(enabled);
            String mechanism = request.data().mechanism();
            if (!enabled.contains(mechanism)) {
                session.closeAfterResponse();
                return Future.succeededFuture(new SaslHandshakeResponse(out.setErrorCode(Errors.UNSUPPORTED_SASL_MECHANISM.code())));
            }
            try {
                session.begin(mechanism, session.sasl().newServer(mechanism));
            } catch (SaslException | IllegalStateException e) {
                session.closeAfterResponse();
                return Future.succeededFuture(new SaslHandshakeResponse(out.setErrorCode(Errors.ILLEGAL_SASL_STATE.code())));
            }
            return Future.succeededFuture(new SaslHandshakeResponse(out));
        }
    }

    static final class Authenticate extends TypedApiHandler<SaslAuthenticateRequest> {
        Authenticate() {
            super(ApiKeys.SASL_AUTHENTICATE, SaslAuthenticateRequest.class);
        }

        @Override
        protected Future<AbstractResponse> serve(RequestContext ctx, SaslAuthenticateRequest request) {
            Session session = ctx.session();
            SaslServer server = session.server();
            if (server == null) throw new CloseConnectionException("SaslAuthenticate without a SaslHandshake");
            byte[] token = request.data().authBytes();
            int max = ctx.broker().config().forListener(session.listener(), SecurityKeys.SASL_SERVER_MAX_RECEIVE_SIZE);
            if (token.length > max) throw new CloseConnectionException("a SASL token of " + token.length + " bytes (at most " + max + ")");
            String named = claimedUser(session.mechanism(), token);
            if (named != null) session.claimedUser(named);
            String claimed = session.claimedUser();
            // SCRAM's server steps are cheap, but PLAIN may hash the password against a SCRAM credential (PBKDF2): a worker.
            Promise<byte[]> evaluated = Promise.promise();
            Vertx.currentContext().executeBlocking(() -> server.evaluateResponse(token), false).onComplete(evaluated);
            return evaluated.future().transform(ar -> {
                SaslAuthenticateResponseData out = new SaslAuthenticateResponseData();
                if (ar.failed()) {
                    String message = ar.cause() instanceof SaslAuthenticationException e && e.getMessage() != null ? e.getMessage()
                            : "Authentication failed during authentication due to invalid credentials with SASL mechanism " + session.mechanism();
                    ctx.security().authenticationFailed("kafka", session.mechanism(), session.clientHost(), claimed, message);
                    session.closeAfterResponse();
                    return Future.succeededFuture(new SaslAuthenticateResponse(out.setErrorCode(Errors.SASL_AUTHENTICATION_FAILED.code())
                            .setErrorMessage(message)));
                }
                out.setAuthBytes(ar.result() == null ? new byte[0] : ar.result());
                if (server.isComplete()) {
                    try {
                        // OAUTHBEARER: the session also ends when the token expires (Kafka's KIP-368 rule).
                        Object expiry = server.getNegotiatedProperty(SaslInternalConfigs.CREDENTIAL_LIFETIME_MS_SASL_NEGOTIATED_PROPERTY_KEY);
                        out.setSessionLifetimeMs(session.complete(server.getAuthorizationID(), System.nanoTime(),
                                expiry instanceof Long ms ? ms : null, System.currentTimeMillis()));
                        ctx.security().authenticationSucceeded("kafka", session.mechanism());
                    } catch (IllegalStateException e) {
                        session.closeAfterResponse();
                        return Future.succeededFuture(new SaslAuthenticateResponse(out.setAuthBytes(new byte[0])
                                .setErrorCode(Errors.SASL_AUTHENTICATION_FAILED.code()).setErrorMessage("Cannot change principals during re-authentication")));
                    }
                }
                return Future.succeededFuture(new SaslAuthenticateResponse(out));
            });
        }
    }

    /**
     * The user name a client's first token names, for the audit log only: PLAIN's {@code authzid NUL user NUL
     * password} (the password is never looked at), SCRAM's {@code n,,n=user,r=nonce}. Null when it names none.
     */
    static String claimedUser(String mechanism, byte[] token) {
        String text = new String(token, StandardCharsets.UTF_8);
        if ("PLAIN".equals(mechanism)) {
            int first = text.indexOf('\0');
            int second = first < 0 ? -1 : text.indexOf('\0', first + 1);
            return second < 0 ? null : text.substring(first + 1, second);
        }
        int n = text.indexOf(",n=");
        if (!text.startsWith("n,") && !text.startsWith("y,") || n < 0) return null;
        int end = text.indexOf(',', n + 3);
        return end < 0 ? null : text.substring(n + 3, end);
    }
}
