package io.runnel.kafka;

import io.netty.buffer.ByteBuf;
import io.netty.buffer.ByteBufAllocator;
import io.netty.util.ReferenceCountUtil;
import io.runnel.config.Limits;
import io.runnel.kafka.wire.FrameReader;
import io.runnel.log.value.LogSlice;
import io.runnel.security.Session;
import io.vertx.core.Context;
import io.vertx.core.Future;
import io.vertx.core.Vertx;
import io.vertx.core.internal.net.NetSocketInternal;
import io.vertx.core.net.NetSocket;
import io.vertx.core.net.impl.VertxConnection;
import java.nio.ByteBuffer;
import java.util.ArrayDeque;
import java.util.List;
import java.util.concurrent.atomic.AtomicLong;
import org.apache.kafka.common.errors.ApiException;
import org.apache.kafka.common.message.ResponseHeaderData;
import org.apache.kafka.common.protocol.ApiKeys;
import org.apache.kafka.common.protocol.ApiMessage;
import org.apache.kafka.common.protocol.ByteBufferAccessor;
import org.apache.kafka.common.requests.AbstractRequest;
import org.apache.kafka.common.requests.AbstractResponse;
import org.apache.kafka.common.requests.RequestHeader;
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
 *
 * <p>Bytes, with no copy that is not needed: the socket's buffers arrive as Netty {@link ByteBuf}s (Vert.x's raw
 * message handler, so no heap copy is made of them), and each request is assembled once into a pooled direct buffer
 * of exactly its size, which kafka-clients parses in place; a produce request's records are that buffer's bytes
 * all the way to the file write. The buffer goes back to the pool when the request is answered, not before (a
 * handler may still be appending its records). Responses are encoded by {@link ResponseEncoder} into a pooled
 * buffer, and fetched records ({@link LogSlice}) go from the segment file to the socket as file regions
 * ({@code sendfile}; chunked reads under TLS). File regions are not counted by the socket's write queue, so their
 * unsent bytes are counted here and pause the connection like a full write queue.
 */
final class Connection {
    private static final AtomicLong CONNECTION_IDS = new AtomicLong();
    private static final Logger LOG = LoggerFactory.getLogger(Connection.class);

    private final NetSocket socket;
    private final NetSocketInternal raw;
    private final ByteBufAllocator alloc;
    private final Context context;
    private final KafkaApis apis;
    private final Endpoint endpoint;
    private final InflightBudget budget;
    private final int maxRequestBytes;
    private final int maxInflightBytes;
    private final String clientHost;
    private final ProduceOrder produceOrder = new ProduceOrder();
    private final Session session;
    /** This connection's id on the broker: share sessions opened on it end when it closes (KIP-932). */
    private final String connectionId = "kafka-" + CONNECTION_IDS.incrementAndGet();
    private final int maxUnauthenticatedBytes;
    private final int failedAuthenticationDelayMs;
    /** Set when a response must be the last (failed authentication): reading stops and the connection closes once it is written. */
    private boolean closingAfterResponse;
    private final ArrayDeque<Slot> slots = new ArrayDeque<>();
    /** Requests read but not yet handed to their handler (a subset of {@link #slots}, in the same order). */
    private final ArrayDeque<Slot> undispatched = new ArrayDeque<>();
    /** Socket buffers received and not yet wholly read into requests (reading stops inside one while paused). */
    private final ArrayDeque<ByteBuf> input = new ArrayDeque<>();
    private boolean draining;
    private final FrameReader frames;
    private int dispatched;
    private long inflightBytes;
    /** Bytes of file regions handed to the socket and not yet sent. */
    private long unsentFileBytes;
    private boolean readPaused;
    private boolean writeBlocked;
    private boolean awaitingBudget;
    private boolean closed;

    /** A request's place in the response order. */
    private static final class Slot {
        final int bytes;
        /** The request's bytes, until its handler has answered (parsed fields and records point into them). */
        ByteBuf frame;
        boolean done;
        List<Object> response;

        Slot(ByteBuf frame) {
            this.bytes = frame.readableBytes();
            this.frame = frame;
        }

        void releaseFrame() {
            if (frame != null) {
                frame.release();
                frame = null;
            }
        }
    }

    Connection(NetSocket socket, KafkaApis apis, Endpoint endpoint, InflightBudget budget, int maxRequestBytes, int maxInflightBytes,
               Session session, int maxUnauthenticatedBytes, int failedAuthenticationDelayMs) {
        this.session = session;
        this.maxUnauthenticatedBytes = maxUnauthenticatedBytes;
        this.failedAuthenticationDelayMs = failedAuthenticationDelayMs;
        this.socket = socket;
        this.raw = (NetSocketInternal) socket;
        this.alloc = raw.channelHandlerContext().alloc();
        this.frames = new FrameReader(alloc);
        this.context = Vertx.currentContext();
        this.apis = apis;
        this.endpoint = endpoint;
        this.budget = budget;
        this.maxRequestBytes = maxRequestBytes;
        this.maxInflightBytes = maxInflightBytes;
        this.clientHost = socket.remoteAddress() == null ? "" : socket.remoteAddress().host();
        raw.messageHandler(this::onMessage);
        socket.closeHandler(v -> onClosed());
        socket.exceptionHandler(e -> close("socket error: " + e.getMessage()));
    }

