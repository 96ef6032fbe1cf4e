package io.runnel.security;

import io.runnel.config.BrokerConfig;
import io.runnel.config.Limits;
import io.runnel.config.Listener;
import io.runnel.config.SecurityKeys;
import io.runnel.metrics.BrokerMetrics;
import java.io.IOException;
import java.nio.file.Path;
import java.security.Principal;
import java.util.Map;
import javax.net.ssl.SSLPeerUnverifiedException;
import javax.net.ssl.SSLSession;
import javax.security.auth.x500.X500Principal;
import org.apache.kafka.common.security.auth.KafkaPrincipal;
import org.apache.kafka.common.security.auth.SecurityProtocol;
import org.apache.kafka.common.security.ssl.SslPrincipalMapper;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The broker's security, built once at start from its configuration: each listener's protocol, TLS settings and
 * SASL mechanisms, the SCRAM credential store, the ACLs and their {@link Authorizer}, and the audit log of failed
 * authentications. Shared by the Kafka and
 * HTTP endpoints; thread-safe.
 */
public final class BrokerSecurity {
    private static final Logger AUDIT = LoggerFactory.getLogger("io.runnel.security.audit");
    /** The directory under {@code log.dirs} that holds the security metadata. */
    public static final String DIR = "security";

    /** One listener's security. {@code tls} is null on PLAINTEXT and SASL_PLAINTEXT, {@code sasl} on PLAINTEXT and SSL. */
    public record ListenerSecurity(String name, SecurityProtocol protocol, TlsSettings tls, SaslMechanisms sasl, SslPrincipalMapper mapper,
                                   long maxReauthMs) {
    }

    private final Map<String, ListenerSecurity> listeners = new java.util.concurrent.ConcurrentHashMap<>();
    private BrokerConfig config;
    private final ScramCredentials scram;
    private final BrokerMetrics metrics;
    private final RateLimitedLog failures = new RateLimitedLog(Limits.AUTH_FAILURE_LOG_LINES_PER_MINUTE);
    private Authorizer authorizer;
    private TlsSettings httpTls;
    private TokenValidator httpTokens;

    private BrokerSecurity(ScramCredentials scram, BrokerMetrics metrics) {
        this.scram = scram;
        this.metrics = metrics;
    }

    /** Loads key stores and credentials. Blocks (files); throws {@code ConfigException} for unusable settings. */
    public static BrokerSecurity load(BrokerConfig config, Path logDir, BrokerMetrics metrics) {
        BrokerSecurity s = new BrokerSecurity(ScramCredentials.load(logDir == null ? null : logDir.resolve(DIR)), metrics);
        s.config = config;
        s.httpTls = TlsSettings.loadHttp(config);
        if (s.httpTls != null) s.httpTls.logEngine(config.forHttp(SecurityKeys.SSL_ENGINE));
        if (config.get(SecurityKeys.SASL_OAUTHBEARER_JWKS_ENDPOINT_URL) != null) s.httpTokens = TokenValidator.of(config, "HTTP");
        s.authorizer = new Authorizer(config, AclStore.load(logDir == null ? null : logDir.resolve(DIR)), metrics);
        for (Listener l : config.listeners()) s.listeners.put(l.name(), s.build(config, l.name()));
        // In a cluster, fail start-up when the inter-broker listener lacks the credentials it needs (a single broker
        // never connects to itself, so it needs none).
        if (config.clustered()) s.interBroker();
        return s;
    }

    private ListenerSecurity build(BrokerConfig config, String name) {
        SecurityProtocol protocol = config.protocolOf(name);
        TlsSettings tls = null;
        if (protocol == SecurityProtocol.SSL || protocol == SecurityProtocol.SASL_SSL) {
            tls = TlsSettings.load(config, name);
            tls.logEngine(config.forListener(name, SecurityKeys.SSL_ENGINE));
        }
        SaslMechanisms sasl = null;
        if (protocol == SecurityProtocol.SASL_PLAINTEXT || protocol == SecurityProtocol.SASL_SSL) sasl = SaslMechanisms.of(config, name, scram);
        SslPrincipalMapper mapper = SslPrincipalMapper.fromRules(config.forListener(name, SecurityKeys.SSL_PRINCIPAL_MAPPING_RULES));
        return new ListenerSecurity(name, protocol, tls, sasl, mapper, config.forListener(name, SecurityKeys.CONNECTIONS_MAX_REAUTH_MS));
    }

    /** How to reach other brokers, with the inter-broker listener's current TLS settings. */
    public InterBrokerLink interBroker() {
        return InterBrokerLink.of(config, listeners.get(config.interBrokerListener()));
    }

