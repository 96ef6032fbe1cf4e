package io.runnel.partition;

import io.runnel.config.BrokerConfig;
import io.runnel.config.TopicConfig;
import io.runnel.log.TopicStore;
import io.runnel.log.value.TopicRecord;
import io.vertx.core.Future;
import io.vertx.core.Vertx;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Collections;
import java.util.List;
import java.util.function.Supplier;
import org.apache.kafka.common.TopicPartition;
import org.apache.kafka.common.utils.Time;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The lifecycle of this broker's replicas: opens each as a {@link PartitionVerticle} (recovering its log), closes
 * it, or deletes it with its files, and keeps the topic records they are opened from ({@code topics/<name>.properties},
 * {@link TopicStore}). At start it reads what is stored; at stop it closes everything. It decides nothing: what to
 * open or delete comes from {@link TopicAdmin} (a broker alone) or {@link ClusterImageApplier} (the controller's
 * images). File work runs on worker threads.
 */
public final class LocalReplicas {
    private static final Logger LOG = LoggerFactory.getLogger(LocalReplicas.class);

    private final Vertx vertx;
    private final Deployer deployer;
    private final Supplier<BrokerConfig> brokerConfig;
    private final Path logDir;
    private final Time time;
    private final int nodeId;
    private final TopicStore store;
    private final PartitionTicker ticker;

    /** Replicas of some of a topic's partitions: a handle and deployment id per partition, null where not held here. */
    record Opened(List<PartitionHandle> handles, List<String> deploymentIds) {
    }

    /**
     * A topic found on disk at start: its record, where its partitions live as far as this broker knows (a broker
     * alone holds them all; in a cluster, those whose directory is here as leaderless stand-ins
     * ({@link Placement#awaitingController}) and the rest
     * without replicas, until the controller's image says where they live) and, in a cluster, the placement each kept
     * ({@link PlacementFile}; null where none, and null as a whole for a broker alone).
     */
    public record Stored(TopicRecord record, List<Placement> held, List<Placement> kept) {
    }

    /** @param brokerConfig the broker's effective configuration (dynamic overrides included), read when a replica opens */
    /** Told, from any thread, when a replica goes offline after an I/O error. */
    private volatile Runnable onOffline = () -> { };

    /** Sets what is told when a replica goes offline after an I/O error (a broker of a cluster reports it). */
    public void onReplicaOffline(Runnable listener) {
        onOffline = listener;
    }

    /** Told when the ISR of a partition led here shrinks or expands (the broker's metrics); for replicas opened later. */
    private volatile PartitionVerticle.IsrChanges isrChanges = PartitionVerticle.IsrChanges.NONE;

    public void countIsrChanges(PartitionVerticle.IsrChanges listener) {
        isrChanges = listener;
    }

    public LocalReplicas(Vertx vertx, Deployer deployer, Supplier<BrokerConfig> brokerConfig, Path logDir, Time time, int nodeId) {
        this.vertx = vertx;
        this.deployer = deployer;
        this.brokerConfig = brokerConfig;
        this.logDir = logDir;
        this.time = time;
        this.nodeId = nodeId;
        this.store = new TopicStore(logDir);
        this.ticker = new PartitionTicker(vertx, deployer);
    }

    /**
     * Deletes what an interrupted deletion left and reads every stored topic; in a cluster ({@code clustered}) also
     * which of their partitions have a directory here and the placements those kept. Blocking reads, on a worker.
     */
    public Future<List<Stored>> loadStored(boolean clustered) {
        return vertx.executeBlocking(() -> {
            PartitionDirs.deleteLeftovers(logDir);
            List<Stored> out = new ArrayList<>();
            for (TopicRecord r : store.loadAll()) {
                if (!clustered) {
                    out.add(new Stored(r, Collections.nCopies(r.partitions(), Placement.alone(nodeId)), null));
                    continue;
                }
                List<Placement> held = new ArrayList<>();
                List<Placement> kept = new ArrayList<>();
                for (int p = 0; p < r.partitions(); p++) {
                    Path dir = PartitionDirs.dirOf(logDir, new TopicPartition(r.name(), p));
                    boolean present = Files.isDirectory(dir);
                    held.add(present ? Placement.awaitingController(nodeId) : Placement.NONE);
                    kept.add(present ? PlacementFile.read(dir).orElse(null) : null);
                }
                out.add(new Stored(r, held, kept));
            }
            return out;
        });
    }

