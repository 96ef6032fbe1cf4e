package io.runnel.kafka;

import io.runnel.config.Limits;
import io.vertx.core.Context;
import io.vertx.core.Future;
import io.vertx.core.Vertx;
import io.vertx.core.buffer.Buffer;
import io.vertx.core.net.NetSocket;
import io.vertx.core.parsetools.RecordParser;
import java.nio.ByteBuffer;
import java.util.ArrayDeque;
import org.apache.kafka.common.errors.ApiException;
import org.apache.kafka.common.message.ResponseHeaderData;
import org.apache.kafka.common.protocol.ApiKeys;
import org.apache.kafka.common.protocol.ApiMessage;
import org.apache.kafka.common.protocol.ByteBufferAccessor;
import org.apache.kafka.common.requests.AbstractRequest;
import org.apache.kafka.common.requests.AbstractResponse;
import org.apache.kafka.common.requests.RequestHeader;
import org.apache.kafka.common.requests.RequestUtils;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * One Kafka client connection, on one event loop: framing (a 4-byte size, then the request), decoding with
 * kafka-clients, dispatch to the {@link ApiHandler}s, and responses written in request order although handlers
 * answer in any order (clients pipeline requests).
 *
 * <p>Back pressure, by credits: each request read adds its size to this connection's in-flight bytes and to the
 * broker-wide {@link InflightBudget}; answering it gives the bytes back. Reading pauses ({@code pause()} on the
 * socket) while the connection's in-flight bytes reach {@code connection.max.inflight.bytes}, while it has
 * {@link Limits#CONNECTION_MAX_INFLIGHT_REQUESTS} requests unanswered, while the broker budget is spent, and while
 * the socket's write queue is full (a client that does not read its responses); it resumes when all of these are
 * clear. A size prefix above {@code socket.request.max.bytes} (or below 1), an undecodable request, an unknown API
 * or an unsupported version closes this connection only, with one log line, as Kafka does.
 */
final class Connection {
    private static final Logger LOG = LoggerFactory.getLogger(Connection.class);

    private final NetSocket socket;
    private final RecordParser parser;
    private final Context context;
    private final KafkaApis apis;
    private final Endpoint endpoint;
    private final InflightBudget budget;
    private final int maxRequestBytes;
    private final int maxInflightBytes;
    private final String clientHost;
    private final ArrayDeque<Slot> slots = new ArrayDeque<>();
    /** Requests read but not yet handed to their handler (a subset of {@link #slots}, in the same order). */
    private final ArrayDeque<Slot> undispatched = new ArrayDeque<>();
    private int dispatched;
    private long inflightBytes;
    private int expectedSize = -1;
    private boolean readPaused;
    private boolean writeBlocked;
    private boolean awaitingBudget;
    private boolean closed;

    /** A request's place in the response order. */
    private static final class Slot {
        final int bytes;
        Buffer frame;
        boolean done;
        Buffer response;

        Slot(Buffer frame) {
            this.bytes = frame.length();
            this.frame = frame;
        }
    }

    Connection(NetSocket socket, KafkaApis apis, Endpoint endpoint, InflightBudget budget, int maxRequestBytes, int maxInflightBytes) {
        this.socket = socket;
        this.context = Vertx.currentContext();
        this.apis = apis;
        this.endpoint = endpoint;
        this.budget = budget;
        this.maxRequestBytes = maxRequestBytes;
        this.maxInflightBytes = maxInflightBytes;
        this.clientHost = socket.remoteAddress() == null ? "" : socket.remoteAddress().host();
        this.parser = RecordParser.newFixed(4, socket);
        parser.handler(this::onChunk);
        parser.exceptionHandler(e -> close("read failed: " + e.getMessage()));
        socket.closeHandler(v -> onClosed());
        socket.exceptionHandler(e -> close("socket error: " + e.getMessage()));
    }

    private void onChunk(Buffer chunk) {
        if (closed) return;
        if (expectedSize < 0) {
            if (chunk.length() < 4) return; // the parser flushing a partial size prefix as the socket ends
            int size = chunk.getInt(0);
            if (size <= 0 || size > maxRequestBytes) {
                close("request size " + size + " is outside 1.." + maxRequestBytes + " (socket.request.max.bytes)");
                return;
            }
            expectedSize = size;
            parser.fixedSizeMode(size);
        } else {
            expectedSize = -1;
            parser.fixedSizeMode(4);
            onRequest(chunk);
        }
    }

    private void onRequest(Buffer frame) {
        Slot slot = new Slot(frame);
        slots.addLast(slot);
        undispatched.addLast(slot);
        inflightBytes += slot.bytes;
        budget.acquire(slot.bytes);
        updateReading();
        dispatchReady();
    }

    /**
     * Hands read requests to their handlers, at most {@link Limits#CONNECTION_MAX_DISPATCHED_REQUESTS} at a time and
     * none while the write queue is full: responses (a fetch's can be megabytes) are only produced as fast as the
     * client reads them, as Kafka's one-request-at-a-time muting does, while still letting a client pipeline.
     */
    private void dispatchReady() {
        while (!closed && !writeBlocked && !undispatched.isEmpty() && dispatched < Limits.CONNECTION_MAX_DISPATCHED_REQUESTS) {
            Slot slot = undispatched.pollFirst();
            dispatched++;
            Buffer frame = slot.frame;
            slot.frame = null;
            dispatch(slot, frame);
        }
    }

    private void dispatch(Slot slot, Buffer frame) {
        ByteBuffer buf = ByteBuffer.wrap(frame.getBytes());
        RequestHeader header;
        try {
            header = RequestHeader.parse(buf);
        } catch (RuntimeException e) {
            close("cannot parse a request header (" + e.getMessage() + ")");
            return;
        }
        ApiHandler handler = apis.handler(header.apiKey());
        short version = header.apiVersion();
        if (handler == null) {
            close("API " + header.apiKey() + " is not supported by Runnel");
            return;
        }
        if (version < handler.minVersion() || version > handler.maxVersion()) {
            if (header.apiKey() == ApiKeys.API_VERSIONS) {
                // KIP-511: answer an unknown ApiVersions version with v0, UNSUPPORTED_VERSION and our ranges.
                complete(slot, header, apis.unsupportedApiVersionsResponse(), (short) 0);
            } else {
                close(header.apiKey() + " version " + version + " is not supported (supported: " + handler.minVersion()
                        + " to " + handler.maxVersion() + ")");
            }
            return;
        }
        AbstractRequest request;
        try {
            request = AbstractRequest.parseRequest(header.apiKey(), version, new ByteBufferAccessor(buf)).request;
        } catch (RuntimeException e) {
            close("cannot parse " + header.apiKey() + " v" + version + " (" + e.getMessage() + ")");
            return;
        }
        long started = System.nanoTime();
        Future<AbstractResponse> answer;
        try {
            answer = handler.handle(new RequestContext(header, apis.broker(), endpoint, apis, clientHost), request);
        } catch (RuntimeException e) {
            answer = Future.failedFuture(e);
        }
        answer.onComplete(ar -> {
            if (closed) return;
            if (ar.failed() && ar.cause() instanceof CloseConnectionException) {
                close(ar.cause().getMessage());
                return;
            }
            AbstractResponse response;
            if (ar.succeeded()) {
                response = ar.result();
            } else {
                if (!(ar.cause() instanceof ApiException)) {
                    LOG.warn("{} v{} from {} failed", header.apiKey(), version, socket.remoteAddress(), ar.cause());
                }
                response = request.getErrorResponse(0, ar.cause());
            }
            apis.broker().metrics().request(header.apiKey(), System.nanoTime() - started);
            complete(slot, header, response == null ? null : response.data(), version);
        });
    }

    private void complete(Slot slot, RequestHeader header, ApiMessage response, short version) {
        if (response != null) {
            ResponseHeaderData responseHeader = new ResponseHeaderData().setCorrelationId(header.correlationId());
            short headerVersion = version == 0 && header.apiKey() == ApiKeys.API_VERSIONS ? 0 : header.apiKey().responseHeaderVersion(version);
            ByteBuffer body;
            try {
                body = RequestUtils.serialize(responseHeader, headerVersion, response, version);
            } catch (RuntimeException e) {
                // A handler set a field this version cannot carry: a bug, but one connection's, not the broker's.
                LOG.error("Cannot encode the {} v{} response", header.apiKey(), version, e);
                close("internal error encoding a " + header.apiKey() + " response");
                return;
            }
            Buffer out = Buffer.buffer(4 + body.remaining());
            out.appendInt(body.remaining());
            out.appendBytes(body.array(), body.arrayOffset() + body.position(), body.remaining());
            slot.response = out;
        }
        slot.done = true;
        dispatched--;
        writeCompleted();
        dispatchReady();
    }

    /** Writes every answered response at the head of the queue, in request order. */
    private void writeCompleted() {
        while (!slots.isEmpty() && slots.peekFirst().done) {
            Slot s = slots.pollFirst();
            if (s.response != null) socket.write(s.response);
            inflightBytes -= s.bytes;
            budget.release(s.bytes);
        }
        if (!writeBlocked && socket.writeQueueFull()) {
            writeBlocked = true;
            socket.drainHandler(v -> {
                writeBlocked = false;
                updateReading();
                dispatchReady();
            });
        }
        updateReading();
    }

    private void updateReading() {
        if (closed) return;
        boolean globalFull = budget.exhausted();
        boolean pause = inflightBytes >= maxInflightBytes || slots.size() >= Limits.CONNECTION_MAX_INFLIGHT_REQUESTS
                || writeBlocked || globalFull;
        if (pause && !readPaused) {
            readPaused = true;
            parser.pause();
        } else if (!pause && readPaused) {
            readPaused = false;
            parser.resume();
        }
        if (pause && globalFull && !awaitingBudget) {
            awaitingBudget = true; // registered once: the budget's waiting queue holds each connection at most once
            budget.await(this);
        }
    }

    /** Called from any thread when the broker budget has room again. */
    void wake() {
        context.runOnContext(v -> {
            awaitingBudget = false;
            updateReading();
        });
    }

    private void close(String reason) {
        if (closed) return;
        LOG.info("Closing Kafka connection from {}: {}", socket.remoteAddress(), reason);
        closed = true;
        socket.close();
        releaseAll();
    }

    private void onClosed() {
        closed = true;
        releaseAll();
    }

    private void releaseAll() {
        for (Slot s : slots) budget.release(s.bytes);
        slots.clear();
        undispatched.clear();
        inflightBytes = 0;
    }
}
