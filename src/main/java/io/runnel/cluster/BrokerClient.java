package io.runnel.cluster;

import io.runnel.config.Limits;
import io.runnel.kafka.wire.FrameReader;
import io.runnel.security.InterBrokerLink;
import io.vertx.core.Future;
import io.vertx.core.Promise;
import io.vertx.core.Vertx;
import io.netty.buffer.ByteBuf;
import io.netty.util.ReferenceCountUtil;
import io.vertx.core.buffer.Buffer;
import io.vertx.core.internal.net.NetSocketInternal;
import io.vertx.core.net.NetClient;
import io.vertx.core.net.NetClientOptions;
import io.vertx.core.net.NetSocket;
import java.nio.ByteBuffer;
import java.util.function.Function;
import javax.security.sasl.SaslClient;
import javax.security.sasl.SaslException;
import org.apache.kafka.common.errors.NetworkException;
import org.apache.kafka.common.errors.TimeoutException;
import org.apache.kafka.common.message.SaslAuthenticateRequestData;
import org.apache.kafka.common.message.SaslHandshakeRequestData;
import org.apache.kafka.common.protocol.ByteBufferAccessor;
import org.apache.kafka.common.protocol.Errors;
import org.apache.kafka.common.requests.AbstractRequest;
import org.apache.kafka.common.requests.AbstractResponse;
import org.apache.kafka.common.requests.RequestHeader;
import org.apache.kafka.common.requests.ResponseHeader;
import org.apache.kafka.common.requests.SaslAuthenticateRequest;
import org.apache.kafka.common.requests.SaslAuthenticateResponse;
import org.apache.kafka.common.requests.SaslHandshakeRequest;
import org.apache.kafka.common.requests.SaslHandshakeResponse;

/**
 * A Kafka-protocol connection from this broker to another one (a follower to its leader), with kafka-clients'
 * request and response classes as the codec. One request at a time: the replica fetcher waits for each answer
 * before it sends the next, which is also its back pressure (the leader bounds each answer by fetch sizes). A
 * request not answered within the timeout ({@code replica.socket.timeout.ms}, as Kafka's follower) fails and closes
 * the connection, so that a late answer is never taken for the next request's. Runs on the context that created it.
 *
 * <p>Each answer is assembled from the socket's buffers into one pooled direct buffer of its size by the
 * {@link FrameReader} the broker's own connections read requests with: a follower's fetch answers (megabytes of records) are not collected into heap
 * arrays and copied again, and their records reach the log's {@code pwrite} from that buffer ({@link #sendThen}).
 */
final class BrokerClient {
    private final Vertx vertx;
    private final NetClient client;
    private final long requestTimeoutMs;
    private final String host;
    private final int port;
    private final String clientId;
    private final InterBrokerLink link;
    private NetSocket socket;
    /** The connection being opened and authenticated, while it is. */
    private Future<NetSocket> connecting;
    private int correlation;
    private Promise<ByteBuf> pending;

    BrokerClient(Vertx vertx, String host, int port, String clientId, long requestTimeoutMs) {
        this(vertx, host, port, clientId, requestTimeoutMs, InterBrokerLink.plaintext("PLAINTEXT"));
    }

    BrokerClient(Vertx vertx, String host, int port, String clientId, long requestTimeoutMs, InterBrokerLink link) {
        this.vertx = vertx;
        this.requestTimeoutMs = requestTimeoutMs;
        this.link = link;
        NetClientOptions options = new NetClientOptions().setTcpNoDelay(true).setConnectTimeout(Limits.BROKER_CONNECT_TIMEOUT_MS);
        if (link.tls() != null) link.tls().applyTo(options);
        this.client = vertx.createNetClient(options);
        this.host = host;
        this.port = port;
        this.clientId = clientId;
    }

