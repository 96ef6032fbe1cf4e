package io.runnel.quorum;

import io.runnel.config.Limits;
import io.vertx.core.Context;
import io.vertx.core.Future;
import io.vertx.core.Promise;
import io.vertx.core.Vertx;
import io.vertx.core.net.NetClient;
import io.vertx.core.net.NetClientOptions;
import io.vertx.core.net.NetSocket;
import io.vertx.core.net.SocketAddress;
import java.nio.BufferUnderflowException;
import java.nio.ByteBuffer;
import java.util.ArrayList;
import java.util.List;
import java.util.function.Consumer;
import java.util.function.Function;
import java.util.function.Supplier;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * A broker that is not a voter of the metadata quorum follows the committed metadata as an observer
 * ({@link ImageServer} describes the protocol): it asks one voter at a time for the image newer than the one it has,
 * waiting up to {@link Limits#QUORUM_OBSERVER_WAIT_MS} for a change, and hands each newer image over in version order,
 * never an older one, and its first image only from a voter that knows a leader. It moves to the leader a voter names (its image is the freshest), and to the next voter when the
 * one it reads from knows no leader (it may be cut off from the others), fails, refuses it, sends an image that cannot
 * be applied, or does not answer within the wait plus {@link Limits#QUORUM_OBSERVER_GRACE_MS};
 * reconnection backs off as the transport's does.
 *
 * <p>Bounds: one request at a time; an answer's frames at most {@link Limits#QUORUM_MAX_FRAME_BYTES} each and
 * {@link Limits#QUORUM_OBSERVER_MAX_IMAGE_BYTES} in all (more closes the connection).
 *
 * <p>Threads: everything runs on the observer's own context (made by the constructor, which is called off Vert.x's
 * threads so that it is an event loop of its own); images are handed over there.
 */
public final class QuorumObserver implements AutoCloseable {
    private static final Logger LOG = LoggerFactory.getLogger(QuorumObserver.class);

    private final Vertx vertx;
    private final Context context;
    private final Supplier<List<QuorumEndpoint>> voters;
    private final Function<QuorumEndpoint, SocketAddress> addresses;
    private final QuorumTransport.Hello hello;
    private final Consumer<ImageServer.Image> images;
    private final NetClient client;
    private volatile long version;
    private volatile QuorumEndpoint source;
    private volatile boolean closed;
    // On the context:
    private NetSocket socket;
    private QuorumEndpoint leaderHint;
    /** The quorum's leader named in the last answer (-1: none, or no answer since the last connection failed). */
    private volatile int leaderId = -1;
    private int next;
    private long backoffMs;
    private long timer = -1;
    private Answer answer;

    /** An answer being read: its header's fields and the chunks so far. */
    private record Answer(long version, QuorumEndpoint leader, int expected, List<String> chunks, long[] bytes) {
    }

    /**
     * @param self        this broker (named in the hello; its endpoint is not a member of the quorum)
     * @param voters      the quorum's voters now
     * @param addresses   where a voter's quorum listener is, or null when unknown
     * @param credentials user and password for the hello (null without SASL)
     * @param fromVersion the version this broker already has: only newer images are asked for
     * @param images      hears each newer image, in version order, on the observer's context
     */
    public QuorumObserver(Vertx vertx, QuorumEndpoint self, String clusterId, Supplier<List<QuorumEndpoint>> voters,
            Function<QuorumEndpoint, SocketAddress> addresses, NetClientOptions clientOptions, String[] credentials, long fromVersion,
            Consumer<ImageServer.Image> images) {
        this.vertx = vertx;
        this.context = vertx.getOrCreateContext();
        this.voters = voters;
        this.addresses = addresses;
        this.hello = new QuorumTransport.Hello(clusterId, self, credentials == null ? null : credentials[0],
                credentials == null ? null : credentials[1], true);
        this.images = images;
        this.version = fromVersion;
        this.client = vertx.createNetClient(new NetClientOptions(clientOptions).setTcpNoDelay(true)
                .setConnectTimeout((int) Limits.QUORUM_CONNECT_TIMEOUT_MS));
    }

    public void start() {
        context.runOnContext(v -> connect());
    }

    /** The version of the newest image handed over (or the one it started from). */
    public long version() {
        return version;
    }

    /** The voter it reads from now, or null while it has none. */
    public QuorumEndpoint source() {
        return source;
    }

    /** The quorum's leader as the last answer named it, or -1. */
    public int leaderId() {
        return leaderId;
    }

    @Override
    public void close() {
        closeAsync();
    }

    public Future<Void> closeAsync() {
        closed = true;
        Promise<Void> done = Promise.promise();
        context.runOnContext(v -> {
            if (timer >= 0) vertx.cancelTimer(timer);
            timer = -1;
            if (socket != null) socket.close();
            socket = null;
            source = null;
            client.close().onComplete(done);
        });
        return done.future();
    }

    // ---- on the context ----

    private void connect() {
        if (closed) return;
        List<QuorumEndpoint> all = voters.get();
        if (all.isEmpty()) {
            retry("no voter is known");
            return;
        }
        QuorumEndpoint target = leaderHint != null && all.contains(leaderHint) ? leaderHint : all.get(Math.floorMod(next++, all.size()));
        leaderHint = null;
        SocketAddress address = addresses.apply(target);
        if (address == null) {
            retry("the address of " + target + " is unknown");
            return;
        }
        client.connect(address).onComplete(ar -> {
            if (ar.failed()) {
                retry("cannot reach " + target + ": " + ar.cause().getMessage());
                return;
            }
            NetSocket s = ar.result();
            if (closed) {
                s.close();
                return;
            }
            socket = s;
            source = target;
            answer = null;
            Frames.read(s, b -> {
                if (socket != s) return;
                try {
                    frame(s, target, b);
                } catch (IllegalArgumentException | BufferUnderflowException e) {
                    drop(s, target + " sent an undecodable answer: " + e.getMessage());
                }
            }, n -> drop(s, target + " sent a frame of " + n + " bytes"));
            s.exceptionHandler(e -> LOG.debug("Observer connection to {} failed", target, e));
            s.closeHandler(v -> {
                if (socket == s) drop(s, target + " closed the connection");
            });
            byte[] h = hello.encode();
            s.write(Frames.frame(h));
            fetch(s, target);
        });
    }

    private void fetch(NetSocket s, QuorumEndpoint target) {
        byte[] f = QuorumCodec.write(out -> {
            out.writeByte(ImageServer.FETCH);
            out.writeLong(version);
            out.writeInt((int) Limits.QUORUM_OBSERVER_WAIT_MS);
        });
        s.write(Frames.frame(f));
        armTimer(s, target);
    }

    /** Gives the voter the wait plus the grace to answer (again, after each chunk of an answer). */
    private void armTimer(NetSocket s, QuorumEndpoint target) {
        if (timer >= 0) vertx.cancelTimer(timer);
        timer = vertx.setTimer(Limits.QUORUM_OBSERVER_WAIT_MS + Limits.QUORUM_OBSERVER_GRACE_MS, id -> {
            timer = -1;
            drop(s, target + " did not answer");
        });
    }

    private void frame(NetSocket s, QuorumEndpoint target, byte[] bytes) {
        ByteBuffer in = ByteBuffer.wrap(bytes);
        byte type = in.get();
        if (answer == null) {
            if (type != ImageServer.IMAGE) throw new IllegalArgumentException("a frame of type " + type + " where an image was due");
            long v = in.getLong();
            QuorumEndpoint leader = in.get() == 1 ? QuorumCodec.readEndpoint(in) : null;
            int chunks = in.getInt();
            if (chunks < 0 || chunks > QuorumCodec.MAX_SNAPSHOT_CHUNKS) throw new IllegalArgumentException("an image of " + chunks + " chunks");
            answer = new Answer(v, leader, chunks, new ArrayList<>(), new long[1]);
        } else {
            if (type != ImageServer.CHUNK) throw new IllegalArgumentException("a frame of type " + type + " where a chunk was due");
            answer.bytes()[0] += bytes.length;
            if (answer.bytes()[0] > Limits.QUORUM_OBSERVER_MAX_IMAGE_BYTES) {
                throw new IllegalArgumentException("an image larger than " + Limits.QUORUM_OBSERVER_MAX_IMAGE_BYTES + " bytes");
            }
            answer.chunks().add(QuorumCodec.readText(in));
            armTimer(s, target); // the whole answer need not come within one wait: each chunk renews it
        }
        if (in.hasRemaining()) throw new IllegalArgumentException(in.remaining() + " bytes after a frame");
        if (answer.chunks().size() < answer.expected()) return;
        Answer done = answer;
        answer = null;
        if (timer >= 0) vertx.cancelTimer(timer);
        timer = -1;
        backoffMs = 0; // a voter that answers is a good one
        // The first image only from a voter that knows a leader: an observer that took its first image from a voter
        // cut off from the others would be unfenced (named to clients) with metadata nobody can tell is current, where
        // Kafka keeps a broker fenced until it has caught up with a working quorum (KIP-631). Later images are
        // committed ones newer than what the broker has: always worth taking.
        boolean take = version > 0 || done.leader() != null;
        if (done.expected() > 0 && done.version() > version && take) {
            try {
                images.accept(new ImageServer.Image(done.version(), done.chunks()));
            } catch (RuntimeException e) {
                // Not taken: asked for again, from another voter.
                LOG.warn("Metadata observer: the image of version {} from {} could not be applied", done.version(), target, e);
                drop(s, "its image could not be applied");
                return;
            }
            version = done.version();
        }
        if (closed || socket != s) return;
        leaderId = done.leader() == null ? -1 : done.leader().nodeId();
        if (done.leader() == null) {
            // A voter that knows no leader may be cut off from the others: its image stops changing while theirs go on.
            drop(s, target + " knows no leader of the quorum");
            return;
        }
        if (!done.leader().equals(target) && voters.get().contains(done.leader())) {
            // The leader's image is the freshest: read from it.
            leaderHint = done.leader();
            socket = null;
            source = null;
            s.close();
            connect();
            return;
        }
        fetch(s, target);
    }

    /** Gives up the connection {@code s} (when it is still the current one) and tries the next voter after a backoff. */
    private void drop(NetSocket s, String why) {
        if (socket != s) return;
        leaderId = -1;
        socket = null;
        source = null;
        answer = null;
        if (timer >= 0) vertx.cancelTimer(timer);
        timer = -1;
        s.close();
        retry(why);
    }

    private void retry(String why) {
        if (closed) return;
        LOG.debug("Metadata observer: {}", why);
        backoffMs = Math.min(Math.max(backoffMs * 2, Limits.QUORUM_RECONNECT_MIN_MS), Limits.QUORUM_RECONNECT_MAX_MS);
        timer = vertx.setTimer(backoffMs, id -> {
            timer = -1;
            connect();
        });
    }
}
