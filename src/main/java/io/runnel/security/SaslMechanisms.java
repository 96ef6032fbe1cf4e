package io.runnel.security;

import io.runnel.config.BrokerConfig;
import io.runnel.config.ConfigException;
import io.runnel.config.SecurityKeys;
import java.io.IOException;
import java.util.List;
import java.util.Map;
import javax.security.auth.callback.Callback;
import javax.security.auth.callback.NameCallback;
import javax.security.auth.callback.UnsupportedCallbackException;
import javax.security.auth.login.AppConfigurationEntry;
import javax.security.sasl.SaslException;
import javax.security.sasl.SaslServer;
import org.apache.kafka.common.config.SaslConfigs;
import org.apache.kafka.common.config.types.Password;
import org.apache.kafka.common.network.ListenerName;
import org.apache.kafka.common.security.JaasContext;
import org.apache.kafka.common.security.auth.AuthenticateCallbackHandler;
import org.apache.kafka.common.security.plain.PlainAuthenticateCallback;
import org.apache.kafka.common.security.plain.internals.PlainSaslServer;
import org.apache.kafka.common.security.plain.internals.PlainServerCallbackHandler;
import org.apache.kafka.common.security.scram.ScramCredential;
import org.apache.kafka.common.security.scram.internals.ScramFormatter;
import org.apache.kafka.common.security.scram.internals.ScramMechanism;
import org.apache.kafka.common.security.scram.internals.ScramSaslServer;
import org.apache.kafka.common.security.scram.internals.ScramServerCallbackHandler;
import org.apache.kafka.common.security.token.delegation.internals.DelegationTokenCache;

/**
 * The SASL mechanisms one listener offers ({@code sasl.enabled.mechanisms}, per listener), each served by
 * kafka-clients' own server implementation: {@link PlainSaslServer} and {@link ScramSaslServer} (RFC 5802 with
 * Kafka's extensions; {@link ScramServer} adds the one accommodation librdkafka before 2.6.1 needs). Built once per listener at start; {@link #newServer} makes one {@link SaslServer} per
 * authentication.
 *
 * <p>OAUTHBEARER validates signed JWTs against a JWKS ({@link TokenValidator}, KIP-768). PLAIN checks the {@code user_<name>="<password>"} entries of the listener's PlainLoginModule JAAS configuration,
 * as Kafka's {@link PlainServerCallbackHandler} does, and then (a Runnel addition) the user's SCRAM credential: the
 * password is salted and hashed with the stored salt and iterations and compared with the stored key, so that users
 * created with AlterUserScramCredentials can also log in with PLAIN (and HTTP Basic) without a password stored
 * anywhere.
 */
public final class SaslMechanisms {
    private final List<String> enabled;
    private final ScramCredentials scram;
    private final List<AppConfigurationEntry> plainJaas;
    private final DelegationTokenCache delegationTokens = new DelegationTokenCache(ScramMechanism.mechanismNames());
    private TokenValidator tokens;

    private SaslMechanisms(List<String> enabled, ScramCredentials scram, List<AppConfigurationEntry> plainJaas) {
        this.enabled = enabled;
        this.scram = scram;
        this.plainJaas = plainJaas;
    }

    /** Builds a listener's mechanisms; with OAUTHBEARER, reads its JWKS (blocks). */
    public static SaslMechanisms of(BrokerConfig config, String listener, ScramCredentials scram) {
        List<String> enabled = config.forListener(listener, SecurityKeys.SASL_ENABLED_MECHANISMS);
        SaslMechanisms m = new SaslMechanisms(List.copyOf(enabled), scram, jaasEntries(config, listener, "PLAIN"));
        if (enabled.contains("OAUTHBEARER")) m.tokens = TokenValidator.of(config, listener);
        return m;
    }

    /** The OAUTHBEARER token validator of this listener, or null when OAUTHBEARER is not enabled. */
    public TokenValidator tokens() {
        return tokens;
    }

    /** Stops the JWKS refresh of OAUTHBEARER, if any. */
    public void close() {
        if (tokens != null) tokens.close();
    }

