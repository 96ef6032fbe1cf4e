package io.runnel.config;

import static io.runnel.config.ConfigKey.enumKey;
import static io.runnel.config.ConfigKey.intKey;
import static io.runnel.config.ConfigKey.listKey;
import static io.runnel.config.ConfigKey.longKey;
import static io.runnel.config.ConfigKey.stringKey;

import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Set;
import org.apache.kafka.common.config.types.Password;
import org.apache.kafka.common.security.auth.SecurityProtocol;

/**
 * The broker's security keys, with Apache Kafka's names and meanings: listener protocols, TLS ({@code ssl.*}) and
 * SASL ({@code sasl.*}). Every {@code ssl.*} and {@code sasl.*} key (and {@code connections.max.reauth.ms}) may also be
 * given for one listener with Kafka's prefix {@code listener.name.<listener>.} (listener name in lower case), and the
 * SASL keys for one mechanism of one listener with {@code listener.name.<listener>.<mechanism>.}, as in Kafka's
 * {@code listener.name.sasl_ssl.scram-sha-256.sasl.jaas.config}; {@link BrokerConfig#forListener} resolves them. The
 * HTTP endpoint's TLS takes the {@code ssl.*} keys with an {@code http.} prefix ({@link BrokerConfig#forHttp}).
 *
 * <p>Passwords and JAAS texts are {@link Password} values: they print as {@code [hidden]} in logs and DescribeConfigs
 * reports them as sensitive, with no value.
 */
public final class SecurityKeys {
    private SecurityKeys() {
    }

    public static final String PROTOCOL_MAP_DEFAULT = "PLAINTEXT:PLAINTEXT,SSL:SSL,SASL_PLAINTEXT:SASL_PLAINTEXT,SASL_SSL:SASL_SSL";

    public static final ConfigKey<Map<String, SecurityProtocol>> LISTENER_SECURITY_PROTOCOL_MAP = new ConfigKey<>("listener.security.protocol.map",
            PROTOCOL_MAP_DEFAULT, "a comma-separated list of LISTENER_NAME:PROTOCOL (PLAINTEXT, SSL, SASL_PLAINTEXT or SASL_SSL)",
            SecurityKeys::protocolMap, "The security protocol of each listener name.");
    public static final ConfigKey<String> INTER_BROKER_LISTENER_NAME = stringKey("inter.broker.listener.name", null,
            "the name of one of the listeners", text -> text.toUpperCase(Locale.ROOT),
            "The listener that replication and other requests between brokers use; unset means the first listener.");

    public static final ConfigKey<SecurityProtocol> SECURITY_INTER_BROKER_PROTOCOL = new ConfigKey<>("security.inter.broker.protocol", null,
            "PLAINTEXT, SSL, SASL_PLAINTEXT or SASL_SSL", text -> SecurityProtocol.forName(text.toUpperCase(Locale.ROOT)),
            "Kafka's older way to choose the inter-broker listener: the first listener of this protocol (when inter.broker.listener.name is unset).");

