package io.runnel.kafka.handlers;

import io.runnel.group.GroupDescription;
import io.runnel.kafka.ApiHandler;
import io.runnel.kafka.RequestContext;
import io.runnel.kafka.TypedApiHandler;
import io.runnel.security.Authorizer;
import io.vertx.core.Future;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import org.apache.kafka.common.TopicPartition;
import org.apache.kafka.common.acl.AclOperation;
import org.apache.kafka.common.message.DeleteGroupsResponseData.DeletableGroupResult;
import org.apache.kafka.common.message.DeleteGroupsResponseData.DeletableGroupResultCollection;
import org.apache.kafka.common.message.DeleteGroupsResponseData;
import org.apache.kafka.common.message.DescribeGroupsResponseData.DescribedGroup;
import org.apache.kafka.common.message.DescribeGroupsResponseData.DescribedGroupMember;
import org.apache.kafka.common.message.DescribeGroupsResponseData;
import org.apache.kafka.common.message.ListGroupsResponseData.ListedGroup;
import org.apache.kafka.common.message.ListGroupsResponseData;
import org.apache.kafka.common.message.OffsetDeleteRequestData.OffsetDeleteRequestPartition;
import org.apache.kafka.common.message.OffsetDeleteRequestData.OffsetDeleteRequestTopic;
import org.apache.kafka.common.message.OffsetDeleteResponseData.OffsetDeleteResponsePartition;
import org.apache.kafka.common.message.OffsetDeleteResponseData.OffsetDeleteResponseTopic;
import org.apache.kafka.common.message.OffsetDeleteResponseData;
import org.apache.kafka.common.protocol.ApiKeys;
import org.apache.kafka.common.protocol.Errors;
import org.apache.kafka.common.requests.AbstractResponse;
import org.apache.kafka.common.requests.DeleteGroupsRequest;
import org.apache.kafka.common.requests.DeleteGroupsResponse;
import org.apache.kafka.common.requests.DescribeGroupsRequest;
import org.apache.kafka.common.requests.DescribeGroupsResponse;
import org.apache.kafka.common.requests.ListGroupsRequest;
import org.apache.kafka.common.requests.ListGroupsResponse;
import org.apache.kafka.common.requests.OffsetDeleteRequest;
import org.apache.kafka.common.requests.OffsetDeleteResponse;
import org.apache.kafka.common.resource.ResourceType;

/** Group administration: ListGroups, DescribeGroups, DeleteGroups and OffsetDelete, as the Admin client uses them. */
public final class GroupAdminHandlers {
    private GroupAdminHandlers() {
    }

    public static List<ApiHandler> all() {
        return List.of(new ListGroups(), new DescribeGroups(), new DeleteGroups(), new OffsetDelete());
    }

    static final class ListGroups extends TypedApiHandler<ListGroupsRequest> {
        ListGroups() {
            super(ApiKeys.LIST_GROUPS, ListGroupsRequest.class);
        }

        @Override
        protected Future<AbstractResponse> serve(RequestContext ctx, ListGroupsRequest request) {
            var d = request.data();
            List<String> states = d.statesFilter() == null ? List.of() : d.statesFilter().stream().map(x -> x.toLowerCase(Locale.ROOT)).toList();
            List<String> types = d.typesFilter() == null ? List.of() : d.typesFilter().stream().map(x -> x.toLowerCase(Locale.ROOT)).toList();
            // Kafka's check: DESCRIBE on the cluster lists every group, else the groups the principal may describe.
            boolean all = ctx.authorizeQuietly(AclOperation.DESCRIBE, ResourceType.CLUSTER, Authorizer.CLUSTER);
            return ctx.broker().groups().listGroups().map(groups -> {
                List<ListedGroup> out = new ArrayList<>();
                for (var g : groups) {
                    if (!all && !ctx.authorizeQuietly(AclOperation.DESCRIBE, ResourceType.GROUP, g.groupId())) continue;
                    if (!states.isEmpty() && !states.contains(g.state().toLowerCase(Locale.ROOT))) continue;
                    if (!types.isEmpty() && !types.contains(g.type())) continue;
                    out.add(new ListedGroup().setGroupId(g.groupId()).setProtocolType(g.protocolType()).setGroupState(g.state()).setGroupType(g.type()));
                }
                return new ListGroupsResponse(new ListGroupsResponseData().setGroups(out));
            });
        }
    }

    static final class DescribeGroups extends TypedApiHandler<DescribeGroupsRequest> {
        DescribeGroups() {
            super(ApiKeys.DESCRIBE_GROUPS, DescribeGroupsRequest.class);
        }

        @Override
        protected Future<AbstractResponse> serve(RequestContext ctx, DescribeGroupsRequest request) {
            var d = request.data();
            List<Future<DescribedGroup>> all = new ArrayList<>();
            for (String id : d.groups()) {
                if (!ctx.authorizeGroup(AclOperation.DESCRIBE, id)) { // Kafka: DESCRIBE on the group
                    all.add(Future.succeededFuture(new DescribedGroup().setGroupId(id).setErrorCode(Errors.GROUP_AUTHORIZATION_FAILED.code())
                            .setGroupState("").setProtocolType("").setProtocolData("")));
                } else {
                    all.add(ctx.broker().groups().describeGroup(id).map(g -> described(ctx, id, g)));
                }
            }
            return Future.all(all).map(cf -> new DescribeGroupsResponse(new DescribeGroupsResponseData()
                    .setGroups(all.stream().map(Future::result).toList())));
        }