    /** The JAAS entries of {@code listener.name.<listener>.<mechanism>.sasl.jaas.config}, or none. */
    static List<AppConfigurationEntry> jaasEntries(BrokerConfig config, String listener, String mechanism) {
        Password jaas = config.forMechanism(listener, mechanism, SecurityKeys.SASL_JAAS_CONFIG);
        if (jaas == null) return List.of();
        ListenerName name = ListenerName.normalised(listener);
        try {
            // Kafka's own loader: the same parsing, and the same refusal of login modules Kafka 4 disallows.
            return JaasContext.loadServerContext(name, mechanism, 
                    Map.of(mechanism.toLowerCase(java.util.Locale.ROOT) + "." + SaslConfigs.SASL_JAAS_CONFIG, jaas)) // the listener's keys, prefix removed
                    .configurationEntries();
        } catch (IllegalArgumentException e) {
            // JaasConfig's message quotes the text it could not parse, which may hold passwords: name the key only.
            throw new ConfigException("The sasl.jaas.config of listener " + listener + " and mechanism " + mechanism
                    + " is not a valid JAAS configuration (LoginModule flag key=\"value\" ...;).");
        }
    }

    /** The options of the first JAAS entry for {@code mechanism} on {@code listener}: username and password as a client. */
    public static Map<String, ?> jaasOptions(BrokerConfig config, String listener, String mechanism) {
        List<AppConfigurationEntry> entries = jaasEntries(config, listener, mechanism);
        return entries.isEmpty() ? Map.of() : entries.get(0).getOptions();
    }

    public List<String> enabled() {
        return enabled;
    }

    /** A server for one authentication with {@code mechanism}, which must be enabled. */
    public SaslServer newServer(String mechanism) throws SaslException {
        if (mechanism.equals("OAUTHBEARER")) return tokens.newSaslServer();
        if (mechanism.equals("PLAIN")) {
            PlainServerCallbackHandler jaasUsers = new PlainServerCallbackHandler();
            jaasUsers.configure(Map.of(), "PLAIN", plainJaas);
            return new PlainSaslServer(new PlainWithScram(jaasUsers, scram));
        }
        ScramMechanism m = ScramMechanism.forMechanismName(mechanism);
        if (m == null) throw new SaslException("Unsupported mechanism " + mechanism);
        ScramServerCallbackHandler handler = new ScramServerCallbackHandler(scram.cache(m), delegationTokens);
        handler.configure(Map.of(), mechanism, List.of());
        try {
            return new ScramServer(new ScramSaslServer(m, Map.of(), handler), m, scram);
        } catch (java.security.NoSuchAlgorithmException e) {
            throw new SaslException("SCRAM " + mechanism + " unavailable", e);
        }
    }

    /**
     * Checks a user name and password against the SCRAM credentials (strongest mechanism first). Costs one PBKDF2
     * (the credential's iterations): call it on a worker thread.
     */
    public static boolean checkPassword(ScramCredentials scram, String user, char[] password) {
        for (ScramMechanism m : new ScramMechanism[]{ScramMechanism.SCRAM_SHA_512, ScramMechanism.SCRAM_SHA_256}) {
            ScramCredential c = scram.get(user, m);
            if (c == null) continue;
            try {
                ScramFormatter f = new ScramFormatter(m);
                byte[] salted = f.saltedPassword(new String(password), c.salt(), c.iterations());
                return java.security.MessageDigest.isEqual(f.storedKey(f.clientKey(salted)), c.storedKey());
            } catch (Exception e) {
                return false;
            }
        }
        return false;
    }

    /** PLAIN's callback: the JAAS users as Kafka checks them, then the SCRAM credentials. */
    private static final class PlainWithScram implements AuthenticateCallbackHandler {
        private final PlainServerCallbackHandler jaasUsers;
        private final ScramCredentials scram;

        PlainWithScram(PlainServerCallbackHandler jaasUsers, ScramCredentials scram) {
            this.jaasUsers = jaasUsers;
            this.scram = scram;
        }

        @Override
        public void configure(Map<String, ?> configs, String mechanism, List<AppConfigurationEntry> entries) {
        }

        @Override
        public void handle(Callback[] callbacks) throws IOException, UnsupportedCallbackException {
            jaasUsers.handle(callbacks);
            String user = null;
            for (Callback c : callbacks) if (c instanceof NameCallback n) user = n.getDefaultName();
            for (Callback c : callbacks) {
                if (c instanceof PlainAuthenticateCallback p && !p.authenticated() && user != null) {
                    p.authenticated(checkPassword(scram, user, p.password()));
                }
            }
        }

        @Override
        public void close() {
        }
    }
}
