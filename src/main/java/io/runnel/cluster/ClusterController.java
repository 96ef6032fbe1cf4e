package io.runnel.cluster;

import io.runnel.config.BrokerConfig;
import io.runnel.log.value.TopicRecord;
import io.runnel.partition.Placement;
import io.runnel.partition.TopicMetadata;
import io.vertx.core.Future;
import io.vertx.core.Vertx;
import io.vertx.core.eventbus.Message;
import io.vertx.core.eventbus.MessageConsumer;
import io.vertx.core.json.JsonArray;
import io.vertx.core.json.JsonObject;
import java.util.ArrayList;
import java.util.Collection;
import java.util.HashMap;
import java.util.HashSet;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.TreeMap;
import java.util.TreeSet;
import java.util.concurrent.Callable;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ThreadLocalRandom;
import java.util.function.IntFunction;
import java.util.function.IntPredicate;
import java.util.function.Supplier;
import java.util.stream.IntStream;
import org.apache.kafka.common.TopicPartition;
import org.apache.kafka.common.Uuid;
import org.apache.kafka.common.errors.ApiException;
import org.apache.kafka.common.errors.ElectionNotNeededException;
import org.apache.kafka.common.errors.EligibleLeadersNotAvailableException;
import org.apache.kafka.common.errors.FencedLeaderEpochException;
import org.apache.kafka.common.errors.IneligibleReplicaException;
import org.apache.kafka.common.errors.InvalidPartitionsException;
import org.apache.kafka.common.errors.InvalidReplicaAssignmentException;
import org.apache.kafka.common.errors.InvalidReplicationFactorException;
import org.apache.kafka.common.errors.InvalidRequestException;
import org.apache.kafka.common.errors.NoReassignmentInProgressException;
import org.apache.kafka.common.errors.PreferredLeaderNotAvailableException;
import org.apache.kafka.common.errors.TopicExistsException;
import org.apache.kafka.common.errors.UnknownTopicOrPartitionException;
import org.apache.kafka.common.protocol.Errors;
import org.apache.kafka.common.requests.ApiError;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The controller's decisions, on the broker elected controller: it owns the cluster's topic metadata in its
 * {@link MetadataStore} (Hazelcast maps, or the CP image) and knows the brokers only as the live node ids it is given.
 *
 * <ul>
 *   <li>{@link ControllerCommand}s from every broker (create, delete, grow, configure a topic, ISR changes, leader
 *       elections, reassignments) arrive on the clustered event bus at {@link ControllerCommand#ADDRESS}, which only
 *       the controller consumes; they run one at a time on a worker thread.</li>
 *   <li>Replicas are assigned as Kafka's rack-unaware assignment does (a random first broker and a random shift, so
 *       leaders and replicas spread over the live brokers); the first replica is the preferred leader.</li>
 *   <li>When a broker leaves, the partitions it led get a new leader from their in-sync replicas, with the leader
 *       epoch raised; with none left the partition has no leader (unclean election is off) until a replica
 *       returns. When a broker registers, the partitions it holds get it back as leader when they have none.</li>
 *   <li>After a restart of the whole cluster the Hazelcast maps are empty: each broker reports the topics it holds
 *       when it registers, and the controller rebuilds the metadata from those reports (a topic whose id is in the
 *       tombstones is not brought back).</li>
 *   <li>Every write first checks that this broker still holds the controller epoch it was elected with.</li>
 * </ul>
 */
final class ClusterController {
    private static final Logger LOG = LoggerFactory.getLogger(ClusterController.class);

    private final Supplier<List<Integer>> liveBrokers;
    /** Replicas the brokers report offline after an I/O error, from their registrations ({@link #adoptReport}). */
    private final Map<TopicPartition, Set<Integer>> offline = new ConcurrentHashMap<>();
    /**
     * Brokers in controlled shutdown ({@link #controlledShutdown}): no ISR takes them back until they register again
     * (a new process). Kept in memory, as KRaft's controller keeps it: a new controller learns it from the broker,
     * which asks again until its leaderships have moved.
     */
    private final Set<Integer> shuttingDown = ConcurrentHashMap.newKeySet();
    private final IntPredicate registered;
    private final Vertx vertx;
    private final MetadataStore store;
    private final long epoch;
    private final boolean unclean;
    private final Settings settings;
    private MessageConsumer<JsonObject> consumer;
    private long rebalanceTimer = -1;

    /**
     * The controller's broker settings: {@code unclean.leader.election.enable}, and Kafka's preferred-leader
     * rebalance ({@code auto.leader.rebalance.enable}, {@code leader.imbalance.check.interval.seconds},
     * {@code leader.imbalance.per.broker.percentage}).
     */
    record Settings(boolean unclean, boolean autoRebalance, long rebalanceIntervalMs, int imbalancePercentage) {
        /** The settings the broker configuration gives, under Kafka's key names. */
        static Settings of(BrokerConfig config) {
            return new Settings(config.get(BrokerConfig.UNCLEAN_LEADER_ELECTION_ENABLE), config.get(BrokerConfig.AUTO_LEADER_REBALANCE_ENABLE),
                    config.get(BrokerConfig.LEADER_IMBALANCE_CHECK_INTERVAL_SECONDS) * 1000L, config.get(BrokerConfig.LEADER_IMBALANCE_PER_BROKER_PERCENTAGE));
        }
    }

    /** The last task queued: each new one starts when it ends, whichever thread queued it. */
    private Future<?> tail = Future.succeededFuture();
    /** Where elections are counted (the broker's, once {@link #countInto} is called). */
    private volatile ControllerStats stats = new ControllerStats();

    /** A controller for which every broker has registered (unit tests). */
    ClusterController(Vertx vertx, MetadataStore store, long epoch, Settings settings, Supplier<List<Integer>> liveBrokers) {
        this(vertx, store, epoch, settings, liveBrokers, id -> true);
    }

