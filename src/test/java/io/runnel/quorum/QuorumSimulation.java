package io.runnel.quorum;

import io.microraft.RaftConfig;
import io.microraft.RaftEndpoint;
import io.microraft.RaftNode;
import io.microraft.RaftRole;
import io.microraft.executor.RaftNodeExecutor;
import io.microraft.model.message.RaftMessage;
import io.microraft.persistence.RestoredRaftState;
import io.microraft.statemachine.StateMachine;
import io.microraft.transport.Transport;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.channels.FileChannel;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.time.Clock;
import java.time.Instant;
import java.time.ZoneId;
import java.time.ZoneOffset;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.HashSet;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.PriorityQueue;
import java.util.Random;
import java.util.Set;
import java.util.TreeMap;
import java.util.concurrent.TimeUnit;
import java.util.function.Consumer;

/**
 * A deterministic simulation of a metadata quorum: MicroRaft nodes with the real {@link FileRaftStore} (each in a
 * directory of its own) and {@link QuorumCodec} (every message is encoded and decoded on its way), driven by one
 * virtual clock and one seeded random source, so that a seed replays the same run event for event. The network
 * delivers each message after 1 to 5 virtual milliseconds unless its link is cut or the message is dropped; a crashed
 * node's pending tasks and messages vanish and it restarts from its directory alone.
 *
 * <p>It records what Raft must guarantee: each log index is applied with the same operation on every node (state
 * machine safety), no two nodes name different leaders for one term (election safety), and every operation whose
 * replication was acknowledged to its caller is still applied once the faults are over (durability).
 */
final class QuorumSimulation {
    static final String GROUP = "runnel-metadata";
    static final String NO_OP = "no-op";
    /** Small, so that the simulation's logs are compacted often. */
    private static final long COMPACT_BYTES = 2_048;
    /** Operations per snapshot chunk: snapshots come in several. */
    private static final int OPS_PER_CHUNK = 16;
    /** Whether leaders repair followers MicroRaft 0.7 leaves stuck ({@link FollowerResync}). */
    boolean resyncEnabled = true;
    private static final RaftConfig CONFIG = RaftConfig.newBuilder().setLeaderElectionTimeoutMillis(1000).setLeaderHeartbeatPeriodSecs(1)
            .setLeaderHeartbeatTimeoutSecs(3).setCommitCountToTakeSnapshot(40).setMaxPendingLogEntryCount(200).build();

    final Random random;
    private final Path root;
    private long now;
    private long sequence;
    private final PriorityQueue<Task> queue = new PriorityQueue<>();
    private final Clock clock = new Clock() {
        @Override
        public ZoneId getZone() {
            return ZoneOffset.UTC;
        }

        @Override
        public Clock withZone(ZoneId zone) {
            return this;
        }

        @Override
        public long millis() {
            return now;
        }

        @Override
        public Instant instant() {
            return Instant.ofEpochMilli(now);
        }
    };
    final Map<QuorumEndpoint, Member> members = new LinkedHashMap<>();
    /** Links that deliver nothing, both ways: a pair of node ids, smaller first. */
    private final Set<List<Integer>> cut = new HashSet<>();
    private double dropRate;

    /** Index to the operation applied there (by whichever node applied it first). */
    final TreeMap<Long, String> applied = new TreeMap<>();
    final Set<String> violations = new java.util.LinkedHashSet<>();
    /** Term to the leader some node named for it. */
    private final Map<Integer, RaftEndpoint> leaders = new HashMap<>();
    /** Operations whose replication a caller was told succeeded. */
    final Set<String> acknowledged = new HashSet<>();

    QuorumSimulation(long seed, Path root) {
        this.random = new Random(seed);
        this.root = root;
    }

    private record Task(long time, long sequence, Member member, int incarnation, Runnable action) implements Comparable<Task> {
        @Override
        public int compareTo(Task o) {
            return time != o.time ? Long.compare(time, o.time) : Long.compare(sequence, o.sequence);
        }
    }

    long now() {
        return now;
    }

    /** A quorum of {@code size} voters, started. */
    void start(int size) {
        List<RaftEndpoint> initial = new ArrayList<>();
        for (int id = 1; id <= size; id++) initial.add(new QuorumEndpoint(id, "dir-" + id));
        for (RaftEndpoint e : initial) {
            Member m = new Member((QuorumEndpoint) e);
            members.put(m.endpoint, m);
            m.boot(initial);
        }
    }

