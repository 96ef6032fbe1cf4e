package io.runnel.kafka;

import org.apache.kafka.common.requests.RequestHeader;

/**
 * One request's surroundings: its header, the broker, and the endpoint of the listener it came in on (the address
 * Metadata advertises to this client).
 */
public record RequestContext(RequestHeader header, BrokerInfo broker, Endpoint endpoint, KafkaApis apis, String clientHost) {
    public short apiVersion() {
        return header.apiVersion();
    }
}