    // ---- TLS ----
    public static final ConfigKey<String> SSL_KEYSTORE_TYPE = enumKey("ssl.keystore.type", "JKS", Set.of("JKS", "PKCS12", "PEM"),
            "The format of the key store.");
    public static final ConfigKey<String> SSL_KEYSTORE_LOCATION = stringKey("ssl.keystore.location", null, "a file path", SecurityKeys::nonBlank,
            "The key store with this broker's private key and certificate chain (JKS, PKCS12, or a PEM file holding both).");
    public static final ConfigKey<Password> SSL_KEYSTORE_PASSWORD = passwordKey("ssl.keystore.password",
            "The password of the key store (not used for PEM).");
    public static final ConfigKey<Password> SSL_KEY_PASSWORD = passwordKey("ssl.key.password",
            "The password of the private key in the key store (for PEM, of an encrypted PKCS#8 key); by default the key store's.");
    public static final ConfigKey<Password> SSL_KEYSTORE_KEY = passwordKey("ssl.keystore.key",
            "The private key in PEM, given in the configuration instead of a file (with ssl.keystore.type=PEM).");
    public static final ConfigKey<Password> SSL_KEYSTORE_CERTIFICATE_CHAIN = passwordKey("ssl.keystore.certificate.chain",
            "The certificate chain in PEM, given in the configuration instead of a file (with ssl.keystore.type=PEM).");
    public static final ConfigKey<String> SSL_TRUSTSTORE_TYPE = enumKey("ssl.truststore.type", "JKS", Set.of("JKS", "PKCS12", "PEM"),
            "The format of the trust store.");
    public static final ConfigKey<String> SSL_TRUSTSTORE_LOCATION = stringKey("ssl.truststore.location", null, "a file path",
            SecurityKeys::nonBlank, "The certificates of the authorities this broker trusts for client certificates and other brokers.");
    public static final ConfigKey<Password> SSL_TRUSTSTORE_PASSWORD = passwordKey("ssl.truststore.password",
            "The password of the trust store (not used for PEM).");
    public static final ConfigKey<Password> SSL_TRUSTSTORE_CERTIFICATES = passwordKey("ssl.truststore.certificates",
            "Trusted certificates in PEM, given in the configuration instead of a file (with ssl.truststore.type=PEM).");
    public static final ConfigKey<String> SSL_CLIENT_AUTH = enumKey("ssl.client.auth", "none", Set.of("none", "requested", "required"),
            "Whether clients of an SSL or SASL_SSL listener must (required) or may (requested) present a certificate (mutual TLS).");
    public static final ConfigKey<List<String>> SSL_ENABLED_PROTOCOLS = listKey("ssl.enabled.protocols", "TLSv1.2,TLSv1.3",
            "a comma-separated list of TLSv1.2 and TLSv1.3", SecurityKeys::tlsProtocol, "The TLS versions accepted.");
    public static final ConfigKey<List<String>> SSL_CIPHER_SUITES = listKey("ssl.cipher.suites", null,
            "a comma-separated list of cipher suite names", SecurityKeys::nonBlank, "The cipher suites accepted; unset means the engine's defaults.");
    public static final ConfigKey<String> SSL_ENGINE = enumKey("ssl.engine", "openssl", Set.of("openssl", "jdk"),
            "The TLS implementation: openssl (BoringSSL through netty-tcnative; the JDK's when it cannot load) or jdk.");
    public static final ConfigKey<String> SSL_PRINCIPAL_MAPPING_RULES = stringKey("ssl.principal.mapping.rules", "DEFAULT",
            "DEFAULT or Kafka's RULE:pattern/replacement/[LU] rules, comma-separated", SecurityKeys::nonBlank,
            "How the distinguished name of a client certificate becomes the principal's name (Kafka's rules).");
    public static final ConfigKey<String> SSL_ENDPOINT_IDENTIFICATION_ALGORITHM = stringKey("ssl.endpoint.identification.algorithm", "https",
            "https or an empty value", text -> text,
            "How this broker checks other brokers' certificates against their host names (https) or not (empty), as a client.");
    public static final ConfigKey<Long> SSL_CERTIFICATE_RELOAD_INTERVAL_MS = longKey("ssl.certificate.reload.interval.ms", 60_000L, 0, Long.MAX_VALUE,
            "How often the key and trust store files are checked for changes, which take effect for new connections without a restart; 0 never.");

