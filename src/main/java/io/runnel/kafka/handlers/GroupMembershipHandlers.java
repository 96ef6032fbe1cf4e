package io.runnel.kafka.handlers;

import io.runnel.kafka.ApiHandler;
import io.runnel.kafka.RequestContext;
import io.vertx.core.Future;
import java.util.ArrayList;
import java.util.List;
import org.apache.kafka.common.message.HeartbeatResponseData;
import org.apache.kafka.common.message.LeaveGroupRequestData.MemberIdentity;
import org.apache.kafka.common.message.LeaveGroupResponseData;
import org.apache.kafka.common.message.LeaveGroupResponseData.MemberResponse;
import org.apache.kafka.common.protocol.ApiKeys;
import org.apache.kafka.common.protocol.Errors;
import org.apache.kafka.common.requests.AbstractRequest;
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

    static final class Join implements ApiHandler {
        @Override
        public ApiKeys apiKey() {
            return ApiKeys.JOIN_GROUP;
        }

        @Override
        public Future<AbstractResponse> handle(RequestContext ctx, AbstractRequest request) {
            JoinGroupRequest r = (JoinGroupRequest) request;
            return ctx.broker().groups().joinGroup(r.data(), ctx.apiVersion(), ctx.header().clientId(), ctx.clientHost())
                    .map(data -> new JoinGroupResponse(data, ctx.apiVersion()));
        }
    }

    static final class Sync implements ApiHandler {
        @Override
        public ApiKeys apiKey() {
            return ApiKeys.SYNC_GROUP;
        }

        @Override
        public Future<AbstractResponse> handle(RequestContext ctx, AbstractRequest request) {
            return ctx.broker().groups().syncGroup(((SyncGroupRequest) request).data()).map(SyncGroupResponse::new);
        }
    }

    static final class Heartbeat implements ApiHandler {
        @Override
        public ApiKeys apiKey() {
            return ApiKeys.HEARTBEAT;
        }

        @Override
        public Future<AbstractResponse> handle(RequestContext ctx, AbstractRequest request) {
            var d = ((HeartbeatRequest) request).data();
            return ctx.broker().groups().heartbeat(d.groupId(), d.memberId(), d.generationId())
                    .map(e -> new HeartbeatResponse(new HeartbeatResponseData().setErrorCode(e.code())));
        }
    }

    static final class Leave implements ApiHandler {
        @Override
        public ApiKeys apiKey() {
            return ApiKeys.LEAVE_GROUP;
        }

        @Override
        public Future<AbstractResponse> handle(RequestContext ctx, AbstractRequest request) {
            LeaveGroupRequest r = (LeaveGroupRequest) request;
            String group = r.data().groupId();
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
