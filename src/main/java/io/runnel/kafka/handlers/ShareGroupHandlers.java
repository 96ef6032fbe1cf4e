package io.runnel.kafka.handlers;

import io.runnel.kafka.ApiHandler;
import io.runnel.kafka.RequestContext;
import io.runnel.kafka.TypedApiHandler;
import io.vertx.core.Future;
import java.util.ArrayList;
import java.util.List;
import org.apache.kafka.common.acl.AclOperation;
import org.apache.kafka.common.message.ShareGroupDescribeResponseData;
import org.apache.kafka.common.message.ShareGroupHeartbeatResponseData;
import org.apache.kafka.common.protocol.ApiKeys;
import org.apache.kafka.common.protocol.Errors;
import org.apache.kafka.common.requests.AbstractResponse;
import org.apache.kafka.common.requests.ShareGroupDescribeRequest;
import org.apache.kafka.common.requests.ShareGroupDescribeResponse;
import org.apache.kafka.common.requests.ShareGroupHeartbeatRequest;
import org.apache.kafka.common.requests.ShareGroupHeartbeatResponse;

/** Share groups' membership (KIP-932): ShareGroupHeartbeat and ShareGroupDescribe, at the group's coordinator. */
public final class ShareGroupHandlers {
    private ShareGroupHandlers() {
    }

    public static List<ApiHandler> all() {
        return List.of(new Heartbeat(), new Describe());
    }

    static final class Heartbeat extends TypedApiHandler<ShareGroupHeartbeatRequest> {
        Heartbeat() {
            super(ApiKeys.SHARE_GROUP_HEARTBEAT, ShareGroupHeartbeatRequest.class);
        }

        @Override
        protected Future<AbstractResponse> serve(RequestContext ctx, ShareGroupHeartbeatRequest request) {
            // Kafka's checks: READ on the group, DESCRIBE on each subscribed topic.
            var d = request.data();
            if (!ctx.authorizeGroup(AclOperation.READ, d.groupId())) {
                return Future.succeededFuture(new ShareGroupHeartbeatResponse(new ShareGroupHeartbeatResponseData()
                        .setErrorCode(Errors.GROUP_AUTHORIZATION_FAILED.code()).setErrorMessage(Errors.GROUP_AUTHORIZATION_FAILED.message())));
            }
            if (d.subscribedTopicNames() != null) {
                for (String t : d.subscribedTopicNames()) {
                    if (!ctx.authorizeTopic(AclOperation.DESCRIBE, t)) {
                        return Future.succeededFuture(new ShareGroupHeartbeatResponse(new ShareGroupHeartbeatResponseData()
                                .setErrorCode(Errors.TOPIC_AUTHORIZATION_FAILED.code()).setErrorMessage("Not authorized to describe topic " + t)));
                    }
                }
            }
            return ctx.broker().groups().shareGroupHeartbeat(d, ctx.header().clientId(), ctx.clientHost()).map(ShareGroupHeartbeatResponse::new);
        }
    }

    static final class Describe extends TypedApiHandler<ShareGroupDescribeRequest> {
        Describe() {
            super(ApiKeys.SHARE_GROUP_DESCRIBE, ShareGroupDescribeRequest.class);
        }

        @Override
        protected Future<AbstractResponse> serve(RequestContext ctx, ShareGroupDescribeRequest request) {
            List<Future<ShareGroupDescribeResponseData.DescribedGroup>> all = new ArrayList<>();
            for (String id : request.data().groupIds()) {
                if (!ctx.authorizeGroup(AclOperation.DESCRIBE, id)) {
                    all.add(Future.succeededFuture(new ShareGroupDescribeResponseData.DescribedGroup().setGroupId(id)
                            .setErrorCode(Errors.GROUP_AUTHORIZATION_FAILED.code()).setErrorMessage(Errors.GROUP_AUTHORIZATION_FAILED.message())));
                } else {
                    all.add(ctx.broker().groups().shareGroupDescribe(id));
                }
            }
            return Future.all(all).map(cf -> new ShareGroupDescribeResponse(new ShareGroupDescribeResponseData()
                    .setGroups(all.stream().map(Future::result).toList())));
        }
    }
}
