package io.runnel.kafka;

import io.vertx.core.Future;
import org.apache.kafka.common.acl.AclOperation;
import org.apache.kafka.common.errors.ClusterAuthorizationException;
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
    private final AclOperation clusterOperation;

    protected TypedApiHandler(ApiKeys apiKey, Class<R> requestType) {
        this(apiKey, requestType, null);
    }

    /**
     * A handler whose whole request needs {@code clusterOperation} on the CLUSTER resource (Kafka's rule for cluster
     * administration and broker-to-broker APIs); without it the request is answered CLUSTER_AUTHORIZATION_FAILED.
     */
    protected TypedApiHandler(ApiKeys apiKey, Class<R> requestType, AclOperation clusterOperation) {
        this.apiKey = apiKey;
        this.requestType = requestType;
        this.clusterOperation = clusterOperation;
    }

    @Override
    public final ApiKeys apiKey() {
        return apiKey;
    }

    @Override
    public final Future<AbstractResponse> handle(RequestContext ctx, AbstractRequest request) {
        if (clusterOperation != null && !ctx.authorizeCluster(clusterOperation)) {
            return Future.failedFuture(new ClusterAuthorizationException("Request " + apiKey.name + " needs " + clusterOperation + " on the cluster"));
        }
        return serve(ctx, requestType.cast(request));
    }

    /** Handles a request; see {@link ApiHandler#handle}. */
    protected abstract Future<AbstractResponse> serve(RequestContext ctx, R request);
}