    /**
     * @param liveBrokers the node ids of the live, registered brokers, ascending
     * @param registered whether a broker has registered with its report since the registrations were last lost (after
     *     a whole-cluster restart, only the brokers back so far): a partition without a live leader gets one only once
     *     every member of its ISR has, see {@link #reconcile}
     */
    ClusterController(Vertx vertx, MetadataStore store, long epoch, Settings settings, Supplier<List<Integer>> liveBrokers, IntPredicate registered) {
        this.registered = registered;
        this.settings = settings;
        this.unclean = settings.unclean();
        this.liveBrokers = liveBrokers;
        this.vertx = vertx;
        this.store = store;
        this.epoch = epoch;
    }

    /** The rack of each live broker (null: none), for rack-aware placement. */
    private volatile IntFunction<String> rackOf = id -> null;

    /** Places replicas by the brokers' racks as {@code rackOf} gives them. */
    ClusterController racks(IntFunction<String> rackOf) {
        this.rackOf = rackOf;
        return this;
    }

    /** Counts this controller's decisions into the broker's stats (for {@code /metrics}). */
    ClusterController countInto(ControllerStats stats) {
        this.stats = stats;
        return this;
    }

    /**
     * Starts consuming commands (call on a Vert.x context). Nothing is decided before {@code settled} completes (the
     * brokers' registrations are in, {@link ControllerRole#take}): then the first task takes the newer placements of
     * the brokers' {@code reports} and brings the metadata in line with the live brokers, and the queued commands
     * follow. The metadata in the store may be older than what the brokers were told (the maps of the side of a split
     * brain that was cut off); electing leaders from it alone lost acknowledged records.
     */
    void start(Future<Void> settled, Supplier<Map<Integer, JsonArray>> reports) {
        synchronized (this) {
            tail = settled.otherwiseEmpty();
        }
        consumer = vertx.eventBus().consumer(ControllerCommand.ADDRESS, this::onCommand);
        run(() -> {
            fence();
            reports.get().forEach(this::adoptReport);
            reconcileAll();
            return null;
        });
        if (settings.autoRebalance()) {
            rebalanceTimer = vertx.setPeriodic(settings.rebalanceIntervalMs(), id -> run(() -> {
                rebalance();
                return null;
            }).onFailure(e -> LOG.debug("Preferred-leader rebalance failed", e)));
        }
    }

    void stop() {
        if (consumer != null) consumer.unregister();
        if (rebalanceTimer >= 0) vertx.cancelTimer(rebalanceTimer);
    }

    /**
     * Runs controller work on a worker thread, one task at a time, in the order queued. The order is kept here, not
     * by executeBlocking's ordering, which holds only per calling context: tasks queued from Hazelcast's event threads
     * (a broker's report, a member leaving) ran side by side, and a reconcile that read a topic before an adoption
     * wrote it back without that adoption (a partition left without a leader after a whole-cluster restart).
     */
    synchronized <T> Future<T> run(Callable<T> work) {
        Future<T> next = tail.transform(x -> vertx.executeBlocking(work, false));
        tail = next;
        return next;
    }

    private void onCommand(Message<JsonObject> m) {
        ControllerCommand command;
        try {
            command = ControllerCommand.decode(m.body());
        } catch (RuntimeException e) {
            m.fail(Errors.forException(e).code(), e.getMessage());
            return;
        }
        run(() -> {
            fence();
            return execute(command);
        }).onComplete(ar -> {
            if (ar.succeeded()) {
                m.reply(ar.result() != null ? ar.result() : new JsonObject().put("ok", true));
            } else {
                Throwable e = ar.cause();
                Errors error = e instanceof ApiException ? Errors.forException(e) : Errors.UNKNOWN_SERVER_ERROR;
                if (!(e instanceof ApiException)) LOG.warn("Controller command {} failed", command, e);
                m.fail(error.code(), e.getMessage());
            }
        });
    }

    /** Carries out a command (on a worker, fenced); the reply's body, or null for a plain acknowledgement. */
    JsonObject execute(ControllerCommand command) {
        if (command instanceof ControllerCommand.Create c && !c.assignment().isEmpty()) {
            createAssigned(c.name(), c.assignment(), c.configs());
        } else if (command instanceof ControllerCommand.Create c) {
            create(c.name(), c.partitions(), c.replicationFactor(), c.configs());
        } else if (command instanceof ControllerCommand.Delete c) {
            delete(c.name());
        } else if (command instanceof ControllerCommand.Grow c) {
            grow(c.name(), c.total());
        } else if (command instanceof ControllerCommand.Configure c) {
            configure(c.name(), c.configs());
        } else if (command instanceof ControllerCommand.AlterIsr c) {
            return new JsonObject().put("partitionEpoch", alterIsr(c.name(), c.partition(), c.leader(), c.leaderEpoch(), c.isr()));
        } else if (command instanceof ControllerCommand.Elect c) {
            return ControllerCommand.encodeResults(elect(c.unclean(), c.partitions()));
        } else if (command instanceof ControllerCommand.Shutdown c) {
            return new JsonObject().put("remaining", new JsonArray(controlledShutdown(c.broker()).stream().map(TopicPartition::toString).toList()));
        } else if (command instanceof ControllerCommand.Version) {
            return new JsonObject().put("version", store.committedVersion());
        } else if (command instanceof ControllerCommand.Reassign c) {
            reassign(c.name(), c.partition(), c.replicas(), c.allowReplicationFactorChange());
        }
        return null;
    }

    /**
     * The live brokers whose replica of {@code name}-{@code partition} is not offline: a broker reports a replica an
     * I/O error took offline ({@code "offline"} in its registration's report), and until it registers again without
     * it that replica neither leads nor stays in the ISR, as Kafka's controller treats replicas in offline log dirs.
     */
    private Set<Integer> liveFor(String name, int partition, Set<Integer> live) {
        Set<Integer> out = offline.get(new TopicPartition(name, partition));
        if (out == null || out.isEmpty()) return live;
        Set<Integer> usable = new TreeSet<>(live);
        usable.removeAll(out);
        return usable;
    }