    /** Writes a topic's record (created, grown or reconfigured), on a worker. */
    Future<Void> save(TopicRecord r) {
        return vertx.executeBlocking(() -> {
            store.save(r);
            return null;
        });
    }

    /**
     * Opens this broker's replicas among partitions {@code from} .. {@code r.partitions() - 1}: those whose placement
     * lists this broker. The result has an entry per partition of that range, null for those held elsewhere.
     */
    Future<Opened> open(TopicRecord r, TopicConfig config, int from, List<Placement> placements) {
        List<PartitionVerticle> verticles = new ArrayList<>();
        List<Future<String>> deployed = new ArrayList<>();
        for (int p = from; p < r.partitions(); p++) {
            if (!placements.get(p).replicas().contains(nodeId)) {
                verticles.add(null);
                deployed.add(Future.succeededFuture(null));
                continue;
            }
            PartitionVerticle v = replica(new TopicPartition(r.name(), p), config, placements.get(p));
            verticles.add(v);
            deployed.add(deployer.deploy(v));
        }
        return Future.all(deployed).map(cf -> {
            List<PartitionHandle> handles = new ArrayList<>();
            List<String> ids = new ArrayList<>();
            for (int i = 0; i < verticles.size(); i++) {
                handles.add(verticles.get(i) == null ? null : new PartitionHandle(verticles.get(i), verticles.get(i).openedLog()));
                ids.add(deployed.get(i).result());
            }
            return new Opened(handles, ids);
        });
    }

    /** Opens one replica (a reassignment made this broker one); the result has the one entry. */
    Future<Opened> openOne(TopicPartition tp, TopicConfig config, Placement placement) {
        PartitionVerticle v = replica(tp, config, placement);
        return deployer.deploy(v).map(id -> new Opened(List.of(new PartitionHandle(v, v.openedLog())), List.of(id)));
    }

    private PartitionVerticle replica(TopicPartition tp, TopicConfig config, Placement placement) {
        BrokerConfig b = brokerConfig.get();
        PartitionVerticle.Settings settings = new PartitionVerticle.Settings(nodeId, b.get(BrokerConfig.LOG_RETENTION_CHECK_INTERVAL_MS),
                b.get(BrokerConfig.LOG_SEGMENT_DELETE_DELAY_MS), b.get(BrokerConfig.REPLICA_LAG_TIME_MAX_MS), b.get(BrokerConfig.PRODUCER_ID_EXPIRATION_MS),
                b.get(BrokerConfig.PRODUCER_ID_EXPIRATION_CHECK_INTERVAL_MS), () -> onOffline.run(), isrChanges, ticker);
        return new PartitionVerticle(tp, PartitionDirs.dirOf(logDir, tp), config.logConfig(), time, settings, placement);
    }

    /** Closes a replica and deletes its files (its topic was deleted, or it was moved away). */
    Future<Void> delete(PartitionHandle h, String deploymentId) {
        h.markForDeletion();
        return deployer.undeploy(deploymentId);
    }

    /** Deletes a topic's record, then this broker's replicas of it with their files. */
    Future<Void> deleteTopic(LocalTopic t) {
        String name = t.name();
        return vertx.executeBlocking(() -> {
            store.delete(name);
            return null;
        }).compose(v -> {
            List<Future<Void>> undeployed = new ArrayList<>();
            for (int i = 0; i < t.partitions().size(); i++) {
                if (t.partitions().get(i) != null) undeployed.add(delete(t.partitions().get(i), t.deploymentIds().get(i)));
            }
            return Future.all(undeployed).<Void>mapEmpty();
        }).andThen(ar -> {
            if (ar.succeeded()) LOG.info("Deleted topic {}", name);
        });
    }

    /**
     * Flushes and closes every replica of the registry's topics and forgets them (graceful shutdown). Completes when
     * every one has finished, failed or not: Vert.x must not close (and stop the workers flushing the others) when
     * the first fails. Fails with the first failure, each logged.
     */
    public Future<Void> closeAll(TopicRegistry registry) {
        List<Future<Void>> undeployed = new ArrayList<>();
        for (LocalTopic t : registry.topics()) {
            for (int i = 0; i < t.deploymentIds().size(); i++) {
                String id = t.deploymentIds().get(i);
                if (id == null) continue;
                String what = t.name() + "-" + i;
                undeployed.add(deployer.undeploy(id).onFailure(e -> LOG.error("Closing the replica of {} failed", what, e)));
            }
        }
        registry.clear();
        return Future.join(undeployed).<Void>mapEmpty().onComplete(ar -> ticker.stop());
    }
}
