package io.runnel.kafka.handlers;

import io.runnel.kafka.ApiHandler;
import io.runnel.kafka.RequestContext;
import io.runnel.kafka.TypedApiHandler;
import io.runnel.partition.LocalTopic;
import io.runnel.group.ShareOffsetsOp;
import io.runnel.share.SharePartitionManager;
import io.runnel.share.SharePartitionManager.TopicIdPartition;
import io.vertx.core.Future;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import org.apache.kafka.common.Uuid;
import org.apache.kafka.common.acl.AclOperation;
import org.apache.kafka.common.message.AlterShareGroupOffsetsRequestData;
import org.apache.kafka.common.message.AlterShareGroupOffsetsResponseData;
import org.apache.kafka.common.message.DeleteShareGroupOffsetsRequestData;
import org.apache.kafka.common.message.DeleteShareGroupOffsetsResponseData;
import org.apache.kafka.common.message.DescribeShareGroupOffsetsRequestData;
import org.apache.kafka.common.message.DescribeShareGroupOffsetsResponseData;
import org.apache.kafka.common.message.DescribeShareGroupOffsetsResponseData.DescribeShareGroupOffsetsResponseGroup;
import org.apache.kafka.common.message.DescribeShareGroupOffsetsResponseData.DescribeShareGroupOffsetsResponsePartition;
import org.apache.kafka.common.message.DescribeShareGroupOffsetsResponseData.DescribeShareGroupOffsetsResponseTopic;
import org.apache.kafka.common.protocol.ApiKeys;
import org.apache.kafka.common.protocol.Errors;
import org.apache.kafka.common.requests.AbstractResponse;
import org.apache.kafka.common.requests.AlterShareGroupOffsetsRequest;
import org.apache.kafka.common.requests.AlterShareGroupOffsetsResponse;
import org.apache.kafka.common.requests.DeleteShareGroupOffsetsRequest;
import org.apache.kafka.common.requests.DeleteShareGroupOffsetsResponse;
import org.apache.kafka.common.requests.DescribeShareGroupOffsetsRequest;
import org.apache.kafka.common.requests.DescribeShareGroupOffsetsResponse;

/**
 * A share group's start offsets (KIP-932), at its coordinator: DescribeShareGroupOffsets (with Kafka's lag, KIP-1226),
 * AlterShareGroupOffsets and DeleteShareGroupOffsets, which need a group without members. As Kafka checks: DESCRIBE
 * (describe) or READ (alter) or DELETE (delete) on the group, and DESCRIBE or READ on each topic.
 */
public final class ShareGroupOffsetsHandlers {
    private ShareGroupOffsetsHandlers() {
    }

    public static List<ApiHandler> all() {
        return List.of(new Describe(), new Alter(), new Delete());
    }

    static final class Describe extends TypedApiHandler<DescribeShareGroupOffsetsRequest> {
        Describe() {
            super(ApiKeys.DESCRIBE_SHARE_GROUP_OFFSETS, DescribeShareGroupOffsetsRequest.class);
        }

        @Override
        protected Future<AbstractResponse> serve(RequestContext ctx, DescribeShareGroupOffsetsRequest request) {
            List<Future<DescribeShareGroupOffsetsResponseGroup>> groups = new ArrayList<>();
            for (DescribeShareGroupOffsetsRequestData.DescribeShareGroupOffsetsRequestGroup g : request.data().groups()) {
                groups.add(describe(ctx, g));
            }
            return Future.all(groups).map(cf -> new DescribeShareGroupOffsetsResponse(new DescribeShareGroupOffsetsResponseData()
                    .setGroups(groups.stream().map(Future::result).toList())));
        }