    /** Fails with NOT_CONTROLLER unless this broker still holds the epoch it was elected with. */
    private void fence() {
        store.checkEpoch(epoch);
    }

    // ---- commands ----

    private void create(String name, int partitions, int rf, Map<String, String> configs) {
        if (store.topic(name) != null) throw new TopicExistsException("Topic '" + name + "' already exists.");
        List<Integer> live = liveBrokers.get();
        // Kafka's offsets.topic.replication.factor and transaction.state.log.replication.factor are 3; with fewer
        // brokers the internal topics take what there is.
        if (name.equals("__consumer_offsets") || name.equals("__transaction_state")) rf = Math.min(rf, live.size());
        if (rf < 1 || rf > live.size()) {
            throw new InvalidReplicationFactorException("Replication factor " + rf + " is invalid: it must be at least 1 and at most the "
                    + "number of live brokers (" + live.size() + ").");
        }
        List<Placement> placements = place(live, 0, partitions, rf);
        TopicMetadata t = new TopicMetadata(new TopicRecord(name, Uuid.randomUuid(), partitions, configs), placements);
        if (!store.createTopic(epoch, name, TopicJson.encode(t))) throw new TopicExistsException("Topic '" + name + "' already exists.");
        LOG.info("Created topic {} with {} partition(s) over brokers {}", name, partitions, live);
    }

    /**
     * Creates a topic with the replicas given per partition (Kafka's manual assignment, as KRaft's controller checks
     * it): every replica a registered broker, none twice in a partition, the same count in every partition. The ISR is
     * the live replicas and the leader the first of them; a partition with no live replica is refused.
     */
    private void createAssigned(String name, List<List<Integer>> assignment, Map<String, String> configs) {
        if (store.topic(name) != null) throw new TopicExistsException("Topic '" + name + "' already exists.");
        List<Integer> live = liveBrokers.get();
        List<Placement> placements = new ArrayList<>();
        for (int p = 0; p < assignment.size(); p++) {
            List<Integer> replicas = assignment.get(p);
            if (replicas.isEmpty() || new HashSet<>(replicas).size() != replicas.size() || replicas.size() != assignment.get(0).size()) {
                throw new InvalidReplicaAssignmentException("Partition " + p + " is assigned to " + replicas
                        + ": every partition needs the same number of distinct replicas.");
            }
            for (int b : replicas) {
                if (!registered.test(b) && !live.contains(b)) {
                    throw new InvalidReplicaAssignmentException("The manual partition assignment includes broker " + b
                            + ", but no such broker is registered.");
                }
            }
            List<Integer> isr = replicas.stream().filter(live::contains).toList();
            if (isr.isEmpty()) {
                throw new InvalidReplicaAssignmentException("All brokers specified in the manual partition assignment for partition " + p
                        + " are not live.");
            }
            placements.add(new Placement(replicas, isr.get(0), 0, isr));
        }
        TopicMetadata t = new TopicMetadata(new TopicRecord(name, Uuid.randomUuid(), assignment.size(), configs), placements);
        if (!store.createTopic(epoch, name, TopicJson.encode(t))) throw new TopicExistsException("Topic '" + name + "' already exists.");
        LOG.info("Created topic {} with {} partition(s) assigned as {}", name, assignment.size(), assignment);
    }

    /**
     * The replicas of partitions {@code from} to {@code to} (exclusive) over the live brokers, from a random start as
     * Kafka does: rack-aware ({@link #assignRackAware}) when any of them has a {@code broker.rack}, else {@link #assign}.
     */
    private List<Placement> place(List<Integer> live, int from, int to, int rf) {
        Map<Integer, String> racks = new HashMap<>();
        boolean anyRack = false;
        for (int b : live) {
            String rack = rackOf.apply(b);
            anyRack |= rack != null;
            racks.put(b, rack == null ? "" : rack); // brokers without a rack count as one rack of their own, as KRaft's placer
        }
        int start = ThreadLocalRandom.current().nextInt(live.size());
        int shift = ThreadLocalRandom.current().nextInt(live.size());
        return anyRack ? assignRackAware(racks, from, to, rf, start, shift) : assign(live, from, to, rf, start, shift);
    }

    /**
     * Kafka's rack-aware replica assignment (the algorithm of AdminUtils.assignReplicasToBrokersRackAware, KIP-36): the
     * brokers are listed alternating between racks (racks in name order, brokers in id order within each), and
     * partition p's first replica is the one at {@code (start + p) mod n} of that list; each further replica is looked
     * for from a shift past the first, skipping brokers of a rack that already holds a replica until every rack does.
     * So each partition spans as many racks as it can, and leaders and followers spread evenly over brokers and racks.
     *
     * @param racks the rack of each live broker
     */
    static List<Placement> assignRackAware(Map<Integer, String> racks, int fromPartition, int toPartition, int rf, int start, int shiftStart) {
        List<Integer> arranged = rackAlternated(racks);
        int n = arranged.size();
        int rackCount = new HashSet<>(racks.values()).size();
        List<Placement> out = new ArrayList<>();
        int shift = shiftStart;
        for (int p = fromPartition; p < toPartition; p++) {
            if (p > 0 && p % n == 0) shift++;
            int first = (p + start) % n;
            List<Integer> replicas = new ArrayList<>(List.of(arranged.get(first)));
            Set<String> racksUsed = new HashSet<>(Set.of(racks.get(arranged.get(first))));
            for (int k = 0; replicas.size() < rf; k++) {
                int candidate = arranged.get((first + 1 + (shift * rackCount + k) % (n - 1)) % n);
                boolean rackOk = !racksUsed.contains(racks.get(candidate)) || racksUsed.size() == rackCount;
                if (rackOk && !replicas.contains(candidate)) {
                    replicas.add(candidate);
                    racksUsed.add(racks.get(candidate));
                }
            }
            out.add(new Placement(replicas, replicas.get(0), 0, replicas));
        }
        return out;
    }

