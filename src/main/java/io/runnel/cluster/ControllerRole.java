package io.runnel.cluster;

import io.runnel.config.Limits;
import io.vertx.core.Context;
import io.vertx.core.Future;
import io.vertx.core.Promise;
import io.vertx.core.Vertx;
import io.vertx.core.json.JsonArray;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The controller role on this broker: an election ({@link ControllerElection}) that makes this broker the controller
 * starts a {@link ClusterController} for its epoch here, and stops it when the broker loses the role. While it runs,
 * the brokers' topic reports and membership changes reach it (a whole-cluster restart rebuilds the metadata from the
 * reports, and a report's newer placements replace older ones; a broker that left loses the partitions it led).
 */
final class ControllerRole {
    private static final Logger LOG = LoggerFactory.getLogger(ControllerRole.class);

    private final Vertx vertx;
    /** Where controllers start and stop (one context, so they do in order). */
    private final Context context;
    private final MetadataStore store;
    private final ClusterController.Settings settings;
    private final BrokerRegistry registry;
    private volatile ClusterController active;

    /** What the controllers this broker ran decided (for {@code /metrics}). */
    final ControllerStats stats = new ControllerStats();

    ControllerRole(Vertx vertx, MetadataStore store, ClusterController.Settings settings, BrokerRegistry registry) {
        this.vertx = vertx;
        this.context = vertx.getOrCreateContext();
        this.store = store;
        this.settings = settings;
        this.registry = registry;
    }

    /**
     * Starts acting as the controller of {@code epoch} (the election claimed the metadata for it). It decides nothing
     * until every live member has registered (bounded by {@link Limits#CONTROLLER_REGISTRATION_WAIT_MS}), then takes
     * the brokers' reports first: members that rejoined after a split brain register again with the newest placements
     * they know, which may be newer than the metadata this broker's side kept. Returns the running controller.
     */
    synchronized ClusterController take(ControllerInfo won) {
        LOG.info("Broker {} is the controller (epoch {})", won.nodeId(), won.epoch());
        registry.controllerChanged(won);
        ClusterController role = new ClusterController(vertx, store, won.epoch(), settings, registry::liveNodeIds, registry::isRegistered)
                .countInto(stats).racks(registry::rackOf);
        active = role;
        registry.acting(won.epoch());
        context.runOnContext(v -> role.start(everyMemberRegistered(won, role), registry::reports));
        return role;
    }

    /** Completes when every live member has registered, or after {@link Limits#CONTROLLER_REGISTRATION_WAIT_MS} (logged). */
    private Future<Void> everyMemberRegistered(ControllerInfo won, ClusterController role) {
        Promise<Void> done = Promise.promise();
        long deadline = System.nanoTime() + Limits.CONTROLLER_REGISTRATION_WAIT_MS * 1_000_000L;
        vertx.setPeriodic(1, Limits.CONTROLLER_REGISTRATION_POLL_MS, id -> {
            if (registry.everyMemberRegistered()) {
                vertx.cancelTimer(id);
                done.tryComplete();
            } else if (System.nanoTime() - deadline > 0 || active != role) {
                vertx.cancelTimer(id);
                if (active == role) LOG.warn("Controller {} (epoch {}): not every live member registered within {} ms; deciding with {}", won.nodeId(),
                        won.epoch(), Limits.CONTROLLER_REGISTRATION_WAIT_MS, registry.majorityText());
                done.tryComplete();
            }
        });
        return done.future();
    }

    /** Stops acting as controller (another broker holds the role now, or this one lost its majority). */
    synchronized void resign() {
        ClusterController c = active;
        if (c == null) return;
        active = null;
        registry.acting(-1);
        context.runOnContext(v -> c.stop());
    }

    /** Whether {@code c} is still the running controller. */
    boolean holds(ClusterController c) {
        return c != null && active == c;
    }

    /** Whether this broker runs a controller now. */
    boolean active() {
        return active != null;
    }

    /** A broker registered: the controller takes its report (topics a whole-cluster restart brought back). */
    void brokerRegistered(int id, JsonArray report) {
        ClusterController c = active;
        if (c != null) c.run(() -> {
            c.adopt(id, report);
            return null;
        });
    }

    /**
     * A member joined or left: the controller re-checks every partition's leader. A member gone may have taken map
     * entries with it (more failures than backups): the live brokers' reports bring missing topics back first.
     */
    void membersChanged() {
        ClusterController c = active;
        if (c != null) c.run(() -> {
            registry.reports().forEach(c::adoptReport);
            c.reconcileAll();
            return null;
        });
    }
}
