package io.runnel.cluster;

import io.runnel.config.Limits;
import io.runnel.partition.MetadataImage;
import io.runnel.partition.TopicMetadata;
import io.vertx.core.Context;
import io.vertx.core.Vertx;
import java.util.HashMap;
import java.util.Map;
import java.util.concurrent.ArrayBlockingQueue;
import java.util.concurrent.BlockingQueue;
import java.util.concurrent.TimeUnit;
import java.util.function.Consumer;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The metadata feed of CP mode: reads the CP subsystem's image ({@link CpMetadata}) whenever a controller announces a
 * write on {@link #ADDRESS}, and at least every {@link Limits#CP_METADATA_POLL_MS} checks its version (a full read
 * every {@link Limits#CP_METADATA_FULL_READ_POLLS} checks regardless). Images carry the quorum's version and are handed
 * over in version order, never an older one: a broker that was cut off keeps its last image until it can read the
 * quorum's again. The image's controller entry tells the broker who the controller is. Reads block, so the feed runs
 * on a thread of its own.
 */
final class CpMetadataFeed implements MetadataFeed {
    /** Where a controller announces a new metadata version, so brokers read it at once. */
    static final String ADDRESS = "runnel.metadata";
    private static final Logger LOG = LoggerFactory.getLogger(CpMetadataFeed.class);

    private final Vertx vertx;
    private final Context context;
    private final CpMetadata cp;
    private final BrokerRegistry registry;
    /** Wakes the poller (a write was announced); capacity one, so signals coalesce. */
    private final BlockingQueue<Boolean> signal = new ArrayBlockingQueue<>(1);
    private volatile Consumer<MetadataImage> listener;
    private volatile MetadataImage latest;
    private volatile long quorumVersion = -1;
    private volatile boolean running = true;
    private Thread poller;

    CpMetadataFeed(HazelcastMember member, CpMetadata cp, BrokerRegistry registry) {
        this.vertx = member.vertx();
        this.context = vertx.getOrCreateContext();
        this.cp = cp;
        this.registry = registry;
    }

    @Override
    public synchronized void start() {
        vertx.eventBus().<Long>consumer(ADDRESS, m -> signal.offer(Boolean.TRUE));
        poller = ClusterThread.start("runnel-metadata-poller", this::poll);
    }

    @Override
    public void onImage(Consumer<MetadataImage> l) {
        listener = l;
        MetadataImage now = latest;
        if (now != null) hand(now);
    }

    /** The quorum's version of the newest image read (-1 before the first). */
    long appliedVersion() {
        return quorumVersion;
    }

    @Override
    public void reload() {
        signal.offer(Boolean.TRUE);
    }

    @Override
    public void stop() {
        running = false;
        Thread t;
        synchronized (this) {
            t = poller;
        }
        ClusterThread.stop(t);
    }

    private void poll() {
        int idle = 0;
        long appliedBase = -1;
        long applied = -1;
        long handed = 0;
        while (running) {
            try {
                signal.poll(Limits.CP_METADATA_POLL_MS, TimeUnit.MILLISECONDS);
                if (cp.version() == applied && ++idle < Limits.CP_METADATA_FULL_READ_POLLS) continue;
                idle = 0;
                CpMetadata.Image image = cp.read();
                // A reset quorum's image comes after every image of the lost one, whatever its version (its epoch
                // base is higher): a broker that applied a version the reset's floor did not cover must not go on
                // with the lost quorum's placements until the new quorum's versions overtake it.
                if (!image.after(appliedBase, applied)) continue;
                if (image.epochBase() != appliedBase && appliedBase >= 0) {
                    LOG.info("The metadata quorum was reset: taking its image (epoch base {}, version {}) after version {} of the lost one",
                            image.epochBase(), image.version(), applied);
                }
                appliedBase = image.epochBase();
                applied = image.version();
                quorumVersion = applied;
                Map<String, TopicMetadata> topics = new HashMap<>();
                image.topics().forEach((k, v) -> topics.put(k, TopicJson.decode(v)));
                if (image.controller() != null) registry.controllerChanged(image.controller());
                // The applier orders images by this broker's own count of them (as in oldest-member mode).
                MetadataImage next = new MetadataImage(++handed, topics, image.deleted());
                latest = next;
                hand(next);
            } catch (InterruptedException e) {
                return;
            } catch (RuntimeException e) {
                LOG.debug("Reading the cluster metadata failed (no CP majority reachable?)", e);
            }
        }
    }

    private void hand(MetadataImage image) {
        Consumer<MetadataImage> l = listener;
        if (l != null) context.runOnContext(v -> l.accept(image));
    }
}