    /** The brokers taking one from each rack in turn: racks in name order, brokers in id order within a rack. */
    static List<Integer> rackAlternated(Map<Integer, String> racks) {
        TreeMap<String, List<Integer>> byRack = new TreeMap<>();
        racks.forEach((b, r) -> byRack.computeIfAbsent(r, x -> new ArrayList<>()).add(b));
        byRack.values().forEach(l -> l.sort(null));
        List<Integer> out = new ArrayList<>();
        for (int i = 0; out.size() < racks.size(); i++) {
            for (List<Integer> l : byRack.values()) if (i < l.size()) out.add(l.get(i));
        }
        return out;
    }

    /**
     * Kafka's rack-unaware replica assignment (AdminUtils.assignReplicasToBrokersRackUnaware): partition p's first
     * replica is broker {@code (start + p) mod n}; the others follow at a shift that grows every n partitions, so
     * that leaders and followers both spread evenly.
     */
    static List<Placement> assign(List<Integer> brokers, int fromPartition, int toPartition, int rf, int start, int shiftStart) {
        int n = brokers.size();
        List<Placement> out = new ArrayList<>();
        int shift = shiftStart;
        for (int p = fromPartition; p < toPartition; p++) {
            if (p > 0 && p % n == 0) shift++;
            int first = (p + start) % n;
            List<Integer> replicas = new ArrayList<>();
            replicas.add(brokers.get(first));
            for (int j = 0; j < rf - 1; j++) replicas.add(brokers.get((first + 1 + (shift + j) % (n - 1)) % n));
            out.add(new Placement(replicas, replicas.get(0), 0, replicas));
        }
        return out;
    }

    private TopicMetadata existing(String name) {
        String text = store.topic(name);
        if (text == null) throw new UnknownTopicOrPartitionException("Topic '" + name + "' does not exist.");
        return TopicJson.decode(text);
    }

    /**
     * Stores {@code after} in place of {@code before} (null for a topic new to the store), with the partition epoch of
     * each changed placement raised past the stored one ({@link Placement#partitionEpoch}); a placement taken from a
     * broker's report keeps its higher epoch.
     */
    private void save(TopicMetadata before, TopicMetadata after) {
        save(before, after, true);
    }

    /** @param decided whether the new leaders are this controller's decisions (counted as elections), not adopted from reports */
    private void save(TopicMetadata before, TopicMetadata after, boolean decided) {
        List<Placement> stamped = new ArrayList<>();
        int elected = 0;
        int unclean = 0;
        for (int p = 0; p < after.placements().size(); p++) {
            Placement a = after.placements().get(p);
            Placement b = before == null || p >= before.placements().size() ? null : before.placements().get(p);
            if (b == null) stamped.add(a);
            else if (a.sameAs(b)) stamped.add(a.withPartitionEpoch(Math.max(a.partitionEpoch(), b.partitionEpoch())));
            else stamped.add(a.withPartitionEpoch(Math.max(a.partitionEpoch(), b.partitionEpoch() + 1)));
            if (decided && b != null && a.hasLeader() && (a.leader() != b.leader() || a.leaderEpoch() > b.leaderEpoch())) {
                elected++;
                if (!b.isr().contains(a.leader())) unclean++; // chosen outside the ISR it had
            }
        }
        store.putTopic(epoch, after.record().name(), TopicJson.encode(new TopicMetadata(after.record(), stamped, after.reassignments())));
        for (int i = 0; i < elected; i++) stats.elected(i < unclean); // counted once stored
    }

    private void delete(String name) {
        TopicMetadata t = existing(name);
        store.deleteTopic(epoch, name, t.record().topicId());
        LOG.info("Deleted topic {}", name);
    }

    private void grow(String name, int total) {
        TopicMetadata t = existing(name);
        if (total <= t.record().partitions()) {
            throw new InvalidPartitionsException("Topic '" + name + "' has " + t.record().partitions() + " partitions; the new count must be larger");
        }
        List<Integer> live = liveBrokers.get();
        int rf = t.placements().get(0).replicas().size();
        if (rf > live.size()) throw new InvalidReplicationFactorException("Only " + live.size() + " brokers are live for replication factor " + rf);
        List<Placement> placements = new ArrayList<>(t.placements());
        placements.addAll(place(live, t.record().partitions(), total, rf));
        TopicRecord r = t.record();
        save(t, t.withRecord(new TopicRecord(name, r.topicId(), total, r.configs()), placements));
    }

    private void configure(String name, Map<String, String> configs) {
        TopicMetadata t = existing(name);
        TopicRecord r = t.record();
        save(t, t.withRecord(new TopicRecord(name, r.topicId(), r.partitions(), configs), t.placements()));
    }

