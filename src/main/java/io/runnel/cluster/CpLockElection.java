package io.runnel.cluster;

import com.hazelcast.cp.lock.FencedLock;
import io.runnel.config.Limits;
import java.util.concurrent.TimeUnit;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The controller election of CP mode: whoever holds the FencedLock {@code runnel-controller} of Hazelcast's CP
 * subsystem is the controller, and its fencing token (plus the image's epoch base, which a CP reset raises) is the
 * controller epoch, with which it claims the metadata ({@link CpMetadata#claim}). The holder checks every {@link Limits#CP_ELECTION_POLL_MS} that it still holds the lock
 * (a broker frozen past its CP session loses it) and gives the role up otherwise; a broker without a CP majority can
 * neither take the lock nor write. The lock is a blocking call, so the election runs on a thread of its own.
 */
final class CpLockElection implements ControllerElection {
    private static final Logger LOG = LoggerFactory.getLogger(CpLockElection.class);
    private static final String CONTROLLER_LOCK = "runnel-controller";

    private final HazelcastMember member;
    private final BrokerRegistry registry;
    private final ControllerRole role;
    private final CpMetadata cp;
    private final CpGroupKeeper keeper;
    private volatile boolean running = true;
    private Thread thread;

    CpLockElection(HazelcastMember member, BrokerRegistry registry, ControllerRole role, CpMetadata cp, CpGroupKeeper keeper) {
        this.member = member;
        this.keeper = keeper;
        this.registry = registry;
        this.role = role;
        this.cp = cp;
    }

    @Override
    public synchronized void start() {
        if (thread == null) thread = ClusterThread.start("runnel-controller-election", this::loop);
    }

    /** The lock decides by itself: nothing to do when members or registrations change. */
    @Override
    public void recheck() {
    }

    /** The lock decides by itself: a broker that merged back holds it only if its CP session survived. */
    @Override
    public void merged() {
    }

    /** Stops the election thread, which releases the lock: the next controller need not wait for the session to expire. */
    @Override
    public void stop() {
        running = false;
        Thread t;
        synchronized (this) {
            t = thread;
        }
        ClusterThread.stop(t);
    }

    /**
     * Publishes the epoch just won ({@link CpGroupKeeper#publishNow}), then reads the image again: the claim still
     * stands only if no CP group reset came in between. A reset takes its epoch base from the published epochs, so
     * from here on any quorum made by a reset counts above this controller's epoch: at most one controller acts in
     * an epoch. Blocking.
     */
    private boolean published(ControllerInfo won) {
        registry.controllerChanged(won);
        keeper.publishNow();
        ControllerInfo now = cp.read().controller();
        if (won.equals(now)) return true;
        LOG.info("Broker {} won controller epoch {} but the metadata quorum's image now names {}: not acting", won.nodeId(), won.epoch(), now);
        return false;
    }

    private void loop() {
        FencedLock lock = null;
        while (running) {
            try {
                // Made again after a failure: after a CP subsystem reset (CpRecovery) the old proxy fails for ever.
                if (lock == null) lock = member.hz().getCPSubsystem().getLock(CONTROLLER_LOCK);
                long fence = lock.tryLockAndGetFence(Limits.CP_ELECTION_POLL_MS, TimeUnit.MILLISECONDS);
                if (fence == FencedLock.INVALID_FENCE) continue;
                try {
                    ControllerInfo won = cp.claim(registry.nodeId(), fence, member.self(), () -> CpGroupKeeper.floor(member.hz()));
                    if (won != null && !published(won)) won = null;
                    if (won != null) {
                        ClusterController c = role.take(won);
                        while (running && role.holds(c) && lock.isLockedByCurrentThread()) Thread.sleep(Limits.CP_ELECTION_POLL_MS);
                        LOG.info("Broker {} gives up the controller role (epoch {})", won.nodeId(), won.epoch());
                    }
                } finally {
                    role.resign();
                    try {
                        if (lock.isLockedByCurrentThread()) lock.unlock();
                    } catch (RuntimeException e) {
                        LOG.debug("Releasing the controller lock failed", e);
                    }
                }
            } catch (InterruptedException e) {
                return;
            } catch (RuntimeException e) {
                LOG.debug("Controller election failed (no CP majority yet?); trying again", e);
                lock = null;
                try {
                    Thread.sleep(Limits.CP_ELECTION_POLL_MS);
                } catch (InterruptedException x) {
                    return;
                }
            }
        }
    }
}
