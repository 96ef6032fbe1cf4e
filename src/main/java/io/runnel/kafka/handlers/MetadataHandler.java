package io.runnel.kafka.handlers;

import io.runnel.config.BrokerConfig;
import io.runnel.kafka.RequestContext;
import io.runnel.kafka.RequestContext.NodeEndpoint;
import io.runnel.kafka.TypedApiHandler;
import io.runnel.partition.InternalTopics;
import io.runnel.partition.LocalTopic;
import io.runnel.partition.TopicAdmin;
import io.runnel.partition.TopicRegistry;
import io.runnel.security.Authorizer;
import io.vertx.core.Future;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Set;
import org.apache.kafka.common.Uuid;
import org.apache.kafka.common.acl.AclOperation;
import org.apache.kafka.common.errors.TopicExistsException;
import org.apache.kafka.common.message.MetadataResponseData.MetadataResponseBroker;
import org.apache.kafka.common.message.MetadataResponseData.MetadataResponseBrokerCollection;
import org.apache.kafka.common.message.MetadataResponseData.MetadataResponsePartition;
import org.apache.kafka.common.message.MetadataResponseData.MetadataResponseTopic;
import org.apache.kafka.common.message.MetadataResponseData.MetadataResponseTopicCollection;
import org.apache.kafka.common.message.MetadataResponseData;
import org.apache.kafka.common.protocol.ApiKeys;
import org.apache.kafka.common.protocol.Errors;
import org.apache.kafka.common.requests.AbstractResponse;
import org.apache.kafka.common.requests.MetadataRequest;
import org.apache.kafka.common.requests.MetadataResponse;
import org.apache.kafka.common.resource.ResourceType;

/**
 * Metadata: the brokers, and for each asked topic its id and partitions with leader, replicas, ISR and leader
 * epoch. Unknown topics are created first when the request allows it (v4+) and {@code auto.create.topics.enable}
 * is on, with {@code num.partitions}, as Kafka does; otherwise they get UNKNOWN_TOPIC_OR_PARTITION (or
 * UNKNOWN_TOPIC_ID when asked by id), and invalid names INVALID_TOPIC_EXCEPTION.
 */
public final class MetadataHandler extends TypedApiHandler<MetadataRequest> {
    public MetadataHandler() {
        super(ApiKeys.METADATA, MetadataRequest.class);
    }

    @Override
    protected Future<AbstractResponse> serve(RequestContext ctx, MetadataRequest r) {
        TopicRegistry partitions = ctx.broker().topics();
        TopicAdmin admin = ctx.broker().topicAdmin();
        // One view of the brokers for the whole answer: the listed brokers and the leaders named must agree (a broker
        // that leaves between two looks at the live set was named leader but not listed).
        List<NodeEndpoint> listed = ctx.brokers();
        // Kafka's checks: every topic listed needs DESCRIBE (all topics: the others are left out); one to be created
        // needs CREATE on the cluster or the topic, else TOPIC_AUTHORIZATION_FAILED.
        if (r.isAllTopics()) {
            return Future.succeededFuture(response(ctx, partitions.topics().stream()
                    .filter(t -> ctx.authorizeQuietly(AclOperation.DESCRIBE, ResourceType.TOPIC, t.name())).map(t -> topic(listed, t)).toList(), listed));
        }

        List<Future<MetadataResponseTopic>> topics = new ArrayList<>();
        boolean autoCreate = r.allowAutoTopicCreation() && ctx.broker().config().get(BrokerConfig.AUTO_CREATE_TOPICS_ENABLE);
        List<Uuid> ids = r.data().topics() == null ? List.of() : r.data().topics().stream()
                .filter(t -> t.name() == null && t.topicId() != null && !t.topicId().equals(Uuid.ZERO_UUID)).map(t -> t.topicId()).toList();
        for (Uuid id : ids) {
            Optional<LocalTopic> t = partitions.topicById(id);
            if (t.isPresent() && !ctx.authorizeTopic(AclOperation.DESCRIBE, t.get().name())) {
                topics.add(Future.succeededFuture(new MetadataResponseTopic().setTopicId(id).setErrorCode(Errors.TOPIC_AUTHORIZATION_FAILED.code())));
                continue;
            }
            topics.add(Future.succeededFuture(t.map(info -> topic(listed, info)).orElseGet(() -> new MetadataResponseTopic()
                    .setTopicId(id).setErrorCode(Errors.UNKNOWN_TOPIC_ID.code()))));
        }
        for (String name : r.topics()) {
            if (name == null) continue;
            Optional<LocalTopic> t = partitions.topic(name);
            if (!ctx.authorizeTopic(AclOperation.DESCRIBE, name)
                    || (t.isEmpty() && autoCreate && !ctx.authorizeQuietly(AclOperation.CREATE, ResourceType.CLUSTER, Authorizer.CLUSTER)
                    && !ctx.authorizeTopic(AclOperation.CREATE, name))) {
                topics.add(Future.succeededFuture(new MetadataResponseTopic().setName(name).setErrorCode(Errors.TOPIC_AUTHORIZATION_FAILED.code())));
            } else if (t.isPresent()) {
                topics.add(Future.succeededFuture(topic(listed, t.get())));
            } else if (autoCreate && admin.closing()) {
                // Stopping: no topic is created now; the client retries against the restarted broker.
                topics.add(Future.succeededFuture(new MetadataResponseTopic().setName(name)
                        .setErrorCode(Errors.LEADER_NOT_AVAILABLE.code())));
            } else if (autoCreate) {
                topics.add(admin.createTopic(name, -1, Map.of())
                        .recover(e -> e instanceof TopicExistsException && partitions.topic(name).isPresent()
                                ? Future.succeededFuture(partitions.topic(name).get()) : Future.failedFuture(e))
                        .map(info -> topic(listed, info))
                        .otherwise(e -> new MetadataResponseTopic().setName(name).setErrorCode(Errors.forException(e).code())));
            } else {
                topics.add(Future.succeededFuture(new MetadataResponseTopic().setName(name)
                        .setErrorCode(Errors.UNKNOWN_TOPIC_OR_PARTITION.code())));
            }
        }
        return Future.all(topics).map(all -> response(ctx, topics.stream().map(Future::result).toList(), listed));
    }

