package io.runnel.kafka.handlers;

import io.runnel.kafka.RequestContext;
import io.runnel.kafka.TypedApiHandler;
import io.vertx.core.Future;
import org.apache.kafka.common.message.DescribeClusterResponseData.DescribeClusterBroker;
import org.apache.kafka.common.message.DescribeClusterResponseData.DescribeClusterBrokerCollection;
import org.apache.kafka.common.message.DescribeClusterResponseData;
import org.apache.kafka.common.protocol.ApiKeys;
import org.apache.kafka.common.protocol.Errors;
import org.apache.kafka.common.requests.AbstractResponse;
import org.apache.kafka.common.requests.DescribeClusterRequest;
import org.apache.kafka.common.requests.DescribeClusterResponse;

/** DescribeCluster: the brokers (this one), the cluster id and the controller (this broker, until clustering). */
public final class DescribeClusterHandler extends TypedApiHandler<DescribeClusterRequest> {
    /** Kafka's EndpointType.BROKERS: the request asks for broker endpoints, the only kind Runnel has. */
    private static final byte BROKERS = 1;

    public DescribeClusterHandler() {
        super(ApiKeys.DESCRIBE_CLUSTER, DescribeClusterRequest.class);
    }


    @Override
    protected Future<AbstractResponse> serve(RequestContext ctx, DescribeClusterRequest r) {
        DescribeClusterResponseData out = new DescribeClusterResponseData().setClusterId(ctx.broker().clusterId())
                .setControllerId(ctx.controllerId()).setEndpointType(BROKERS);
        if (ctx.apiVersion() >= 1 && r.data().endpointType() != BROKERS) {
            return Future.succeededFuture(new DescribeClusterResponse(out.setErrorCode(Errors.UNSUPPORTED_ENDPOINT_TYPE.code())
                    .setErrorMessage("Only broker endpoints exist")));
        }
        DescribeClusterBrokerCollection brokers = new DescribeClusterBrokerCollection();
        for (var b : ctx.brokers()) brokers.add(new DescribeClusterBroker().setBrokerId(b.nodeId()).setHost(b.host()).setPort(b.port()).setRack(b.rack()));
        return Future.succeededFuture(new DescribeClusterResponse(out.setBrokers(brokers)));
    }
}