    /** The connection, opened (and on a SASL listener authenticated) if there is none. */
    private Future<NetSocket> connection() {
        if (connecting != null) return connecting; // the socket exists before it is authenticated: wait for that
        if (socket != null) return Future.succeededFuture(socket);
        Future<NetSocket> f = open().compose(s -> link.mechanism() == null ? Future.succeededFuture(s) : authenticate(s).map(s).recover(e -> {
            fail(e);
            s.close();
            return Future.failedFuture(e);
        }));
        connecting = f.isComplete() ? null : f;
        f.onComplete(ar -> {
            if (connecting == f) connecting = null;
        });
        return f;
    }

    private Future<NetSocket> open() {
        return client.connect(port, host).map(s -> {
            socket = s;
            NetSocketInternal raw = (NetSocketInternal) s;
            FrameReader frames = new FrameReader(raw.channelHandlerContext().alloc());
            raw.messageHandler(msg -> onMessage(s, frames, msg));
            // Only while this is the current connection: one closed after a timeout must not fail the next request.
            s.closeHandler(v -> {
                frames.release();
                if (socket == s) fail(new NetworkException("connection to " + host + ":" + port + " closed"));
            });
            s.exceptionHandler(e -> {
                if (socket == s) fail(e);
            });
            return s;
        });
    }

    /** Hands each whole answer on {@code s} to the request waiting for it, or drops it (a late answer). */
    private void onMessage(NetSocket s, FrameReader frames, Object msg) {
        if (!(msg instanceof ByteBuf in)) {
            ReferenceCountUtil.release(msg);
            return;
        }
        try {
            while (in.isReadable()) {
                ByteBuf answer = frames.next(in, size -> size <= 0 || size > Limits.BROKER_RESPONSE_MAX_BYTES
                        ? "an answer of " + size + " bytes from " + host + ":" + port + " (at most " + Limits.BROKER_RESPONSE_MAX_BYTES + ")" : null);
                if (answer == null) continue;
                Promise<ByteBuf> p = socket == s ? pending : null; // a late answer on a connection given up: dropped
                if (p != null) pending = null;
                if (p == null || !p.tryComplete(answer)) answer.release();
            }
        } catch (FrameReader.RefusedSize e) {
            if (socket == s) fail(new NetworkException(e.getMessage()));
            s.close();
        } finally {
            in.release();
        }
    }

    private void fail(Throwable e) {
        socket = null;
        Promise<ByteBuf> p = pending;
        pending = null;
        if (p != null) p.tryFail(e);
    }

    /**
     * A connection to live broker {@code broker} at its inter-broker listener ({@code link}), as {@code view} knows it,
     * or null when the view has no such broker (it left, or has not registered yet). Not connected until the first
     * request.
     */
    static BrokerClient to(Vertx vertx, ClusterView view, int broker, String clientId, long requestTimeoutMs, InterBrokerLink link) {
        for (ClusterView.BrokerNode b : view.brokers()) {
            if (b.nodeId() != broker) continue;
            String[] hp = b.hostPort(link.listener());
            if (hp == null) return null; // registered without the inter-broker listener: not reachable the configured way
            return new BrokerClient(vertx, hp[0], Integer.parseInt(hp[1]), clientId, requestTimeoutMs, link);
        }
        return null;
    }

    /**
     * Authenticates a new connection as Kafka's client does: SaslHandshake with the mechanism, then SaslAuthenticate
     * carrying each token of kafka-clients' (SCRAM) or the JDK's (PLAIN) SASL client until it completes.
     */
    private Future<Void> authenticate(NetSocket s) {
        SaslClient sasl;
        byte[] first;
        try {
            sasl = link.newSaslClient(host);
            first = sasl.hasInitialResponse() ? sasl.evaluateChallenge(new byte[0]) : new byte[0];
        } catch (SaslException e) {
            return Future.failedFuture(e);
        }
        return exchange(s, new SaslHandshakeRequest(new SaslHandshakeRequestData().setMechanism(link.mechanism()), (short) 1), (short) 1)
                .compose(r -> {
                    Errors error = Errors.forCode(((SaslHandshakeResponse) r).data().errorCode());
                    if (error != Errors.NONE) return Future.failedFuture(error.exception("SASL handshake with " + host + ":" + port + " failed"));
                    return step(s, sasl, first);
                }).eventually(() -> {
                    try {
                        sasl.dispose();
                    } catch (SaslException ignored) {
                        // nothing held
                    }
                    return Future.succeededFuture();
                });
    }

