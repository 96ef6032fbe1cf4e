package io.runnel.security;

import io.runnel.config.BrokerConfig;
import io.runnel.config.ConfigException;
import io.runnel.config.SecurityKeys;
import java.util.Map;
import javax.security.auth.callback.Callback;
import javax.security.auth.callback.NameCallback;
import javax.security.auth.callback.PasswordCallback;
import javax.security.auth.callback.UnsupportedCallbackException;
import javax.security.sasl.Sasl;
import javax.security.sasl.SaslClient;
import javax.security.sasl.SaslException;
import org.apache.kafka.common.security.auth.SecurityProtocol;
import org.apache.kafka.common.security.scram.ScramExtensionsCallback;
import org.apache.kafka.common.security.scram.internals.ScramMechanism;
import org.apache.kafka.common.security.scram.internals.ScramSaslClient;

/**
 * How this broker connects to other brokers (replication, transaction markers and verification): their listener
 * named by {@code inter.broker.listener.name}, with that listener's TLS settings (its trust store checks the other
 * broker, its key store answers a mutual-TLS request) and, on a SASL listener, the mechanism
 * {@code sasl.mechanism.inter.broker.protocol} with the {@code username} and {@code password} of that mechanism's
 * JAAS entry, as Kafka brokers do.
 *
 * @param tls        null on PLAINTEXT and SASL_PLAINTEXT
 * @param mechanism  null on PLAINTEXT and SSL
 */
public record InterBrokerLink(String listener, SecurityProtocol protocol, TlsSettings tls, String mechanism, String username, String password) {

    /** A plaintext link over the first listener, for brokers without security. */
    public static InterBrokerLink plaintext(String listener) {
        return new InterBrokerLink(listener, SecurityProtocol.PLAINTEXT, null, null, null, null);
    }

    static InterBrokerLink of(BrokerConfig config, BrokerSecurity.ListenerSecurity l) {
        String mechanism = null;
        String username = null;
        String password = null;
        if (l.sasl() != null) {
            mechanism = config.get(SecurityKeys.SASL_MECHANISM_INTER_BROKER_PROTOCOL);
            Map<String, ?> options = SaslMechanisms.jaasOptions(config, l.name(), mechanism);
            username = (String) options.get("username");
            password = (String) options.get("password");
            if (username == null || password == null) {
                throw new ConfigException("The inter-broker listener " + l.name() + " uses SASL " + mechanism + ", so listener.name."
                        + l.name().toLowerCase(java.util.Locale.ROOT) + "." + mechanism.toLowerCase(java.util.Locale.ROOT)
                        + ".sasl.jaas.config must give the username and password this broker authenticates with.");
            }
        }
        return new InterBrokerLink(l.name(), l.protocol(), l.tls(), mechanism, username, password);
    }

    /** A SASL client for one authentication to {@code host}: the JDK's PLAIN, kafka-clients' SCRAM. */
    public SaslClient newSaslClient(String host) throws SaslException {
        javax.security.auth.callback.CallbackHandler credentials = callbacks -> {
            for (Callback c : callbacks) {
                if (c instanceof NameCallback n) n.setName(username);
                else if (c instanceof PasswordCallback p) p.setPassword(password.toCharArray());
                else if (c instanceof ScramExtensionsCallback e) e.extensions(Map.of());
                else throw new UnsupportedCallbackException(c);
            }
        };
        if (mechanism.equals("PLAIN")) {
            return Sasl.createSaslClient(new String[]{"PLAIN"}, null, "kafka", host, Map.of(), credentials);
        }
        try {
            return new ScramSaslClient(ScramMechanism.forMechanismName(mechanism), credentials);
        } catch (java.security.NoSuchAlgorithmException e) {
            throw new SaslException(mechanism + " unavailable", e);
        }
    }

    @Override
    public String toString() {
        return "InterBrokerLink[" + listener + ", " + protocol + (mechanism == null ? "" : ", " + mechanism + " as " + username) + "]";
    }
}
