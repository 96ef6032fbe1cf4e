package io.runnel.security;

import javax.security.sasl.SaslServer;
import org.apache.kafka.common.protocol.ApiKeys;
import org.apache.kafka.common.security.auth.KafkaPrincipal;
import org.apache.kafka.common.security.auth.SecurityProtocol;

/**
 * Who is on the other end of one Kafka connection, and where its SASL authentication stands. Confined to the
 * connection's event loop.
 *
 * <p>States, as Kafka's {@code SaslServerAuthenticator}: on a SASL listener a connection starts in {@link
 * State#HANDSHAKE} (ApiVersions and SaslHandshake only), moves to {@link State#AUTHENTICATE} after a handshake naming
 * an enabled mechanism (SaslAuthenticate only), and to {@link State#AUTHENTICATED} when the mechanism completes.
 * Anything else closes the connection. KIP-368: with {@code connections.max.reauth.ms} the session has an end; the
 * client authenticates again on the same connection (SaslHandshake, SaslAuthenticate) before it, and a request other
 * than those after it closes the connection. Re-authentication must keep the principal.
 */
public final class Session {
    public enum State { HANDSHAKE, AUTHENTICATE, AUTHENTICATED }

    private final String listener;
    private final SecurityProtocol protocol;
    private final String clientHost;
    private final SaslMechanisms sasl;
    private final long maxReauthMs;
    private State state;
    private KafkaPrincipal principal;
    private SaslServer server;
    private String mechanism;
    /** When the session ends (System.nanoTime), or Long.MAX_VALUE. */
    private long expiresAtNanos = Long.MAX_VALUE;
    private boolean reauthenticating;
    private boolean closeAfterResponse;
    /** The user name the client's first SASL token gave (for the audit log; not authenticated). */
    private String claimedUser;

    public Session(String listener, SecurityProtocol protocol, String clientHost, KafkaPrincipal transportPrincipal, SaslMechanisms sasl,
                   long maxReauthMs) {
        this.listener = listener;
        this.protocol = protocol;
        this.clientHost = clientHost;
        this.sasl = sasl;
        this.maxReauthMs = maxReauthMs;
        this.principal = transportPrincipal;
        this.state = sasl == null ? State.AUTHENTICATED : State.HANDSHAKE;
    }

    /**
     * Whether a request of {@code api} may be served now; when not, the connection is closed (Kafka does the same:
     * a client that does not follow the SASL exchange is not answered).
     */
    public boolean admits(ApiKeys api, long nowNanos) {
        return switch (state) {
            case HANDSHAKE -> api == ApiKeys.API_VERSIONS || api == ApiKeys.SASL_HANDSHAKE;
            case AUTHENTICATE -> api == ApiKeys.SASL_AUTHENTICATE;
            case AUTHENTICATED -> switch (api) {
                case SASL_HANDSHAKE -> true; // KIP-368 re-authentication; without SASL the handler answers ILLEGAL_SASL_STATE
                case SASL_AUTHENTICATE -> false;
                default -> nowNanos < expiresAtNanos;
            };
        };
    }

    /** True once the client is authenticated (always on a listener without SASL). */
    public boolean authenticated() {
        return state == State.AUTHENTICATED && !reauthenticating;
    }

    public State state() {
        return state;
    }

    public KafkaPrincipal principal() {
        return principal;
    }

    public String listener() {
        return listener;
    }

    public SecurityProtocol protocol() {
        return protocol;
    }

    public String clientHost() {
        return clientHost;
    }

    public SaslMechanisms sasl() {
        return sasl;
    }

    /** Starts an authentication (first, or KIP-368 re-authentication) with an enabled mechanism. */
    public void begin(String mechanism, SaslServer server) {
        reauthenticating = state == State.AUTHENTICATED;
        if (reauthenticating && !mechanism.equals(this.mechanism)) {
            throw new IllegalStateException("re-authentication must use the mechanism " + this.mechanism);
        }
        this.mechanism = mechanism;
        this.server = server;
        state = State.AUTHENTICATE;
    }

    /** The SASL server of the authentication in progress. */
    public SaslServer server() {
        return server;
    }

    /**
     * Ends the authentication in progress successfully as {@code name}. Returns the session lifetime to give the
     * client (0: no end) or fails when a re-authentication changed the principal.
     */
    public long complete(String name, long nowNanos) {
        return complete(name, nowNanos, null, 0);
    }

    /**
     * As {@link #complete(String, long)} for a credential that expires at {@code credentialExpiryMs} (epoch ms, null
     * when it does not): with {@code connections.max.reauth.ms} set, the session ends no later than the credential, as
     * in Kafka.
     */
    public long complete(String name, long nowNanos, Long credentialExpiryMs, long nowMs) {
        KafkaPrincipal p = new KafkaPrincipal(KafkaPrincipal.USER_TYPE, name);
        if (reauthenticating && !p.equals(principal)) {
            throw new IllegalStateException("re-authentication as " + name + " on a connection of " + principal.getName());
        }
        principal = p;
        state = State.AUTHENTICATED;
        reauthenticating = false;
        dispose();
        if (maxReauthMs <= 0) {
            expiresAtNanos = Long.MAX_VALUE;
            return 0;
        }
        long lifetimeMs = credentialExpiryMs == null ? maxReauthMs : Math.max(0, Math.min(maxReauthMs, credentialExpiryMs - nowMs));
        expiresAtNanos = nowNanos + lifetimeMs * 1_000_000L;
        return lifetimeMs;
    }

    /** Marks the connection to be closed once the response to the current request is written. */
    public void closeAfterResponse() {
        closeAfterResponse = true;
        dispose();
    }

    public boolean closingAfterResponse() {
        return closeAfterResponse;
    }

    /** Releases the SASL server (idempotent). */
    public void dispose() {
        SaslServer s = server;
        server = null;
        if (s != null) {
            try {
                s.dispose();
            } catch (Exception ignored) {
                // nothing held that matters
            }
        }
    }

    public String claimedUser() {
        return claimedUser;
    }

    public void claimedUser(String name) {
        this.claimedUser = name;
    }

    public String mechanism() {
        return mechanism;
    }
}
