package io.runnel.kafka.handlers;

import io.runnel.kafka.RequestContext;
import io.runnel.kafka.TypedApiHandler;
import io.vertx.core.Future;
import java.util.ArrayList;
import java.util.List;
import org.apache.kafka.common.acl.AclOperation;
import org.apache.kafka.common.errors.InvalidReplicaAssignmentException;
import org.apache.kafka.common.errors.TopicAuthorizationException;
import org.apache.kafka.common.message.CreatePartitionsRequestData.CreatePartitionsAssignment;
import org.apache.kafka.common.message.CreatePartitionsRequestData.CreatePartitionsTopic;
import org.apache.kafka.common.message.CreatePartitionsResponseData.CreatePartitionsTopicResult;
import org.apache.kafka.common.message.CreatePartitionsResponseData;
import org.apache.kafka.common.protocol.ApiKeys;
import org.apache.kafka.common.requests.AbstractResponse;
import org.apache.kafka.common.requests.CreatePartitionsRequest;
import org.apache.kafka.common.requests.CreatePartitionsResponse;

/** CreatePartitions: raises a topic's partition count; validate-only checks without changing anything. */
public final class CreatePartitionsHandler extends TypedApiHandler<CreatePartitionsRequest> {
    public CreatePartitionsHandler() {
        super(ApiKeys.CREATE_PARTITIONS, CreatePartitionsRequest.class);
    }

    @Override
    protected Future<AbstractResponse> serve(RequestContext ctx, CreatePartitionsRequest r) {
        List<CreatePartitionsTopicResult> results = new ArrayList<>();
        List<Future<?>> all = new ArrayList<>();
        for (CreatePartitionsTopic t : r.data().topics()) {
            CreatePartitionsTopicResult out = new CreatePartitionsTopicResult().setName(t.name());
            results.add(out);
            Future<?> done;
            try {
                if (!ctx.authorizeTopic(AclOperation.ALTER, t.name())) throw new TopicAuthorizationException("Authorization failed."); // Kafka: ALTER
                if (t.assignments() != null) {
                    for (CreatePartitionsAssignment a : t.assignments()) {
                        if (!a.brokerIds().equals(List.of(ctx.broker().nodeId()))) {
                            throw new InvalidReplicaAssignmentException("Replicas " + a.brokerIds() + " are not all live brokers; the only one is "
                                    + ctx.broker().nodeId());
                        }
                    }
                }
                var topic = ctx.broker().topics().topic(t.name());
                if (r.data().validateOnly() && topic.isPresent() && t.count() > topic.get().partitions().size()) {
                    done = Future.succeededFuture();
                } else {
                    done = ctx.broker().topicAdmin().createPartitions(t.name(), t.count());
                }
            } catch (RuntimeException e) {
                done = Future.failedFuture(e);
            }
            all.add(Outcomes.recordError(done, (code, message) -> out.setErrorCode(code).setErrorMessage(message)));
        }
        return Future.join(all).transform(x -> Future.succeededFuture(new CreatePartitionsResponse(new CreatePartitionsResponseData().setResults(results))));
    }
}