    // ---- SASL ----
    public static final ConfigKey<List<String>> SASL_ENABLED_MECHANISMS = listKey("sasl.enabled.mechanisms", "PLAIN,SCRAM-SHA-256,SCRAM-SHA-512",
            "a comma-separated list of PLAIN, SCRAM-SHA-256, SCRAM-SHA-512 and OAUTHBEARER", SecurityKeys::mechanism,
            "The SASL mechanisms offered on SASL listeners.");
    public static final ConfigKey<String> SASL_MECHANISM_INTER_BROKER_PROTOCOL = stringKey("sasl.mechanism.inter.broker.protocol", "PLAIN",
            "one of PLAIN, SCRAM-SHA-256, SCRAM-SHA-512", SecurityKeys::mechanism,
            "The mechanism this broker uses as a client of another broker's SASL listener.");
    public static final ConfigKey<Password> SASL_JAAS_CONFIG = passwordKey("sasl.jaas.config",
            "A JAAS configuration, usually given per listener and mechanism (listener.name.<l>.<mechanism>.sasl.jaas.config): PlainLoginModule's "
                    + "user_<name>=\"<password>\" entries are PLAIN's users, and username/password are what this broker sends to other brokers.");
    public static final ConfigKey<String> SASL_OAUTHBEARER_JWKS_ENDPOINT_URL = stringKey("sasl.oauthbearer.jwks.endpoint.url", null,
            "an https://, http:// or file:// URL", SecurityKeys::nonBlank,
            "Where OAUTHBEARER finds the keys that sign valid tokens (a JWKS document; a URL is refreshed, a file re-read when it changes), KIP-768.");
    public static final ConfigKey<List<String>> SASL_OAUTHBEARER_EXPECTED_AUDIENCE = listKey("sasl.oauthbearer.expected.audience", null,
            "a comma-separated list of audiences", SecurityKeys::nonBlank, "A token must name one of these in its aud claim; unset: not checked.");
    public static final ConfigKey<String> SASL_OAUTHBEARER_EXPECTED_ISSUER = stringKey("sasl.oauthbearer.expected.issuer", null, "an issuer",
            SecurityKeys::nonBlank, "A token's iss claim must be this; unset: not checked.");
    public static final ConfigKey<String> SASL_OAUTHBEARER_SUB_CLAIM_NAME = stringKey("sasl.oauthbearer.sub.claim.name", "sub", "a claim name",
            SecurityKeys::nonBlank, "The claim whose value is the principal's name.");
    public static final ConfigKey<String> SASL_OAUTHBEARER_SCOPE_CLAIM_NAME = stringKey("sasl.oauthbearer.scope.claim.name", "scope", "a claim name",
            SecurityKeys::nonBlank, "The claim that holds the token's scopes.");
    public static final ConfigKey<Integer> SASL_OAUTHBEARER_CLOCK_SKEW_SECONDS = intKey("sasl.oauthbearer.clock.skew.seconds", 30, 0,
            Integer.MAX_VALUE, "How far the broker's clock and the token issuer's may disagree when exp, nbf and iat are checked, in seconds.");
    public static final ConfigKey<Long> SASL_OAUTHBEARER_JWKS_ENDPOINT_REFRESH_MS = longKey("sasl.oauthbearer.jwks.endpoint.refresh.ms", 3_600_000L,
            1, Long.MAX_VALUE, "How often a JWKS URL is fetched again, in ms.");
    public static final ConfigKey<Long> CONNECTIONS_MAX_REAUTH_MS = longKey("connections.max.reauth.ms", 0L, 0, Long.MAX_VALUE,
            "The longest a SASL session lasts before the client must authenticate again on its connection (KIP-368); 0 means forever.");
    public static final ConfigKey<Integer> SASL_SERVER_MAX_RECEIVE_SIZE = intKey("sasl.server.max.receive.size", 524_288, 1, Integer.MAX_VALUE,
            "The largest SASL token accepted before authentication, in bytes; a larger one closes the connection.");
    public static final ConfigKey<Integer> CONNECTION_FAILED_AUTHENTICATION_DELAY_MS = intKey("connection.failed.authentication.delay.ms", 100, 0,
            Integer.MAX_VALUE, "How long a connection whose authentication failed waits before it is closed, which slows password guessing.");

