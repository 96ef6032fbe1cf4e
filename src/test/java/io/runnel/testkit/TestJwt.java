package io.runnel.testkit;

import io.vertx.core.json.JsonArray;
import io.vertx.core.json.JsonObject;
import java.math.BigInteger;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.KeyPair;
import java.security.KeyPairGenerator;
import java.security.Signature;
import java.security.interfaces.RSAPublicKey;
import java.util.Arrays;
import java.util.Base64;

/**
 * An identity provider for tests: an RSA key whose public half is written as a JWKS file (what
 * {@code sasl.oauthbearer.jwks.endpoint.url} points at), and RS256 JWTs signed with it (issuer
 * {@code https://issuer.test}).
 */
public final class TestJwt {
    public static final String ISSUER = "https://issuer.test";
    private final KeyPair key;

    private TestJwt(KeyPair key) {
        this.key = key;
    }

    public static TestJwt create() throws Exception {
        KeyPairGenerator g = KeyPairGenerator.getInstance("RSA");
        g.initialize(2048);
        return new TestJwt(g.generateKeyPair());
    }

    /** Writes this key's JWKS ({@code kid} k1) to {@code file} and returns it. */
    public Path writeJwks(Path file) throws Exception {
        RSAPublicKey pub = (RSAPublicKey) key.getPublic();
        JsonObject jwk = new JsonObject().put("kty", "RSA").put("kid", "k1").put("use", "sig").put("alg", "RS256")
                .put("n", b64(unsigned(pub.getModulus()))).put("e", b64(unsigned(pub.getPublicExponent())));
        Files.writeString(file, new JsonObject().put("keys", new JsonArray().add(jwk)).encode());
        return file;
    }

    /** A compact RS256 JWT for {@code subject} and {@code audience}, expiring {@code expSeconds} from now (negative: expired). */
    public String token(String subject, String audience, long expSeconds) throws Exception {
        long now = System.currentTimeMillis() / 1000;
        String header = b64(new JsonObject().put("alg", "RS256").put("kid", "k1").put("typ", "JWT").encode().getBytes(StandardCharsets.UTF_8));
        String payload = b64(new JsonObject().put("sub", subject).put("aud", audience).put("iss", ISSUER).put("iat", now)
                .put("exp", now + expSeconds).put("scope", "kafka").encode().getBytes(StandardCharsets.UTF_8));
        Signature s = Signature.getInstance("SHA256withRSA");
        s.initSign(key.getPrivate());
        s.update((header + "." + payload).getBytes(StandardCharsets.US_ASCII));
        return header + "." + payload + "." + b64(s.sign());
    }

    private static byte[] unsigned(BigInteger i) {
        byte[] b = i.toByteArray();
        return b[0] == 0 ? Arrays.copyOfRange(b, 1, b.length) : b;
    }

    private static String b64(byte[] b) {
        return Base64.getUrlEncoder().withoutPadding().encodeToString(b);
    }
}
