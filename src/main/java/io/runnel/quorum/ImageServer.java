package io.runnel.quorum;

import io.runnel.config.Limits;
import io.vertx.core.Context;
import io.vertx.core.net.NetSocket;
import java.nio.BufferUnderflowException;
import java.nio.ByteBuffer;
import java.util.ArrayList;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Set;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.function.Supplier;

/**
 * A voter's side of the observer protocol: brokers that are not voters of the metadata quorum (MicroRaft keeps at most
 * two learners, so a cluster's other brokers cannot all be Raft members) read the committed metadata image from a
 * voter, as KRaft's observers fetch the metadata log from the quorum (KIP-595) without voting. An observer connects to
 * a voter's quorum listener with an observer hello ({@link QuorumTransport.Hello#observer()}) and then asks, one
 * request at a time, for the image newer than the version it has:
 *
 * <ul>
 *   <li>request: {@code FETCH} (byte 1), the version it has (long), how long, in ms, it may wait for a newer one (int,
 *   at most {@link Limits#QUORUM_OBSERVER_WAIT_MAX_MS});</li>
 *   <li>answer: {@code IMAGE} (byte 2), the image's version (long), the quorum leader this voter knows (a boolean,
 *   then the endpoint), and the number of chunk frames that follow (int; 0 when nothing newer came within the wait),
 *   then that many {@code CHUNK} frames (byte 3, text): the image as {@link Image#chunks()}.</li>
 * </ul>
 * An image is answered only when its version is above the one asked after, so an observer that moves to another voter
 * is never sent back in time; the leader in the answer lets it move to the leader, whose image is the freshest. A
 * second request before the answer, or a frame that does not decode, closes that connection alone.
 *
 * <p>Bounds: one request at a time per connection, and no request read while an answer waits in the connection's
 * write queue (so at most one image is queued for a connection); the chunk frames encoded once per version; at most
 * {@link Limits#QUORUM_OBSERVER_CONNECTIONS_MAX} observer connections per voter (more are refused).
 *
 * <p>Threads: sessions run on the transport's context; {@link #changed} may be called on any thread (the Raft
 * thread calls it when the image changes: it only schedules).
 */
public final class ImageServer {
    static final byte FETCH = 1;
    static final byte IMAGE = 2;
    static final byte CHUNK = 3;

    /** A committed metadata image as text in chunks (each far below a frame's bound), and its version. */
    public record Image(long version, List<String> chunks) {
        public Image {
            chunks = List.copyOf(chunks);
        }
    }

    private final Supplier<Image> current;
    /** The chunk frames of the image last sent, encoded once for every observer (on the transport's context). */
    private Image encodedImage;
    private List<byte[]> encodedFrames = List.of();
    private final Supplier<QuorumEndpoint> leader;
    private final Set<Session> sessions = new LinkedHashSet<>();
    private volatile Context context;
    private final AtomicBoolean wakePending = new AtomicBoolean();

    /**
     * @param current the newest image applied on this voter (called on the transport's context: it should be cheap
     *                when the image has not changed since the last call)
     * @param leader  the quorum's leader as this voter knows it, or null
     */
    public ImageServer(Supplier<Image> current, Supplier<QuorumEndpoint> leader) {
        this.current = current;
        this.leader = leader;
    }

    /**
     * The image changed: waiting requests are answered. Any thread. Changes coalesce (the Raft thread calls this for
     * every entry it applies, thousands in a row while it replays its log): one wake-up is pending at most, and it reads
     * the image as it is when it runs.
     */
    public void changed() {
        Context c = context;
        if (c != null && wakePending.compareAndSet(false, true)) c.runOnContext(v -> {
            wakePending.set(false);
            if (sessions.isEmpty()) return;
            Image now = current.get();
            for (Session s : List.copyOf(sessions)) s.offer(now);
        });
    }

    /**
     * Called by the transport for an admitted observer connection; null when there are too many. The session pauses
     * the connection's reading while an answer waits in its write queue, so an observer that asks without reading the
     * answers costs at most one image.
     */
    Session open(Context transportContext, NetSocket socket, Runnable closeConnection, Runnable pauseReading, Runnable resumeReading) {
        context = transportContext;
        if (sessions.size() >= Limits.QUORUM_OBSERVER_CONNECTIONS_MAX) return null;
        Session s = new Session(socket, closeConnection, pauseReading, resumeReading);
        sessions.add(s);
        return s;
    }

