package io.runnel.kafka;

import io.vertx.core.Future;
import org.apache.kafka.common.message.ApiVersionsResponseData;
import org.apache.kafka.common.message.ApiVersionsResponseData.FinalizedFeatureKey;
import org.apache.kafka.common.message.ApiVersionsResponseData.FinalizedFeatureKeyCollection;
import org.apache.kafka.common.message.ApiVersionsResponseData.SupportedFeatureKey;
import org.apache.kafka.common.message.ApiVersionsResponseData.SupportedFeatureKeyCollection;
import org.apache.kafka.common.protocol.ApiKeys;
import org.apache.kafka.common.protocol.Errors;
import org.apache.kafka.common.requests.AbstractResponse;
import org.apache.kafka.common.requests.ApiVersionsRequest;
import org.apache.kafka.common.requests.ApiVersionsResponse;

/**
 * ApiVersions: the version ranges of every API Runnel implements and, from version 3 (KIP-584), the features: Runnel
 * supports {@code transaction.version} 0 to 2 and finalizes the level of the broker key {@code transaction.version}
 * (2 by default), which is what makes a Kafka 4 client use transactions version 2 (KIP-890). The finalized features'
 * epoch is the level itself, so that raising it reaches clients already connected (they take the features of the
 * highest epoch they have seen), as an upgrade with kafka-features.sh does.
 */
final class ApiVersionsHandler extends TypedApiHandler<ApiVersionsRequest> {
    static final String TRANSACTION_VERSION = "transaction.version";
    private static final short MAX_TRANSACTION_VERSION = 2;

    ApiVersionsHandler() {
        super(ApiKeys.API_VERSIONS, ApiVersionsRequest.class);
    }

    @Override
    protected Future<AbstractResponse> serve(RequestContext ctx, ApiVersionsRequest r) {
        ApiVersionsResponseData data = new ApiVersionsResponseData().setApiKeys(ctx.apis().apiVersions());
        if (!r.isValid()) data.setErrorCode(Errors.INVALID_REQUEST.code());
        if (ctx.apiVersion() >= 3) {
            short level = ctx.broker().transactions().transactionVersion();
            SupportedFeatureKeyCollection supported = new SupportedFeatureKeyCollection();
            supported.add(new SupportedFeatureKey().setName(TRANSACTION_VERSION).setMinVersion((short) 0).setMaxVersion(MAX_TRANSACTION_VERSION));
            FinalizedFeatureKeyCollection finalized = new FinalizedFeatureKeyCollection();
            finalized.add(new FinalizedFeatureKey().setName(TRANSACTION_VERSION).setMinVersionLevel(level).setMaxVersionLevel(level));
            data.setSupportedFeatures(supported).setFinalizedFeatures(finalized).setFinalizedFeaturesEpoch(level);
        }
        return Future.succeededFuture(new ApiVersionsResponse(data));
    }
}