    // ---- Authorization ----
    /** Kafka's KRaft authorizer; its ZooKeeper-era predecessor's name is accepted as the same thing. */
    public static final Set<String> AUTHORIZERS = Set.of("org.apache.kafka.metadata.authorizer.StandardAuthorizer",
            "kafka.security.authorizer.AclAuthorizer");
    public static final ConfigKey<String> AUTHORIZER_CLASS_NAME = stringKey("authorizer.class.name", "",
            "empty, or org.apache.kafka.metadata.authorizer.StandardAuthorizer", text -> {
                if (!text.isEmpty() && !AUTHORIZERS.contains(text)) throw new IllegalArgumentException();
                return text;
            }, "Switches ACL authorization on (Kafka's StandardAuthorizer semantics); empty lets every client do everything.");
    public static final ConfigKey<List<String>> SUPER_USERS = new ConfigKey<>("super.users", null,
            "a semicolon-separated list of principals such as User:admin", text -> {
                if (text.isBlank()) return List.of();
                List<String> out = new java.util.ArrayList<>();
                for (String p : text.split(";")) {
                    String t = p.trim();
                    if (t.indexOf(':') <= 0) throw new IllegalArgumentException();
                    out.add(t);
                }
                return List.copyOf(out);
            }, "Principals that every ACL check allows (the brokers' own principal belongs here).");
    public static final ConfigKey<Boolean> ALLOW_EVERYONE_IF_NO_ACL_FOUND = ConfigKey.boolKey("allow.everyone.if.no.acl.found", false,
            "Whether a resource that no ACL names is open to everyone (true) or to super users only (false, Kafka's default).");

    // ---- HTTP endpoint ----
    public static final ConfigKey<String> HTTP_AUTHENTICATION = enumKey("http.authentication", "none", Set.of("none", "required"),
            "Whether REST and WebSocket calls need a principal (HTTP Basic against the SCRAM users, a bearer JWT checked as OAUTHBEARER's, "
                    + "or the console's login cookie); /health and /ready stay open. The ACLs apply either way (to ANONYMOUS without it).");
    public static final ConfigKey<Boolean> HTTP_METRICS_AUTHENTICATION = ConfigKey.boolKey("http.metrics.authentication", false,
            "Whether /metrics also needs a principal (with http.authentication=required).");
    public static final ConfigKey<Long> HTTP_SESSION_TIMEOUT_MS = longKey("http.session.timeout.ms", 28_800_000L, 1_000, Long.MAX_VALUE,
            "How long the console's login cookie stays valid, in ms.");

    /** The security keys, in the order of {@code conf/broker.properties}. */
    public static final List<ConfigKey<?>> KEYS = List.of(LISTENER_SECURITY_PROTOCOL_MAP, INTER_BROKER_LISTENER_NAME, SECURITY_INTER_BROKER_PROTOCOL,
            SSL_KEYSTORE_TYPE, SSL_KEYSTORE_LOCATION, SSL_KEYSTORE_PASSWORD, SSL_KEY_PASSWORD, SSL_KEYSTORE_KEY, SSL_KEYSTORE_CERTIFICATE_CHAIN,
            SSL_TRUSTSTORE_TYPE, SSL_TRUSTSTORE_LOCATION, SSL_TRUSTSTORE_PASSWORD, SSL_TRUSTSTORE_CERTIFICATES, SSL_CLIENT_AUTH,
            SSL_ENABLED_PROTOCOLS, SSL_CIPHER_SUITES, SSL_ENGINE, SSL_PRINCIPAL_MAPPING_RULES, SSL_ENDPOINT_IDENTIFICATION_ALGORITHM,
            SSL_CERTIFICATE_RELOAD_INTERVAL_MS, SASL_ENABLED_MECHANISMS, SASL_MECHANISM_INTER_BROKER_PROTOCOL, SASL_OAUTHBEARER_JWKS_ENDPOINT_URL,
            SASL_OAUTHBEARER_EXPECTED_AUDIENCE, SASL_OAUTHBEARER_EXPECTED_ISSUER, SASL_OAUTHBEARER_SUB_CLAIM_NAME, SASL_OAUTHBEARER_SCOPE_CLAIM_NAME,
            SASL_OAUTHBEARER_CLOCK_SKEW_SECONDS, SASL_OAUTHBEARER_JWKS_ENDPOINT_REFRESH_MS, CONNECTIONS_MAX_REAUTH_MS,
            SASL_SERVER_MAX_RECEIVE_SIZE, CONNECTION_FAILED_AUTHENTICATION_DELAY_MS, AUTHORIZER_CLASS_NAME, SUPER_USERS,
            ALLOW_EVERYONE_IF_NO_ACL_FOUND, HTTP_AUTHENTICATION, HTTP_METRICS_AUTHENTICATION, HTTP_SESSION_TIMEOUT_MS);

