package io.runnel.cluster;

import io.runnel.partition.MetadataImage;
import io.runnel.partition.TopicMetadata;
import io.runnel.quorum.ImageServer;
import io.runnel.quorum.QuorumEndpoint;
import io.vertx.core.Context;
import io.vertx.core.Vertx;
import java.util.HashMap;
import java.util.Map;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.function.Consumer;
import java.util.function.Supplier;

/**
 * The metadata feed of a broker in the metadata quorum's cluster: on a voter, its own {@link MetadataMachine} applies
 * the committed log (and serves the image to observers through {@link #imageServer}); on an observer, the machine takes
 * the images a voter sends ({@link #observed}). Either way each change is handed over as a {@link MetadataImage}. Changes coalesce: the Raft thread only signals, and the
 * feed's context reads the newest image once per signal it runs, so a replay of a long log on start costs a few
 * images, not one per entry. Images are handed over in version order, never an older one after a newer; the image's
 * controller entry tells the broker who the controller is.
 */
final class RaftMetadataFeed implements MetadataFeed {
    private final Context context;
    private final MetadataMachine machine;
    private final Consumer<ControllerInfo> controller;
    private final AtomicBoolean scheduled = new AtomicBoolean();
    private volatile Consumer<MetadataImage> listener;
    private volatile ImageServer images;
    private volatile boolean running = true;
    /** The version last handed over, and to which listener (on {@link #context}): a new listener gets the current image. */
    private long handed = -1;
    private Consumer<MetadataImage> handedTo;

    /** {@code controller} hears the controller each image names (on the feed's context). */
    RaftMetadataFeed(Vertx vertx, Consumer<ControllerInfo> controller) {
        this.context = vertx.getOrCreateContext();
        this.controller = controller;
        this.machine = new MetadataMachine(this::changed);
    }

    /** The state machine to give this broker's quorum member. */
    MetadataMachine machine() {
        return machine;
    }

    @Override
    public void start() {
        changed();
    }

    @Override
    public void onImage(Consumer<MetadataImage> l) {
        listener = l;
        context.runOnContext(v -> hand());
    }

    /**
     * A voter's server of its image to observers ({@link io.runnel.quorum.QuorumTransport#serveObservers}), told of
     * each change; made once. {@code leader} names the quorum's leader as this voter knows it.
     */
    synchronized ImageServer imageServer(Supplier<QuorumEndpoint> leader) {
        if (images == null) images = new ImageServer(machine::observed, leader);
        return images;
    }

    /** An observer's feed takes an image a voter sent ({@link io.runnel.quorum.QuorumObserver}); an older one changes nothing. */
    void observed(ImageServer.Image image) {
        machine.install(image);
    }

    /** The log is the truth and this member applies it: nothing to read again. */
    @Override
    public void reload() {
        changed();
    }

    @Override
    public void stop() {
        running = false;
    }

    /** Called on the Raft thread for each change: schedules one hand-over unless one is pending. */
    private void changed() {
        ImageServer server = images;
        if (server != null) server.changed();
        if (running && scheduled.compareAndSet(false, true)) context.runOnContext(v -> {
            scheduled.set(false);
            hand();
        });
    }

    private void hand() {
        Consumer<MetadataImage> l = listener;
        if (l == null || !running) return;
        if (l != handedTo) {
            handedTo = l;
            handed = -1;
        }
        CpMetadata.Image image = machine.image();
        // Version 0 is nothing committed yet (a new quorum, or a member that has not caught up): not an image to apply,
        // or the broker would be unfenced with no topics.
        if (image.version() == 0 || image.version() <= handed) return;
        handed = image.version();
        controller.accept(image.controller());
        Map<String, TopicMetadata> topics = new HashMap<>();
        image.topics().forEach((k, v) -> topics.put(k, TopicJson.decode(v)));
        l.accept(new MetadataImage(image.version(), topics, image.deleted()));
    }
}
