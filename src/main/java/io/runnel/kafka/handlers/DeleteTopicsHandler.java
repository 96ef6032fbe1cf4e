package io.runnel.kafka.handlers;

import io.runnel.kafka.RequestContext;
import io.runnel.kafka.TypedApiHandler;
import io.runnel.partition.LocalTopic;
import io.vertx.core.Future;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;
import org.apache.kafka.common.Uuid;
import org.apache.kafka.common.acl.AclOperation;
import org.apache.kafka.common.message.DeleteTopicsRequestData.DeleteTopicState;
import org.apache.kafka.common.message.DeleteTopicsResponseData.DeletableTopicResult;
import org.apache.kafka.common.message.DeleteTopicsResponseData.DeletableTopicResultCollection;
import org.apache.kafka.common.message.DeleteTopicsResponseData;
import org.apache.kafka.common.protocol.ApiKeys;
import org.apache.kafka.common.protocol.Errors;
import org.apache.kafka.common.requests.AbstractResponse;
import org.apache.kafka.common.requests.DeleteTopicsRequest;
import org.apache.kafka.common.requests.DeleteTopicsResponse;

/** DeleteTopics, by name (v1 to v5) or by name or topic id (v6). */
public final class DeleteTopicsHandler extends TypedApiHandler<DeleteTopicsRequest> {
    public DeleteTopicsHandler() {
        super(ApiKeys.DELETE_TOPICS, DeleteTopicsRequest.class);
    }

    @Override
    protected Future<AbstractResponse> serve(RequestContext ctx, DeleteTopicsRequest r) {
        List<DeleteTopicState> asked = new ArrayList<>();
        if (ctx.apiVersion() >= 6) {
            asked.addAll(r.data().topics());
        } else {
            for (String name : r.data().topicNames()) asked.add(new DeleteTopicState().setName(name).setTopicId(Uuid.ZERO_UUID));
        }
        DeletableTopicResultCollection results = new DeletableTopicResultCollection();
        List<Future<?>> all = new ArrayList<>();
        for (DeleteTopicState t : asked) {
            boolean byId = t.name() == null && t.topicId() != null && !Uuid.ZERO_UUID.equals(t.topicId());
            Optional<LocalTopic> topic = byId ? ctx.broker().topics().topicById(t.topicId()) : ctx.broker().topics().topic(t.name());
            DeletableTopicResult out = new DeletableTopicResult().setName(byId ? topic.map(LocalTopic::name).orElse(null) : t.name())
                    .setTopicId(topic.map(LocalTopic::topicId).orElse(Uuid.ZERO_UUID));
            results.add(out);
            String name = byId ? topic.map(LocalTopic::name).orElse(null) : t.name();
            if (name != null && !ctx.authorizeTopic(AclOperation.DELETE, name)) { // Kafka: DELETE on the topic
                out.setErrorCode(Errors.TOPIC_AUTHORIZATION_FAILED.code()).setErrorMessage(Errors.TOPIC_AUTHORIZATION_FAILED.message());
                continue;
            }
            if (topic.isEmpty()) {
                Errors e = byId ? Errors.UNKNOWN_TOPIC_ID : Errors.UNKNOWN_TOPIC_OR_PARTITION;
                out.setErrorCode(e.code()).setErrorMessage(e.message());
                continue;
            }
            all.add(Outcomes.recordError(ctx.broker().topicAdmin().deleteTopic(topic.get().name()),
                    (code, message) -> out.setErrorCode(code).setErrorMessage(message)));
        }
        return Future.join(all).transform(x -> Future.succeededFuture(new DeleteTopicsResponse(new DeleteTopicsResponseData().setResponses(results))));
    }
}