    /** The CHUNK frames of {@code image}, encoded once per version however many observers it goes to. */
    private List<byte[]> encoded(Image image) {
        if (encodedImage != image) {
            List<byte[]> out = new ArrayList<>(image.chunks().size());
            for (String c : image.chunks()) {
                out.add(QuorumCodec.write(o -> {
                    o.writeByte(CHUNK);
                    QuorumCodec.writeText(o, c);
                }));
            }
            encodedImage = image;
            encodedFrames = out;
        }
        return encodedFrames;
    }

    /** One observer connection. */
    final class Session {
        private final NetSocket socket;
        private final Runnable closeConnection;
        private final Runnable pauseReading;
        private final Runnable resumeReading;
        /** The version of the waiting request, or -1 when none waits. */
        private long after = -1;
        private long timer = -1;

        private Session(NetSocket socket, Runnable closeConnection, Runnable pauseReading, Runnable resumeReading) {
            this.socket = socket;
            this.closeConnection = closeConnection;
            this.pauseReading = pauseReading;
            this.resumeReading = resumeReading;
        }

        /** A request frame; an IllegalArgumentException says why the connection is to be closed. */
        void request(byte[] bytes) {
            ByteBuffer in = ByteBuffer.wrap(bytes);
            long version;
            int waitMs;
            try {
                if (in.get() != FETCH) throw new IllegalArgumentException("an observer may only fetch");
                version = in.getLong();
                waitMs = in.getInt();
            } catch (BufferUnderflowException e) {
                throw new IllegalArgumentException("a truncated fetch");
            }
            if (in.hasRemaining()) throw new IllegalArgumentException(in.remaining() + " bytes after a fetch");
            if (version < 0 || waitMs < 0 || waitMs > Limits.QUORUM_OBSERVER_WAIT_MAX_MS) {
                throw new IllegalArgumentException("a fetch after version " + version + " waiting " + waitMs + " ms");
            }
            if (after >= 0) throw new IllegalArgumentException("a second fetch before the first was answered");
            after = version;
            Image now = current.get();
            if (now.version() > version || waitMs == 0) {
                answer(now);
            } else {
                timer = context.owner().setTimer(Math.max(1, waitMs), id -> {
                    timer = -1;
                    answer(null);
                });
            }
        }

        /** The image changed: answers the waiting request when the image is newer than it asked after. */
        void offer(Image now) {
            if (after >= 0 && now.version() > after) answer(now);
        }

        /** Answers the waiting request with {@code image}, or with nothing newer when it is null or not newer. */
        private void answer(Image image) {
            if (timer >= 0) context.owner().cancelTimer(timer);
            timer = -1;
            boolean newer = image != null && image.version() > after;
            after = -1;
            QuorumEndpoint l = leader.get();
            List<String> chunks = newer ? image.chunks() : List.of();
            byte[] head = QuorumCodec.write(out -> {
                out.writeByte(IMAGE);
                out.writeLong(newer ? image.version() : 0);
                out.writeBoolean(l != null);
                if (l != null) QuorumCodec.writeEndpoint(out, l);
                out.writeInt(chunks.size());
            });
            List<byte[]> frames = new ArrayList<>(1 + chunks.size());
            frames.add(head);
            if (newer) frames.addAll(encoded(image));
            for (byte[] f : frames) {
                if (f.length > Limits.QUORUM_MAX_FRAME_BYTES) {
                    // Chunks are a few hundred KB of text: one beyond a frame is a bug, and the observer would refuse it.
                    closeConnection.run();
                    return;
                }
            }
            for (byte[] f : frames) socket.write(Frames.frame(f));
            if (socket.writeQueueFull()) {
                // No next request is read before this answer has gone out: one image queued per observer at most.
                pauseReading.run();
                socket.drainHandler(v -> {
                    socket.drainHandler(null);
                    resumeReading.run();
                });
            }
        }

        void closed() {
            if (timer >= 0) context.owner().cancelTimer(timer);
            timer = -1;
            sessions.remove(this);
        }
    }
}