    /**
     * A leader's ISR change (Kafka's AlterPartition): accepted only from the current leader in its current epoch, for
     * an ISR of live replicas that contains the leader. Shrinks and expansions both come this way. Returns the
     * partition epoch of the placement that holds it.
     */
    private int alterIsr(String name, int partition, int leader, int leaderEpoch, List<Integer> isr) {
        TopicMetadata t = existing(name);
        if (partition < 0 || partition >= t.placements().size()) throw new UnknownTopicOrPartitionException(name + "-" + partition + " does not exist");
        Placement p = t.placements().get(partition);
        if (p.leader() != leader || p.leaderEpoch() != leaderEpoch) {
            throw new FencedLeaderEpochException("Broker " + leader + " in epoch " + leaderEpoch
                    + " does not lead " + name + "-" + partition + " (leader " + p.leader() + ", epoch " + p.leaderEpoch() + ")");
        }
        Set<Integer> live = new TreeSet<>(liveBrokers.get());
        Set<Integer> usable = liveFor(name, partition, live);
        // A broker in controlled shutdown is not taken back: the leader sees it caught up while it still fetches, but it
        // is about to stop. Refused as Kafka's controller refuses it (INELIGIBLE_REPLICA, KIP-903), so that the leader
        // does not propose it again at each of its fetches.
        List<Integer> returning = isr.stream().filter(r -> shuttingDown.contains(r) && !p.isr().contains(r)).toList();
        if (!returning.isEmpty()) {
            throw new IneligibleReplicaException("Broker(s) " + returning + " are in controlled shutdown and cannot join the ISR of " + name + "-" + partition);
        }
        List<Integer> next = isr.stream().filter(r -> p.replicas().contains(r) && usable.contains(r)).distinct().toList();
        if (!next.contains(leader)) throw new InvalidRequestException("The ISR must hold its leader");
        if (next.equals(p.isr())) return p.partitionEpoch();
        List<Placement> placements = new ArrayList<>(t.placements());
        placements.set(partition, new Placement(p.replicas(), p.leader(), p.leaderEpoch(), next));
        LOG.info("ISR of {}-{} is now {}", name, partition, next);
        TopicMetadata changed = completeReassignments(t.withPlacements(placements), new TreeSet<>(liveBrokers.get()), registered);
        save(t, changed);
        return existing(name).placements().get(partition).partitionEpoch();
    }

    // ---- controlled shutdown ----

    /**
     * Kafka's controlled shutdown of {@code broker}: each partition it leads gets as leader the first of its replicas
     * that is in the ISR, live, usable and not shutting down itself (epoch + 1), and it leaves every ISR that keeps
     * another member, so that acks=all writes stop waiting for it and it is elected nowhere. A partition whose only
     * in-sync replica it is keeps it as leader: moving it would lose records (unclean); with another live replica
     * (not shutting down) it is returned as remaining: the broker asks again, and that replica may have caught up. Until it registers again the
     * broker is taken back into no ISR ({@link #alterIsr}).
     */
    List<TopicPartition> controlledShutdown(int broker) {
        shuttingDown.add(broker);
        Set<Integer> live = new TreeSet<>(liveBrokers.get());
        live.removeAll(shuttingDown);
        List<TopicPartition> remaining = new ArrayList<>();
        int moved = 0;
        for (var e : store.topics().entrySet()) {
            String name = e.getKey();
            TopicMetadata t = TopicJson.decode(e.getValue());
            List<Placement> next = new ArrayList<>(t.placements());
            boolean changed = false;
            for (int i = 0; i < next.size(); i++) {
                Placement p = next.get(i);
                if (!p.isr().contains(broker) && p.leader() != broker) continue;
                List<Integer> isr = p.isr().stream().filter(r -> r != broker).toList();
                if (p.leader() == broker) {
                    Set<Integer> usable = liveFor(name, i, live);
                    Integer successor = p.replicas().stream().filter(r -> isr.contains(r) && usable.contains(r)).findFirst().orElse(null);
                    if (successor == null) {
                        // Worth asking again only if a live replica may catch up (join the ISR) meanwhile.
                        if (p.replicas().stream().anyMatch(r -> r != broker && usable.contains(r))) remaining.add(new TopicPartition(name, i));
                        continue;
                    }
                    next.set(i, new Placement(p.replicas(), successor, p.leaderEpoch() + 1, isr));
                    moved++;
                } else if (!isr.isEmpty() && p.hasLeader()) {
                    // (A partition without a leader keeps its ISR: it may be waiting for those members to report after
                    // a whole-cluster restart, and its next leader comes from it.)
                    next.set(i, new Placement(p.replicas(), p.leader(), p.leaderEpoch(), isr));
                } else {
                    continue;
                }
                changed = true;
            }
            if (changed) save(t, t.withPlacements(next));
        }
        LOG.info("Controlled shutdown of broker {}: {} leadership(s) moved{}", broker, moved,
                remaining.isEmpty() ? "" : "; " + remaining.size() + " partition(s) have no other in-sync replica to lead: " + remaining);
        return remaining;
    }

    // ---- reassignment (Kafka's AlterPartitionReassignments, KIP-455) ----

    /**
     * Starts moving {@code name}-{@code partition} to {@code target} replicas (null cancels a running reassignment).
     * The replicas become the target followed by those being removed, so the new ones start fetching; the
     * reassignment completes when every target replica is in the ISR ({@link #completeReassignments}).
     */
    private void reassign(String name, int partition, List<Integer> target, boolean allowRfChange) {
        TopicMetadata t = existing(name);
        if (partition < 0 || partition >= t.placements().size()) throw new UnknownTopicOrPartitionException(name + "-" + partition + " does not exist");
        Placement p = t.placements().get(partition);
        TopicMetadata.Reassignment running = t.reassignments().get(partition);
        Map<Integer, TopicMetadata.Reassignment> reassignments = new HashMap<>(t.reassignments());
        List<Placement> placements = new ArrayList<>(t.placements());
        if (target == null) {
            if (running == null) {
                throw new NoReassignmentInProgressException("No reassignment of " + name + "-" + partition + " is running");
            }
            reassignments.remove(partition);
            placements.set(partition, narrowTo(p, running.origin(), new TreeSet<>(liveBrokers.get()), registered));
            save(t, new TopicMetadata(t.record(), placements, reassignments));
            LOG.info("Reassignment of {}-{} cancelled; replicas {}", name, partition, running.origin());
            return;
        }
        Set<Integer> live = new TreeSet<>(liveBrokers.get());
        if (target.isEmpty() || new HashSet<>(target).size() != target.size() || !live.containsAll(target)) {
            throw new InvalidReplicaAssignmentException("Replicas " + target
                    + " must be distinct live brokers (live: " + live + ")");
        }
        List<Integer> origin = running != null ? running.origin() : p.replicas();
        if (!allowRfChange && target.size() != origin.size()) {
            throw new InvalidReplicationFactorException("The reassignment of " + name + "-" + partition + " would change its replication factor from "
                    + origin.size() + " to " + target.size() + " (allowReplicationFactorChange is false)");
        }
        if (target.equals(p.replicas()) && running == null) return; // already there
        TopicMetadata.Reassignment next = new TopicMetadata.Reassignment(origin, target);
        reassignments.put(partition, next);
        placements.set(partition, new Placement(next.replicas(), p.leader(), p.leaderEpoch(), p.isr()));
        save(t, completeReassignments(new TopicMetadata(t.record(), placements, reassignments), live, registered));
        LOG.info("Reassigning {}-{} from {} to {}", name, partition, origin, target);
    }

