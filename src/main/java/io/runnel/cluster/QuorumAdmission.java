package io.runnel.cluster;

import io.runnel.quorum.QuorumTransport;
import io.runnel.security.Authorizer;
import io.runnel.security.BrokerSecurity;
import io.runnel.security.InterBrokerLink;
import io.runnel.security.SaslMechanisms;
import io.vertx.core.Future;
import io.vertx.core.Vertx;
import io.vertx.core.net.NetSocket;
import java.nio.charset.StandardCharsets;
import javax.net.ssl.SSLSession;
import javax.security.sasl.SaslException;
import javax.security.sasl.SaslServer;
import org.apache.kafka.common.acl.AclOperation;
import org.apache.kafka.common.errors.ClusterAuthorizationException;
import org.apache.kafka.common.errors.SaslAuthenticationException;
import org.apache.kafka.common.resource.ResourceType;
import org.apache.kafka.common.security.auth.KafkaPrincipal;

/**
 * Who may talk to this broker's metadata quorum member: another broker, decided as Kafka decides for inter-broker
 * requests. The connection authenticates as it would on the inter-broker listener: with SASL, the hello's user and
 * password, checked by the listener's PLAIN server (its JAAS users, then the SCRAM credentials) or against the SCRAM
 * credentials; without SASL, the TLS client certificate's principal (ANONYMOUS without one). The principal then needs
 * CLUSTER_ACTION on the cluster (with no authorizer configured, everyone has it). Failures are counted and audited
 * as the Kafka listeners' are. Checks run on a worker (SCRAM hashes thousands of rounds).
 */
final class QuorumAdmission implements QuorumTransport.Admission {
    private static final String ENDPOINT = "quorum";

    private final Vertx vertx;
    private final BrokerSecurity security;
    private final InterBrokerLink link;

    QuorumAdmission(Vertx vertx, BrokerSecurity security, InterBrokerLink link) {
        this.vertx = vertx;
        this.security = security;
        this.link = link;
    }

    @Override
    public Future<Void> admit(QuorumTransport.Hello hello, NetSocket socket) {
        String host = socket.remoteAddress().host();
        SSLSession ssl = socket.isSsl() ? socket.sslSession() : null;
        return vertx.executeBlocking(() -> {
            KafkaPrincipal principal = link.mechanism() == null ? certificatePrincipal(ssl, host) : authenticate(hello, host);
            if (!security.authorizer().authorize(principal, host, AclOperation.CLUSTER_ACTION, ResourceType.CLUSTER, Authorizer.CLUSTER)) {
                throw new ClusterAuthorizationException(principal + " may not take part in the metadata quorum (CLUSTER_ACTION on the cluster)");
            }
            return null;
        }, false);
    }

    /** The TLS client certificate's principal as the inter-broker listener maps it; ANONYMOUS without one. */
    private KafkaPrincipal certificatePrincipal(SSLSession ssl, String host) {
        return security.newSession(link.listener(), host, ssl).principal();
    }

    private KafkaPrincipal authenticate(QuorumTransport.Hello hello, String host) {
        String mechanism = link.mechanism();
        String user = hello.username();
        if (user == null || hello.password() == null) {
            security.authenticationFailed(ENDPOINT, mechanism, host, null, "no credentials in the hello");
            throw new SaslAuthenticationException("The metadata quorum needs the inter-broker user and password");
        }
        boolean ok;
        String principalName = user;
        if (mechanism.equals("PLAIN")) {
            try {
                SaslServer server = security.listener(link.listener()).sasl().newServer("PLAIN");
                server.evaluateResponse(("\0" + user + "\0" + hello.password()).getBytes(StandardCharsets.UTF_8));
                ok = server.isComplete();
                if (ok) principalName = server.getAuthorizationID();
            } catch (SaslException e) {
                ok = false;
            }
        } else if (mechanism.startsWith("SCRAM-")) {
            ok = SaslMechanisms.checkPassword(security.scram(), user, hello.password().toCharArray());
        } else {
            throw new SaslAuthenticationException("The metadata quorum authenticates brokers with PLAIN or SCRAM, not " + mechanism);
        }
        if (!ok) {
            security.authenticationFailed(ENDPOINT, mechanism, host, user, "invalid credentials");
            throw new SaslAuthenticationException("Authentication of " + user + " to the metadata quorum failed");
        }
        security.authenticationSucceeded(ENDPOINT, mechanism);
        return new KafkaPrincipal(KafkaPrincipal.USER_TYPE, principalName);
    }
}
