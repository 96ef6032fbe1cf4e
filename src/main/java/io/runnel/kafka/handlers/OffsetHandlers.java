package io.runnel.kafka.handlers;

import io.runnel.group.CommittedOffset;
import io.runnel.kafka.ApiHandler;
import io.runnel.kafka.RequestContext;
import io.runnel.kafka.TypedApiHandler;
import io.runnel.partition.LocalTopic;
import io.vertx.core.Future;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Set;
import org.apache.kafka.common.TopicPartition;
import org.apache.kafka.common.Uuid;
import org.apache.kafka.common.acl.AclOperation;
import org.apache.kafka.common.message.OffsetCommitRequestData.OffsetCommitRequestPartition;
import org.apache.kafka.common.message.OffsetCommitRequestData.OffsetCommitRequestTopic;
import org.apache.kafka.common.message.OffsetCommitResponseData.OffsetCommitResponsePartition;
import org.apache.kafka.common.message.OffsetCommitResponseData.OffsetCommitResponseTopic;
import org.apache.kafka.common.message.OffsetCommitResponseData;
import org.apache.kafka.common.message.OffsetFetchRequestData.OffsetFetchRequestTopics;
import org.apache.kafka.common.message.OffsetFetchResponseData.OffsetFetchResponseGroup;
import org.apache.kafka.common.message.OffsetFetchResponseData.OffsetFetchResponsePartition;
import org.apache.kafka.common.message.OffsetFetchResponseData.OffsetFetchResponsePartitions;
import org.apache.kafka.common.message.OffsetFetchResponseData.OffsetFetchResponseTopic;
import org.apache.kafka.common.message.OffsetFetchResponseData.OffsetFetchResponseTopics;
import org.apache.kafka.common.message.OffsetFetchResponseData;
import org.apache.kafka.common.protocol.ApiKeys;
import org.apache.kafka.common.protocol.Errors;
import org.apache.kafka.common.requests.AbstractResponse;
import org.apache.kafka.common.requests.OffsetCommitRequest;
import org.apache.kafka.common.requests.OffsetCommitResponse;
import org.apache.kafka.common.requests.OffsetFetchRequest;
import org.apache.kafka.common.requests.OffsetFetchResponse;
import org.apache.kafka.common.resource.ResourceType;

/**
 * OffsetCommit and OffsetFetch (one group up to v7, several from v8; topic ids from v10). A commit is checked
 * against the group (member and generation, or a group without members for consumers that only assign), then per
 * partition (the topic must exist, the metadata must fit offset.metadata.max.bytes), written to
 * {@code __consumer_offsets}, and only then acknowledged.
 */
public final class OffsetHandlers {
    private OffsetHandlers() {
    }

    public static List<ApiHandler> all() {
        return List.of(new Commit(), new Fetch());
    }

    private static Optional<LocalTopic> topic(RequestContext ctx, String name, Uuid id) {
        if (name != null && !name.isEmpty()) return ctx.broker().topics().topic(name);
        return id == null ? Optional.empty() : ctx.broker().topics().topicById(id);
    }

    static final class Commit extends TypedApiHandler<OffsetCommitRequest> {
        Commit() {
            super(ApiKeys.OFFSET_COMMIT, OffsetCommitRequest.class);
        }

