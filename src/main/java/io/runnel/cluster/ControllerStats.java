package io.runnel.cluster;

import java.util.concurrent.atomic.LongAdder;

/**
 * What this broker's controller decided since start, for {@code /metrics}: leader elections (Kafka's ControllerStats
 * LeaderElectionRateAndTimeMs counts them on the active controller) and, of those, unclean ones (a leader chosen
 * outside the ISR, UncleanLeaderElectionsPerSec). Counted by each {@link ClusterController} this broker runs.
 */
public final class ControllerStats {
    private final LongAdder elections = new LongAdder();
    private final LongAdder unclean = new LongAdder();

    /** A partition got a new leader (or a new leader epoch); {@code outsideIsr} when the leader was not in sync. */
    void elected(boolean outsideIsr) {
        elections.increment();
        if (outsideIsr) unclean.increment();
    }

    public long leaderElections() {
        return elections.sum();
    }

    public long uncleanLeaderElections() {
        return unclean.sum();
    }
}