        private static Future<DescribeShareGroupOffsetsResponseGroup> describe(RequestContext ctx,
                                                                             DescribeShareGroupOffsetsRequestData.DescribeShareGroupOffsetsRequestGroup g) {
            DescribeShareGroupOffsetsResponseGroup out = new DescribeShareGroupOffsetsResponseGroup().setGroupId(g.groupId());
            if (!ctx.authorizeGroup(AclOperation.DESCRIBE, g.groupId())) {
                return Future.succeededFuture(out.setErrorCode(Errors.GROUP_AUTHORIZATION_FAILED.code())
                        .setErrorMessage(Errors.GROUP_AUTHORIZATION_FAILED.message()));
            }
            Map<String, DescribeShareGroupOffsetsResponseTopic> topics = new LinkedHashMap<>();
            List<TopicIdPartition> asked = null;
            if (g.topics() != null) {
                asked = new ArrayList<>();
                for (DescribeShareGroupOffsetsRequestData.DescribeShareGroupOffsetsRequestTopic t : g.topics()) {
                    Optional<LocalTopic> topic = ctx.broker().topics().topic(t.topicName());
                    boolean allowed = ctx.authorizeTopic(AclOperation.DESCRIBE, t.topicName());
                    DescribeShareGroupOffsetsResponseTopic rt = topic(topics, t.topicName(), topic.map(LocalTopic::topicId).orElse(Uuid.ZERO_UUID));
                    for (int p : t.partitions()) {
                        if (!allowed) {
                            rt.partitions().add(partition(p, -1, -1).setErrorCode(Errors.TOPIC_AUTHORIZATION_FAILED.code())
                                    .setErrorMessage(Errors.TOPIC_AUTHORIZATION_FAILED.message()));
                        } else if (topic.isEmpty()) {
                            rt.partitions().add(partition(p, -1, -1)); // not in metadata: no state, as Kafka answers
                        } else {
                            asked.add(new TopicIdPartition(topic.get().topicId(), p));
                        }
                    }
                }
            }
            SharePartitionManager shares = ctx.broker().shares();
            List<TopicIdPartition> which = asked;
            return ctx.broker().groups().shareOffsetsCheck(g.groupId(), ShareOffsetsOp.DESCRIBE).compose(check -> {
                if (check != Errors.NONE) return Future.succeededFuture(out.setErrorCode(check.code()).setErrorMessage(check.message()));
                return shares.startOffsets(g.groupId(), which).map(offsets -> {
                    for (SharePartitionManager.StartOffset o : offsets) {
                        Optional<LocalTopic> topic = ctx.broker().topics().topicById(o.tp().topicId());
                        if (topic.isEmpty() || !ctx.authorizeQuietly(AclOperation.DESCRIBE, org.apache.kafka.common.resource.ResourceType.TOPIC,
                                topic.get().name())) {
                            continue;
                        }
                        topic(topics, topic.get().name(), topic.get().topicId()).partitions()
                                .add(partition(o.tp().partition(), o.startOffset(), o.leaderEpoch()).setLag(o.lag()));
                    }
                    return out.setTopics(new ArrayList<>(topics.values()));
                });
            }).recover(e -> Future.succeededFuture(out.setErrorCode(Errors.forException(e).code()).setErrorMessage(e.getMessage())));
        }

        private static DescribeShareGroupOffsetsResponseTopic topic(Map<String, DescribeShareGroupOffsetsResponseTopic> topics, String name, Uuid id) {
            return topics.computeIfAbsent(name, n -> new DescribeShareGroupOffsetsResponseTopic().setTopicName(n).setTopicId(id));
        }

        private static DescribeShareGroupOffsetsResponsePartition partition(int p, long start, int leaderEpoch) {
            return new DescribeShareGroupOffsetsResponsePartition().setPartitionIndex(p).setStartOffset(start).setLeaderEpoch(leaderEpoch).setLag(-1);
        }
    }

    static final class Alter extends TypedApiHandler<AlterShareGroupOffsetsRequest> {
        Alter() {
            super(ApiKeys.ALTER_SHARE_GROUP_OFFSETS, AlterShareGroupOffsetsRequest.class);
        }

        @Override
        protected Future<AbstractResponse> serve(RequestContext ctx, AlterShareGroupOffsetsRequest request) {
            AlterShareGroupOffsetsRequestData d = request.data();
            AlterShareGroupOffsetsResponseData out = new AlterShareGroupOffsetsResponseData();
            if (!ctx.authorizeGroup(AclOperation.READ, d.groupId())) {
                return Future.succeededFuture(new AlterShareGroupOffsetsResponse(out.setErrorCode(Errors.GROUP_AUTHORIZATION_FAILED.code())
                        .setErrorMessage(Errors.GROUP_AUTHORIZATION_FAILED.message())));
            }
            Map<TopicIdPartition, Long> starts = new LinkedHashMap<>();
            Map<String, AlterShareGroupOffsetsResponseData.AlterShareGroupOffsetsResponseTopic> topics = new LinkedHashMap<>();
            Map<TopicIdPartition, AlterShareGroupOffsetsResponseData.AlterShareGroupOffsetsResponsePartition> entries = new LinkedHashMap<>();
            for (AlterShareGroupOffsetsRequestData.AlterShareGroupOffsetsRequestTopic t : d.topics()) {
                Optional<LocalTopic> topic = ctx.broker().topics().topic(t.topicName());
                boolean allowed = ctx.authorizeTopic(AclOperation.READ, t.topicName());
                var rt = topics.computeIfAbsent(t.topicName(), n -> new AlterShareGroupOffsetsResponseData.AlterShareGroupOffsetsResponseTopic()
                        .setTopicName(n).setTopicId(topic.map(LocalTopic::topicId).orElse(Uuid.ZERO_UUID)));
                for (AlterShareGroupOffsetsRequestData.AlterShareGroupOffsetsRequestPartition p : t.partitions()) {
                    var rp = new AlterShareGroupOffsetsResponseData.AlterShareGroupOffsetsResponsePartition().setPartitionIndex(p.partitionIndex());
                    rt.partitions().add(rp);
                    Errors e = !allowed ? Errors.TOPIC_AUTHORIZATION_FAILED
                            : topic.isEmpty() || p.partitionIndex() < 0 || p.partitionIndex() >= topic.get().partitions().size() ? Errors.UNKNOWN_TOPIC_OR_PARTITION
                            : p.startOffset() < 0 ? Errors.INVALID_REQUEST : Errors.NONE;
                    rp.setErrorCode(e.code()).setErrorMessage(e == Errors.NONE ? null : e.message());
                    if (e == Errors.NONE) {
                        TopicIdPartition tp = new TopicIdPartition(topic.get().topicId(), p.partitionIndex());
                        starts.put(tp, p.startOffset());
                        entries.put(tp, rp);
                    }
                }
            }
            return ctx.broker().groups().shareOffsetsCheck(d.groupId(), ShareOffsetsOp.ALTER).compose(check -> {
                if (check != Errors.NONE) return Future.succeededFuture(out.setErrorCode(check.code()).setErrorMessage(check.message()));
                return ctx.broker().shares().alterStartOffsets(d.groupId(), starts).map(results -> {
                    results.forEach((tp, e) -> entries.get(tp).setErrorCode(e.code()).setErrorMessage(e == Errors.NONE ? null : e.message()));
                    topics.values().forEach(out.responses()::add);
                    return out;
                });
            }).recover(e -> Future.succeededFuture(out.setErrorCode(Errors.forException(e).code()).setErrorMessage(e.getMessage())))
                    .map(AlterShareGroupOffsetsResponse::new);
        }
    }

