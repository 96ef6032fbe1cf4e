package io.runnel.security;

import io.runnel.config.BrokerConfig;
import io.runnel.config.ConfigException;
import io.runnel.config.SecurityKeys;
import java.util.HashMap;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import javax.security.auth.callback.Callback;
import javax.security.auth.login.AppConfigurationEntry;
import javax.security.sasl.SaslServer;
import org.apache.kafka.common.config.ConfigDef;
import org.apache.kafka.common.config.SaslConfigs;
import org.apache.kafka.common.security.oauthbearer.OAuthBearerLoginModule;
import org.apache.kafka.common.security.oauthbearer.OAuthBearerToken;
import org.apache.kafka.common.security.oauthbearer.OAuthBearerValidatorCallback;
import org.apache.kafka.common.security.oauthbearer.OAuthBearerValidatorCallbackHandler;
import org.apache.kafka.common.security.oauthbearer.internals.OAuthBearerSaslServer;

/**
 * OAUTHBEARER's token check, as Kafka's KIP-768 broker does it: kafka-clients' {@link
 * OAuthBearerValidatorCallbackHandler} checks a JWT's signature against the keys of {@code
 * sasl.oauthbearer.jwks.endpoint.url} (an https URL refreshed every {@code sasl.oauthbearer.jwks.endpoint.refresh.ms},
 * or a file), its expiry, and its audience and issuer when {@code sasl.oauthbearer.expected.*} are set; the principal
 * is the {@code sasl.oauthbearer.sub.claim.name} claim. Unsigned tokens are never accepted: OAUTHBEARER is refused at
 * start without a JWKS. The same check serves bearer tokens on the HTTP endpoint. Thread-safe.
 */
public final class TokenValidator implements AutoCloseable {
    private static final String ALLOWED_URLS = "org.apache.kafka.sasl.oauthbearer.allowed.urls";
    private static final String ALLOWED_FILES = "org.apache.kafka.sasl.oauthbearer.allowed.files";

    /** A valid token: who it names and when it expires (epoch ms). */
    public record Validated(String principalName, long expiresAtMs) {
    }

    private final OAuthBearerValidatorCallbackHandler handler;

    private TokenValidator(OAuthBearerValidatorCallbackHandler handler) {
        this.handler = handler;
    }

    /** The validator of {@code listener}'s OAUTHBEARER settings. Reads the JWKS (blocks). */
    public static TokenValidator of(BrokerConfig config, String listener) {
        String jwks = config.forMechanism(listener, "OAUTHBEARER", SecurityKeys.SASL_OAUTHBEARER_JWKS_ENDPOINT_URL);
        if (jwks == null) {
            throw new ConfigException("Listener " + listener + " enables OAUTHBEARER but sets no sasl.oauthbearer.jwks.endpoint.url: Runnel accepts "
                    + "only tokens signed by a key of a JWKS (no unsecured tokens).");
        }
        allow(jwks);
        Map<String, Object> props = new HashMap<>();
        props.put(SaslConfigs.SASL_OAUTHBEARER_JWKS_ENDPOINT_URL, jwks);
        List<String> audience = config.forMechanism(listener, "OAUTHBEARER", SecurityKeys.SASL_OAUTHBEARER_EXPECTED_AUDIENCE);
        if (audience != null) props.put(SaslConfigs.SASL_OAUTHBEARER_EXPECTED_AUDIENCE, String.join(",", audience));
        String issuer = config.forMechanism(listener, "OAUTHBEARER", SecurityKeys.SASL_OAUTHBEARER_EXPECTED_ISSUER);
        if (issuer != null) props.put(SaslConfigs.SASL_OAUTHBEARER_EXPECTED_ISSUER, issuer);
        props.put(SaslConfigs.SASL_OAUTHBEARER_SUB_CLAIM_NAME, config.forMechanism(listener, "OAUTHBEARER", SecurityKeys.SASL_OAUTHBEARER_SUB_CLAIM_NAME));
        props.put(SaslConfigs.SASL_OAUTHBEARER_SCOPE_CLAIM_NAME, config.forMechanism(listener, "OAUTHBEARER", SecurityKeys.SASL_OAUTHBEARER_SCOPE_CLAIM_NAME));
        props.put(SaslConfigs.SASL_OAUTHBEARER_CLOCK_SKEW_SECONDS,
                config.forMechanism(listener, "OAUTHBEARER", SecurityKeys.SASL_OAUTHBEARER_CLOCK_SKEW_SECONDS).toString());
        props.put(SaslConfigs.SASL_OAUTHBEARER_JWKS_ENDPOINT_REFRESH_MS,
                config.forMechanism(listener, "OAUTHBEARER", SecurityKeys.SASL_OAUTHBEARER_JWKS_ENDPOINT_REFRESH_MS).toString());
        List<AppConfigurationEntry> jaas = SaslMechanisms.jaasEntries(config, listener, "OAUTHBEARER");
        if (jaas.isEmpty()) {
            jaas = List.of(new AppConfigurationEntry(OAuthBearerLoginModule.class.getName(), AppConfigurationEntry.LoginModuleControlFlag.REQUIRED, Map.of()));
        }
        OAuthBearerValidatorCallbackHandler handler = new OAuthBearerValidatorCallbackHandler();
        try {
            handler.configure(new ConfigDef().withClientSaslSupport().parse(props), "OAUTHBEARER", jaas);
        } catch (RuntimeException e) {
            throw new ConfigException("OAUTHBEARER settings of listener " + listener + " cannot be used: " + e.getMessage());
        }
        return new TokenValidator(handler);
    }

    /**
     * Kafka 4 reads JWKS only from URLs and files listed in two system properties: the broker's own configured JWKS is
     * by definition allowed, so it is added to them (other entries are kept).
     */
    private static synchronized void allow(String jwks) {
        addTo(ALLOWED_URLS, jwks);
        if (jwks.startsWith("file:")) addTo(ALLOWED_FILES, java.nio.file.Path.of(java.net.URI.create(jwks)).toString());
    }

    private static void addTo(String property, String value) {
        Set<String> allowed = new LinkedHashSet<>();
        String current = System.getProperty(property);
        if (current != null && !current.isBlank()) for (String a : current.split(",")) allowed.add(a.trim());
        allowed.add(value);
        System.setProperty(property, String.join(",", allowed));
    }

    /** A SASL server for one OAUTHBEARER exchange (kafka-clients' own). */
    SaslServer newSaslServer() {
        return new OAuthBearerSaslServer(handler);
    }

    /**
     * Checks a bearer token (the compact JWT) and returns whom it names, or throws {@link IllegalArgumentException}
     * with the reason (never the token). May block briefly on a JWKS refresh: call it on a worker.
     */
    public Validated validate(String jwt) {
        OAuthBearerValidatorCallback callback = new OAuthBearerValidatorCallback(jwt);
        try {
            handler.handle(new Callback[]{callback});
        } catch (Exception e) {
            throw new IllegalArgumentException("the token cannot be checked: " + e.getClass().getSimpleName());
        }
        OAuthBearerToken token = callback.token();
        if (token == null) {
            String status = callback.errorStatus();
            throw new IllegalArgumentException("the token is not valid" + (status == null ? "" : " (" + status + ")"));
        }
        return new Validated(token.principalName(), token.lifetimeMs());
    }

    @Override
    public void close() {
        handler.close();
    }
}
