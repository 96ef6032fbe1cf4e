package io.runnel.kafka;

import io.vertx.core.Future;
import org.apache.kafka.common.protocol.ApiKeys;
import org.apache.kafka.common.requests.AbstractRequest;
import org.apache.kafka.common.requests.AbstractResponse;

/**
 * An {@link ApiHandler} for one API whose request class is {@code R}: it names its API key once, in the constructor,
 * and receives its request already typed.
 */
public abstract class TypedApiHandler<R extends AbstractRequest> implements ApiHandler {
    private final ApiKeys apiKey;
    private final Class<R> requestType;

    protected TypedApiHandler(ApiKeys apiKey, Class<R> requestType) {
        this.apiKey = apiKey;
        this.requestType = requestType;
    }

    @Override
    public final ApiKeys apiKey() {
        return apiKey;
    }

    @Override
    public final Future<AbstractResponse> handle(RequestContext ctx, AbstractRequest request) {
        return serve(ctx, requestType.cast(request));
    }

    /** Handles a request; see {@link ApiHandler#handle}. */
    protected abstract Future<AbstractResponse> serve(RequestContext ctx, R request);
}
