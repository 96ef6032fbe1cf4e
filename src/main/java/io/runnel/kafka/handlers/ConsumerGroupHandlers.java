package io.runnel.kafka.handlers;

import io.runnel.kafka.ApiHandler;
import io.runnel.kafka.RequestContext;
import io.runnel.kafka.TypedApiHandler;
import io.vertx.core.Future;
import java.util.ArrayList;
import java.util.List;
import org.apache.kafka.common.acl.AclOperation;
import org.apache.kafka.common.message.ConsumerGroupDescribeResponseData;
import org.apache.kafka.common.message.ConsumerGroupHeartbeatResponseData;
import org.apache.kafka.common.protocol.ApiKeys;
import org.apache.kafka.common.protocol.Errors;
import org.apache.kafka.common.requests.AbstractResponse;
import org.apache.kafka.common.requests.ConsumerGroupDescribeRequest;
import org.apache.kafka.common.requests.ConsumerGroupDescribeResponse;
import org.apache.kafka.common.requests.ConsumerGroupHeartbeatRequest;
import org.apache.kafka.common.requests.ConsumerGroupHeartbeatResponse;

/** The consumer group protocol of KIP-848: ConsumerGroupHeartbeat (server-side assignment) and ConsumerGroupDescribe. */
public final class ConsumerGroupHandlers {
    private ConsumerGroupHandlers() {
    }

    public static List<ApiHandler> all() {
        return List.of(new Heartbeat(), new Describe());
    }

    static final class Heartbeat extends TypedApiHandler<ConsumerGroupHeartbeatRequest> {
        Heartbeat() {
            super(ApiKeys.CONSUMER_GROUP_HEARTBEAT, ConsumerGroupHeartbeatRequest.class);
        }

        @Override
        protected Future<AbstractResponse> serve(RequestContext ctx, ConsumerGroupHeartbeatRequest request) {
            // Kafka's checks: READ on the group, DESCRIBE on each subscribed topic.
            var d = request.data();
            if (!ctx.authorizeGroup(AclOperation.READ, d.groupId())) return GroupMembershipHandlers.denied(d.groupId());
            if (d.subscribedTopicNames() != null) {
                for (String t : d.subscribedTopicNames()) {
                    if (!ctx.authorizeTopic(AclOperation.DESCRIBE, t)) {
                        return Future.succeededFuture(new ConsumerGroupHeartbeatResponse(new ConsumerGroupHeartbeatResponseData()
                                .setErrorCode(Errors.TOPIC_AUTHORIZATION_FAILED.code()).setErrorMessage("Not authorized to describe topic " + t)));
                    }
                }
            }
            return ctx.broker().groups().consumerGroupHeartbeat(request.data(), ctx.header().clientId(),
                    ctx.clientHost()).map(ConsumerGroupHeartbeatResponse::new);
        }
    }

    static final class Describe extends TypedApiHandler<ConsumerGroupDescribeRequest> {
        Describe() {
            super(ApiKeys.CONSUMER_GROUP_DESCRIBE, ConsumerGroupDescribeRequest.class);
        }

        @Override
        protected Future<AbstractResponse> serve(RequestContext ctx, ConsumerGroupDescribeRequest request) {
            List<Future<ConsumerGroupDescribeResponseData.DescribedGroup>> all = new ArrayList<>();
            for (String id : request.data().groupIds()) {
                if (!ctx.authorizeGroup(AclOperation.DESCRIBE, id)) { // Kafka: DESCRIBE on the group
                    all.add(Future.succeededFuture(new ConsumerGroupDescribeResponseData.DescribedGroup().setGroupId(id)
                            .setErrorCode(Errors.GROUP_AUTHORIZATION_FAILED.code()).setErrorMessage(Errors.GROUP_AUTHORIZATION_FAILED.message())));
                } else {
                    all.add(ctx.broker().groups().consumerGroupDescribe(id));
                }
            }
            return Future.all(all).map(cf -> new ConsumerGroupDescribeResponse(new ConsumerGroupDescribeResponseData()
                    .setGroups(all.stream().map(Future::result).toList())));
        }
    }
}
