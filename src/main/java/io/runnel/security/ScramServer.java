package io.runnel.security;

import java.security.InvalidKeyException;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import javax.security.sasl.SaslException;
import javax.security.sasl.SaslServer;
import org.apache.kafka.common.errors.SaslAuthenticationException;
import org.apache.kafka.common.security.scram.ScramCredential;
import org.apache.kafka.common.security.scram.internals.ScramFormatter;
import org.apache.kafka.common.security.scram.internals.ScramMechanism;
import org.apache.kafka.common.security.scram.internals.ScramMessages.ClientFinalMessage;
import org.apache.kafka.common.security.scram.internals.ScramMessages.ClientFirstMessage;
import org.apache.kafka.common.security.scram.internals.ScramMessages.ServerFinalMessage;
import org.apache.kafka.common.security.scram.internals.ScramMessages.ServerFirstMessage;
import org.apache.kafka.common.security.scram.internals.ScramSaslServer;

/**
 * kafka-clients' SCRAM server ({@link ScramSaslServer}), which serves every exchange, plus one accommodation for
 * librdkafka before 2.6.1 (Debian's kcat, confluent-kafka-python and -go of that age; kcat issue 462,
 * confluentinc/librdkafka#4895).
 *
 * <p>Why those clients fail against Kafka 4: RFC 5802 says the nonce of the client-final-message repeats the nonce of
 * the server-first-message (the client's nonce followed by the server's). librdkafka before 2.6.1 sends its own nonce
 * once more in front of it. Kafka up to 3.9 checked only that the final nonce ends with the server-first nonce, so it
 * accepted this; Kafka 4 compares the two exactly and refuses such clients with "invalid credentials".
 *
 * <p>What Runnel accepts: the exact RFC nonce (handled by kafka-clients), or exactly the client nonce followed by the
 * server-first nonce, nothing else. The mechanism is not weakened: the server's fresh random nonce is still there
 * whole, so the final message is bound to this exchange and cannot be replayed, and the client proof is checked over
 * the message the client really sent (the AuthMessage includes it), with the same stored key and constant-time
 * comparison as kafka-clients, whose {@link ScramFormatter} computes the signatures.
 */
final class ScramServer implements SaslServer {
    private final ScramSaslServer standard;
    private final ScramFormatter formatter;
    private final ScramCredentials credentials;
    private final ScramMechanism mechanism;
    private ClientFirstMessage clientFirst;
    private ServerFirstMessage serverFirst;
    /** Set when the exchange completed through the librdkafka accommodation. */
    private String legacyAuthorizationId;

    ScramServer(ScramSaslServer standard, ScramMechanism mechanism, ScramCredentials credentials) throws NoSuchAlgorithmException {
        this.standard = standard;
        this.mechanism = mechanism;
        this.formatter = new ScramFormatter(mechanism);
        this.credentials = credentials;
    }

    @Override
    public byte[] evaluateResponse(byte[] response) throws SaslException {
        if (clientFirst == null) {
            ClientFirstMessage first = new ClientFirstMessage(response);
            byte[] out = standard.evaluateResponse(response);
            clientFirst = first;
            serverFirst = new ServerFirstMessage(out);
            return out;
        }
        ClientFinalMessage last = new ClientFinalMessage(response);
        if (!clientFirst.extensions().tokenAuthenticated() && last.nonce().equals(clientFirst.nonce() + serverFirst.nonce())) {
            return legacyFinal(last);
        }
        return standard.evaluateResponse(response);
    }

    /** The final step for a librdkafka-before-2.6.1 nonce, checked exactly as kafka-clients checks the standard one. */
    private byte[] legacyFinal(ClientFinalMessage last) throws SaslException {
        String user = ScramFormatter.username(clientFirst.saslName());
        ScramCredential c = credentials.get(user, mechanism);
        if (c == null) throw new SaslAuthenticationException("Authentication failed during authentication due to invalid credentials with SASL mechanism "
                + mechanism.mechanismName());
        try {
            byte[] clientSignature = formatter.clientSignature(c.storedKey(), clientFirst, serverFirst, last);
            byte[] computedStoredKey = formatter.storedKey(clientSignature, last.proof());
            if (!MessageDigest.isEqual(computedStoredKey, c.storedKey())) throw new SaslException("Invalid client credentials");
            byte[] serverSignature = formatter.serverSignature(c.serverKey(), clientFirst, serverFirst, last);
            legacyAuthorizationId = user;
            return new ServerFinalMessage(null, serverSignature).toBytes();
        } catch (InvalidKeyException e) {
            throw new SaslException("Authentication failed: Invalid client final message", e);
        }
    }

    @Override
    public String getMechanismName() {
        return standard.getMechanismName();
    }

    @Override
    public boolean isComplete() {
        return legacyAuthorizationId != null || standard.isComplete();
    }

    @Override
    public String getAuthorizationID() {
        return legacyAuthorizationId != null ? legacyAuthorizationId : standard.getAuthorizationID();
    }

    @Override
    public byte[] unwrap(byte[] incoming, int offset, int len) throws SaslException {
        return standard.unwrap(incoming, offset, len);
    }

    @Override
    public byte[] wrap(byte[] outgoing, int offset, int len) throws SaslException {
        return standard.wrap(outgoing, offset, len);
    }

    @Override
    public Object getNegotiatedProperty(String propName) {
        return legacyAuthorizationId != null ? null : standard.getNegotiatedProperty(propName);
    }

    @Override
    public void dispose() throws SaslException {
        standard.dispose();
    }
}