    /** Runs events until {@code millis} virtual milliseconds from now, checking after each. */
    void run(long millis) {
        long until = now + millis;
        while (!queue.isEmpty() && queue.peek().time <= until) {
            Task t = queue.poll();
            now = t.time;
            if (t.member != null && (t.member.incarnation != t.incarnation || t.member.node == null)) continue; // crashed since
            t.action.run();
            checkLeaders();
        }
        now = until;
    }

    private void schedule(Member member, long delay, Runnable action) {
        queue.add(new Task(now + delay, sequence++, member, member == null ? 0 : member.incarnation, action));
    }

    private void checkLeaders() {
        for (Member m : members.values()) {
            if (m.node == null) continue;
            var term = m.node.getTerm();
            if (term.getLeaderEndpoint() == null) continue;
            RaftEndpoint before = leaders.putIfAbsent(term.getTerm(), term.getLeaderEndpoint());
            if (before != null && !before.equals(term.getLeaderEndpoint())) {
                violations.add("term " + term.getTerm() + " has two leaders: " + before + " and " + term.getLeaderEndpoint());
            }
        }
    }

    // ---- faults ----

    void crash(Member m) {
        m.crash();
    }

    void restart(Member m) {
        m.restart();
    }

    void cut(int a, int b) {
        cut.add(List.of(Math.min(a, b), Math.max(a, b)));
    }

    void isolate(int id) {
        for (QuorumEndpoint e : members.keySet()) if (e.nodeId() != id) cut(id, e.nodeId());
    }

    void heal() {
        cut.clear();
        dropRate = 0;
    }

    void dropRate(double rate) {
        this.dropRate = rate;
    }

    private boolean linked(int a, int b) {
        return !cut.contains(List.of(Math.min(a, b), Math.max(a, b)));
    }

    /** The node that is leader now and whose term no node has gone past, or null. */
    Member leader() {
        int highest = members.values().stream().filter(m -> m.node != null).mapToInt(m -> m.node.getTerm().getTerm()).max().orElse(0);
        for (Member m : members.values()) {
            if (m.node != null && m.node.getTerm().getTerm() == highest && m.role() == RaftRole.LEADER) {
                return m;
            }
        }
        return null;
    }

    /** Asks the leader (if any) to replicate {@code op}; an acknowledgement is recorded when its future succeeds. */
    void propose(String op) {
        Member m = leader();
        if (m == null) return;
        m.node.<Object>replicate(op).whenComplete((r, e) -> {
            if (e == null) acknowledged.add(op);
        });
    }

    /** One broker of the simulation: its directory, its current incarnation and Raft node. */
    final class Member {
        final QuorumEndpoint endpoint;
        final Path dir;
        int incarnation;
        RaftNode node;
        FollowerResync resync;
        FileRaftStore store;
        Machine machine;

        Member(QuorumEndpoint endpoint) {
            this.endpoint = endpoint;
            this.dir = root.resolve("node-" + endpoint.nodeId());
        }

        /** LEADER when this node names itself the leader of its term (a deposed leader may still, until it hears of a newer term). */
        RaftRole role() {
            if (node == null) return null;
            return endpoint.equals(node.getTerm().getLeaderEndpoint()) ? RaftRole.LEADER : RaftRole.FOLLOWER;
        }

        void boot(List<RaftEndpoint> initial) {
            start(b -> b.setLocalEndpoint(endpoint).setInitialGroupMembers(initial));
        }

        /** Starts a node on this member's directory: the store, a fresh state machine, the repair check. */
        private void start(java.util.function.UnaryOperator<RaftNode.RaftNodeBuilder> identity) {
            try {
                store = new FileRaftStore(dir, COMPACT_BYTES);
            } catch (IOException e) {
                throw new UncheckedIOException(e);
            }
            machine = new Machine(this);
            node = identity.apply(builder()).build();
            resync = new FollowerResync(node, NO_OP, CONFIG, this::reaches);
            node.start();
            checkResync();
        }

        private boolean reaches(RaftEndpoint target) {
            Member to = members.get((QuorumEndpoint) target);
            return to != null && to.node != null && linked(endpoint.nodeId(), to.endpoint.nodeId());
        }

        /** Every 2 s of this incarnation: the leader's stalled-member check ({@link FollowerResync}). */
        private void checkResync() {
            QuorumSimulation.this.schedule(this, 2_000, () -> {
                if (resyncEnabled) node.getReport().thenAccept(r -> resync.check(r.getResult(), now));
                checkResync();
            });
        }