    /**
     * Completes the reassignments whose target replicas are all in the ISR: the replicas become the target, the ISR
     * loses the removed ones, and a leader being removed hands over to the first in-sync target replica (epoch + 1).
     */
    static TopicMetadata completeReassignments(TopicMetadata t, Set<Integer> live) {
        return completeReassignments(t, live, id -> true);
    }

    /** As {@link #completeReassignments(TopicMetadata, Set)}, electing no leader from an ISR whose members have not all reported. */
    static TopicMetadata completeReassignments(TopicMetadata t, Set<Integer> live, IntPredicate registered) {
        if (t.reassignments().isEmpty()) return t;
        Map<Integer, TopicMetadata.Reassignment> reassignments = new HashMap<>(t.reassignments());
        List<Placement> placements = new ArrayList<>(t.placements());
        boolean changed = false;
        for (var e : t.reassignments().entrySet()) {
            int p = e.getKey();
            Placement pl = placements.get(p);
            if (!pl.isr().containsAll(e.getValue().target())) continue;
            placements.set(p, narrowTo(pl, e.getValue().target(), live, registered));
            reassignments.remove(p);
            changed = true;
            LOG.info("Reassignment of {}-{} to {} complete", t.record().name(), p, e.getValue().target());
        }
        return changed ? new TopicMetadata(t.record(), placements, reassignments) : t;
    }

    /**
     * The placement with only {@code replicas} left; a leader outside them hands over to the first in-sync one (none
     * while the partition has no live leader and some ISR member has not reported, as in {@link #reconcile}).
     */
    private static Placement narrowTo(Placement p, List<Integer> replicas, Set<Integer> live, IntPredicate registered) {
        List<Integer> isr = p.isr().stream().filter(replicas::contains).toList();
        if (p.hasLeader() && replicas.contains(p.leader())) return new Placement(replicas, p.leader(), p.leaderEpoch(), isr);
        boolean waiting = !(p.hasLeader() && live.contains(p.leader())) && !p.isr().stream().allMatch(registered::test);
        int leader = waiting ? -1 : isr.stream().filter(live::contains).findFirst().orElse(-1);
        return new Placement(replicas, leader, p.leaderEpoch() + 1, isr.isEmpty() && leader >= 0 ? List.of(leader) : isr);
    }

    // ---- leader elections on request (Kafka's ElectLeaders) and preferred-leader rebalance ----

    /**
     * Elects leaders for {@code partitions} ({@code topic -> partitions}, or null for every partition), as Kafka's
     * ElectLeaders: a preferred election moves leadership to the first replica when it is live and in sync, an
     * unclean one gives a leaderless partition any live replica. The result per partition is NONE when elected.
     */
    private Map<TopicPartition, ApiError> elect(boolean unclean, Map<String, List<Integer>> partitions) {
        Set<Integer> live = new TreeSet<>(liveBrokers.get());
        Map<TopicPartition, ApiError> results = new LinkedHashMap<>();
        Map<String, List<Integer>> wanted = new LinkedHashMap<>();
        Map<String, String> all = store.topics();
        if (partitions == null) {
            all.forEach((name, text) -> wanted.put(name, IntStream.range(0, TopicJson.decode(text).placements().size()).boxed().toList()));
        } else {
            wanted.putAll(partitions);
        }
        wanted.forEach((name, ps) -> {
            String text = all.get(name);
            TopicMetadata t = text == null ? null : TopicJson.decode(text);
            List<Placement> next = t == null ? null : new ArrayList<>(t.placements());
            boolean changed = false;
            for (int p : ps) {
                TopicPartition tp = new TopicPartition(name, p);
                try {
                    if (next == null || p < 0 || p >= next.size()) throw new UnknownTopicOrPartitionException(name + "-" + p + " does not exist");
                    Set<Integer> usable = liveFor(name, p, live);
                    Placement q = unclean ? uncleanElection(next.get(p), usable) : preferredElection(next.get(p), usable, registered);
                    next.set(p, q);
                    changed = true;
                    results.put(tp, ApiError.NONE);
                    LOG.info("{} election: {}-{} is now led by broker {} (epoch {})", unclean ? "Unclean" : "Preferred", name, p,
                            q.leader(), q.leaderEpoch());
                } catch (ApiException e) {
                    results.put(tp, new ApiError(Errors.forException(e), e.getMessage()));
                }
            }
            if (changed) save(t, t.withPlacements(next));
        });
        return results;
    }

    /** The placement with its preferred replica leading, or the reason it cannot be (Kafka's errors for ElectLeaders). */
    static Placement preferredElection(Placement p, Set<Integer> live) {
        return preferredElection(p, live, id -> true);
    }