        @Override
        protected Future<AbstractResponse> serve(RequestContext ctx, OffsetCommitRequest request) {
            var d = request.data();
            // Kafka's checks: READ on the group (the whole request), READ on each topic.
            if (!ctx.authorizeGroup(AclOperation.READ, d.groupId())) return GroupMembershipHandlers.denied(d.groupId());
            int maxMetadata = ctx.broker().groups().offsetMetadataMaxBytes();
            List<OffsetCommitResponseTopic> topics = new ArrayList<>();
            Map<TopicPartition, CommittedOffset> valid = new LinkedHashMap<>();
            List<OffsetCommitResponsePartition> pending = new ArrayList<>();
            for (OffsetCommitRequestTopic t : d.topics()) {
                Optional<LocalTopic> info = topic(ctx, t.name(), t.topicId());
                OffsetCommitResponseTopic rt = new OffsetCommitResponseTopic().setName(t.name()).setTopicId(t.topicId());
                topics.add(rt);
                String name = info.map(LocalTopic::name).orElse(t.name());
                boolean readable = name == null || name.isEmpty() || ctx.authorizeTopic(AclOperation.READ, name);
                for (OffsetCommitRequestPartition p : t.partitions()) {
                    OffsetCommitResponsePartition rp = new OffsetCommitResponsePartition().setPartitionIndex(p.partitionIndex());
                    rt.partitions().add(rp);
                    if (!readable) {
                        rp.setErrorCode(Errors.TOPIC_AUTHORIZATION_FAILED.code());
                    } else if (info.isEmpty() || p.partitionIndex() < 0 || p.partitionIndex() >= info.get().partitions().size()) {
                        rp.setErrorCode((info.isEmpty() && ctx.apiVersion() >= 10 ? Errors.UNKNOWN_TOPIC_ID : Errors.UNKNOWN_TOPIC_OR_PARTITION).code());
                    } else if (p.committedMetadata() != null && p.committedMetadata().length() > maxMetadata) {
                        rp.setErrorCode(Errors.OFFSET_METADATA_TOO_LARGE.code());
                    } else {
                        valid.put(new TopicPartition(info.get().name(), p.partitionIndex()),
                                new CommittedOffset(p.committedOffset(), p.committedLeaderEpoch(), p.committedMetadata()));
                        pending.add(rp);
                    }
                }
            }
            return ctx.broker().groups().commitOffsets(d.groupId(), d.generationIdOrMemberEpoch(), d.memberId(), valid)
                    .otherwise(Errors::forException)
                    .map(error -> {
                        pending.forEach(rp -> rp.setErrorCode(error.code()));
                        return new OffsetCommitResponse(new OffsetCommitResponseData().setTopics(topics));
                    });
        }
    }

    static final class Fetch extends TypedApiHandler<OffsetFetchRequest> {
        Fetch() {
            super(ApiKeys.OFFSET_FETCH, OffsetFetchRequest.class);
        }

        @Override
        protected Future<AbstractResponse> serve(RequestContext ctx, OffsetFetchRequest r) {
            Map<String, List<OffsetFetchRequestTopics>> asked = new LinkedHashMap<>();
            if (ctx.apiVersion() >= 8) {
                for (var g : r.data().groups()) asked.put(g.groupId(), g.topics());
            } else {
                List<OffsetFetchRequestTopics> topics = r.data().topics() == null ? null : r.data().topics().stream()
                        .map(t -> new OffsetFetchRequestTopics().setName(t.name()).setPartitionIndexes(t.partitionIndexes())).toList();
                asked.put(r.data().groupId(), topics);
            }
            // KIP-447: a consumer that requires stable offsets is told to retry (UNSTABLE_OFFSET_COMMIT) for partitions
            // whose offsets were committed in a transaction that has not ended yet.
            boolean requireStable = r.data().requireStable();
            List<Future<OffsetFetchResponseGroup>> groups = new ArrayList<>();
            for (Map.Entry<String, List<OffsetFetchRequestTopics>> e : asked.entrySet()) {
                if (!ctx.authorizeGroup(AclOperation.DESCRIBE, e.getKey())) { // Kafka: DESCRIBE on the group
                    groups.add(Future.succeededFuture(new OffsetFetchResponseGroup().setGroupId(e.getKey()).setErrorCode(Errors.GROUP_AUTHORIZATION_FAILED.code())));
                    continue;
                }
                Future<Set<TopicPartition>> unstable = requireStable ? ctx.broker().groups().unstableOffsets(e.getKey()) : Future.succeededFuture(Set.of());
                groups.add(unstable.compose(u -> ctx.broker().groups().fetchOffsets(e.getKey()).map(committed -> group(ctx, e.getKey(), e.getValue(), committed, u)))
                        .otherwise(err -> new OffsetFetchResponseGroup().setGroupId(e.getKey()).setErrorCode(Errors.forException(err).code())));
            }
            return Future.all(groups).map(cf -> {
                OffsetFetchResponseData out = new OffsetFetchResponseData();
                if (ctx.apiVersion() >= 8) {
                    groups.forEach(g -> out.groups().add(g.result()));
                } else {
                    OffsetFetchResponseGroup g = groups.get(0).result();
                    out.setErrorCode(g.errorCode());
                    for (OffsetFetchResponseTopics t : g.topics()) {
                        OffsetFetchResponseTopic legacy = new OffsetFetchResponseTopic().setName(t.name());
                        for (OffsetFetchResponsePartitions p : t.partitions()) {
                            legacy.partitions().add(new OffsetFetchResponsePartition().setPartitionIndex(p.partitionIndex())
                                    .setCommittedOffset(p.committedOffset()).setCommittedLeaderEpoch(p.committedLeaderEpoch())
                                    .setMetadata(p.metadata()).setErrorCode(p.errorCode()));
                        }
                        out.topics().add(legacy);
                    }
                }
                return new OffsetFetchResponse(out, ctx.apiVersion());
            });
        }