        /**
         * The process dies and the machine loses power: what the store wrote but did not force is gone (the log is
         * cut back to its last flush), so a missing flush in the store or in MicroRaft's use of it fails the checks.
         */
        void crash() {
            if (node == null) return;
            node = null;
            incarnation++;
            try {
                long flushed = store.flushedBytes();
                store.close();
                try (FileChannel log = FileChannel.open(dir.resolve(FileRaftStore.LOG_FILE), StandardOpenOption.WRITE)) {
                    if (log.size() > flushed) log.truncate(flushed);
                }
            } catch (IOException e) {
                throw new UncheckedIOException(e);
            }
        }

        void restart() {
            if (node != null) return;
            RestoredRaftState restored;
            try {
                restored = FileRaftStore.restore(dir).orElseThrow(() -> new IllegalStateException(endpoint + " has no state to restore"));
            } catch (IOException e) {
                throw new UncheckedIOException(e);
            }
            start(b -> b.setRestoredState(restored));
        }

        private RaftNode.RaftNodeBuilder builder() {
            Member self = this;
            return RaftNode.newBuilder().setGroupId(GROUP).setConfig(CONFIG).setStore(store).setStateMachine(machine).setClock(clock)
                    .setRandom(new Random(random.nextLong())).setExecutor(new RaftNodeExecutor() {
                        @Override
                        public void execute(Runnable task) {
                            QuorumSimulation.this.schedule(self, 0, task);
                        }

                        @Override
                        public void submit(Runnable task) {
                            QuorumSimulation.this.schedule(self, 0, task);
                        }

                        @Override
                        public void schedule(Runnable task, long delay, TimeUnit unit) {
                            QuorumSimulation.this.schedule(self, unit.toMillis(delay), task);
                        }
                    }).setTransport(new Transport() {
                        @Override
                        public void send(RaftEndpoint target, RaftMessage message) {
                            if (!linked(endpoint.nodeId(), ((QuorumEndpoint) target).nodeId()) || random.nextDouble() < dropRate) return;
                            byte[] bytes = QuorumCodec.encode(message);
                            Member to = members.get((QuorumEndpoint) target);
                            if (to == null) return;
                            QuorumSimulation.this.schedule(to, 1 + random.nextInt(5), () -> {
                                if (to.node == null || !linked(endpoint.nodeId(), to.endpoint.nodeId())) return;
                                RaftMessage received = QuorumCodec.decode(bytes);
                                to.node.handle(received);
                            });
                        }

                        @Override
                        public boolean isReachable(RaftEndpoint target) {
                            return reaches(target);
                        }
                    });
        }
    }

    /** The state machine: the operations applied, by index; a snapshot is their list as one text. */
    final class Machine implements StateMachine {
        private final Member member;
        final TreeMap<Long, String> ops = new TreeMap<>();

        Machine(Member member) {
            this.member = member;
        }

        @Override
        public Object runOperation(long commitIndex, Object operation) {
            String op = (String) operation;
            ops.put(commitIndex, op);
            String before = applied.putIfAbsent(commitIndex, op);
            if (before != null && !before.equals(op)) {
                violations.add(member.endpoint + " applied " + op + " at index " + commitIndex + " where another applied " + before);
            }
            return op;
        }

        @Override
        public void takeSnapshot(long commitIndex, Consumer<Object> chunks) {
            StringBuilder text = new StringBuilder();
            int inChunk = 0;
            for (Map.Entry<Long, String> e : ops.entrySet()) {
                text.append(e.getKey()).append('=').append(e.getValue()).append('\n');
                if (++inChunk == OPS_PER_CHUNK) {
                    chunks.accept(text.toString());
                    text.setLength(0);
                    inChunk = 0;
                }
            }
            if (inChunk > 0 || ops.isEmpty()) chunks.accept(text.toString());
        }

        @Override
        public void installSnapshot(long commitIndex, List<Object> chunks) {
            ops.clear();
            for (Object chunk : chunks) {
                for (String line : ((String) chunk).split("\n")) {
                    if (line.isEmpty()) continue;
                    int eq = line.indexOf('=');
                    long index = Long.parseLong(line.substring(0, eq));
                    String op = line.substring(eq + 1);
                    ops.put(index, op);
                    String before = applied.putIfAbsent(index, op);
                    if (before != null && !before.equals(op)) {
                        violations.add(member.endpoint + " installed " + op + " at index " + index + " where another applied " + before);
                    }
                }
            }
        }

        @Override
        public Object getNewTermOperation() {
            return "new-term";
        }
    }
}
