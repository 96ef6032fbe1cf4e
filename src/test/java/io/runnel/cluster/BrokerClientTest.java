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
 * (replica.socket.timeout.ms) and closes the connection; the next request goes over a new one. It reads answers
 * however they arrive and refuses oversized ones. The leader here is a fake on loopback that answers each connection
 * as the test says.
 */
class BrokerClientTest {
    private static final short VERSION = 3;
    private Vertx vertx;
    private NetServer server;
    private final List<NetSocket> connections = new ArrayList<>();
    /** How the fake leader answers on its n-th connection (from 1); by default the first one never answers. */
    private volatile java.util.function.IntFunction<String> behaviour = n -> n == 1 ? "silent" : "answer";

    @BeforeEach
    void start() throws Exception {
        vertx = Vertx.vertx();
        server = vertx.createNetServer().connectHandler(s -> {
            connections.add(s);
            String how = behaviour.apply(connections.size());
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
                switch (how) {
                    case "answer" -> answer(s, correlation);
                    case "bytewise" -> { // the answer one byte per write: each its own TCP segment (no delay)
                        Buffer whole = answerBytes(correlation);
                        for (int i = 0; i < whole.length(); i++) s.write(whole.getBuffer(i, i + 1));
                    }
                    case "oversized" -> s.write(Buffer.buffer().appendInt(Integer.MAX_VALUE).appendBytes(new byte[64]));
                    default -> { } // silent
                }
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
        s.write(answerBytes(correlation));
    }

    private static Buffer answerBytes(int correlation) {
        ByteBuffer header = MessageUtil.toByteBufferAccessor(new ResponseHeaderData().setCorrelationId(correlation),
                ApiKeys.API_VERSIONS.responseHeaderVersion(VERSION)).buffer();
        ByteBuffer body = MessageUtil.toByteBufferAccessor(new ApiVersionsResponseData(), VERSION).buffer();
        return Buffer.buffer().appendInt(header.remaining() + body.remaining()).appendBytes(bytes(header)).appendBytes(bytes(body));
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

    /**
     * Answers are read whole however they arrive (here one byte per TCP segment), also when parsed in place
     * (sendThen); an answer announcing more than BROKER_RESPONSE_MAX_BYTES fails its request and closes the
     * connection, and the next request goes over a new one.
     */
    @Test
    void answersAreReadWholeAndAnOversizedOneClosesTheConnection() throws Exception {
        behaviour = n -> n == 1 ? "bytewise" : n == 2 ? "oversized" : "answer";
        Context context = vertx.getOrCreateContext();
        BrokerClient client = onContext(context, () -> new BrokerClient(vertx, "127.0.0.1", server.actualPort(), "test", 5000));
        ApiVersionsRequest request = new ApiVersionsRequest.Builder().build(VERSION);

        assertThat(await(onContextFuture(context, () -> client.<ApiVersionsResponse>send(request, VERSION))).data().errorCode()).isZero();
        Short parsedInPlace = await(onContextFuture(context, () -> client.<ApiVersionsResponse, Short>sendThen(request, VERSION,
                r -> Future.succeededFuture(r.data().errorCode()))));
        assertThat(parsedInPlace).isZero();
        assertThat(connections).hasSize(1);

        onContext(context, () -> {
            client.close(); // the next request opens the second connection, whose answer is oversized
            return null;
        });
        BrokerClient second = onContext(context, () -> new BrokerClient(vertx, "127.0.0.1", server.actualPort(), "test", 5000));
        assertThatThrownBy(() -> await(onContextFuture(context, () -> second.<ApiVersionsResponse>send(request, VERSION))))
                .cause().isInstanceOf(org.apache.kafka.common.errors.NetworkException.class).hasMessageContaining("bytes from");
        assertThat(await(onContextFuture(context, () -> second.<ApiVersionsResponse>send(request, VERSION))).data().errorCode()).isZero();
        assertThat(connections).hasSize(3);
        onContext(context, () -> {
            second.close();
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
