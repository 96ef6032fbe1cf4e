package io.runnel.bench;

import io.netty.buffer.ByteBufAllocator;
import io.netty.handler.ssl.OpenSsl;
import io.netty.handler.ssl.SslContext;
import io.netty.handler.ssl.SslContextBuilder;
import io.netty.handler.ssl.SslProvider;
import java.io.IOException;
import java.io.InputStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.GeneralSecurityException;
import java.security.KeyStore;
import java.util.Map;
import java.util.Set;
import javax.net.ssl.SSLEngine;
import javax.net.ssl.SSLParameters;
import javax.net.ssl.TrustManagerFactory;
import org.apache.kafka.common.config.SslConfigs;
import org.apache.kafka.common.config.types.Password;
import org.apache.kafka.common.security.auth.SslEngineFactory;

/**
 * A client-side {@link SslEngineFactory} (Kafka's {@code ssl.engine.factory.class}, KIP-519) that gives Kafka's tools
 * OpenSSL (BoringSSL through netty-tcnative) instead of the JDK's engine. {@code scripts/bench --tls} sets it for every
 * tool against every broker alike: on a two-core machine the JDK engine of ProducerPerformance took several times the
 * broker's CPU, so the TLS figures measured the tool; with OpenSSL in the tools they measure the brokers. Trust comes
 * from {@code ssl.truststore.*} (PKCS12 or JKS); client certificates are not supported (the benchmark does not use them).
 */
public final class OpenSslClientEngineFactory implements SslEngineFactory {
    private SslContext context;
    private KeyStore truststore;
    private String endpointIdentification;

    @Override
    public void configure(Map<String, ?> configs) {
        if (!OpenSsl.isAvailable()) throw new IllegalStateException("OpenSSL (netty-tcnative) is not available", OpenSsl.unavailabilityCause());
        try {
            truststore = KeyStore.getInstance(String.valueOf(configs.get(SslConfigs.SSL_TRUSTSTORE_TYPE_CONFIG)));
            Object password = configs.get(SslConfigs.SSL_TRUSTSTORE_PASSWORD_CONFIG);
            char[] chars = password == null ? null : (password instanceof Password p ? p.value() : password.toString()).toCharArray();
            try (InputStream in = Files.newInputStream(Path.of(String.valueOf(configs.get(SslConfigs.SSL_TRUSTSTORE_LOCATION_CONFIG))))) {
                truststore.load(in, chars);
            }
            TrustManagerFactory trust = TrustManagerFactory.getInstance(TrustManagerFactory.getDefaultAlgorithm());
            trust.init(truststore);
            context = SslContextBuilder.forClient().sslProvider(SslProvider.OPENSSL).trustManager(trust).protocols("TLSv1.3", "TLSv1.2").build();
        } catch (IOException | GeneralSecurityException e) {
            throw new IllegalArgumentException("Cannot build the OpenSSL client context: " + e, e);
        }
        Object id = configs.get(SslConfigs.SSL_ENDPOINT_IDENTIFICATION_ALGORITHM_CONFIG);
        endpointIdentification = id == null ? "https" : id.toString();
    }

    @Override
    public SSLEngine createClientSslEngine(String peerHost, int peerPort, String endpointIdentification) {
        SSLEngine engine = context.newEngine(ByteBufAllocator.DEFAULT, peerHost, peerPort);
        String algorithm = endpointIdentification != null ? endpointIdentification : this.endpointIdentification;
        if (algorithm != null && !algorithm.isEmpty()) {
            SSLParameters params = engine.getSSLParameters();
            params.setEndpointIdentificationAlgorithm(algorithm);
            engine.setSSLParameters(params);
        }
        return engine;
    }

    @Override
    public SSLEngine createServerSslEngine(String peerHost, int peerPort) {
        throw new UnsupportedOperationException("client side only");
    }

    @Override
    public boolean shouldBeRebuilt(Map<String, Object> nextConfigs) {
        return false;
    }

    @Override
    public Set<String> reconfigurableConfigs() {
        return Set.of();
    }

    @Override
    public KeyStore keystore() {
        return null;
    }

    @Override
    public KeyStore truststore() {
        return truststore;
    }

    @Override
    public void close() {
    }
}