        /** The group's answer: the asked partitions (all committed ones when topics is null), -1 where none is committed. */
        private static OffsetFetchResponseGroup group(RequestContext ctx, String groupId, List<OffsetFetchRequestTopics> topics,
                                                      Map<TopicPartition, CommittedOffset> committed, Set<TopicPartition> unstable) {
            OffsetFetchResponseGroup g = new OffsetFetchResponseGroup().setGroupId(groupId);
            Map<String, OffsetFetchResponseTopics> byTopic = new LinkedHashMap<>();
            if (topics == null) {
                // All the group's offsets: those of topics the principal may describe (Kafka leaves the others out).
                Map<TopicPartition, CommittedOffset> visible = new LinkedHashMap<>(committed);
                visible.entrySet().removeIf(en -> !ctx.authorizeQuietly(AclOperation.DESCRIBE, ResourceType.TOPIC, en.getKey().topic()));
                visible.forEach((tp, c) -> byTopic.computeIfAbsent(tp.topic(), n -> responseTopic(ctx, n)).partitions().add(partition(tp.partition(), c)));
            } else {
                for (OffsetFetchRequestTopics t : topics) {
                    String name = t.name() != null && !t.name().isEmpty() ? t.name()
                            : ctx.broker().topics().topicById(t.topicId()).map(LocalTopic::name).orElse(null);
                    OffsetFetchResponseTopics rt = byTopic.computeIfAbsent(name == null ? t.topicId().toString() : name, n -> responseTopic(ctx, name));
                    if (name == null) rt.setTopicId(t.topicId());
                    boolean describable = name == null || ctx.authorizeTopic(AclOperation.DESCRIBE, name);
                    for (int p : t.partitionIndexes()) {
                        OffsetFetchResponsePartitions rp = partition(p, name == null || !describable ? null : committed.get(new TopicPartition(name, p)));
                        if (!describable) rp.setErrorCode(Errors.TOPIC_AUTHORIZATION_FAILED.code());
                        rt.partitions().add(rp);
                    }
                }
            }
            for (OffsetFetchResponseTopics t : byTopic.values()) {
                for (OffsetFetchResponsePartitions p : t.partitions()) {
                    if (unstable.contains(new TopicPartition(t.name(), p.partitionIndex()))) p.setErrorCode(Errors.UNSTABLE_OFFSET_COMMIT.code()).setCommittedOffset(-1);
                }
            }
            g.setTopics(new ArrayList<>(byTopic.values()));
            return g;
        }

        private static OffsetFetchResponseTopics responseTopic(RequestContext ctx, String name) {
            OffsetFetchResponseTopics t = new OffsetFetchResponseTopics().setName(name == null ? "" : name);
            if (name != null) ctx.broker().topics().topic(name).ifPresent(info -> t.setTopicId(info.topicId()));
            return t;
        }

        private static OffsetFetchResponsePartitions partition(int index, CommittedOffset c) {
            return new OffsetFetchResponsePartitions().setPartitionIndex(index).setCommittedOffset(c == null ? -1 : c.offset())
                    .setCommittedLeaderEpoch(c == null ? -1 : c.leaderEpoch()).setMetadata(c == null ? "" : c.metadata());
        }
    }
}