    static final class Delete extends TypedApiHandler<DeleteShareGroupOffsetsRequest> {
        Delete() {
            super(ApiKeys.DELETE_SHARE_GROUP_OFFSETS, DeleteShareGroupOffsetsRequest.class);
        }

        @Override
        protected Future<AbstractResponse> serve(RequestContext ctx, DeleteShareGroupOffsetsRequest request) {
            DeleteShareGroupOffsetsRequestData d = request.data();
            DeleteShareGroupOffsetsResponseData out = new DeleteShareGroupOffsetsResponseData();
            if (!ctx.authorizeGroup(AclOperation.DELETE, d.groupId())) {
                return Future.succeededFuture(new DeleteShareGroupOffsetsResponse(out.setErrorCode(Errors.GROUP_AUTHORIZATION_FAILED.code())
                        .setErrorMessage(Errors.GROUP_AUTHORIZATION_FAILED.message())));
            }
            List<Uuid> ids = new ArrayList<>();
            Map<Uuid, DeleteShareGroupOffsetsResponseData.DeleteShareGroupOffsetsResponseTopic> byId = new LinkedHashMap<>();
            for (DeleteShareGroupOffsetsRequestData.DeleteShareGroupOffsetsRequestTopic t : d.topics()) {
                Optional<LocalTopic> topic = ctx.broker().topics().topic(t.topicName());
                var rt = new DeleteShareGroupOffsetsResponseData.DeleteShareGroupOffsetsResponseTopic().setTopicName(t.topicName())
                        .setTopicId(topic.map(LocalTopic::topicId).orElse(Uuid.ZERO_UUID));
                out.responses().add(rt);
                if (!ctx.authorizeTopic(AclOperation.READ, t.topicName())) {
                    rt.setErrorCode(Errors.TOPIC_AUTHORIZATION_FAILED.code()).setErrorMessage(Errors.TOPIC_AUTHORIZATION_FAILED.message());
                } else if (topic.isEmpty()) {
                    rt.setErrorCode(Errors.UNKNOWN_TOPIC_OR_PARTITION.code()).setErrorMessage(Errors.UNKNOWN_TOPIC_OR_PARTITION.message());
                } else {
                    ids.add(topic.get().topicId());
                    byId.put(topic.get().topicId(), rt);
                }
            }
            return ctx.broker().groups().shareOffsetsCheck(d.groupId(), ShareOffsetsOp.DELETE).compose(check -> {
                if (check != Errors.NONE) return Future.succeededFuture(out.setErrorCode(check.code()).setErrorMessage(check.message()));
                return ctx.broker().shares().deleteStartOffsets(d.groupId(), ids).map(results -> {
                    results.forEach((id, e) -> byId.get(id).setErrorCode(e.code())
                            .setErrorMessage(e == Errors.UNKNOWN_TOPIC_OR_PARTITION ? "There is no offset information to delete." : null));
                    return out;
                });
            }).recover(e -> Future.succeededFuture(out.setErrorCode(Errors.forException(e).code()).setErrorMessage(e.getMessage())))
                    .map(DeleteShareGroupOffsetsResponse::new);
        }
    }
}
