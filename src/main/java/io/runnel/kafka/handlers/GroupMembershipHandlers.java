package io.runnel.kafka.handlers;

import io.runnel.kafka.ApiHandler;
import io.runnel.kafka.RequestContext;
import io.runnel.kafka.TypedApiHandler;
import io.vertx.core.Future;
import java.util.ArrayList;
import java.util.List;
import org.apache.kafka.common.acl.AclOperation;
import org.apache.kafka.common.errors.GroupAuthorizationException;
import org.apache.kafka.common.message.HeartbeatResponseData;
import org.apache.kafka.common.message.LeaveGroupRequestData.MemberIdentity;
import org.apache.kafka.common.message.LeaveGroupResponseData.MemberResponse;
import org.apache.kafka.common.message.LeaveGroupResponseData;
import org.apache.kafka.common.protocol.ApiKeys;
import org.apache.kafka.common.protocol.Errors;
import org.apache.kafka.common.requests.AbstractResponse;
import org.apache.kafka.common.requests.HeartbeatRequest;
import org.apache.kafka.common.requests.HeartbeatResponse;
import org.apache.kafka.common.requests.JoinGroupRequest;
import org.apache.kafka.common.requests.JoinGroupResponse;
import org.apache.kafka.common.requests.LeaveGroupRequest;
import org.apache.kafka.common.requests.LeaveGroupResponse;
import org.apache.kafka.common.requests.SyncGroupRequest;
import org.apache.kafka.common.requests.SyncGroupResponse;

/**
 * The classic group protocol's four APIs, thin over {@code group.GroupCoordinator}, which holds the state machine:
 * JoinGroup (with KIP-394's member id round trip and KIP-345's static members), SyncGroup, Heartbeat and
 * LeaveGroup (batched from v3).
 */
public final class GroupMembershipHandlers {
    private GroupMembershipHandlers() {
    }

    public static List<ApiHandler> all() {
        return List.of(new Join(), new Sync(), new Heartbeat(), new Leave());
    }

    /** Kafka's check for the four APIs: READ on the group; without it, GROUP_AUTHORIZATION_FAILED. */
    static Future<AbstractResponse> denied(String group) {
        return Future.failedFuture(GroupAuthorizationException.forGroupId(group));
    }

    static final class Join extends TypedApiHandler<JoinGroupRequest> {
        Join() {
            super(ApiKeys.JOIN_GROUP, JoinGroupRequest.class);
        }

        @Override
        protected Future<AbstractResponse> serve(RequestContext ctx, JoinGroupRequest r) {
            if (!ctx.authorizeGroup(AclOperation.READ, r.data().groupId())) return denied(r.data().groupId());
            return ctx.broker().groups().joinGroup(r.data(), ctx.apiVersion(), ctx.header().clientId(), ctx.clientHost())
                    .map(data -> new JoinGroupResponse(data, ctx.apiVersion()));
        }
    }

    static final class Sync extends TypedApiHandler<SyncGroupRequest> {
        Sync() {
            super(ApiKeys.SYNC_GROUP, SyncGroupRequest.class);
        }

        @Override
        protected Future<AbstractResponse> serve(RequestContext ctx, SyncGroupRequest request) {
            if (!ctx.authorizeGroup(AclOperation.READ, request.data().groupId())) return denied(request.data().groupId());
            return ctx.broker().groups().syncGroup(request.data()).map(SyncGroupResponse::new);
        }
    }

    static final class Heartbeat extends TypedApiHandler<HeartbeatRequest> {
        Heartbeat() {
            super(ApiKeys.HEARTBEAT, HeartbeatRequest.class);
        }

        @Override
        protected Future<AbstractResponse> serve(RequestContext ctx, HeartbeatRequest request) {
            var d = request.data();
            if (!ctx.authorizeGroup(AclOperation.READ, d.groupId())) return denied(d.groupId());
            return ctx.broker().groups().heartbeat(d.groupId(), d.memberId(), d.generationId())
                    .map(e -> new HeartbeatResponse(new HeartbeatResponseData().setErrorCode(e.code())));
        }
    }

    static final class Leave extends TypedApiHandler<LeaveGroupRequest> {
        Leave() {
            super(ApiKeys.LEAVE_GROUP, LeaveGroupRequest.class);
        }

        @Override
        protected Future<AbstractResponse> serve(RequestContext ctx, LeaveGroupRequest r) {
            String group = r.data().groupId();
            if (!ctx.authorizeGroup(AclOperation.READ, group)) return denied(group);
            List<MemberIdentity> members = r.members();
            List<Future<Errors>> results = new ArrayList<>();
            for (MemberIdentity m : members) results.add(ctx.broker().groups().leaveGroup(group, m.memberId(), m.groupInstanceId()));
            return Future.all(results).map(cf -> {
                // Per member; for v0 to v2 (one member) LeaveGroupResponse moves that member's error to the top level.
                LeaveGroupResponseData out = new LeaveGroupResponseData();
                for (int i = 0; i < members.size(); i++) {
                    out.members().add(new MemberResponse().setMemberId(members.get(i).memberId())
                            .setGroupInstanceId(members.get(i).groupInstanceId()).setErrorCode(results.get(i).result().code()));
                }
                return new LeaveGroupResponse(out, ctx.apiVersion());
            });
        }
    }
}
