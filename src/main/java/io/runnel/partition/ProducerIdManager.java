package io.runnel.partition;

import io.runnel.config.Limits;
import io.runnel.log.Checkpoints;
import io.vertx.core.Future;
import io.vertx.core.Vertx;
import java.nio.file.Path;

/**
 * Hands out producer ids for InitProducerId, never the same one twice in the cluster, even across restarts. An id is
 * the broker's node id in the high 32 bits and a local counter in the low 32, so brokers never hand out each other's
 * ids without coordinating (Kafka allocates blocks through the controller, KIP-730; two brokers that both started
 * at 0 made idempotent producers of a cluster collide, and a new producer's batches were taken for an old one's
 * duplicates and acknowledged without being written). The counter comes in blocks of
 * {@link Limits#PRODUCER_ID_BLOCK_SIZE}, and the end of a block is written to {@code <log.dirs>/producer-id-block}
 * (a checkpoint file, see {@link Checkpoints}) on a worker before any id of it is used. After a restart the next
 * id is the saved block end, so at most one block of ids is skipped. Thread safe.
 */
public final class ProducerIdManager {
    static final String FILE = "producer-id-block";
    private final Vertx vertx;
    private final Path file;
    private final long prefix;
    private long nextId;
    private long blockEnd;
    private Future<Void> refill;

    public ProducerIdManager(Vertx vertx, Path logDir, int nodeId) {
        this.vertx = vertx;
        this.prefix = (long) nodeId << 32;
        this.file = logDir.resolve(FILE);
        this.nextId = Checkpoints.read(file).orElse(0);
        this.blockEnd = nextId;
    }

    public synchronized Future<Long> nextProducerId() {
        if (nextId < blockEnd) return Future.succeededFuture(prefix | nextId++);
        if (blockEnd + Limits.PRODUCER_ID_BLOCK_SIZE > 0xFFFF_FFFFL) {
            return Future.failedFuture(new IllegalStateException("This broker has handed out all of its 2^32 producer ids"));
        }
        if (refill == null) {
            long newEnd = blockEnd + Limits.PRODUCER_ID_BLOCK_SIZE;
            refill = vertx.executeBlocking(() -> {
                Checkpoints.write(file, newEnd);
                return null;
            }).<Void>mapEmpty().andThen(ar -> {
                synchronized (this) {
                    if (ar.succeeded()) blockEnd = newEnd;
                    refill = null;
                }
            });
        }
        // The refill is shared and belongs to the context that asked first: the id goes back to this caller's.
        return OnContext.deliver(refill.compose(v -> nextProducerId()));
    }
}