    private void onMessage(Object msg) {
        if (!(msg instanceof ByteBuf in)) {
            ReferenceCountUtil.release(msg);
            return;
        }
        if (closed || closingAfterResponse) {
            in.release();
            return;
        }
        input.addLast(in);
        readInput();
    }

    /** Reads requests out of the received buffers until they are used up, the connection pauses, or it closes. */
    private void readInput() {
        if (draining) return; // called again from a request this loop dispatched: the loop goes on by itself
        draining = true;
        try {
            while (!closed && !closingAfterResponse && !readPaused && !input.isEmpty()) {
                ByteBuf in = input.peekFirst();
                readFrames(in);
                if (!in.isReadable() && input.peekFirst() == in) {
                    input.pollFirst();
                    in.release();
                }
            }
        } finally {
            draining = false;
        }
    }

    private void readFrames(ByteBuf in) {
        while (in.isReadable() && !closed && !readPaused) {
            ByteBuf request;
            try {
                request = frames.next(in, this::refusal);
            } catch (FrameReader.RefusedSize e) {
                close(e.getMessage());
                return;
            }
            if (request != null) onRequest(request);
        }
    }

    /** Why a request of {@code size} bytes is refused (the connection closes), or null. */
    private String refusal(int size) {
        if (size <= 0 || size > maxRequestBytes) {
            return "request size " + size + " is outside 1.." + maxRequestBytes + " (socket.request.max.bytes)";
        }
        if (!session.authenticated() && size > maxUnauthenticatedBytes) {
            // Kafka's sasl.server.max.receive.size: before authentication a client cannot make the broker hold much.
            return "request size " + size + " before authentication is above " + maxUnauthenticatedBytes + " (sasl.server.max.receive.size)";
        }
        return null;
    }

    private void onRequest(ByteBuf frame) {
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
        // Until the client is authenticated, one request at a time: whether the next is allowed depends on the answer.
        int limit = session.authenticated() ? Limits.CONNECTION_MAX_DISPATCHED_REQUESTS : 1;
        while (!closed && !closingAfterResponse && !writeBlocked && !filesUnsent() && !undispatched.isEmpty() && dispatched < limit) {
            Slot slot = undispatched.pollFirst();
            dispatched++;
            dispatch(slot);
        }
    }

    /** Whether the unsent file regions reach {@code connection.max.inflight.bytes}: a client that is not reading. */
    private boolean filesUnsent() {
        return unsentFileBytes >= maxInflightBytes;
    }

    private void dispatch(Slot slot) {
        ByteBuffer buf = slot.frame.nioBuffer();
        RequestHeader header;
        try {
            header = RequestHeader.parse(buf);
        } catch (RuntimeException e) {
            slot.releaseFrame();
            close("cannot parse a request header (" + e.getMessage() + ")");
            return;
        }
        if (!session.admits(header.apiKey(), System.nanoTime())) {
            slot.releaseFrame();
            close(header.apiKey() + " is not allowed " + switch (session.state()) {
                case HANDSHAKE -> "before SASL authentication";
                case AUTHENTICATE -> "during SASL authentication (SaslAuthenticate expected)";
                case AUTHENTICATED -> "now: the SASL session expired (connections.max.reauth.ms) or is already authenticated";
            });
            return;
        }
        ApiHandler handler = apis.handler(header.apiKey());
        short version = header.apiVersion();
        if (handler == null) {
            slot.releaseFrame();
            close("API " + header.apiKey() + " is not supported by Runnel");
            return;
        }
        if (version < handler.minVersion() || version > handler.maxVersion()) {
            slot.releaseFrame();
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
            slot.releaseFrame();
            close("cannot parse " + header.apiKey() + " v" + version + " (" + e.getMessage() + ")");
            return;
        }
        long started = System.nanoTime();
        Future<AbstractResponse> answer;
        try {
            answer = handler.handle(new RequestContext(header, apis.broker(), endpoint, apis, clientHost, produceOrder, session, connectionId), request);
        } catch (RuntimeException e) {
            answer = Future.failedFuture(e);
        }
        answer.onComplete(ar -> onLoop(() -> {
            slot.releaseFrame(); // answered: nothing uses the request's bytes any more, even on a closed connection
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
        }));
    }

