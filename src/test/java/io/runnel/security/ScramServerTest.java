package io.runnel.security;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.nio.charset.StandardCharsets;
import java.util.List;
import java.util.Map;
import javax.security.sasl.SaslException;
import org.apache.kafka.common.security.scram.internals.ScramFormatter;
import org.apache.kafka.common.security.scram.internals.ScramMechanism;
import org.apache.kafka.common.security.scram.internals.ScramMessages.ClientFinalMessage;
import org.apache.kafka.common.security.scram.internals.ScramMessages.ClientFirstMessage;
import org.apache.kafka.common.security.scram.internals.ScramMessages.ServerFinalMessage;
import org.apache.kafka.common.security.scram.internals.ScramMessages.ServerFirstMessage;
import org.apache.kafka.common.security.scram.internals.ScramSaslServer;
import org.apache.kafka.common.security.scram.internals.ScramServerCallbackHandler;
import org.apache.kafka.common.security.token.delegation.internals.DelegationTokenCache;
import org.junit.jupiter.api.Test;

/**
 * The SCRAM exchange as librdkafka before 2.6.1 makes it (its own nonce sent again in front of the server-first
 * nonce) is accepted with the right password only, and no other nonce is.
 */
class ScramServerTest {
    private static final ScramMechanism M = ScramMechanism.SCRAM_SHA_256;

    private final ScramCredentials store = ScramCredentials.inMemory();
    private final ScramFormatter formatter;

    ScramServerTest() throws Exception {
        formatter = new ScramFormatter(M);
        store.update(Map.of("alice", Map.of(M, formatter.generateCredential("alice-secret", 4096))));
    }

    private ScramServer server() throws Exception {
        ScramServerCallbackHandler handler = new ScramServerCallbackHandler(store.cache(M), new DelegationTokenCache(ScramMechanism.mechanismNames()));
        handler.configure(Map.of(), M.mechanismName(), List.of());
        return new ScramServer(new ScramSaslServer(M, Map.of(), handler), M, store);
    }

    /** Runs an exchange whose final nonce is {@code finalNonce(clientNonce, serverFirstNonce)}; returns the server's last answer. */
    private byte[] exchange(ScramServer server, String password, java.util.function.BinaryOperator<String> finalNonce) throws Exception {
        String clientNonce = formatter.secureRandomString();
        ClientFirstMessage first = new ClientFirstMessage("alice", clientNonce, Map.of());
        ServerFirstMessage serverFirst = new ServerFirstMessage(server.evaluateResponse(first.toBytes()));
        ClientFinalMessage last = new ClientFinalMessage("n,,".getBytes(StandardCharsets.UTF_8), finalNonce.apply(clientNonce, serverFirst.nonce()));
        byte[] salted = formatter.saltedPassword(password, serverFirst.salt(), serverFirst.iterations());
        last.proof(formatter.clientProof(salted, first, serverFirst, last));
        byte[] answer = server.evaluateResponse(last.toBytes());
        // The server proves it knows the credential too: its signature is over the message the client sent.
        assertThat(new ServerFinalMessage(answer).serverSignature())
                .isEqualTo(formatter.serverSignature(formatter.serverKey(salted), first, serverFirst, last));
        return answer;
    }

    @Test
    void theRfcNonceAndLibrdkafkasOlderNonceAreBothAccepted() throws Exception {
        ScramServer rfc = server();
        exchange(rfc, "alice-secret", (client, serverFirst) -> serverFirst);
        assertThat(rfc.isComplete()).isTrue();
        assertThat(rfc.getAuthorizationID()).isEqualTo("alice");

        ScramServer legacy = server();
        exchange(legacy, "alice-secret", (client, serverFirst) -> client + serverFirst);
        assertThat(legacy.isComplete()).isTrue();
        assertThat(legacy.getAuthorizationID()).isEqualTo("alice");
    }

    @Test
    void aWrongPasswordOrAnyOtherNonceIsRefused() {
        assertThatThrownBy(() -> exchange(server(), "wrong", (client, serverFirst) -> client + serverFirst)).isInstanceOf(SaslException.class);
        assertThatThrownBy(() -> exchange(server(), "alice-secret", (client, serverFirst) -> serverFirst + "x")).isInstanceOf(SaslException.class);
        assertThatThrownBy(() -> exchange(server(), "alice-secret", (client, serverFirst) -> "x" + serverFirst)).isInstanceOf(SaslException.class);
        assertThatThrownBy(() -> exchange(server(), "alice-secret", (client, serverFirst) -> client)).isInstanceOf(SaslException.class);
    }
}
