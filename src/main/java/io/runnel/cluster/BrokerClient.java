package io.runnel.cluster;

import io.runnel.config.Limits;
import io.vertx.core.Future;
import io.vertx.core.Promise;
import io.vertx.core.Vertx;
import io.vertx.core.buffer.Buffer;
import io.vertx.core.net.NetClient;
import io.vertx.core.net.NetClientOptions;
import io.vertx.core.net.NetSocket;
import io.vertx.core.parsetools.RecordParser;
import java.nio.ByteBuffer;
import org.apache.kafka.common.errors.TimeoutException;
import org.apache.kafka.common.protocol.ByteBufferAccessor;
import org.apache.kafka.common.requests.AbstractRequest;
import org.apache.kafka.common.requests.AbstractResponse;
import org.apache.kafka.common.requests.RequestHeader;
import org.apache.kafka.common.requests.ResponseHeader;

/**
 * A Kafka-protocol connection from this broker to another one (a follower to its leader), with kafka-clients'
 * request and response classes as the codec. One request at a time: the replica fetcher waits for each answer
 * before it sends the next, which is also its back pressure (the leader bounds each answer by fetch sizes). A
 * request not answered within the timeout ({@code replica.socket.timeout.ms}, as Kafka's follower) fails and closes
 * the connection, so that a late answer is never taken for the next request's. Runs on the context that created it.
 */
final class BrokerClient {
    private final Vertx vertx;
    private final NetClient client;
    private final long requestTimeoutMs;
    private final String host;
    private final int port;
    private final String clientId;
    private NetSocket socket;
    private int correlation;
    private Promise<ByteBuffer> pending;

    BrokerClient(Vertx vertx, String host, int port, String clientId, long requestTimeoutMs) {
        this.vertx = vertx;
        this.requestTimeoutMs = requestTimeoutMs;
        this.client = vertx.createNetClient(new NetClientOptions().setTcpNoDelay(true).setConnectTimeout(Limits.BROKER_CONNECT_TIMEOUT_MS));
        this.host = host;
        this.port = port;
        this.clientId = clientId;
    }

    private Future<NetSocket> connection() {
        if (socket != null) return Future.succeededFuture(socket);
        return client.connect(port, host).map(s -> {
            socket = s;
            RecordParser frames = RecordParser.newFixed(4);
            int[] size = {-1};
            frames.handler(b -> {
                if (size[0] < 0) {
                    size[0] = b.getInt(0);
                    frames.fixedSizeMode(size[0]);
                } else {
                    size[0] = -1;
                    frames.fixedSizeMode(4);
                    if (socket != s) return; // a late answer on a connection given up
                    Promise<ByteBuffer> p = pending;
                    pending = null;
                    if (p != null) p.tryComplete(ByteBuffer.wrap(b.getBytes()));
                }
            });
            s.handler(frames);
            // Only while this is the current connection: one closed after a timeout must not fail the next request.
            s.closeHandler(v -> {
                if (socket == s) fail(new IllegalStateException("connection to " + host + ":" + port + " closed"));
            });
            s.exceptionHandler(e -> {
                if (socket == s) fail(e);
            });
            return s;
        });
    }

    private void fail(Throwable e) {
        socket = null;
        Promise<ByteBuffer> p = pending;
        pending = null;
        if (p != null) p.tryFail(e);
    }

    /**
     * A connection to live broker {@code broker} at its first listener, as {@code view} knows it, or null when the view
     * has no such broker (it left, or has not registered yet). Not connected until the first request.
     */
    static BrokerClient to(Vertx vertx, ClusterView view, int broker, String clientId, long requestTimeoutMs) {
        for (ClusterView.BrokerNode b : view.brokers()) {
            if (b.nodeId() != broker || b.listeners().isEmpty()) continue;
            String[] hp = b.hostPort(b.listeners().keySet().iterator().next());
            return new BrokerClient(vertx, hp[0], Integer.parseInt(hp[1]), clientId, requestTimeoutMs);
        }
        return null;
    }

    /** Sends {@code request} at {@code version} and parses the answer. */
    <T extends AbstractResponse> Future<T> send(AbstractRequest request, short version) {
        return connection().compose(s -> {
            RequestHeader header = new RequestHeader(request.apiKey(), version, clientId, ++correlation);
            ByteBuffer bytes = request.serializeWithHeader(header);
            Promise<ByteBuffer> answer = Promise.promise();
            pending = answer;
            long timer = vertx.setTimer(requestTimeoutMs, id -> {
                if (pending != answer) return;
                fail(new TimeoutException(request.apiKey() + " to " + host + ":" + port + " was not answered in "
                        + requestTimeoutMs + " ms"));
                s.close();
            });
            answer.future().onComplete(x -> vertx.cancelTimer(timer));
            s.write(Buffer.buffer(4 + bytes.remaining()).appendInt(bytes.remaining()).appendBytes(bytes.array(), bytes.arrayOffset() + bytes.position(),
                    bytes.remaining()));
            return answer.future().map(buf -> {
                ResponseHeader.parse(buf, request.apiKey().responseHeaderVersion(version));
                @SuppressWarnings("unchecked")
                T response = (T) AbstractResponse.parseResponse(request.apiKey(), new ByteBufferAccessor(buf), version);
                return response;
            });
        });
    }

    void close() {
        NetSocket s = socket;
        socket = null;
        if (s != null) s.close();
        client.close();
    }
}
