package io.runnel.kafka;

import io.vertx.core.Future;
import org.apache.kafka.common.message.ApiVersionsResponseData;
import org.apache.kafka.common.protocol.ApiKeys;
import org.apache.kafka.common.protocol.Errors;
import org.apache.kafka.common.requests.AbstractResponse;
import org.apache.kafka.common.requests.ApiVersionsRequest;
import org.apache.kafka.common.requests.ApiVersionsResponse;

/** ApiVersions: the version ranges of every API Runnel implements. No features are advertised yet. */
final class ApiVersionsHandler extends TypedApiHandler<ApiVersionsRequest> {
    ApiVersionsHandler() {
        super(ApiKeys.API_VERSIONS, ApiVersionsRequest.class);
    }

    @Override
    protected Future<AbstractResponse> serve(RequestContext ctx, ApiVersionsRequest r) {
        ApiVersionsResponseData data = new ApiVersionsResponseData().setApiKeys(ctx.apis().apiVersions());
        if (!r.isValid()) data.setErrorCode(Errors.INVALID_REQUEST.code());
        return Future.succeededFuture(new ApiVersionsResponse(data));
    }
}
