package io.runnel.cluster;

import com.hazelcast.core.HazelcastInstanceNotActiveException;
import com.hazelcast.map.IMap;
import io.runnel.config.BrokerConfig;
import io.runnel.config.Limits;
import io.runnel.partition.MetadataImage;
import io.runnel.partition.TopicAuthority;
import io.runnel.security.BrokerSecurity;
import io.runnel.security.SharedDocuments;
import io.vertx.core.Future;
import io.vertx.core.Promise;
import io.vertx.core.Vertx;
import io.vertx.core.VertxOptions;
import io.vertx.core.json.JsonArray;
import io.vertx.core.spi.VertxMetricsFactory;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.Executor;
import java.util.concurrent.TimeUnit;
import java.util.function.Consumer;
import java.util.function.Supplier;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * This broker's part in a Hazelcast cluster, assembled: it builds the parts below for the metadata mode
 * {@code cluster.cp.member.count} chooses, connects their events, and starts and stops them in order. Each part has
 * one job:
 * <ul>
 *   <li>{@link HazelcastMember}: the Hazelcast member (configuration, join, membership and merge events, leaving);</li>
 *   <li>{@link ClusterIdAgreement}: the cluster id every broker adopts;</li>
 *   <li>{@link BrokerRegistry}: the registered brokers and which are live (this broker's {@link ClusterView});</li>
 *   <li>{@link ControllerElection}: {@link OldestMemberElection}, {@link CpLockElection} or the metadata quorum's
 *       ({@link QuorumMetadata}: {@code cluster.quorum.voters}), and the
 *       {@link ControllerRole} the winner runs ({@link ClusterController});</li>
 *   <li>{@link MetadataStore}: where the controller keeps the metadata ({@link ApMetadataStore} or {@link CpMetadata});
 *       {@link MetadataFeed}: where this broker receives it as {@link MetadataImage}s ({@link ApMetadataFeed} or
 *       {@link CpMetadataFeed});</li>
 *   <li>{@link ControllerClient}: the controller as the broker's {@code TopicAuthority}, sending
 *       {@link ControllerCommand}s;</li>
 *   <li>{@link CpGroupKeeper}: the CP group's size, in CP mode.</li>
 * </ul>
 * Only this package imports Hazelcast; Hazelcast state is JSON text in maps, so no Runnel class is serialised.
 */
public final class HazelcastCluster {
    private static final Logger LOG = LoggerFactory.getLogger(HazelcastCluster.class);
    private static final String TOPICS_MAP = "runnel-topics";
    private static final String DELETED_MAP = "runnel-deleted";

    private final HazelcastMember member;
    /** {@link ClusterIdAgreement#foundingBrokers}. */
    private final int foundingBrokers;
    private final Vertx vertx;
    private final BrokerRegistry registry;
    private final ControllerElection election;
    private final ControllerRole role;
    private final MetadataFeed feed;
    private final ControllerClient client;
    /** Null in oldest-member mode. */
    private final CpGroupKeeper cpGroup;
    /** Set in quorum mode ({@code cluster.quorum.voters}) only. */
    private final QuorumMetadata quorum;
    private volatile boolean running = true;

    private HazelcastCluster(HazelcastMember member, BrokerConfig config) {
        this.member = member;
        this.foundingBrokers = ClusterIdAgreement.foundingBrokers(config);
        this.vertx = member.vertx();
        int cpMemberCount = config.cpMemberCount();
        ClusterController.Settings settings = ClusterController.Settings.of(config);
        if (config.quorumMode()) {
            this.registry = new BrokerRegistry(member, "quorum", 0);
            QuorumMetadata quorum = new QuorumMetadata(member, config, registry);
            this.role = new ControllerRole(vertx, quorum.store(), settings, registry);
            quorum.useRole(role);
            this.quorum = quorum;
            this.feed = quorum.feed();
            this.cpGroup = null;
            this.election = quorum;
        } else if (cpMemberCount > 0) {
            this.quorum = null;
            CpMetadata cp = new CpMetadata(member.hz(), version -> vertx.eventBus().publish(CpMetadataFeed.ADDRESS, version));
            this.registry = new BrokerRegistry(member, "cp", cpMemberCount);
            this.role = new ControllerRole(vertx, cp, settings, registry);
            CpMetadataFeed cpFeed = new CpMetadataFeed(member, cp, registry);
            this.feed = cpFeed;
            this.cpGroup = new CpGroupKeeper(member, registry, cpMemberCount, cpFeed::appliedVersion);
            this.election = new CpLockElection(member, registry, role, cp, cpGroup);
        } else {
            this.quorum = null;
            IMap<String, String> topics = member.hz().getMap(TOPICS_MAP);
            IMap<String, String> deleted = member.hz().getMap(DELETED_MAP);
            this.registry = new BrokerRegistry(member, "oldest-member", 0);
            this.cpGroup = null;
            MetadataStore store = new ApMetadataStore(topics, deleted, () -> OldestMemberElection.storedEpoch(member.hz()), registry::hasMajority);
            this.role = new ControllerRole(vertx, store, settings, registry);
            this.election = new OldestMemberElection(member, registry, role);
            this.feed = new ApMetadataFeed(member, topics, deleted);
        }
        this.client = new ControllerClient(vertx, registry::nodeId);
        registry.rack(config.get(BrokerConfig.BROKER_RACK));
    }

    /**
     * Starts this broker's Hazelcast member, joins the cluster ({@code cluster.discovery}), builds a Vert.x clustered on it and starts
     * following the registrations and the metadata. Blocks while Hazelcast joins (call it before any event loop
     * depends on it).
     */
    /** A cluster joined and the cluster id this broker uses ({@link #joinAgreeing}). */
    public record Joined(HazelcastCluster cluster, String clusterId) {
    }

    /**
     * {@link #join}, then {@link #agreeClusterId}; when Hazelcast itself ended the member meanwhile (a join or merge
     * refused: brokers started together may first form clusters of their own, whose merges can refuse one another), it
     * leaves what it built and joins again, up to {@link Limits#CLUSTER_JOIN_ATTEMPTS} times, a merge interval apart.
     * The future is bound to no Vert.x context (a failed attempt's Vert.x is closed). Blocks while Hazelcast joins the
     * first time; later attempts run on a thread of their own.
     */
    public static Future<Joined> joinAgreeing(BrokerConfig config, VertxOptions options, VertxMetricsFactory metrics, String localId,
                                              boolean localIsNew) {
        Promise<Joined> result = Promise.promise();
        joinAgreeing(config, options, metrics, localId, localIsNew, 1, result);
        return result.future();
    }

    private static void joinAgreeing(BrokerConfig config, VertxOptions options, VertxMetricsFactory metrics, String localId,
                                     boolean localIsNew, int attempt, Promise<Joined> result) {
        join(config, options, metrics).toCompletionStage().whenComplete((cluster, joinFailure) -> {
            if (joinFailure != null) {
                // Ended while Vert.x clustered itself on the member: nothing else was built.
                if (endedByHazelcast(joinFailure) && attempt < Limits.CLUSTER_JOIN_ATTEMPTS) {
                    joinAgain(config, options, metrics, localId, localIsNew, attempt, result);
                } else {
                    result.fail(joinFailure);
                }
                return;
            }
            cluster.agreeClusterId(localId, localIsNew).toCompletionStage().whenComplete((id, failure) -> {
                if (failure == null) {
                    result.complete(new Joined(cluster, id));
                    return;
                }
                boolean refused = cluster.member.terminatedByHazelcast() || endedByHazelcast(failure);
                cluster.vertx.close().toCompletionStage().whenComplete((v, x) -> {
                    cluster.shutdownHazelcast();
                    if (!refused || attempt >= Limits.CLUSTER_JOIN_ATTEMPTS) {
                        result.fail(failure);
                        return;
                    }
                    joinAgain(config, options, metrics, localId, localIsNew, attempt, result);
                });
            });
        });
    }

    private static void joinAgain(BrokerConfig config, VertxOptions options, VertxMetricsFactory metrics, String localId,
                                  boolean localIsNew, int attempt, Promise<Joined> result) {
        LOG.warn("Hazelcast ended this broker's member while it joined (attempt {} of {}: a join or merge refused); joining again in {} s",
                attempt, Limits.CLUSTER_JOIN_ATTEMPTS, Limits.CLUSTER_MERGE_INTERVAL_S);
        Executor later = CompletableFuture.delayedExecutor(Limits.CLUSTER_MERGE_INTERVAL_S, TimeUnit.SECONDS,
                r -> new Thread(r, "runnel-cluster-join").start());
        later.execute(() -> joinAgreeing(config, options, metrics, localId, localIsNew, attempt + 1, result));
    }

    private static boolean endedByHazelcast(Throwable failure) {
        for (Throwable t = failure; t != null; t = t.getCause()) if (t instanceof HazelcastInstanceNotActiveException) return true;
        return false;
    }

    public static Future<HazelcastCluster> join(BrokerConfig config, VertxOptions options, VertxMetricsFactory metrics) {
        return HazelcastMember.join(config, options, metrics).compose(member -> {
            try {
                HazelcastCluster c = new HazelcastCluster(member, config);
                c.start();
                return Future.succeededFuture(c);
            } catch (RuntimeException e) {
                member.shutdown(); // a broker that could not start must not stay in the cluster as a member
                return Future.failedFuture(e);
            }
        });
    }

    private void start() {
        member.onMerged(this::merged);
        member.onTerminated(() -> {
            if (running && registry.nodeId() >= 0) LOG.error("Hazelcast ended this broker's cluster member (a split-brain merge refused, logged above): this broker "
                    + "no longer takes part in the cluster; restart it");
        });
        member.onMembershipChange(this::membersChanged);
        registry.onRegistered((id, report) -> {
            if (registry.nodeId() >= 0) vertx.executeBlocking(() -> { // a registration may complete the majority
                election.recheck();
                return null;
            }, false);
            role.brokerRegistered(id, report);
        });
        if (election instanceof OldestMemberElection oldest) oldest.watch();
        feed.start();
        registry.start();
    }

    /**
     * After a split brain heals (a broker that was paused or cut off), Hazelcast merges the smaller side back: its
     * members come back with new identities, so this broker registers again and gives up a controller role it took
     * while alone (the merged maps keep the larger side's controller).
     */
    private void merged() {
        LOG.warn("Broker {} rejoined the cluster after a split; registering again", registry.nodeId());
        vertx.executeBlocking(() -> {
            election.merged();
            // The merge gave this member a new id, so its registration (which names the old one) no longer counts as
            // live: until it is written again, the controller takes this broker for gone (it shrank ISRs and left
            // partitions without a leader for the 15 s a merge's migrations took in a campaign). Written at once,
            // then again below with what the merged maps say.
            try {
                registry.reregister();
            } catch (RuntimeException e) {
                LOG.warn("Registering again at once after the merge failed; registering once the cluster settled", e);
            }
            // The merged maps are read once the partition table settled: read during the merge's migrations, they
            // missed entries (a broker's registration), and no event brings back an entry that did not change (a CI
            // run left a broker without the leader's address for good).
            member.awaitClusterSafe(() -> running);
            registry.reload();
            if (election instanceof OldestMemberElection oldest) oldest.readController();
            feed.reload();
            registry.reregister();
            election.recheck();
            return null;
        }, false).onFailure(x -> LOG.error("Registering again after the merge failed", x));
    }

    private void membersChanged() {
        registry.membersChanged();
        if (registry.nodeId() >= 0) vertx.executeBlocking(() -> {
            election.recheck();
            return null;
        }, false);
        role.membersChanged();
    }

    /** The security of the inter-broker listener, which the metadata quorum's connections use too; before {@link #register}. */
    public void useSecurity(BrokerSecurity security) {
        if (quorum != null) quorum.useSecurity(security);
    }

    /** The cluster's shared security documents (SCRAM credentials, ACLs). */
    public SharedDocuments securityDocuments() {
        return new HazelcastDocuments(member);
    }

    public Vertx vertx() {
        return vertx;
    }

    /** What the controllers this broker ran decided (leader elections), for {@code /metrics}. */
    public ControllerStats controllerStats() {
        return role.stats;
    }

    /** What this broker knows of its cluster: the live brokers and the controller. */
    public ClusterView view() {
        return registry;
    }

    /** The controller as the brokers' {@link TopicAuthority}: commands over the clustered event bus. */
    public TopicAuthority authority() {
        return client;
    }

    /** Where to apply the cluster's topic metadata from now on; it gets the current image at once. */
    public void onImage(Consumer<MetadataImage> listener) {
        feed.onImage(listener);
    }

    /**
     * Makes the cluster's id this broker's: the first broker's id wins and the others adopt it. Returns the id to
     * use; a broker whose data already belongs to another cluster id is refused.
     */
    private Future<String> agreeClusterId(String localId, boolean localIsNew) {
        return vertx.executeBlocking(() -> ClusterIdAgreement.agree(member.hz(), localId, localIsNew, foundingBrokers), false);
    }

    /**
     * Registers this broker with its advertised endpoints and its report of the topics it holds (asked for again when
     * it registers again after a split brain), and takes part in controller elections from then on. Fails when a live
     * broker already has this node id.
     */
    public Future<Void> register(int nodeId, Map<String, String> listeners, String http, Supplier<JsonArray> localTopics) {
        return vertx.executeBlocking(() -> {
            registry.register(nodeId, listeners, http, localTopics);
            registry.membersChanged();
            if (cpGroup != null) cpGroup.start();
            election.start();
            return null;
        }, false);
    }

    /**
     * Tells the cluster this broker has applied its first metadata image: until then its registration says it is
     * fenced and no broker names it to clients (Kafka's brokers are unfenced once caught up with the metadata log).
     */
    /** The metadata version the quorum has committed, as the controller reads it (-1: it cannot tell); fails while no controller answers. */
    public Future<Long> committedMetadataVersion() {
        return client.committedVersion();
    }

    public Future<Void> unfence() {
        return vertx.executeBlocking(() -> {
            registry.unfence();
            return null;
        }, false);
    }

    /** Writes this broker's registration again with a fresh report (a replica went offline); the controller takes it. */
    public Future<Void> reportAgain() {
        return vertx.executeBlocking(() -> {
            registry.reregister();
            return null;
        }, false);
    }

    /**
     * Controlled shutdown, first step: a controller role this broker holds goes to another broker where the election
     * can hand it over (the metadata quorum's leadership). Bounded.
     */
    public Future<Void> handOverController() {
        return vertx.executeBlocking(() -> {
            election.handOver();
            return null;
        }, false);
    }

    /**
     * Controlled shutdown: asks the controller to move this broker's leaderships to in-sync replicas elsewhere and
     * take it out of the ISRs. Completes with the partitions ({@code topic-partition}) it could not move; fails with
     * NOT_CONTROLLER when no controller answered within {@code timeoutMs}.
     */
    public Future<List<String>> requestShutdown(long timeoutMs) {
        return client.shutdown(timeoutMs);
    }

    /**
     * Leaves the cluster (after Vert.x is closed: Vert.x unregisters its event-bus addresses first). Blocks; the other
     * members see the broker leave at once.
     */
    public void shutdownHazelcast() {
        running = false;
        registry.stop();
        if (cpGroup != null) cpGroup.stop();
        feed.stop();
        election.stop(); // the CP election releases the controller lock: the next controller need not wait for its session
        member.shutdown();
    }
}