    /**
     * As {@link #preferredElection(Placement, Set)}; a partition without a live leader whose ISR members have not all
     * reported since a whole-cluster restart is not elected ({@link #reconcile}: its ISR may be stale).
     */
    static Placement preferredElection(Placement p, Set<Integer> live, IntPredicate registered) {
        if (!(p.hasLeader() && live.contains(p.leader())) && !p.isr().stream().allMatch(registered::test)) {
            throw new PreferredLeaderNotAvailableException("The partition waits for its ISR members "
                    + p.isr().stream().filter(id -> !registered.test(id)).toList() + " to report after a restart");
        }
        if (p.replicas().isEmpty()) throw new PreferredLeaderNotAvailableException("The partition has no replicas");
        int preferred = p.replicas().get(0);
        if (p.leader() == preferred) {
            throw new ElectionNotNeededException("Leader election not needed for the partition: broker "
                    + preferred + " already leads it");
        }
        if (!live.contains(preferred) || !p.isr().contains(preferred)) {
            throw new PreferredLeaderNotAvailableException("Preferred replica " + preferred
                    + (live.contains(preferred) ? " is not in the ISR " + p.isr() : " is not a live broker"));
        }
        return new Placement(p.replicas(), preferred, p.leaderEpoch() + 1, p.isr());
    }

    /** The placement after an unclean election (a live replica leads a partition whose leader is gone), or why not. */
    static Placement uncleanElection(Placement p, Set<Integer> live) {
        if (p.hasLeader() && live.contains(p.leader())) {
            throw new ElectionNotNeededException("Leader election not needed: broker " + p.leader() + " leads");
        }
        Placement q = reconcile(p, live, true);
        if (!q.hasLeader()) {
            throw new EligibleLeadersNotAvailableException("No replica of " + p.replicas() + " is live");
        }
        return q;
    }

    /**
     * Kafka's automatic preferred-leader rebalance: for each broker, the share of the partitions it is the preferred
     * replica of that another broker leads; above {@code leader.imbalance.per.broker.percentage}, those partitions
     * whose preferred replica is live and in sync get it back as leader.
     */
    void rebalance() {
        fence();
        Set<Integer> live = new TreeSet<>(liveBrokers.get());
        Map<String, TopicMetadata> topics = new LinkedHashMap<>();
        store.topics().forEach((name, text) -> topics.put(name, TopicJson.decode(text)));
        Set<Integer> overThreshold = imbalancedBrokers(topics.values(), settings.imbalancePercentage());
        if (overThreshold.isEmpty()) return;
        topics.forEach((name, t) -> {
            List<Placement> next = new ArrayList<>(t.placements());
            boolean changed = false;
            for (int p = 0; p < next.size(); p++) {
                Placement pl = next.get(p);
                if (pl.replicas().isEmpty() || !overThreshold.contains(pl.replicas().get(0))) continue;
                try {
                    next.set(p, preferredElection(pl, live, registered));
                    changed = true;
                } catch (ApiException notNeededOrNotPossible) {
                    // already led by its preferred replica, or that replica is not ready to lead
                }
            }
            if (changed) {
                save(t, t.withPlacements(next));
                LOG.info("Preferred-leader rebalance: leaders of topic {} are now {}", name, next.stream().map(Placement::leader).toList());
            }
        });
    }

    /** Brokers whose share of preferred partitions led elsewhere is above {@code percentage} (Kafka's leader imbalance ratio). */
    static Set<Integer> imbalancedBrokers(Collection<TopicMetadata> topics, int percentage) {
        Map<Integer, int[]> counts = new HashMap<>(); // broker -> {preferred partitions, led elsewhere}
        for (TopicMetadata t : topics) {
            for (Placement p : t.placements()) {
                if (p.replicas().isEmpty()) continue;
                int[] c = counts.computeIfAbsent(p.replicas().get(0), b -> new int[2]);
                c[0]++;
                if (p.leader() != p.replicas().get(0)) c[1]++;
            }
        }
        Set<Integer> out = new TreeSet<>();
        counts.forEach((b, c) -> {
            if (c[1] * 100L > (long) percentage * c[0]) out.add(b);
        });
        return out;
    }

    // ---- brokers leaving and coming back ----

    /** Re-checks every partition's leader against the live brokers (after an election or a membership change). */
    void reconcileAll() {
        fence();
        Set<Integer> live = new TreeSet<>(liveBrokers.get());
        int waiting = 0;
        for (var e : store.topics().entrySet()) {
            String name = e.getKey();
            TopicMetadata t = TopicJson.decode(e.getValue());
            List<Placement> next = new ArrayList<>();
            boolean changed = false;
            for (int i = 0; i < t.placements().size(); i++) {
                Placement p = t.placements().get(i);
                Placement q = reconcile(p, liveFor(name, i, live), unclean, registered);
                changed |= !q.sameAs(p);
                if (!q.hasLeader() && !unclean && !q.isr().stream().allMatch(registered::test)) waiting++;
                next.add(q);
            }
            if (changed) {
                save(t, t.withPlacements(next));
                LOG.info("Leaders of topic {} are now {}", name, next.stream().map(Placement::leader).toList());
            }
        }
        if (waiting > 0) LOG.info("{} partition(s) wait for members of their ISR to report (after a whole-cluster restart) before a leader is elected", waiting);
    }

    /**
     * A partition's placement given the live brokers: the ISR loses the dead, a dead leader is replaced by the first
     * live ISR member (epoch + 1), and a partition without a leader gets its first live replica back once that
     * replica is in the ISR (a returning sole replica). Unless unclean election is on, an out-of-sync replica never leads.
     */
    static Placement reconcile(Placement p, Set<Integer> live, boolean unclean) {
        return reconcile(p, live, unclean, id -> true);
    }

