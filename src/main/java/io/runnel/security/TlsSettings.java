package io.runnel.security;

import io.runnel.config.BrokerConfig;
import io.runnel.config.ConfigKey;
import io.runnel.config.ConfigException;
import io.runnel.config.SecurityKeys;
import io.vertx.core.http.ClientAuth;
import io.vertx.core.net.ClientSSLOptions;
import io.vertx.core.net.JdkSSLEngineOptions;
import io.vertx.core.net.KeyCertOptions;
import io.vertx.core.net.NetClientOptions;
import io.vertx.core.net.NetServerOptions;
import io.vertx.core.net.OpenSSLEngineOptions;
import io.vertx.core.net.SSLEngineOptions;
import io.vertx.core.net.ServerSSLOptions;
import io.vertx.core.net.TrustOptions;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.KeyStore;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import javax.net.ssl.KeyManagerFactory;
import javax.net.ssl.TrustManagerFactory;
import org.apache.kafka.common.config.ConfigDef;
import org.apache.kafka.common.config.types.Password;
import org.apache.kafka.common.security.ssl.DefaultSslEngineFactory;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The TLS settings of one listener (its {@code ssl.*} keys, with {@code listener.name.<listener>.} overrides), turned
 * into Vert.x SSL options. The key and trust stores are loaded by kafka-clients' {@link DefaultSslEngineFactory}, so
 * that JKS, PKCS12 and PEM (files or inline, encrypted PKCS#8 keys included) mean exactly what they mean to Kafka;
 * Runnel hands the resulting key and trust managers to Netty, whose OpenSSL engine (BoringSSL from
 * netty-tcnative) serves the connections unless {@code ssl.engine=jdk} or the native library cannot load.
 *
 * <p>Not thread-confined: built on a worker thread (it reads files), then only read.
 */
public final class TlsSettings {
    private static final Logger LOG = LoggerFactory.getLogger(TlsSettings.class);

    private final String listener;
    private final ServerSSLOptions serverOptions;
    private final ClientSSLOptions clientOptions;
    private final boolean openSsl;
    private final Map<Path, Long> watched;

    private TlsSettings(String listener, ServerSSLOptions serverOptions, ClientSSLOptions clientOptions, boolean openSsl, Map<Path, Long> watched) {
        this.listener = listener;
        this.serverOptions = serverOptions;
        this.clientOptions = clientOptions;
        this.openSsl = openSsl;
        this.watched = watched;
    }

    /**
     * Loads the stores of {@code listener} and builds its options. Blocks (file reads). Throws {@link ConfigException}
     * with the reason when a store cannot be read or does not hold what it must.
     */
    public static TlsSettings load(BrokerConfig config, String listener) {
        return load(listener, new Lookup() {
            @Override
            public <T> T get(ConfigKey<T> key) {
                return config.get(key);
            }
        });
    }

    /** The HTTP endpoint's settings ({@code http.ssl.*}), or null when {@code http.ssl.keystore.location} is not set. */
    public static TlsSettings loadHttp(BrokerConfig config) {
        if (config.forHttp(SecurityKeys.SSL_KEYSTORE_LOCATION) == null && config.forHttp(SecurityKeys.SSL_KEYSTORE_KEY) == null) return null;
        return load("HTTP", new Lookup() {
            @Override
            public <T> T get(ConfigKey<T> key) {
                return config.forHttp(key);
            }
        });
    }

    /** Where a setting comes from: a listener's keys, or the HTTP endpoint's. */
    private interface Lookup {
        <T> T get(ConfigKey<T> key);
    }

    private static TlsSettings load(String listener, Lookup config) {
        Map<String, Object> props = new HashMap<>();
        putIfSet(props, config, SecurityKeys.SSL_KEYSTORE_TYPE);
        putIfSet(props, config, SecurityKeys.SSL_KEYSTORE_LOCATION);
        putIfSet(props, config, SecurityKeys.SSL_KEYSTORE_PASSWORD);
        putIfSet(props, config, SecurityKeys.SSL_KEY_PASSWORD);
        putIfSet(props, config, SecurityKeys.SSL_KEYSTORE_KEY);
        putIfSet(props, config, SecurityKeys.SSL_KEYSTORE_CERTIFICATE_CHAIN);
        putIfSet(props, config, SecurityKeys.SSL_TRUSTSTORE_TYPE);
        putIfSet(props, config, SecurityKeys.SSL_TRUSTSTORE_LOCATION);
        putIfSet(props, config, SecurityKeys.SSL_TRUSTSTORE_PASSWORD);
        putIfSet(props, config, SecurityKeys.SSL_TRUSTSTORE_CERTIFICATES);
        props.put(SecurityKeys.SSL_ENABLED_PROTOCOLS.name(), String.join(",", config.get(SecurityKeys.SSL_ENABLED_PROTOCOLS)));
        List<String> ciphers = config.get(SecurityKeys.SSL_CIPHER_SUITES);
        if (ciphers != null) props.put(SecurityKeys.SSL_CIPHER_SUITES.name(), String.join(",", ciphers));
        KeyStore keystore;
        KeyStore truststore;
        try (DefaultSslEngineFactory factory = new DefaultSslEngineFactory()) {
            factory.configure(new ConfigDef().withClientSslSupport().parse(props));
            keystore = factory.keystore();
            truststore = factory.truststore();
        } catch (Exception e) {
            throw new ConfigException("TLS settings of listener " + listener + " cannot be used: " + rootMessage(e));
        }
        KeyManagerFactory kmf = null;
        TrustManagerFactory tmf;
        try {
            if (keystore != null) {
                kmf = KeyManagerFactory.getInstance(KeyManagerFactory.getDefaultAlgorithm());
                kmf.init(keystore, keyPassword(config));
            }
            tmf = TrustManagerFactory.getInstance(TrustManagerFactory.getDefaultAlgorithm());
            tmf.init(truststore); // null: the JDK's default authorities
        } catch (Exception e) {
            throw new ConfigException("TLS settings of listener " + listener + " cannot be used: " + rootMessage(e));
        }
        boolean openSsl = config.get(SecurityKeys.SSL_ENGINE).equals("openssl") && OpenSSLEngineOptions.isAvailable();
        LinkedHashSet<String> protocols = new LinkedHashSet<>(config.get(SecurityKeys.SSL_ENABLED_PROTOCOLS));
        ServerSSLOptions server = new ServerSSLOptions().setClientAuth(clientAuth(config.get(SecurityKeys.SSL_CLIENT_AUTH)))
                .setEnabledSecureTransportProtocols(protocols).setTrustOptions(TrustOptions.wrap(tmf));
        ClientSSLOptions client = new ClientSSLOptions().setEnabledSecureTransportProtocols(protocols).setTrustOptions(TrustOptions.wrap(tmf));
        if (kmf != null) {
            server.setKeyCertOptions(KeyCertOptions.wrap(kmf));
            client.setKeyCertOptions(KeyCertOptions.wrap(kmf));
        }
        if (ciphers != null) {
            ciphers.forEach(server::addEnabledCipherSuite);
            ciphers.forEach(client::addEnabledCipherSuite);
        }
        String verification = config.get(SecurityKeys.SSL_ENDPOINT_IDENTIFICATION_ALGORITHM);
        client.setHostnameVerificationAlgorithm(verification.isBlank() ? "" : verification.toUpperCase(java.util.Locale.ROOT));
        Map<Path, Long> watched = new HashMap<>();
        for (String location : new String[]{config.get(SecurityKeys.SSL_KEYSTORE_LOCATION),
                config.get(SecurityKeys.SSL_TRUSTSTORE_LOCATION)}) {
            if (location != null) watched.put(Path.of(location), modified(Path.of(location)));
        }
        return new TlsSettings(listener, server, client, openSsl, watched);
    }

    /** Logs which engine serves the listener, once at start. */
    public void logEngine(String configuredEngine) {
        if (openSsl) {
            LOG.info("TLS on listener {}: OpenSSL engine ({})", listener, io.netty.handler.ssl.OpenSsl.versionString());
        } else if (configuredEngine.equals("openssl")) {
            LOG.warn("TLS on listener {}: the JDK's engine, because OpenSSL (netty-tcnative) cannot load here: {}", listener,
                    String.valueOf(io.netty.handler.ssl.OpenSsl.unavailabilityCause()));
        } else {
            LOG.info("TLS on listener {}: the JDK's engine (ssl.engine=jdk)", listener);
        }
    }

    /** True when a watched store file changed since these settings were loaded. Blocks (file metadata). */
    public boolean storesChanged() {
        for (Map.Entry<Path, Long> e : watched.entrySet()) {
            if (!Objects.equals(modified(e.getKey()), e.getValue())) return true;
        }
        return false;
    }

    public String listener() {
        return listener;
    }

    public ServerSSLOptions serverOptions() {
        return serverOptions.copy();
    }

    /** Turns TLS on in a server's options (a Kafka listener's NetServer, the HTTP server) with these settings. */
    public void applyTo(NetServerOptions options) {
        ServerSSLOptions ssl = serverOptions;
        options.setSsl(true).setSslEngineOptions(engineOptions()).setClientAuth(ssl.getClientAuth())
                .setKeyCertOptions(ssl.getKeyCertOptions()).setTrustOptions(ssl.getTrustOptions())
                .setEnabledSecureTransportProtocols(ssl.getEnabledSecureTransportProtocols());
        ssl.getEnabledCipherSuites().forEach(options::addEnabledCipherSuite);
    }

    /** Turns TLS on in a client's options (this broker connecting to another one's listener). */
    public void applyTo(NetClientOptions options) {
        ClientSSLOptions ssl = clientOptions;
        options.setSsl(true).setSslEngineOptions(engineOptions()).setHostnameVerificationAlgorithm(ssl.getHostnameVerificationAlgorithm())
                .setTrustOptions(ssl.getTrustOptions()).setKeyCertOptions(ssl.getKeyCertOptions())
                .setEnabledSecureTransportProtocols(ssl.getEnabledSecureTransportProtocols());
        ssl.getEnabledCipherSuites().forEach(options::addEnabledCipherSuite);
    }

    public SSLEngineOptions engineOptions() {
        return openSsl ? new OpenSSLEngineOptions() : new JdkSSLEngineOptions();
    }

    public boolean openSsl() {
        return openSsl;
    }

    private static char[] keyPassword(Lookup config) {
        Password key = config.get(SecurityKeys.SSL_KEY_PASSWORD);
        if (key != null) return key.value().toCharArray();
        if (config.get(SecurityKeys.SSL_KEYSTORE_TYPE).equals("PEM")) return null; // as Kafka's PemStore
        Password store = config.get(SecurityKeys.SSL_KEYSTORE_PASSWORD);
        return store == null ? null : store.value().toCharArray();
    }

    private static ClientAuth clientAuth(String value) {
        return switch (value) {
            case "required" -> ClientAuth.REQUIRED;
            case "requested" -> ClientAuth.REQUEST;
            default -> ClientAuth.NONE;
        };
    }

    private static void putIfSet(Map<String, Object> props, Lookup config, ConfigKey<?> key) {
        Object v = config.get(key);
        if (v instanceof Password p) props.put(key.name(), p.value());
        else if (v != null) props.put(key.name(), v.toString());
    }

    private static Long modified(Path p) {
        try {
            return Files.getLastModifiedTime(p).toMillis() ^ Files.size(p);
        } catch (Exception e) {
            return null;
        }
    }

    private static String rootMessage(Throwable e) {
        List<String> messages = new ArrayList<>();
        for (Throwable t = e; t != null; t = t.getCause()) {
            if (t.getMessage() != null && !messages.contains(t.getMessage())) messages.add(t.getMessage());
        }
        return String.join(": ", messages);
    }
}
