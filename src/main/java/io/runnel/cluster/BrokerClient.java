package io.runnel.cluster;

import io.vertx.core.Future;
import io.vertx.core.Promise;
import io.vertx.core.Vertx;
import io.vertx.core.buffer.Buffer;
import io.vertx.core.net.NetClient;
import io.vertx.core.net.NetClientOptions;
import io.vertx.core.net.NetSocket;
import io.vertx.core.parsetools.RecordParser;
import java.nio.ByteBuffer;
import org.apache.kafka.common.protocol.ByteBufferAccessor;
import org.apache.kafka.common.requests.AbstractRequest;
import org.apache.kafka.common.requests.AbstractResponse;
import org.apache.kafka.common.requests.RequestHeader;
import org.apache.kafka.common.requests.ResponseHeader;

/**
 * A Kafka-protocol connection from this broker to another one (a follower to its leader), with kafka-clients'
 * request and response classes as the codec. One request at a time: the replica fetcher waits for each answer
 * before it sends the next, which is also its back pressure (the leader bounds each answer by fetch sizes).
 * Runs on the context that created it.
 */
final class BrokerClient {
    private final NetClient client;
    private final String host;
    private final int port;
    private final String clientId;
    private NetSocket socket;
    private int correlation;
    private Promise<ByteBuffer> pending;

    BrokerClient(Vertx vertx, String host, int port, String clientId) {
        this.client = vertx.createNetClient(new NetClientOptions().setTcpNoDelay(true).setConnectTimeout(5_000));
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
                    Promise<ByteBuffer> p = pending;
                    pending = null;
                    if (p != null) p.tryComplete(ByteBuffer.wrap(b.getBytes()));
                }
            });
            s.handler(frames);
            s.closeHandler(v -> fail(new IllegalStateException("connection to " + host + ":" + port + " closed")));
            s.exceptionHandler(e -> fail(e));
            return s;
        });
    }

    private void fail(Throwable e) {
        socket = null;
        Promise<ByteBuffer> p = pending;
        pending = null;
        if (p != null) p.tryFail(e);
    }

    /** Sends {@code request} at {@code version} and parses the answer. */
    <T extends AbstractResponse> Future<T> send(AbstractRequest request, short version) {
        return connection().compose(s -> {
            RequestHeader header = new RequestHeader(request.apiKey(), version, clientId, ++correlation);
            ByteBuffer bytes = request.serializeWithHeader(header);
            Promise<ByteBuffer> answer = Promise.promise();
            pending = answer;
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
