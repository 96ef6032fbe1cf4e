package io.runnel.testkit;

import java.io.IOException;
import java.io.InputStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.Key;
import java.security.KeyStore;
import java.security.cert.Certificate;
import java.util.ArrayList;
import java.util.Base64;
import java.util.List;
import java.util.concurrent.TimeUnit;

/**
 * A small certificate authority for tests, made with the JDK's {@code keytool} exactly as docs/security.md tells
 * users to: a CA, and certificates it signs for the broker (host names localhost and 127.0.0.1) and for clients,
 * in PKCS12 key stores with the password {@link #PASSWORD}, plus a trust store holding the CA. Each instance lives
 * in its own directory; {@link #close} deletes it.
 */
public final class TestPki implements AutoCloseable {
    public static final String PASSWORD = "test-password";

    private final Path dir;

    private TestPki(Path dir) {
        this.dir = dir;
    }

    private static TestPki shared;

    /**
     * One CA with the broker's key store ({@link #broker}) for every test of this JVM: made once (keytool is slow),
     * deleted when the JVM exits.
     */
    public static synchronized TestPki shared() {
        if (shared == null) {
            try {
                TestPki pki = create();
                pki.broker();
                Runtime.getRuntime().addShutdownHook(new Thread(() -> {
                    try {
                        pki.close();
                    } catch (IOException e) {
                        // the JVM is going away; a temporary directory left behind is all that is lost
                    }
                }));
                shared = pki;
            } catch (Exception e) {
                throw new IllegalStateException("Cannot make the test certificates with keytool", e);
            }
        }
        return shared;
    }

    /** A new CA in a new temporary directory. */
    public static TestPki create() throws Exception {
        Path dir = Files.createTempDirectory("runnel-pki");
        TestPki pki = new TestPki(dir);
        pki.keytool("-genkeypair", "-keystore", "ca.p12", "-alias", "ca", "-dname", "CN=Runnel Test CA", "-ext", "bc:c");
        pki.keytool("-exportcert", "-keystore", "ca.p12", "-alias", "ca", "-rfc", "-file", "ca.crt");
        pki.keytool("-importcert", "-keystore", "truststore.p12", "-alias", "ca", "-file", "ca.crt", "-noprompt");
        return pki;
    }

    /** A key store {@code <name>.p12} holding a key and a certificate for {@code dname} that the CA signed. */
    public Path issue(String name, String dname) throws Exception {
        String store = name + ".p12";
        Files.deleteIfExists(dir.resolve(store));
        keytool("-genkeypair", "-keystore", store, "-alias", name, "-dname", dname);
        keytool("-certreq", "-keystore", store, "-alias", name, "-file", name + ".csr");
        keytool("-gencert", "-keystore", "ca.p12", "-alias", "ca", "-infile", name + ".csr", "-outfile", name + ".crt",
                "-ext", "SAN=dns:localhost,ip:127.0.0.1");
        keytool("-importcert", "-keystore", store, "-alias", "ca", "-file", "ca.crt", "-noprompt");
        keytool("-importcert", "-keystore", store, "-alias", name, "-file", name + ".crt");
        return dir.resolve(store);
    }

    /** The broker's key store (CN=localhost), issued on first use. */
    public Path broker() throws Exception {
        Path p = dir.resolve("broker.p12");
        return Files.exists(p) ? p : issue("broker", "CN=localhost,OU=brokers,O=Runnel");
    }

    public Path truststore() {
        return dir.resolve("truststore.p12");
    }

    public Path caPem() {
        return dir.resolve("ca.crt");
    }

    public Path dir() {
        return dir;
    }

    /** The same key store in JKS format ({@code <name>.jks}, password {@link #PASSWORD}). */
    public Path toJks(Path p12, String name) throws Exception {
        Path jks = dir.resolve(name + ".jks");
        Files.deleteIfExists(jks);
        List<String> cmd = List.of(Path.of(System.getProperty("java.home"), "bin", "keytool").toString(), "-importkeystore",
                "-srckeystore", p12.toString(), "-srcstoretype", "PKCS12", "-srcstorepass", PASSWORD,
                "-destkeystore", jks.toString(), "-deststoretype", "JKS", "-deststorepass", PASSWORD, "-noprompt");
        Process p = new ProcessBuilder(cmd).redirectErrorStream(true).start();
        String output = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
        if (!p.waitFor(60, TimeUnit.SECONDS) || p.exitValue() != 0) throw new IOException("keytool -importkeystore failed: " + output);
        return jks;
    }

    /** The key and certificate chain of a PKCS12 store written as one unencrypted PEM file (Kafka's PEM key store). */
    public Path toPem(Path p12, String alias) throws Exception {
        KeyStore ks = KeyStore.getInstance("PKCS12");
        try (InputStream in = Files.newInputStream(p12)) {
            ks.load(in, PASSWORD.toCharArray());
        }
        Key key = ks.getKey(alias, PASSWORD.toCharArray());
        StringBuilder pem = new StringBuilder(pem("PRIVATE KEY", key.getEncoded()));
        for (Certificate c : ks.getCertificateChain(alias)) pem.append(pem("CERTIFICATE", c.getEncoded()));
        Path out = dir.resolve(alias + ".pem");
        Files.writeString(out, pem, StandardCharsets.US_ASCII);
        return out;
    }

    private static String pem(String type, byte[] der) {
        return "-----BEGIN " + type + "-----\n" + Base64.getMimeEncoder(64, new byte[]{'\n'}).encodeToString(der) + "\n-----END " + type + "-----\n";
    }

    private void keytool(String... args) throws Exception {
        List<String> cmd = new ArrayList<>(List.of(Path.of(System.getProperty("java.home"), "bin", "keytool").toString()));
        cmd.addAll(List.of(args));
        if (List.of(args).contains("-genkeypair")) cmd.addAll(List.of("-keyalg", "EC", "-groupname", "secp256r1", "-validity", "2"));
        if (List.of(args).contains("-gencert")) cmd.addAll(List.of("-validity", "2"));
        cmd.addAll(List.of("-storetype", "PKCS12", "-storepass", PASSWORD));
        Process p = new ProcessBuilder(cmd).directory(dir.toFile()).redirectErrorStream(true).start();
        String output = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
        if (!p.waitFor(60, TimeUnit.SECONDS) || p.exitValue() != 0) {
            p.destroyForcibly();
            throw new IOException("keytool " + String.join(" ", args) + " failed: " + output);
        }
    }

    @Override
    public void close() throws IOException {
        try (var files = Files.walk(dir)) {
            for (Path p : files.sorted(java.util.Comparator.reverseOrder()).toList()) Files.deleteIfExists(p);
        }
    }
}
