package io.runnel.cluster;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.vertx.core.Context;
import io.vertx.core.Future;
import io.vertx.core.Vertx;
import io.vertx.core.buffer.Buffer;
import io.vertx.core.net.NetServer;
import io.vertx.core.net.NetSocket;
import io.vertx.core.parsetools.RecordParser;
import java.nio.ByteBuffer;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import java.util.function.Supplier;
import org.apache.kafka.common.errors.TimeoutException;
import org.apache.kafka.common.message.ApiVersionsResponseData;
import org.apache.kafka.common.message.ResponseHeaderData;
import org.apache.kafka.common.protocol.ApiKeys;
import org.apache.kafka.common.protocol.MessageUtil;
import org.apache.kafka.common.requests.ApiVersionsRequest;
import org.apache.kafka.common.requests.ApiVersionsResponse;
import org.apache.kafka.common.requests.RequestHeader;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

/**
 * The follower's connection to its leader gives up on a request the leader does not answer
 * (replica.socket.timeout.ms) and closes the connection; the next request goes over a new one. The leader here is a fake on loopback that leaves every request of its first
 * connection unanswered.
 */
class BrokerClientTest {
    private static final short VERSION = 3;
    private Vertx vertx;
    private NetServer server;
    private final List<NetSocket> connections = new ArrayList<>();

    @BeforeEach
    void start() throws Exception {
        vertx = Vertx.vertx();
        server = vertx.createNetServer().connectHandler(s -> {
            connections.add(s);
            boolean first = connections.size() == 1;
            RecordParser frames = RecordParser.newFixed(4);
            int[] size = {-1};
            frames.handler(b -> {
                if (size[0] < 0) {
                    size[0] = b.getInt(0);
                    frames.fixedSizeMode(size[0]);
                    return;
                }
                size[0] = -1;
                frames.fixedSizeMode(4);
                int correlation = RequestHeader.parse(ByteBuffer.wrap(b.getBytes())).correlationId();
                if (!first) answer(s, correlation);
            });
            s.handler(frames);
        });
        await(server.listen(0, "127.0.0.1"));
    }

    @AfterEach
    void stop() throws Exception {
        await(vertx.close());
    }

    private static void answer(NetSocket s, int correlation) {
        ByteBuffer header = MessageUtil.toByteBufferAccessor(new ResponseHeaderData().setCorrelationId(correlation),
                ApiKeys.API_VERSIONS.responseHeaderVersion(VERSION)).buffer();
        ByteBuffer body = MessageUtil.toByteBufferAccessor(new ApiVersionsResponseData(), VERSION).buffer();
        s.write(Buffer.buffer().appendInt(header.remaining() + body.remaining()).appendBytes(bytes(header)).appendBytes(bytes(body)));
    }

    private static byte[] bytes(ByteBuffer b) {
        byte[] out = new byte[b.remaining()];
        b.get(out);
        return out;
    }

    @Test
    void anUnansweredRequestTimesOutAndTheNextGoesOverANewConnection() throws Exception {
        Context context = vertx.getOrCreateContext();
        BrokerClient client = onContext(context, () -> new BrokerClient(vertx, "127.0.0.1", server.actualPort(), "test", 300));
        ApiVersionsRequest request = new ApiVersionsRequest.Builder().build(VERSION);

        assertThatThrownBy(() -> await(onContextFuture(context, () -> client.<ApiVersionsResponse>send(request, VERSION))))
                .cause().isInstanceOf(TimeoutException.class).hasMessageContaining("was not answered in 300 ms");

        ApiVersionsResponse next = await(onContextFuture(context, () -> client.<ApiVersionsResponse>send(request, VERSION)));
        assertThat(next.data().errorCode()).isZero();
        assertThat(connections).hasSize(2);
        onContext(context, () -> {
            client.close();
            return null;
        });
    }

    private static <T> T onContext(Context context, Supplier<T> work) throws Exception {
        CompletableFuture<T> out = new CompletableFuture<>();
        context.runOnContext(v -> out.complete(work.get()));
        return out.get(10, TimeUnit.SECONDS);
    }

    private static <T> Future<T> onContextFuture(Context context, Supplier<Future<T>> work) throws Exception {
        return onContext(context, work);
    }

    private static <T> T await(Future<T> f) throws Exception {
        return f.toCompletionStage().toCompletableFuture().get(10, TimeUnit.SECONDS);
    }
}