        private static DescribedGroup described(RequestContext ctx, String id, GroupDescription g) {
            if (g == null) {
                // Kafka answers an unknown group with state Dead, and from v6 with GROUP_ID_NOT_FOUND too.
                DescribedGroup dead = new DescribedGroup().setGroupId(id).setGroupState("Dead").setProtocolType("").setProtocolData("");
                if (ctx.apiVersion() >= 6) dead.setErrorCode(Errors.GROUP_ID_NOT_FOUND.code()).setErrorMessage("Group " + id + " not found.");
                return dead;
            }
            DescribedGroup out = new DescribedGroup().setGroupId(id).setGroupState(g.state()).setProtocolType(g.protocolType())
                    .setProtocolData(g.protocol());
            for (var m : g.members()) {
                out.members().add(new DescribedGroupMember().setMemberId(m.memberId()).setGroupInstanceId(m.groupInstanceId())
                        .setClientId(m.clientId()).setClientHost(m.clientHost()).setMemberMetadata(m.metadata()).setMemberAssignment(m.assignment()));
            }
            return out;
        }
    }

    static final class DeleteGroups extends TypedApiHandler<DeleteGroupsRequest> {
        DeleteGroups() {
            super(ApiKeys.DELETE_GROUPS, DeleteGroupsRequest.class);
        }

        @Override
        protected Future<AbstractResponse> serve(RequestContext ctx, DeleteGroupsRequest request) {
            var d = request.data();
            DeletableGroupResultCollection results = new DeletableGroupResultCollection();
            List<Future<Void>> all = new ArrayList<>();
            for (String id : d.groupsNames()) {
                DeletableGroupResult r = new DeletableGroupResult().setGroupId(id);
                results.add(r);
                if (!ctx.authorizeGroup(AclOperation.DELETE, id)) { // Kafka: DELETE on the group
                    r.setErrorCode(Errors.GROUP_AUTHORIZATION_FAILED.code());
                    continue;
                }
                // A share group's delivery state goes with it (Kafka's DeleteShareGroupState).
                all.add(Outcomes.recordError(ctx.broker().groups().deleteGroup(id).compose(e -> {
                    r.setErrorCode(e.code());
                    return e == Errors.NONE && ctx.broker().shares() != null ? ctx.broker().shares().deleteGroupState(id) : Future.<Void>succeededFuture();
                }), (code, message) -> r.setErrorCode(code)));
            }
            return Future.all(all).map(cf -> new DeleteGroupsResponse(new DeleteGroupsResponseData().setResults(results)));
        }
    }

    static final class OffsetDelete extends TypedApiHandler<OffsetDeleteRequest> {
        OffsetDelete() {
            super(ApiKeys.OFFSET_DELETE, OffsetDeleteRequest.class);
        }

        @Override
        protected Future<AbstractResponse> serve(RequestContext ctx, OffsetDeleteRequest request) {
            var d = request.data();
            // Kafka's checks: DELETE on the group (the whole request), READ on each topic.
            if (!ctx.authorizeGroup(AclOperation.DELETE, d.groupId())) {
                return Future.succeededFuture(new OffsetDeleteResponse(new OffsetDeleteResponseData().setErrorCode(Errors.GROUP_AUTHORIZATION_FAILED.code())));
            }
            List<TopicPartition> asked = new ArrayList<>();
            List<TopicPartition> denied = new ArrayList<>();
            for (OffsetDeleteRequestTopic t : d.topics()) {
                boolean readable = ctx.authorizeTopic(AclOperation.READ, t.name());
                for (OffsetDeleteRequestPartition p : t.partitions()) (readable ? asked : denied).add(new TopicPartition(t.name(), p.partitionIndex()));
            }
            return ctx.broker().groups().deleteOffsets(d.groupId(), asked).map(deleted -> {
                Map<TopicPartition, Errors> result = new LinkedHashMap<>(deleted);
                denied.forEach(tp -> result.put(tp, Errors.TOPIC_AUTHORIZATION_FAILED));
                OffsetDeleteResponseData out = new OffsetDeleteResponseData();
                result.forEach((tp, e) -> {
                    OffsetDeleteResponseTopic t = out.topics().find(tp.topic());
                    if (t == null) {
                        t = new OffsetDeleteResponseTopic().setName(tp.topic());
                        out.topics().add(t);
                    }
                    t.partitions().add(new OffsetDeleteResponsePartition().setPartitionIndex(tp.partition()).setErrorCode(e.code()));
                });
                return (AbstractResponse) new OffsetDeleteResponse(out);
            }).otherwise(e -> new OffsetDeleteResponse(new OffsetDeleteResponseData().setErrorCode(Errors.forException(e).code())));
        }
    }
}
