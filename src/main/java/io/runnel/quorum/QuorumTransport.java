package io.runnel.quorum;

import io.microraft.RaftEndpoint;
import io.microraft.model.message.RaftMessage;
import io.microraft.transport.Transport;
import io.runnel.config.Limits;
import io.vertx.core.Context;
import io.vertx.core.Future;
import io.vertx.core.Promise;
import io.vertx.core.Vertx;
import io.vertx.core.buffer.Buffer;
import io.vertx.core.net.NetClient;
import io.vertx.core.net.NetClientOptions;
import io.vertx.core.net.NetServer;
import io.vertx.core.net.NetServerOptions;
import io.vertx.core.net.NetSocket;
import io.vertx.core.net.SocketAddress;
import io.vertx.core.parsetools.RecordParser;
import java.nio.ByteBuffer;
import java.util.ArrayDeque;
import java.util.Map;
import java.util.Objects;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.Executor;
import java.util.concurrent.RejectedExecutionException;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicLong;
import java.util.function.Consumer;
import java.util.function.Function;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Carries the metadata quorum's Raft messages between brokers over TCP (TLS when the options say so), as KRaft's
 * controllers talk over their own listener rather than the clients' one.
 *
 * <p>Wire: every frame is a 4-byte big-endian length and that many bytes, at most
 * {@link Limits#QUORUM_MAX_FRAME_BYTES}. A node sends to a peer on a connection it opened itself (two connections per
 * pair, one each way: Raft messages are one-way and need no answer on the same socket). The first frame of a connection
 * is a hello ({@link Hello}: magic, version, cluster id, the sender's endpoint and, on a listener with SASL, the
 * inter-broker user and password); the receiver checks the cluster id and hands the hello to its {@link Admission},
 * which may refuse (the connection is closed, and logged). Every later frame is one {@link QuorumCodec} message whose
 * sender must be the hello's endpoint. A frame that does not decode closes its connection only.
 *
 * <p>Bounds: at most {@link Limits#QUORUM_PEER_QUEUE_FRAMES} frames and {@link Limits#QUORUM_PEER_QUEUE_BYTES} bytes
 * wait for one peer (connecting, or its socket's write queue full); more are dropped, as are the waiting frames when a
 * connection attempt fails: Raft sends again whatever matters (heartbeats, appends from the follower's next index).
 * At most {@link Limits#QUORUM_INBOUND_PENDING} received messages wait for the Raft node's executor; more are dropped.
 * Reconnection backs off from {@link Limits#QUORUM_RECONNECT_MIN_MS} to {@link Limits#QUORUM_RECONNECT_MAX_MS}.
 *
 * <p>Threads: {@link #send} is called on the Raft node's thread (it encodes there); sockets, queues and timers belong
 * to this transport's Vert.x context (made by the constructor, which is called off Vert.x's threads so that the context
 * is an event loop of its own); received messages go to the Raft node on its executor.
 */
public final class QuorumTransport implements Transport, AutoCloseable {
    private static final Logger LOG = LoggerFactory.getLogger(QuorumTransport.class);
    /** "RQT1": what the first four bytes of a hello are. */
    static final int MAGIC = 0x52515431;
    /** 2: the hello says whether it is an observer's. */
    static final short HELLO_VERSION = 2;

    /**
     * What a connection's first frame says. Credentials are null on a listener without SASL. An observer's connection
     * ({@code observer}: a broker that is not a voter) asks for metadata images ({@link ImageServer}) and sends no
     * Raft messages.
     */
    public record Hello(String clusterId, QuorumEndpoint sender, String username, String password, boolean observer) {
        byte[] encode() {
            return QuorumCodec.write(out -> {
                out.writeInt(MAGIC);
                out.writeShort(HELLO_VERSION);
                QuorumCodec.writeText(out, clusterId);
                QuorumCodec.writeEndpoint(out, sender);
                out.writeBoolean(username != null);
                if (username != null) {
                    QuorumCodec.writeText(out, username);
                    QuorumCodec.writeText(out, password);
                }
                out.writeBoolean(observer);
            });
        }

        static Hello decode(byte[] bytes) {
            ByteBuffer in = ByteBuffer.wrap(bytes);
            try {
                if (in.getInt() != MAGIC) throw new IllegalArgumentException("Not a quorum connection (wrong magic)");
                short version = in.getShort();
                if (version != HELLO_VERSION) throw new IllegalArgumentException("Unsupported quorum hello version " + version);
                String clusterId = QuorumCodec.readText(in);
                QuorumEndpoint sender = QuorumCodec.readEndpoint(in);
                boolean credentials = in.get() == 1;
                String username = credentials ? QuorumCodec.readText(in) : null;
                String password = credentials ? QuorumCodec.readText(in) : null;
                byte observer = in.get();
                if (observer != 0 && observer != 1) throw new IllegalArgumentException("A hello whose observer flag is " + observer);
                if (in.hasRemaining()) throw new IllegalArgumentException(in.remaining() + " bytes after the hello");
                return new Hello(clusterId, sender, username, password, observer == 1);
            } catch (java.nio.BufferUnderflowException e) {
                throw new IllegalArgumentException("A truncated hello", e);
            }
        }

        @Override
        public String toString() {
            return (observer ? "observer hello from " : "hello from ") + sender + " of cluster " + clusterId
                    + (username == null ? "" : " as " + username);
        }
    }

    /**
     * Decides whether a connection whose hello checked out may deliver messages: the broker authenticates the
     * credentials (or the TLS client certificate) and authorizes CLUSTER_ACTION, as Kafka does for inter-broker
     * requests. May complete on any thread; a failure refuses the connection with its message logged.
     */
    public interface Admission {
        Future<Void> admit(Hello hello, NetSocket socket);

        /** Admits every hello of the right cluster (a listener without authentication). */
        Admission ANYONE = (hello, socket) -> Future.succeededFuture();
    }

    private final Vertx vertx;
    private final Context context;
    private final String clusterId;
    private final QuorumEndpoint self;
    private final Function<QuorumEndpoint, SocketAddress> addresses;
    private final Hello hello;
    private final Admission admission;
    private final Executor raftExecutor;
    private final Consumer<RaftMessage> deliver;
    private final NetClient client;
    private final NetServerOptions serverOptions;
    private final Map<QuorumEndpoint, Peer> peers = new ConcurrentHashMap<>();
    /** Received from a node (by its endpoint): System.nanoTime() of the last message. */
    private final Map<QuorumEndpoint, Long> lastHeard = new ConcurrentHashMap<>();
    private final AtomicInteger inboundPending = new AtomicInteger();
    private final AtomicLong dropped = new AtomicLong();
    private final AtomicLong refused = new AtomicLong();
    private final AtomicLong lost = new AtomicLong();
    private NetServer server;
    private volatile ImageServer images;
    private volatile boolean closed;

    /**
     * @param self          this node
     * @param clusterId     the cluster's id: a hello of another cluster is refused
     * @param addresses     where a peer's quorum listener is now, or null when unknown (its messages are dropped)
     * @param credentials   user and password for the hello (null without SASL)
     * @param admission     checks each incoming connection's hello
     * @param raftExecutor  the Raft node's executor: received messages are handed to {@code deliver} on it
     */
    public QuorumTransport(Vertx vertx, QuorumEndpoint self, String clusterId, Function<QuorumEndpoint, SocketAddress> addresses,
            NetServerOptions serverOptions, NetClientOptions clientOptions, String[] credentials, Admission admission,
            Executor raftExecutor, Consumer<RaftMessage> deliver) {
        this.vertx = vertx;
        this.context = vertx.getOrCreateContext();
        this.clusterId = clusterId;
        this.self = self;
        this.addresses = addresses;
        this.hello = new Hello(clusterId, self, credentials == null ? null : credentials[0], credentials == null ? null : credentials[1], false);
        this.admission = admission;
        this.raftExecutor = raftExecutor;
        this.deliver = deliver;
        this.serverOptions = new NetServerOptions(serverOptions).setTcpNoDelay(true);
        this.client = vertx.createNetClient(new NetClientOptions(clientOptions).setTcpNoDelay(true)
                .setConnectTimeout((int) Limits.QUORUM_CONNECT_TIMEOUT_MS));
    }

    /** Starts listening; the result is the bound port (the options' port, or the one chosen for port 0). */
    public Future<Integer> start() {
        Promise<Integer> bound = Promise.promise();
        context.runOnContext(v -> {
            server = vertx.createNetServer(serverOptions).connectHandler(this::accepted);
            server.listen().map(NetServer::actualPort).onComplete(bound);
        });
        return bound.future();
    }

    @Override
    public void send(RaftEndpoint target, RaftMessage message) {
        if (closed || !(target instanceof QuorumEndpoint to) || to.equals(self)) return;
        byte[] body = QuorumCodec.encode(message);
        if (body.length > Limits.QUORUM_MAX_FRAME_BYTES) {
            LOG.warn("Dropped a {} of {} bytes to {}: larger than a quorum frame may be", message.getClass().getSimpleName(), body.length, to);
            dropped.incrementAndGet();
            return;
        }
        Peer peer = peers.computeIfAbsent(to, Peer::new);
        Buffer frame = Frames.frame(body);
        if (!peer.reserve(frame.length())) {
            dropped.incrementAndGet();
            return;
        }
        context.runOnContext(v -> peer.enqueue(frame));
    }

    /**
     * Whether a message from {@code endpoint} arrived in the last {@link Limits#QUORUM_REACHABLE_MS}, or a connection
     * to it is open: what the Raft node asks before it counts a follower as behind rather than gone.
     */
    @Override
    public boolean isReachable(RaftEndpoint endpoint) {
        Long heard = lastHeard.get(endpoint);
        if (heard != null && System.nanoTime() - heard < Limits.QUORUM_REACHABLE_MS * 1_000_000) return true;
        Peer p = peers.get(endpoint);
        return p != null && p.connected;
    }

    /** Observers' connections are served by {@code server} from now on (before, they are refused). */
    public void serveObservers(ImageServer server) {
        images = server;
    }

    /** Messages dropped so far (queues full, peer unreachable, too large, or the Raft node behind). */
    public long dropped() {
        return dropped.get();
    }

    /** Incoming connections closed for breaking the protocol or refused by the admission. */
    public long refusedConnections() {
        return refused.get();
    }

    /** Outgoing connections that closed after they had opened (the peer refused this node, restarted or went away). */
    public long lostConnections() {
        return lost.get();
    }

    /** Stops listening, closes every connection and drops what waits. */
    @Override
    public void close() {
        closeAsync();
    }

    public Future<Void> closeAsync() {
        closed = true;
        Promise<Void> done = Promise.promise();
        try {
            context.runOnContext(v -> {
                peers.values().forEach(Peer::close);
                Future<Void> s = server == null ? Future.succeededFuture() : server.close();
                s.eventually(client::close).onComplete(done);
            });
        } catch (RejectedExecutionException e) {
            // Vert.x closed first (a broker's stop closes it before leaving the cluster): it closed the sockets.
            done.tryComplete();
        }
        return done.future();
    }

    // ---- receiving ----

    private void accepted(NetSocket socket) {
        if (closed) {
            socket.close();
            return;
        }
        new Inbound(socket);
    }

    /** One incoming connection: its hello, then messages; the first breach closes it and nothing after is read. */
    private final class Inbound {
        private final NetSocket socket;
        private final RecordParser frames;
        private Hello from;
        /** Set once an observer's hello is admitted: its requests go there. */
        private ImageServer.Session observer;
        private boolean done;

        Inbound(NetSocket socket) {
            this.socket = socket;
            this.frames = Frames.read(socket, this::frame, n -> refuse("a frame of " + n + " bytes"));
            frames.exceptionHandler(e -> refuse(e.getMessage()));
            socket.exceptionHandler(e -> LOG.debug("Quorum connection from {} failed", socket.remoteAddress(), e));
            socket.closeHandler(v -> {
                done = true;
                if (observer != null) observer.closed();
            });
        }

        private void frame(byte[] bytes) {
            if (done) return;
            if (from == null) {
                hello(bytes);
            } else if (observer != null) {
                try {
                    observer.request(bytes);
                } catch (IllegalArgumentException e) {
                    refuse(e.getMessage());
                }
            } else if (from.observer()) {
                refuse("a frame from an observer that was not admitted");
            } else {
                received(bytes);
            }
        }

        private void hello(byte[] bytes) {
            Hello h;
            try {
                h = Hello.decode(bytes);
            } catch (RuntimeException e) {
                refuse(e.getMessage());
                return;
            }
            from = h;
            if (!h.clusterId().equals(clusterId)) {
                refuse("cluster " + h.clusterId() + " is not this broker's cluster " + clusterId);
                return;
            }
            frames.pause(); // nothing is delivered before the hello is admitted
            admission.admit(h, socket).onComplete(ar -> context.runOnContext(v -> {
                if (ar.failed()) {
                    refuse(ar.cause().getMessage());
                } else if (!done) {
                    if (h.observer()) {
                        ImageServer server = images;
                        observer = server == null ? null : server.open(context, socket, () -> refuse("an image too large for a frame"),
                                frames::pause, () -> {
                                    if (!done) frames.resume();
                                });
                        if (observer == null) {
                            refuse(server == null ? "this broker serves no metadata images now" : "too many observers");
                            return;
                        }
                    }
                    frames.resume();
                }
            }));
        }

        private void received(byte[] bytes) {
            RaftMessage m;
            try {
                m = QuorumCodec.decode(bytes);
            } catch (RuntimeException e) {
                refuse("an undecodable message: " + e.getMessage());
                return;
            }
            if (!from.sender().equals(m.getSender())) {
                refuse("a message sent as " + m.getSender());
                return;
            }
            lastHeard.put(from.sender(), System.nanoTime());
            if (inboundPending.incrementAndGet() > Limits.QUORUM_INBOUND_PENDING) {
                inboundPending.decrementAndGet();
                dropped.incrementAndGet();
                return;
            }
            raftExecutor.execute(() -> {
                inboundPending.decrementAndGet();
                deliver.accept(m);
            });
        }

        private void refuse(String why) {
            if (done) return;
            done = true;
            frames.pause();
            LOG.warn("Closed the quorum connection from {}{}: {}", socket.remoteAddress(), from == null ? "" : " (" + from + ")", why);
            refused.incrementAndGet();
            socket.close();
        }
    }

    // ---- sending ----

    /** One peer's outgoing connection and queue; the fields without a note are touched on the context only. */
    private final class Peer {
        private final QuorumEndpoint endpoint;
        private final ArrayDeque<Buffer> queue = new ArrayDeque<>();
        /** Frames and bytes reserved by {@link #send} and not yet written to the socket (any thread). */
        private final AtomicInteger queuedFrames = new AtomicInteger();
        private final AtomicLong queuedBytes = new AtomicLong();
        private NetSocket socket;
        private boolean connecting;
        private long retryTimer = -1;
        private long backoffMs;
        /** Read by {@link #isReachable} on the Raft thread. */
        private volatile boolean connected;

        Peer(QuorumEndpoint endpoint) {
            this.endpoint = endpoint;
        }

        /** Counts a frame against the peer's bounds; false (nothing counted) when it does not fit. */
        boolean reserve(int bytes) {
            if (queuedFrames.incrementAndGet() > Limits.QUORUM_PEER_QUEUE_FRAMES) {
                queuedFrames.decrementAndGet();
                return false;
            }
            if (queuedBytes.addAndGet(bytes) > Limits.QUORUM_PEER_QUEUE_BYTES) {
                queuedBytes.addAndGet(-bytes);
                queuedFrames.decrementAndGet();
                return false;
            }
            return true;
        }

        private void release(Buffer frame) {
            queuedFrames.decrementAndGet();
            queuedBytes.addAndGet(-frame.length());
        }

        void enqueue(Buffer frame) {
            if (closed) {
                release(frame);
                return;
            }
            queue.add(frame);
            pump();
        }

        private void pump() {
            if (closed) return;
            if (socket == null) {
                connect();
                return;
            }
            while (!queue.isEmpty() && !socket.writeQueueFull()) {
                Buffer frame = queue.poll();
                release(frame);
                socket.write(frame);
            }
            if (!queue.isEmpty()) socket.drainHandler(v -> pump());
        }

        private void connect() {
            if (connecting || retryTimer >= 0) return;
            SocketAddress address = addresses.apply(endpoint);
            if (address == null) {
                failed("its address is unknown");
                return;
            }
            connecting = true;
            client.connect(address).onComplete(ar -> {
                connecting = false;
                if (ar.failed()) {
                    failed(ar.cause().getMessage());
                    return;
                }
                NetSocket s = ar.result();
                if (closed) {
                    s.close();
                    return;
                }
                byte[] h = hello.encode();
                s.write(Frames.frame(h));
                // Nothing comes back on this connection; anything that does is a protocol error.
                s.handler(b -> s.close());
                s.exceptionHandler(e -> LOG.debug("Quorum connection to {} failed", endpoint, e));
                long opened = System.nanoTime();
                s.closeHandler(v -> {
                    if (socket != s) return;
                    socket = null;
                    connected = false;
                    if (!closed) lost.incrementAndGet();
                    // A peer that refuses the hello closes at once: the backoff goes on growing until a connection
                    // has lasted as long as the longest backoff.
                    if (System.nanoTime() - opened >= Limits.QUORUM_RECONNECT_MAX_MS * 1_000_000) backoffMs = 0;
                    failed("the connection closed");
                });
                socket = s;
                connected = true;
                pump();
            });
        }

        /** A connection attempt failed: what waits is dropped, and the next attempt waits a backoff. */
        private void failed(String why) {
            if (closed) return;
            LOG.debug("Cannot reach quorum peer {}: {}", endpoint, why);
            while (!queue.isEmpty()) {
                release(queue.poll());
                dropped.incrementAndGet();
            }
            backoffMs = Math.min(Math.max(backoffMs * 2, Limits.QUORUM_RECONNECT_MIN_MS), Limits.QUORUM_RECONNECT_MAX_MS);
            retryTimer = vertx.setTimer(backoffMs, id -> {
                retryTimer = -1;
                if (!queue.isEmpty()) pump();
            });
        }

        void close() {
            if (retryTimer >= 0) vertx.cancelTimer(retryTimer);
            retryTimer = -1;
            while (!queue.isEmpty()) release(queue.poll());
            if (socket != null) socket.close();
            socket = null;
            connected = false;
        }
    }

    @Override
    public String toString() {
        return "quorum transport of " + Objects.toString(self);
    }
}