    /**
     * As {@link #reconcile(Placement, Set, boolean)}, and a partition without a live leader gets none until every
     * member of its ISR has {@code registered} (unless unclean election is on). This matters after a whole-cluster
     * restart, when the metadata is rebuilt from the brokers' reports as they register: the first report of a
     * partition may be stale (a broker that left the ISR before the restart still lists itself), and a leader elected
     * from it at once makes the others truncate to it before their newer reports arrive. Any decision newer than a
     * placement is known to a member of that placement's ISR (each new leader comes from the ISR, and a leader learns
     * of its own ISR changes), so once they have all reported, the stored placement is the newest there is: Kafka's
     * rule of the highest leader epoch, then the highest partition epoch ({@link Placement#newerThan}), over every
     * report that can matter. A broker that died keeps its registration, so ordinary failover does not wait.
     */
    static Placement reconcile(Placement p, Set<Integer> live, boolean unclean, IntPredicate registered) {
        List<Integer> isr = p.isr().stream().filter(live::contains).toList();
        if (p.hasLeader() && live.contains(p.leader())) {
            return isr.equals(p.isr()) ? p : new Placement(p.replicas(), p.leader(), p.leaderEpoch(), isr);
        }
        if (!unclean && !p.isr().stream().allMatch(registered::test)) {
            return p.hasLeader() ? new Placement(p.replicas(), -1, p.leaderEpoch() + 1, p.isr(), p.partitionEpoch()) : p;
        }
        // The leader is gone (or there was none): the first live in-sync replica takes over.
        List<Integer> candidates = new ArrayList<>(isr);
        if (candidates.isEmpty()) {
            // No live in-sync replica. A sole replica is its own ISR when it returns: it holds every acknowledged record.
            if (p.replicas().size() == 1 && live.contains(p.replicas().get(0))) candidates.add(p.replicas().get(0));
        }
        if (candidates.isEmpty() && unclean) {
            // unclean.leader.election.enable: any live replica leads, and whatever only the lost ISR had is gone.
            p.replicas().stream().filter(live::contains).findFirst().ifPresent(r -> {
                LOG.warn("Unclean leader election: replica {} leads without being in the ISR {}; records may be lost", r, p.isr());
                candidates.add(r);
            });
        }
        if (candidates.isEmpty()) {
            List<Integer> lastIsr = p.isr().isEmpty() ? p.isr() : List.of(p.isr().get(0)); // Kafka keeps the last leader in the ISR
            return new Placement(p.replicas(), -1, p.leaderEpoch() + (p.hasLeader() ? 1 : 0), p.replicas().size() == 1 ? p.replicas() : lastIsr);
        }
        int leader = candidates.get(0);
        List<Integer> newIsr = isr.isEmpty() ? List.of(leader) : isr;
        return new Placement(p.replicas(), leader, p.leaderEpoch() + 1, newIsr);
    }

    /**
     * Takes a registering broker's report of the topics it holds ({@link #adoptReport}), then re-checks every
     * partition's leader.
     */
    void adopt(int nodeId, JsonArray reported) {
        fence();
        shuttingDown.remove(nodeId); // a new process of a broker that shut down

        adoptReport(nodeId, reported);
        reconcileAll();
    }

    /**
     * Takes what a broker's report of the topics it holds adds to the metadata. Unknown topics are added (after a
     * whole-cluster restart the Hazelcast maps are empty) with the placements the broker last knew, the leader to be
     * chosen again from the live in-sync replicas; partitions nobody has reported yet stay without replicas and leader
     * until their broker registers, and then have it as their replica. Of a known topic, a partition whose reported
     * placement is newer than the stored one ({@link Placement#newerThan}) takes it: the broker was told of a later
     * decision than the store holds (a controller's maps from the side of a split brain that was cut off).
     */
    void adoptReport(int nodeId, JsonArray reported) {
        offline.values().forEach(brokers -> brokers.remove(nodeId));
        for (Object x : reported) {
            JsonObject r = (JsonObject) x;
            String name = r.getString("name");
            for (int p : TopicJson.ints(r.getJsonArray("offline", new JsonArray()))) {
                offline.computeIfAbsent(new TopicPartition(name, p), k -> ConcurrentHashMap.newKeySet()).add(nodeId);
            }
            Uuid id = Uuid.fromString(r.getString("topicId"));
            if (store.isDeleted(id)) continue; // deleted while that broker was away: it deletes its copy
            List<Integer> local = TopicJson.ints(r.getJsonArray("local"));
            JsonArray known = r.getJsonArray("placements", new JsonArray());
            String text = store.topic(name);
            TopicMetadata before = text == null ? null : TopicJson.decode(text);
            if (before != null && !before.record().topicId().equals(id)) continue; // another topic of the same name: the cluster's wins
            TopicMetadata t = before;
            if (t == null) {
                int count = r.getInteger("partitions");
                List<Placement> placements = new ArrayList<>();
                for (int p = 0; p < count; p++) {
                    Placement k = p < known.size() ? TopicJson.placement(known.getJsonObject(p)) : Placement.NONE;
                    placements.add(k.replicas().isEmpty() ? Placement.NONE
                            : new Placement(k.replicas(), -1, k.leaderEpoch(), k.isr(), k.partitionEpoch()));
                }
                t = new TopicMetadata(new TopicRecord(name, id, count, TopicJson.strings(r.getJsonObject("configs"))), placements);
            }
            List<Placement> next = new ArrayList<>(t.placements());
            boolean changed = before == null;
            for (int p = 0; p < Math.min(known.size(), next.size()) && before != null; p++) {
                Placement reportedPlacement = TopicJson.placement(known.getJsonObject(p));
                if (!reportedPlacement.replicas().isEmpty() && reportedPlacement.newerThan(next.get(p))) {
                    LOG.warn("Broker {} knows a newer placement of {}-{} than the metadata: {} (metadata: {}); taking it", nodeId, name, p,
                            reportedPlacement, next.get(p));
                    next.set(p, reportedPlacement);
                    changed = true;
                }
            }
            for (int p : local) {
                if (p >= next.size()) continue;
                Placement pl = next.get(p);
                if (pl.replicas().isEmpty()) {
                    next.set(p, new Placement(List.of(nodeId), nodeId, pl.leaderEpoch() + 1, List.of(nodeId), pl.partitionEpoch()));
                    changed = true;
                }
            }
            if (changed) {
                save(before, t.withPlacements(next), false); // a report's placements are earlier decisions, not elections
                if (before == null) LOG.info("Topic {} taken into the cluster metadata from broker {}'s report", name, nodeId);
            }
        }
    }
}
