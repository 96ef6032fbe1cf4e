package io.runnel.cluster;

import static org.assertj.core.api.Assertions.assertThat;

import io.runnel.log.value.TopicRecord;
import io.runnel.partition.Placement;
import io.runnel.partition.TopicMetadata;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Random;
import java.util.Set;
import java.util.TreeSet;
import org.apache.kafka.common.Uuid;
import org.apache.kafka.common.errors.ApiException;
import org.junit.jupiter.api.Test;

/**
 * The controller's and the ISR's decisions under network partitions, as a seeded simulation (replayable: a failure
 * names its seed and the steps that led to it). One partition on three brokers with {@code min.insync.replicas=2};
 * the real {@link ClusterController} on an in-memory store decides, and a small model plays everything else:
 * <ul>
 *   <li>the network: which brokers reach each other, and which reach the controller (the side of a split that holds
 *       a majority; with none, no decision is made, as a CP quorum without a majority makes none);</li>
 *   <li>each broker's log (record ids) and the placement it last received (only brokers that reach the controller
 *       receive new ones, so a broker cut off keeps acting on a stale placement);</li>
 *   <li>a broker that believes it leads appends records and acknowledges one (acks=all) once every member of the ISR
 *       it believes in has it, with at least two of them; followers copy from the leader they believe in when they
 *       reach it, in that leader's epoch, truncating what it does not have;</li>
 *   <li>leaders propose ISR shrinks (followers that lag) and expansions (followers that caught up) to the controller,
 *       which accepts them only from the current leader in its current epoch; the controller reconciles leaders with
 *       the brokers it sees as live.</li>
 * </ul>
 * After every step: every acknowledged record is in the log of every replica in the controller's ISR (so whichever
 * of them is elected has it), the controller's leader is in its ISR, and leader epochs never go back.
 */
class ControllerSimulationTest {
    private static final int BROKERS = 3;
    private static final int MIN_ISR = 2;
    private static final int SEEDS = 300;
    private static final int STEPS = 400;

    @Test
    void underRandomPartitionsNoAcknowledgedRecordIsEverMissingFromAnInSyncReplica() {
        long acknowledged = 0;
        long elections = 0;
        for (long seed = 1; seed <= SEEDS; seed++) {
            Run run = new Run(seed);
            run.play();
            acknowledged += run.acked.size();
            elections += run.lastEpoch;
        }
        // The runs did what they are for: records acknowledged and leaders elected, many times over.
        assertThat(acknowledged).as("records acknowledged over all runs").isGreaterThan(SEEDS * 10L);
        assertThat(elections).as("leader elections over all runs").isGreaterThan(SEEDS * 2L);
    }

    private static final class Run {
        private final long seed;
        private final Random random;
        private final InMemoryMetadataStore store = new InMemoryMetadataStore();
        private final List<String> trace = new ArrayList<>();
        /** Node ids the controller sees as live (its side of the network). */
        private final List<Integer> live = new ArrayList<>();
        private final ClusterController controller;
        /** group[b]: the side of the network broker b is on (brokers on one side reach each other). */
        private final int[] group = new int[BROKERS + 1];
        private final List<List<Integer>> logs = new ArrayList<>();
        private final Placement[] view = new Placement[BROKERS + 1];
        /** proposed[b]: the ISR broker b proposed as leader, accepted and not yet back in a placement it received. */
        private final List<Integer>[] proposed = newLists();
        private final Set<Integer> acked = new HashSet<>();
        private int nextRecord;
        private int lastEpoch;

        @SuppressWarnings("unchecked")
        private static List<Integer>[] newLists() {
            return new List[BROKERS + 1];
        }

        Run(long seed) {
            this.seed = seed;
            this.random = new Random(seed);
            for (int b = 0; b <= BROKERS; b++) logs.add(new ArrayList<>());
            for (int b = 1; b <= BROKERS; b++) live.add(b);
            controller = new ClusterController(null, store, 1, new ClusterController.Settings(false, false, 300_000, 10), () -> List.copyOf(live));
            Placement initial = new Placement(List.of(1, 2, 3), 1, 0, List.of(1, 2, 3));
            store.putTopic(1, "t", TopicJson.encode(new TopicMetadata(new TopicRecord("t", Uuid.randomUuid(), 1, Map.of()), List.of(initial))));
            for (int b = 1; b <= BROKERS; b++) view[b] = initial;
        }

        void play() {
            for (int step = 0; step < STEPS; step++) {
                int action = random.nextInt(100);
                if (action < 8) repartition();
                else if (action < 50) produce();
                else if (action < 70) replicate();
                else if (action < 80) proposeIsr();
                else if (action < 90) reconcile();
                else deliver();
                check();
            }
        }

        private Placement stored() {
            return TopicJson.decode(store.topic("t")).placements().get(0);
        }