    private Future<Void> step(NetSocket s, SaslClient sasl, byte[] token) {
        return exchange(s, new SaslAuthenticateRequest(new SaslAuthenticateRequestData().setAuthBytes(token), (short) 2), (short) 2).compose(r -> {
            SaslAuthenticateResponse response = (SaslAuthenticateResponse) r;
            Errors error = Errors.forCode(response.data().errorCode());
            if (error != Errors.NONE) {
                return Future.failedFuture(error.exception("authentication to broker " + host + ":" + port + " as " + link.username()
                        + " failed: " + response.data().errorMessage()));
            }
            try {
                if (sasl.isComplete()) return Future.succeededFuture(); // PLAIN: one token, nothing comes back to check
                byte[] next = sasl.evaluateChallenge(response.data().authBytes()); // SCRAM checks the server's signature here
                if (sasl.isComplete() && (next == null || next.length == 0)) return Future.succeededFuture();
                return step(s, sasl, next == null ? new byte[0] : next);
            } catch (SaslException e) {
                return Future.failedFuture(e);
            }
        });
    }

    /** Sends {@code request} at {@code version} and parses the answer (into memory of its own). */
    <T extends AbstractResponse> Future<T> send(AbstractRequest request, short version) {
        return connection().compose(s -> exchange(s, request, version));
    }

    /**
     * Sends {@code request} at {@code version} and hands the answer to {@code use}, parsed in place: its records are
     * views of the answer's pooled buffer, valid until the future {@code use} returns completes (then the buffer is
     * released). For a follower's fetches, whose records go straight to the log.
     */
    <T extends AbstractResponse, R> Future<R> sendThen(AbstractRequest request, short version, Function<T, Future<R>> use) {
        return connection().compose(s -> exchangeRaw(s, request, version)).compose(buf -> {
            Future<R> used;
            try {
                used = use.apply(parse(buf.nioBuffer(), request, version));
            } catch (RuntimeException e) {
                used = Future.failedFuture(e);
            }
            return used.andThen(x -> buf.release());
        });
    }

    /** One request and its answer on {@code s}, parsed from a heap copy (the pooled buffer is released at once). */
    private <T extends AbstractResponse> Future<T> exchange(NetSocket s, AbstractRequest request, short version) {
        return exchangeRaw(s, request, version).map(buf -> {
            ByteBuffer copy;
            try {
                copy = ByteBuffer.allocate(buf.readableBytes());
                buf.getBytes(buf.readerIndex(), copy);
                copy.flip();
            } finally {
                buf.release();
            }
            return parse(copy, request, version);
        });
    }

    private static <T extends AbstractResponse> T parse(ByteBuffer buf, AbstractRequest request, short version) {
        ResponseHeader.parse(buf, request.apiKey().responseHeaderVersion(version));
        @SuppressWarnings("unchecked")
        T response = (T) AbstractResponse.parseResponse(request.apiKey(), new ByteBufferAccessor(buf), version);
        return response;
    }

    /** One request and its answer on {@code s}, as the pooled buffer it arrived in (the caller releases it). */
    private Future<ByteBuf> exchangeRaw(NetSocket s, AbstractRequest request, short version) {
        RequestHeader header = new RequestHeader(request.apiKey(), version, clientId, ++correlation);
        ByteBuffer bytes = request.serializeWithHeader(header);
        Promise<ByteBuf> answer = Promise.promise();
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
        return answer.future();
    }

    void close() {
        NetSocket s = socket;
        socket = null;
        if (s != null) s.close();
        client.close();
    }
}
