package io.runnel.http;

import io.vertx.core.Future;

/**
 * A subscription of a WebSocket, as its session drives it: records under the client's credit ({@link WsSubscription}
 * for a topic's partitions or a consumer group, {@link WsShareSubscription} for a share group).
 */
interface WsStream {
    /** The subscription's id on its socket ({@code s1}, {@code s2}...). */
    String id();

    /** Starts: the {@code subscribed} frame follows; fails with what the client is told (the subscription is then dropped). */
    Future<Void> start();

    /** The client granted {@code records} more records and {@code bytes} more bytes. */
    void grant(long records, long bytes);

    /** Sends what the credit allows, if it can now (the socket drained). */
    void pump();

    /** Ends the subscription: reads stop, memberships end. */
    void close();
}
