package io.runnel.kafka.handlers;

import io.runnel.kafka.ApiHandler;
import io.runnel.kafka.RequestContext;
import io.vertx.core.Future;
import java.util.ArrayList;
import java.util.List;
import org.apache.kafka.common.message.ConsumerGroupDescribeResponseData;
import org.apache.kafka.common.protocol.ApiKeys;
import org.apache.kafka.common.requests.AbstractRequest;
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

    static final class Heartbeat implements ApiHandler {
        @Override
        public ApiKeys apiKey() {
            return ApiKeys.CONSUMER_GROUP_HEARTBEAT;
        }

        @Override
        public Future<AbstractResponse> handle(RequestContext ctx, AbstractRequest request) {
            return ctx.broker().groups().consumerGroupHeartbeat(((ConsumerGroupHeartbeatRequest) request).data(), ctx.header().clientId(),
                    ctx.clientHost()).map(ConsumerGroupHeartbeatResponse::new);
        }
    }

    static final class Describe implements ApiHandler {
        @Override
        public ApiKeys apiKey() {
            return ApiKeys.CONSUMER_GROUP_DESCRIBE;
        }

        @Override
        public Future<AbstractResponse> handle(RequestContext ctx, AbstractRequest request) {
            List<Future<ConsumerGroupDescribeResponseData.DescribedGroup>> all = new ArrayList<>();
            for (String id : ((ConsumerGroupDescribeRequest) request).data().groupIds()) all.add(ctx.broker().groups().consumerGroupDescribe(id));
            return Future.all(all).map(cf -> new ConsumerGroupDescribeResponse(new ConsumerGroupDescribeResponseData()
                    .setGroups(all.stream().map(Future::result).toList())));
        }
    }
}