    /**
     * Kafka's {@code listener.name.<l>.<mechanism>.sasl.server.callback.handler.class}: accepted so that an existing
     * server.properties keeps working, when it names the handler Runnel uses anyway for that mechanism.
     */
    public static final Set<String> SERVER_CALLBACK_HANDLERS = Set.of(
            "org.apache.kafka.common.security.oauthbearer.OAuthBearerValidatorCallbackHandler",
            "org.apache.kafka.common.security.oauthbearer.secured.OAuthBearerValidatorCallbackHandler",
            "org.apache.kafka.common.security.plain.internals.PlainServerCallbackHandler",
            "org.apache.kafka.common.security.scram.internals.ScramServerCallbackHandler");
    public static final ConfigKey<String> SASL_SERVER_CALLBACK_HANDLER_CLASS = stringKey("sasl.server.callback.handler.class", null,
            "Kafka's own handler for the mechanism (Runnel uses it whether named or not)", text -> {
                if (!SERVER_CALLBACK_HANDLERS.contains(text)) throw new IllegalArgumentException();
                return text;
            }, "The server callback handler of a mechanism; only Kafka's own are accepted.");

    /** The mechanisms Runnel serves. */
    public static final Set<String> MECHANISMS = Set.of("PLAIN", "SCRAM-SHA-256", "SCRAM-SHA-512", "OAUTHBEARER");

    /**
     * The base key of a listener-prefixed key ({@code listener.name.<l>.[<mechanism>.]<key>}), or null when {@code name}
     * is not one.
     */
    static ConfigKey<?> prefixedBase(String name) {
        if (name.startsWith("http.ssl.")) {
            // The HTTP endpoint's TLS: the ssl.* keys under an http. prefix (HTTPS when http.ssl.keystore.location is set).
            String key = name.substring("http.".length());
            for (ConfigKey<?> k : KEYS) if (k.name().equals(key)) return k;
            return null;
        }
        if (!name.startsWith("listener.name.")) return null;
        String rest = name.substring("listener.name.".length());
        int dot = rest.indexOf('.');
        if (dot <= 0) return null;
        String key = rest.substring(dot + 1);
        for (String mechanism : MECHANISMS) {
            String m = mechanism.toLowerCase(Locale.ROOT) + ".";
            if (key.startsWith(m) && key.substring(m.length()).startsWith("sasl.")) key = key.substring(m.length());
        }
        for (ConfigKey<?> k : KEYS) {
            if (k.name().equals(key) && (key.startsWith("ssl.") || key.startsWith("sasl.") || key.equals(CONNECTIONS_MAX_REAUTH_MS.name()))) return k;
        }
        if (key.equals(SASL_SERVER_CALLBACK_HANDLER_CLASS.name())) return SASL_SERVER_CALLBACK_HANDLER_CLASS;
        return key.equals(SASL_JAAS_CONFIG.name()) ? SASL_JAAS_CONFIG : null;
    }

    private static ConfigKey<Password> passwordKey(String name, String doc) {
        return new ConfigKey<>(name, null, "a text", Password::new, doc);
    }

    private static Map<String, SecurityProtocol> protocolMap(String text) {
        Map<String, SecurityProtocol> out = new LinkedHashMap<>();
        for (String entry : text.split(",")) {
            String e = entry.trim();
            int colon = e.indexOf(':');
            if (colon <= 0) throw new IllegalArgumentException();
            String name = e.substring(0, colon).trim().toUpperCase(Locale.ROOT);
            if (!name.matches("[A-Z][A-Z0-9_]*") || out.containsKey(name)) throw new IllegalArgumentException();
            out.put(name, SecurityProtocol.forName(e.substring(colon + 1).trim().toUpperCase(Locale.ROOT)));
        }
        return out;
    }

    private static String tlsProtocol(String text) {
        if (!text.equals("TLSv1.2") && !text.equals("TLSv1.3")) throw new IllegalArgumentException();
        return text;
    }

    private static String mechanism(String text) {
        String m = text.toUpperCase(Locale.ROOT);
        if (!MECHANISMS.contains(m)) throw new IllegalArgumentException();
        return m;
    }

    private static String nonBlank(String text) {
        if (text.isBlank()) throw new IllegalArgumentException();
        return text;
    }
}
