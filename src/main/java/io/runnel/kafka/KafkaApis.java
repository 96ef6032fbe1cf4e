package io.runnel.kafka;

import io.runnel.kafka.handlers.AclHandlers;
import io.runnel.kafka.handlers.ConsumerGroupHandlers;
import io.runnel.kafka.handlers.CreatePartitionsHandler;
import io.runnel.kafka.handlers.CreateTopicsHandler;
import io.runnel.kafka.handlers.DeleteTopicsHandler;
import io.runnel.kafka.handlers.DescribeClusterHandler;
import io.runnel.kafka.handlers.DescribeConfigsHandler;
import io.runnel.kafka.handlers.ElectLeadersHandler;
import io.runnel.kafka.handlers.FetchHandler;
import io.runnel.kafka.handlers.FindCoordinatorHandler;
import io.runnel.kafka.handlers.GroupAdminHandlers;
import io.runnel.kafka.handlers.GroupMembershipHandlers;
import io.runnel.kafka.handlers.IncrementalAlterConfigsHandler;
import io.runnel.kafka.handlers.InitProducerIdHandler;
import io.runnel.kafka.handlers.ListOffsetsHandler;
import io.runnel.kafka.handlers.MetadataHandler;
import io.runnel.kafka.handlers.OffsetForLeaderEpochHandler;
import io.runnel.kafka.handlers.OffsetHandlers;
import io.runnel.kafka.handlers.ProduceHandler;
import io.runnel.kafka.handlers.ReassignmentHandlers;
import io.runnel.kafka.handlers.SaslHandlers;
import io.runnel.kafka.handlers.ShareFetchHandlers;
import io.runnel.kafka.handlers.ShareStateHandlers;
import io.runnel.kafka.handlers.ShareGroupHandlers;
import io.runnel.kafka.handlers.ShareGroupOffsetsHandlers;
import io.runnel.kafka.handlers.ScramCredentialHandlers;
import io.runnel.kafka.handlers.TransactionHandlers;
import io.runnel.kafka.handlers.TransactionPartitionHandlers;
import java.util.ArrayList;
import java.util.EnumMap;
import java.util.List;
import java.util.Map;
import org.apache.kafka.common.message.ApiVersionsResponseData.ApiVersion;
import org.apache.kafka.common.message.ApiVersionsResponseData.ApiVersionCollection;
import org.apache.kafka.common.message.ApiVersionsResponseData;
import org.apache.kafka.common.protocol.ApiKeys;
import org.apache.kafka.common.protocol.Errors;

/** The Kafka APIs Runnel serves, each with the version range it implements; ApiVersions advertises exactly these. */
public final class KafkaApis {
    private final BrokerInfo broker;
    private final Map<ApiKeys, ApiHandler> handlers = new EnumMap<>(ApiKeys.class);

    public KafkaApis(BrokerInfo broker) {
        this.broker = broker;
        List<ApiHandler> all = new ArrayList<>(List.of(new ApiVersionsHandler(), new MetadataHandler(), new ProduceHandler(),
                new FetchHandler(), new ListOffsetsHandler(), new InitProducerIdHandler(), new CreateTopicsHandler(),
                new DeleteTopicsHandler(), new CreatePartitionsHandler(), new DescribeClusterHandler(), new DescribeConfigsHandler(),
                new IncrementalAlterConfigsHandler(), new FindCoordinatorHandler(), new OffsetForLeaderEpochHandler(), new ElectLeadersHandler()));
        all.addAll(GroupMembershipHandlers.all());
        all.addAll(OffsetHandlers.all());
        all.addAll(GroupAdminHandlers.all());
        all.addAll(ConsumerGroupHandlers.all());
        all.addAll(ShareGroupHandlers.all());
        all.addAll(ShareFetchHandlers.all());
        all.addAll(ShareGroupOffsetsHandlers.all());
        all.addAll(ShareStateHandlers.all());
        all.addAll(ReassignmentHandlers.all());
        all.addAll(TransactionPartitionHandlers.all());
        all.addAll(TransactionHandlers.all());
        all.addAll(SaslHandlers.all());
        all.addAll(ScramCredentialHandlers.all());
        all.addAll(AclHandlers.all());
        for (ApiHandler h : all) handlers.put(h.apiKey(), h);
    }

    ApiHandler handler(ApiKeys key) {
        return handlers.get(key);
    }

    public BrokerInfo broker() {
        return broker;
    }

    /** The advertised version ranges. */
    public ApiVersionCollection apiVersions() {
        ApiVersionCollection out = new ApiVersionCollection();
        for (ApiHandler h : handlers.values()) {
            out.add(new ApiVersion().setApiKey(h.apiKey().id).setMinVersion(h.minVersion()).setMaxVersion(h.maxVersion()));
        }
        return out;
    }

    /** KIP-511's answer to an ApiVersions request of a version Runnel does not know: v0, UNSUPPORTED_VERSION, ranges. */
    ApiVersionsResponseData unsupportedApiVersionsResponse() {
        return new ApiVersionsResponseData().setErrorCode(Errors.UNSUPPORTED_VERSION.code()).setApiKeys(apiVersions());
    }
}