        /** A new shape of the network: everything healed, one broker cut off, or each broker alone. */
        private void repartition() {
            int shape = random.nextInt(4);
            for (int b = 1; b <= BROKERS; b++) group[b] = 0;
            if (shape == 1 || shape == 2) group[1 + random.nextInt(BROKERS)] = 1;
            if (shape == 3) for (int b = 1; b <= BROKERS; b++) group[b] = b;
            // The controller runs on the side with a majority, if any; it sees only the brokers there as live.
            live.clear();
            for (int g = 0; g <= BROKERS; g++) {
                List<Integer> side = new ArrayList<>();
                for (int b = 1; b <= BROKERS; b++) if (group[b] == g) side.add(b);
                if (side.size() * 2 > BROKERS) live.addAll(side);
            }
            trace.add("network " + java.util.Arrays.toString(group) + ", controller sees " + live);
        }

        private boolean reach(int a, int b) {
            return group[a] == group[b];
        }

        private boolean reachesController(int b) {
            return live.contains(b);
        }

        /** A broker that believes it leads appends a record (acknowledged later, once its high watermark passes it). */
        private void produce() {
            int b = 1 + random.nextInt(BROKERS);
            Placement v = view[b];
            if (v.leader() != b || v.isr().size() < MIN_ISR) return;
            logs.get(b).add(nextRecord++);
            advance(b);
        }

        /**
         * The leader's high watermark: a record counts (acks=all) once every member of the ISR the leader goes by has
         * it, with at least {@link #MIN_ISR} of them. The leader goes by the ISR of its placement and, while an ISR
         * change it proposed is not back in a placement, by the proposed members too (Kafka's maximal ISR).
         */
        private void advance(int l) {
            Placement v = view[l];
            if (v.leader() != l) return;
            Set<Integer> isr = new TreeSet<>(v.isr());
            if (proposed[l] != null) isr.addAll(proposed[l]);
            if (isr.size() < MIN_ISR) return;
            for (int r : logs.get(l)) {
                if (acked.contains(r)) continue;
                boolean everywhere = true;
                for (int f : isr) everywhere &= logs.get(f).contains(r);
                if (!everywhere) return;
                acked.add(r);
                trace.add("broker " + l + " (epoch " + v.leaderEpoch() + ", ISR " + isr + ") acknowledged " + r);
            }
        }

        /** A follower fetches from the leader it believes in, if it reaches it and that broker leads in the same epoch. */
        private void replicate() {
            int f = 1 + random.nextInt(BROKERS);
            Placement v = view[f];
            int leader = v.leader();
            if (leader < 0 || leader == f || !reach(f, leader)) return;
            Placement lv = view[leader];
            if (lv.leader() != leader || lv.leaderEpoch() != v.leaderEpoch()) return; // fenced: epochs differ
            // Truncates what the leader does not have (OffsetForLeaderEpoch), then copies the rest.
            logs.set(f, new ArrayList<>(logs.get(leader)));
            advance(leader); // the leader learns the follower's position from its fetch
        }

        /** The leader proposes to drop lagging followers, or to add one that has caught up. */
        private void proposeIsr() {
            int b = 1 + random.nextInt(BROKERS);
            Placement v = view[b];
            if (v.leader() != b || !reachesController(b)) return;
            List<Integer> isr = new ArrayList<>();
            for (int r : v.replicas()) {
                boolean caughtUp = logs.get(r).equals(logs.get(b));
                if (r == b || (caughtUp && (v.isr().contains(r) || random.nextBoolean()))) isr.add(r);
                else if (v.isr().contains(r) && !caughtUp && random.nextBoolean()) continue; // lags: proposed out
                else if (v.isr().contains(r)) isr.add(r);
            }
            if (proposed[b] != null) return; // one at a time, until a placement ends it
            try {
                controller.execute(new ControllerCommand.AlterIsr("t", 0, b, v.leaderEpoch(), isr));
                proposed[b] = isr; // accepted: it comes back with the next placement this broker receives
                trace.add("broker " + b + " proposed ISR " + isr + " in epoch " + v.leaderEpoch() + ": stored " + stored());
            } catch (ApiException e) {
                trace.add("broker " + b + " proposed ISR " + isr + " in epoch " + v.leaderEpoch() + ": " + e.getClass().getSimpleName());
            }
        }

        private void reconcile() {
            if (live.isEmpty()) return; // no majority anywhere: no controller decides
            controller.reconcileAll();
            trace.add("controller reconciled with live " + live + ": " + stored());
        }

        /** The controller's placement reaches the brokers on its side; a broker that stops leading keeps its log. */
        private void deliver() {
            Placement p = stored();
            for (int b : live) {
                view[b] = p;
                proposed[b] = null;
                advance(b);
            }
            trace.add("placement " + p + " delivered to " + live);
        }

        private void check() {
            Placement p = stored();
            String where = "seed " + seed + " after:\n  " + String.join("\n  ", trace.subList(Math.max(0, trace.size() - 25), trace.size()));
            assertThat(p.leaderEpoch()).as("leader epochs never go back; " + where).isGreaterThanOrEqualTo(lastEpoch);
            lastEpoch = p.leaderEpoch();
            if (p.hasLeader()) assertThat(p.isr()).as("the leader is in the ISR; " + where).contains(p.leader());
            for (int r : p.isr()) {
                Set<Integer> missing = new TreeSet<>(acked);
                missing.removeAll(logs.get(r));
                assertThat(missing).as("acknowledged records missing from in-sync replica " + r + " (ISR " + p.isr() + "); " + where).isEmpty();
            }
        }
    }
}