    public ListenerSecurity listener(String name) {
        return listeners.get(name);
    }

    /** Replaces a listener's TLS settings (a renewed certificate); new connections use them. */
    public void replaceTls(TlsSettings tls) {
        listeners.computeIfPresent(tls.listener(), (k, l) -> new ListenerSecurity(l.name(), l.protocol(), tls, l.sasl(), l.mapper(), l.maxReauthMs()));
    }

    /**
     * In a cluster: the SCRAM credentials and the ACLs follow the cluster's copies from now on, so that every broker
     * authenticates the same users and enforces the same ACLs. Blocks (Hazelcast).
     */
    public void share(SharedDocuments documents) {
        scram.share(documents);
        authorizer.acls().share(documents);
    }

    /** Stops background work (JWKS refreshes). */
    public void close() {
        for (ListenerSecurity l : listeners.values()) if (l.sasl() != null) l.sasl().close();
        if (httpTokens != null) httpTokens.close();
    }

    /** The HTTP endpoint's TLS settings ({@code http.ssl.*}), or null for plain HTTP. */
    public TlsSettings httpTls() {
        return httpTls;
    }

    /** The check of bearer tokens on the HTTP endpoint (the broker's {@code sasl.oauthbearer.*} keys), or null without a JWKS. */
    public TokenValidator httpTokens() {
        return httpTokens;
    }

    /** Whether REST and WebSocket calls need a principal ({@code http.authentication=required}). */
    public boolean httpAuthenticationRequired() {
        return config.get(SecurityKeys.HTTP_AUTHENTICATION).equals("required");
    }

    /**
     * The principal of a user name and password checked against the SCRAM credentials (HTTP Basic, the console's
     * login), or null when they do not match. Costs a PBKDF2: call it on a worker.
     */
    public KafkaPrincipal checkPassword(String user, char[] password) {
        return SaslMechanisms.checkPassword(scram, user, password) ? new KafkaPrincipal(KafkaPrincipal.USER_TYPE, user) : null;
    }

    /** ACL authorization (allows everything unless {@code authorizer.class.name} is set). */
    public Authorizer authorizer() {
        return authorizer;
    }

    public ScramCredentials scram() {
        return scram;
    }

    /**
     * A new connection's session on {@code listener}: on TLS with a client certificate, the principal is the
     * certificate's distinguished name as {@code ssl.principal.mapping.rules} shape it; otherwise ANONYMOUS until SASL
     * says who it is.
     */
    public Session newSession(String listener, String clientHost, SSLSession ssl) {
        ListenerSecurity l = listeners.get(listener);
        KafkaPrincipal principal = KafkaPrincipal.ANONYMOUS;
        if (ssl != null) {
            try {
                Principal peer = ssl.getPeerPrincipal();
                if (peer instanceof X500Principal x500) principal = new KafkaPrincipal(KafkaPrincipal.USER_TYPE, l.mapper().getName(x500.getName()));
            } catch (SSLPeerUnverifiedException e) {
                // no client certificate (ssl.client.auth none or requested): ANONYMOUS, as in Kafka
            } catch (IOException e) {
                throw new IllegalArgumentException("ssl.principal.mapping.rules do not match the client's certificate: " + e.getMessage());
            }
        }
        return new Session(listener, l.protocol(), clientHost, principal, l.sasl(), l.maxReauthMs());
    }

    /** Counts a successful authentication in {@code /metrics}. */
    public void authenticationSucceeded(String endpoint, String mechanism) {
        if (metrics != null) metrics.authenticationSucceeded(endpoint, mechanism);
    }

    /**
     * Records a failed authentication: a counter in {@code /metrics} and an audit line, at most {@link
     * Limits#AUTH_FAILURE_LOG_LINES_PER_MINUTE} lines a minute. The line names the endpoint, mechanism, client address
     * and the user name the client gave (never a password or token).
     */
    public void authenticationFailed(String endpoint, String mechanism, String clientHost, String user, String reason) {
        if (metrics != null) metrics.authenticationFailed(endpoint, mechanism);
        if (failures.admit()) {
            AUDIT.warn("Authentication failed: endpoint={} mechanism={} client={} user={} reason={}", endpoint, mechanism, clientHost,
                    user == null ? "-" : printable(user), reason);
        }
    }

    /** A user name as the audit log may show it: printable ASCII, at most 64 characters. */
    static String printable(String s) {
        StringBuilder b = new StringBuilder();
        for (int i = 0; i < s.length() && b.length() < 64; i++) {
            char c = s.charAt(i);
            b.append(c >= 0x20 && c < 0x7f ? c : '?');
        }
        return b.toString();
    }
}
