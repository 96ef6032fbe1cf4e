package io.runnel.kafka;

import io.vertx.core.Future;
import org.apache.kafka.common.protocol.ApiKeys;
import org.apache.kafka.common.requests.AbstractRequest;
import org.apache.kafka.common.requests.AbstractResponse;

/**
 * Serves one Kafka API. The request arrives decoded by kafka-clients' generated classes; the response goes back
 * through them too. A handler runs on the connection's event loop and must not block; it reaches partitions only
 * through {@code PartitionHandle} futures.
 */
public interface ApiHandler {
    ApiKeys apiKey();

    /** The oldest version served: Kafka 4's baseline (KIP-896), which kafka-clients 4.4 knows as the oldest. */
    default short minVersion() {
        return apiKey().oldestVersion();
    }

    /** The newest stable version kafka-clients 4.4 knows. */
    default short maxVersion() {
        return apiKey().latestVersion(false);
    }

    /**
     * Handles a request. The future's value is the response, or {@code null} when none is sent (Produce with
     * acks=0). A failed future is answered with the request's own error response ({@code getErrorResponse}), except
     * {@link CloseConnectionException}, which closes the connection as Kafka does.
     */
    Future<AbstractResponse> handle(RequestContext ctx, AbstractRequest request);
}