    private static MetadataResponseTopic topic(List<NodeEndpoint> listed, LocalTopic t) {
        // The brokers this answer lists (members reachable on this listener, not fenced): as Kafka's metadata cache,
        // a replica elsewhere is offline, and a leader elsewhere is no leader at all.
        Set<Integer> live = new HashSet<>();
        for (NodeEndpoint b : listed) live.add(b.nodeId());
        List<MetadataResponsePartition> parts = new ArrayList<>();
        for (int p = 0; p < t.partitions().size(); p++) {
            var pl = t.placements().get(p);
            MetadataResponsePartition mp = new MetadataResponsePartition().setPartitionIndex(p).setLeaderId(pl.leader())
                    .setLeaderEpoch(pl.leaderEpoch()).setReplicaNodes(pl.replicas()).setIsrNodes(pl.isr())
                    .setOfflineReplicas(pl.replicas().stream().filter(r -> !live.contains(r)).toList());
            // Kafka's answer (KRaftMetadataCache.partitionMetadata) while the leader is offline, whether every replica
            // is or the controller has not yet moved the leadership off a broker that just died: no leader,
            // LEADER_NOT_AVAILABLE, the epoch kept. The error makes a client ask again until a leader is named; a dead
            // leader's id without it left a consumer validating a committed position against no leader, never
            // refreshing its metadata (metadata.max.age.ms, 5 minutes).
            if (!pl.hasLeader() || !live.contains(pl.leader())) {
                mp.setLeaderId(MetadataResponse.NO_LEADER_ID).setErrorCode(Errors.LEADER_NOT_AVAILABLE.code());
            }
            parts.add(mp);
        }
        return new MetadataResponseTopic().setName(t.name()).setTopicId(t.topicId()).setIsInternal(InternalTopics.isInternal(t.name()))
                .setPartitions(parts);
    }

    private static AbstractResponse response(RequestContext ctx, List<MetadataResponseTopic> topics, List<NodeEndpoint> listed) {
        MetadataResponseBrokerCollection brokers = new MetadataResponseBrokerCollection();
        for (NodeEndpoint b : listed) brokers.add(new MetadataResponseBroker().setNodeId(b.nodeId()).setHost(b.host()).setPort(b.port()).setRack(b.rack()));
        MetadataResponseTopicCollection coll = new MetadataResponseTopicCollection();
        for (MetadataResponseTopic t : topics) coll.add(t);
        MetadataResponseData data = new MetadataResponseData().setBrokers(brokers).setClusterId(ctx.broker().clusterId())
                .setControllerId(ctx.controllerId()).setTopics(coll);
        return new MetadataResponse(data, ctx.apiVersion());
    }
}
