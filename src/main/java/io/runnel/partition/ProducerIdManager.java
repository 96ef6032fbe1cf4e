package io.runnel.partition;

import io.runnel.config.Limits;
import io.runnel.log.Checkpoints;
import io.vertx.core.Future;
import io.vertx.core.Vertx;
import java.nio.file.Path;

/**
 * Hands out producer ids for InitProducerId, never the same one twice, even across restarts: ids come in blocks of
 * {@link Limits#PRODUCER_ID_BLOCK_SIZE}, and the end of a block is written to {@code <log.dirs>/producer-id-block}
 * (a checkpoint file, see {@link Checkpoints}) on a worker before any id of it is used. After a restart the next
 * id is the saved block end, so at most one block of ids is skipped. Thread safe.
 */
public final class ProducerIdManager {
    static final String FILE = "producer-id-block";
    private final Vertx vertx;
    private final Path file;
    private long nextId;
    private long blockEnd;
    private Future<Void> refill;

    public ProducerIdManager(Vertx vertx, Path logDir) {
        this.vertx = vertx;
        this.file = logDir.resolve(FILE);
        this.nextId = Checkpoints.read(file).orElse(0);
        this.blockEnd = nextId;
    }

    public synchronized Future<Long> nextProducerId() {
        if (nextId < blockEnd) return Future.succeededFuture(nextId++);
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
        return refill.compose(v -> nextProducerId());
    }
}