    /**
     * Runs {@code action} on this connection's event loop: at once when already there, else queued to it. A handler's
     * future may complete on another thread (a future shared by the requests of many connections, such as a
     * coordinator's start, completes on whichever thread finished it); the response queue is this loop's alone, and
     * touching it from two threads wrote one response twice (the client then fails with a correlation id mismatch).
     */
    private void onLoop(Runnable action) {
        if (raw.channelHandlerContext().executor().inEventLoop()) {
            action.run();
        } else {
            context.runOnContext(v -> action.run());
        }
    }

    private void complete(Slot slot, RequestHeader header, ApiMessage response, short version) {
        if (response != null) {
            ResponseHeaderData responseHeader = new ResponseHeaderData().setCorrelationId(header.correlationId());
            short headerVersion = version == 0 && header.apiKey() == ApiKeys.API_VERSIONS ? 0 : header.apiKey().responseHeaderVersion(version);
            try {
                slot.response = ResponseEncoder.encode(alloc, responseHeader, headerVersion, response, version);
            } catch (RuntimeException e) {
                // A handler set a field this version cannot carry: a bug, but one connection's, not the broker's.
                LOG.error("Cannot encode the {} v{} response", header.apiKey(), version, e);
                close("internal error encoding a " + header.apiKey() + " response");
                return;
            }
        }
        slot.done = true;
        dispatched--;
        if (session.closingAfterResponse() && !closingAfterResponse) {
            closingAfterResponse = true;
            setAutoRead(false);
        }
        writeCompleted();
        dispatchReady();
    }

    /** Writes every answered response at the head of the queue, in request order. */
    private void writeCompleted() {
        while (!slots.isEmpty() && slots.peekFirst().done) {
            Slot s = slots.pollFirst();
            if (s.response != null) write(s.response);
            inflightBytes -= s.bytes;
            budget.release(s.bytes);
            if (closingAfterResponse) {
                // Kafka's connection.failed.authentication.delay.ms: the answer goes out now, the close a little later.
                context.owner().setTimer(Math.max(1, failedAuthenticationDelayMs), id -> close("authentication failed"));
                releaseAll();
                return;
            }
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

    private void write(List<Object> parts) {
        for (Object part : parts) {
            if (part instanceof ByteBuf b) {
                raw.writeMessage(b);
            } else {
                LogSlice slice = (LogSlice) part;
                unsentFileBytes += slice.size();
                // Vert.x's file send: a Netty file region (sendfile) on a plain socket, chunked reads under TLS; the
                // channel stays open (it is the segment's).
                ((VertxConnection) socket).sendFile(slice.channel(), slice.position(), slice.size()).addListener(f -> context.runOnContext(v -> {
                    boolean wasBlocked = filesUnsent();
                    unsentFileBytes -= slice.size();
                    if (!f.isSuccess()) {
                        close("sending fetched records failed: " + f.cause());
                    } else if (wasBlocked && !filesUnsent()) {
                        updateReading();
                        dispatchReady();
                    }
                }));
            }
        }
    }

    private void updateReading() {
        if (closed || closingAfterResponse) return;
        boolean globalFull = budget.exhausted();
        boolean pause = inflightBytes >= maxInflightBytes || slots.size() >= Limits.CONNECTION_MAX_INFLIGHT_REQUESTS
                || writeBlocked || filesUnsent() || globalFull;
        if (pause && !readPaused) {
            readPaused = true;
            setAutoRead(false);
        } else if (!pause && readPaused) {
            readPaused = false;
            readInput(); // requests already received come first
            if (!readPaused) setAutoRead(true);
        }
        if (pause && globalFull && !awaitingBudget) {
            awaitingBudget = true; // registered once: the budget's waiting queue holds each connection at most once
            budget.await(this);
        }
    }

    /**
     * Stops or restarts reading the socket through Netty's auto-read, not {@code NetSocket.pause()}: Vert.x queues
     * what arrives while paused and does not release that queue when the connection closes; here whatever arrives
     * after reading stopped waits in {@link #input}, which {@link #releaseAll} releases.
     */
    private void setAutoRead(boolean on) {
        raw.channelHandlerContext().channel().config().setAutoRead(on);
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
        if (apis.broker().shares() != null) apis.broker().shares().connectionClosed(connectionId);
    }

    /**
     * Gives back the budget and the buffers of requests no handler holds (a handler's request is released when it
     * answers) and of responses not written.
     */
    private void releaseAll() {
        for (Slot s : slots) {
            budget.release(s.bytes);
            if (s.response != null) ResponseEncoder.release(s.response);
            s.response = null;
        }
        for (Slot s : undispatched) s.releaseFrame();
        slots.clear();
        undispatched.clear();
        inflightBytes = 0;
        frames.release();
        for (ByteBuf b : input) b.release();
        input.clear();
    }
}
