package io.runnel.kafka;

import io.runnel.cluster.ClusterView;
import io.runnel.config.BrokerConfig;
import io.runnel.security.Authorizer;
import io.runnel.security.BrokerSecurity;
import io.runnel.security.Session;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.List;
import org.apache.kafka.common.acl.AclOperation;
import org.apache.kafka.common.requests.RequestHeader;
import org.apache.kafka.common.resource.ResourceType;

/**
 * One request's surroundings: its header, the broker, the endpoint of the listener it came in on (the address
 * Metadata advertises to this client), its connection's order of Produce requests ({@link ProduceOrder}) and its
 * connection's {@link Session} (the principal, and where SASL authentication stands), and the connection's id on this broker
 * (share sessions end with their connection).
 */
public record RequestContext(RequestHeader header, BrokerInfo broker, Endpoint endpoint, KafkaApis apis, String clientHost, ProduceOrder produceOrder,
                             Session session, String connectionId) {
    /** The broker's security (credentials, audit log). */
    public BrokerSecurity security() {
        return broker.security();
    }

    /** Whether this connection's principal may do {@code op} on the named resource (true without an authorizer). */
    public boolean authorize(AclOperation op, ResourceType type, String name) {
        return broker.security().authorizer().authorize(session.principal(), clientHost, op, type, name);
    }

    /** As {@link #authorize}, without counting or logging a denial: for filtering (Metadata of all topics, ListGroups). */
    public boolean authorizeQuietly(AclOperation op, ResourceType type, String name) {
        return broker.security().authorizer().authorize(session.principal(), clientHost, op, type, name, true);
    }

    public boolean authorizeCluster(AclOperation op) {
        return authorize(op, ResourceType.CLUSTER, Authorizer.CLUSTER);
    }

    public boolean authorizeTopic(AclOperation op, String topic) {
        return authorize(op, ResourceType.TOPIC, topic);
    }

    public boolean authorizeGroup(AclOperation op, String group) {
        return authorize(op, ResourceType.GROUP, group);
    }

    public boolean authorizeTransactionalId(AclOperation op, String transactionalId) {
        return authorize(op, ResourceType.TRANSACTIONAL_ID, transactionalId);
    }

    public short apiVersion() {
        return header.apiVersion();
    }

    /** A broker as a client of this listener reaches it. */
    public record NodeEndpoint(int nodeId, String host, int port, String rack) {
    }

    /**
     * Every live, unfenced broker with a listener of this request's listener name, by node id: this broker as the
     * client reached it, the others at their advertised addresses.
     */
    public List<NodeEndpoint> brokers() {
        List<NodeEndpoint> out = new ArrayList<>();
        for (ClusterView.BrokerNode b : broker.cluster().brokers()) {
            if (b.nodeId() == broker.nodeId() || broker.cluster().fenced(b.nodeId())) continue;
            String[] hp = b.hostPort(endpoint.listenerName());
            if (hp != null) out.add(new NodeEndpoint(b.nodeId(), hp[0], Integer.parseInt(hp[1]), b.rack()));
        }
        out.add(new NodeEndpoint(broker.nodeId(), endpoint.host(), endpoint.port(), broker.config().get(BrokerConfig.BROKER_RACK)));
        out.sort(Comparator.comparingInt(NodeEndpoint::nodeId));
        return out;
    }

    /** The controller's node id as clients are told: -1 (Kafka's "none") in a cluster that is electing one. */
    public int controllerId() {
        return broker.cluster().controllerId();
    }
}
