package io.runnel.server;

import io.runnel.cluster.BrokerLinks;
import io.runnel.cluster.ClusterView;
import io.runnel.cluster.HazelcastCluster;
import io.runnel.cluster.ReplicaFetchers;
import io.runnel.cluster.TxnMarkerSender;
import io.runnel.cluster.ShareStateSender;
import io.runnel.cluster.TxnVerificationSender;
import io.runnel.config.BrokerConfig;
import io.runnel.config.Limits;
import io.runnel.config.DynamicBrokerConfig;
import io.runnel.group.GroupCoordinator;
import io.runnel.http.HttpEndpoint;
import io.runnel.http.HttpServices;
import io.runnel.kafka.BrokerInfo;
import io.runnel.kafka.KafkaApis;
import io.runnel.kafka.KafkaServer;
import io.runnel.log.LogDirLock;
import io.runnel.metrics.BrokerMetrics;
import io.runnel.partition.ClusterImageApplier;
import io.runnel.partition.Deployer;
import io.runnel.partition.LocalReplicas;
import io.runnel.partition.PartitionVerticle;
import io.runnel.partition.ProducerIdManager;
import io.runnel.partition.TopicAdmin;
import io.runnel.partition.TopicAuthority;
import io.runnel.partition.TopicRegistry;
import io.runnel.group.GroupConfigStore;
import io.runnel.security.BrokerSecurity;
import io.runnel.share.SharePartitionManager;
import io.runnel.share.SharePartitionState;
import io.runnel.share.ShareStateStore;
import io.runnel.transaction.TransactionCoordinator;
import io.vertx.core.Future;
import io.vertx.core.Promise;
import io.vertx.core.Vertx;
import io.vertx.core.VertxOptions;
import io.vertx.core.json.JsonArray;
import io.vertx.core.json.JsonObject;
import io.vertx.micrometer.MicrometerMetricsFactory;
import io.vertx.micrometer.MicrometerMetricsOptions;
import java.io.IOException;
import java.net.InetAddress;
import java.net.UnknownHostException;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ForkJoinPool;
import java.util.concurrent.atomic.AtomicBoolean;
import org.apache.kafka.common.Uuid;
import org.apache.kafka.common.utils.Time;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * A running broker: wires the parts together and stops them in reverse order. Start-up, in passes:
 * <ol>
 *   <li>lock {@code log.dirs} ({@code .lock}) so that no second broker can use it;</li>
 *   <li>read or write {@code meta.properties} (node id, cluster id);</li>
 *   <li>start Vert.x and open every partition log (recovering after a crash);</li>
 *   <li>open the endpoints and log their addresses.</li>
 * </ol>
 */
public final class Broker {
    private static final Logger LOG = LoggerFactory.getLogger(Broker.class);

    private final BrokerConfig config;
    private final MetaProperties meta;
    private final Vertx vertx;
    private final LogDirLock lock;
    private final DynamicBrokerConfig dynamicConfig;
    private final TopicRegistry topics;
    private final LocalReplicas replicas;
    private final TopicAdmin topicAdmin;
    /** Applies the controller's metadata images, in a cluster; null when the broker runs alone. */
    private ClusterImageApplier applier;
    private final GroupCoordinator groups;
    private final Deployer deployer;
    /** The transaction coordinator and its marker writer, made once the cluster view is known. */
    private TransactionCoordinator transactions;
    private TxnMarkerSender markers;
    private BrokerSecurity security;
    /** Groups' configuration overrides (cluster metadata in a cluster). */
    private final GroupConfigStore groupConfigs;
    private TxnVerificationSender verifier;
    private ShareStateSender shareStates;
    private final BrokerMetrics metrics;
    /** The Hazelcast cluster this broker is part of, or null when it runs alone. */
    private final HazelcastCluster cluster;
    private final AtomicBoolean stopping = new AtomicBoolean();
    private final CompletableFuture<Void> stopped = new CompletableFuture<>();
    /** Since when (nanoTime) controlled-shutdown requests go unanswered; 0 while they are answered. */
    private volatile long unansweredSince;
    private volatile boolean ready;
    /**
     * Completed when the first cluster metadata image is applied: the broker registers fenced and is unfenced then,
     * so that clients are not sent to a broker that knows none of the topics yet.
     */
    private final Promise<Void> caughtUp = Promise.promise();
    /** The newest metadata image version applied here (on the image's context). */
    private volatile long appliedVersion = -1;
    /** The version the quorum had committed when this broker asked at start (-2: not known yet; -1: the store cannot tell). */
    private volatile long committedAtStart = -2;
    /** Completes when the Kafka listeners start reading requests: once this broker is ready (or failed to start). */
    private final Promise<Void> serving = Promise.promise();
    private HttpEndpoint http;
    private ReplicaFetchers fetchers;
    /** Requests at other brokers for this broker's HTTP and WebSocket clients (in a cluster). */
    private BrokerLinks links;
    private KafkaServer kafka;
    /** Share groups' delivery state of the partitions this broker leads (KIP-932). */
    private SharePartitionManager shares;

    private Broker(BrokerConfig config, MetaProperties meta, Vertx vertx, BrokerMetrics metrics, LogDirLock lock, Time time,
                   HazelcastCluster cluster, GroupConfigStore groupConfigs) {
        this.groupConfigs = groupConfigs;
        this.config = config;
        this.cluster = cluster;
        this.metrics = metrics;
        this.meta = meta;
        this.vertx = vertx;
        this.lock = lock;
        this.deployer = new Deployer(vertx);
        this.dynamicConfig = new DynamicBrokerConfig(config, config.logDir());
        this.topics = new TopicRegistry(vertx, config.nodeId());
        this.replicas = new LocalReplicas(vertx, deployer, dynamicConfig::current, config.logDir(), time, config.nodeId());
        replicas.countIsrChanges(new PartitionVerticle.IsrChanges(metrics::isrShrunk, metrics::isrExpanded));
        if (cluster != null) metrics.bindControllerElections(cluster.controllerStats()::leaderElections, cluster.controllerStats()::uncleanLeaderElections);
        this.topicAdmin = new TopicAdmin(vertx, topics, replicas, dynamicConfig);
        this.groups = new GroupCoordinator(vertx, deployer, topics, topicAdmin, config, time, groupConfigs);
    }

    /**
     * Starts a broker. Fails (without leaving anything running) when the directory is locked or unusable, or an
     * endpoint cannot bind. The future is bound to no Vert.x context: a failure is reported after this broker's Vert.x
     * has closed, when a completion dispatched to its event loops would never run.
     */
    public static Future<Broker> start(BrokerConfig config, Time time) {
        Promise<Broker> result = Promise.promise();
        startInto(config, time, result);
        return result.future();
    }

    private static void startInto(BrokerConfig config, Time time, Promise<Broker> result) {
        long t0 = System.nanoTime();
        LogDirLock lock;
        MetaProperties stored;
        try {
            lock = LogDirLock.acquire(config.logDir());
            try {
                stored = MetaProperties.load(config.logDir(), config.nodeId());
            } catch (IOException | RuntimeException e) {
                lock.close();
                throw e;
            }
        } catch (IOException e) {
            result.fail(e);
            return;
        }
        BrokerMetrics metrics = new BrokerMetrics();
        BrokerSecurity security;
        GroupConfigStore groupConfigs;
        try {
            // Key stores and credentials are read here, on the caller's thread, so that a bad store stops start-up at once.
            security = BrokerSecurity.load(config, config.logDir(), metrics);
            groupConfigs = GroupConfigStore.load(config.logDir());
        } catch (RuntimeException e) {
            closeQuietly(lock);
            result.fail(e);
            return;
        }
        // Vert.x's own meters (connections, bytes, HTTP and WebSocket) go to the same registry as the broker's.
        VertxOptions options = new VertxOptions().setMetricsOptions(new MicrometerMetricsOptions().setEnabled(true));
        MicrometerMetricsFactory metricsFactory = new MicrometerMetricsFactory(metrics.registry());
        String localId = stored != null ? stored.clusterId() : Uuid.randomUuid().toString();
        Future<HazelcastCluster.Joined> joined = !config.clustered() ? Future.succeededFuture(null)
                : HazelcastCluster.joinAgreeing(config, options, metricsFactory, localId, stored == null);
        joined.onComplete(ar -> {
            if (ar.failed()) {
                closeQuietly(lock);
                result.fail(ar.cause());
                return;
            }
            HazelcastCluster cluster = ar.result() == null ? null : ar.result().cluster();
            Vertx vertx = cluster != null ? cluster.vertx() : Vertx.builder().with(options).withMetrics(metricsFactory).build();
            String id = cluster == null ? localId : ar.result().clusterId();
            Future<MetaProperties> meta = stored != null ? Future.succeededFuture(stored)
                    : vertx.executeBlocking(() -> MetaProperties.create(config.logDir(), config.nodeId(), id));
            meta.onComplete(m -> {
                if (m.failed()) {
                    vertx.close().toCompletionStage().whenComplete((v, x) -> {
                        if (cluster != null) cluster.shutdownHazelcast();
                        closeQuietly(lock);
                        result.fail(m.cause());
                    });
                    return;
                }
                start(config, time, t0, lock, m.result(), vertx, metrics, security, groupConfigs, cluster, result);
            });
        });
    }

    private static void start(BrokerConfig config, Time time, long t0, LogDirLock lock, MetaProperties meta, Vertx vertx,
                              BrokerMetrics metrics, BrokerSecurity security, GroupConfigStore groupConfigs, HazelcastCluster cluster,
                              Promise<Broker> result) {
        Broker broker = new Broker(config, meta, vertx, metrics, lock, time, cluster, groupConfigs);
        broker.security = security;
        if (cluster != null) cluster.useSecurity(security);
        ClusterView view = cluster != null ? cluster.view() : ClusterView.standalone(meta.nodeId());
        ProducerIdManager producerIds = new ProducerIdManager(vertx, config.logDir(), config.get(BrokerConfig.NODE_ID));
        broker.markers = new TxnMarkerSender(vertx, broker.topics, view, meta.nodeId(), config.get(BrokerConfig.REPLICA_SOCKET_TIMEOUT_MS),
                security::interBroker);
        // In a cluster a share-partition's state may belong to a __share_group_state partition another broker leads.
        broker.shareStates = cluster == null ? null
                : new ShareStateSender(vertx, view, meta.nodeId(), config.get(BrokerConfig.REPLICA_SOCKET_TIMEOUT_MS), security::interBroker);
        broker.shares = new SharePartitionManager(vertx, broker.topics, broker.topicAdmin, new SharePartitionState.Settings(
                config.get(BrokerConfig.GROUP_SHARE_DELIVERY_COUNT_LIMIT), config.get(BrokerConfig.GROUP_SHARE_PARTITION_MAX_RECORD_LOCKS),
                config.get(BrokerConfig.GROUP_SHARE_RECORD_LOCK_DURATION_MS)), meta.nodeId(),
                new ShareStateStore.StateTopic(config.get(BrokerConfig.SHARE_COORDINATOR_STATE_TOPIC_NUM_PARTITIONS),
                        config.get(BrokerConfig.SHARE_COORDINATOR_STATE_TOPIC_REPLICATION_FACTOR), config.get(BrokerConfig.SHARE_COORDINATOR_STATE_TOPIC_MIN_ISR),
                        config.get(BrokerConfig.SHARE_COORDINATOR_STATE_TOPIC_SEGMENT_BYTES)),
                broker.groups::groupConfig, broker.shareStates);
        broker.transactions = new TransactionCoordinator(vertx, broker.deployer, broker.topics, broker.topicAdmin, config, time,
                producerIds::nextProducerId, broker.markers);
        broker.verifier = new TxnVerificationSender(vertx, view, meta.nodeId(), config.get(BrokerConfig.REPLICA_SOCKET_TIMEOUT_MS), broker.transactions,
                security::interBroker);
        vertx.executeBlocking(() -> {
                    broker.dynamicConfig.load();
                    // In a cluster, users and ACLs are the cluster's: adopt its copies (or seed them) before serving.
                    if (cluster != null) {
                        security.share(cluster.securityDocuments());
                        groupConfigs.share(cluster.securityDocuments());
                    }
                    return null;
                })
                .compose(v -> broker.replicas.loadStored(cluster != null))
                .compose(stored -> broker.topicAdmin.openStored(stored).map(stored))
                .map(stored -> {
                    if (cluster != null) {
                        // Topic decisions go to the controller; its metadata comes back as images applied here, and
                        // the replica fetchers follow the leaders the image names.
                        TopicAuthority authority = cluster.authority();
                        broker.topicAdmin.useAuthority(authority);
                        broker.applier = new ClusterImageApplier(vertx, broker.topics, broker.replicas, broker.dynamicConfig, authority,
                                broker.topicAdmin::closing);
                        broker.applier.start(stored);
                        broker.fetchers = new ReplicaFetchers(vertx, broker.topics, view, meta.nodeId(),
                                config.get(BrokerConfig.REPLICA_SOCKET_TIMEOUT_MS), security::interBroker);
                        broker.links = new BrokerLinks(vertx, view, config.get(BrokerConfig.REPLICA_SOCKET_TIMEOUT_MS), security::interBroker);
                        cluster.onImage(image -> broker.applier.apply(image).onSuccess(applied -> {
                            if (applied) broker.fetchers.reconcile(image);
                            broker.appliedVersion = Math.max(broker.appliedVersion, image.version());
                            broker.checkCaughtUp();
                        }));
                        broker.awaitCommittedVersion(vertx, cluster);
                    }
                    return null;
                })
                .compose(v -> broker.groups.start())
                .compose(v -> broker.transactions.start())
                .compose(v -> KafkaServer.start(vertx, new KafkaApis(new BrokerInfo(meta.nodeId(), meta.clusterId(), config, broker.dynamicConfig,
                        broker.topics, broker.topicAdmin, producerIds, broker.groups, broker.transactions, broker.verifier, metrics, view,
                        broker.security, broker.shares)), broker.serving.future()))
                .compose(kafka -> {
                    broker.kafka = kafka;
                    return HttpEndpoint.start(new HttpServices(vertx, meta.nodeId(), meta.clusterId(), config, broker.dynamicConfig, broker.topics,
                            broker.topicAdmin, broker.groups, metrics, time, broker::kafkaListeners, () -> broker.ready, view, broker.transactions,
                            broker.verifier, security, broker.links, broker.shares), config.httpHost(), config.httpPort());
                })
                .compose(http -> {
                    broker.http = http;
                    if (cluster == null) return Future.succeededFuture();
                    // A replica gone offline is reported at once: a new registration carries it, and the controller moves
                    // leadership away from it and takes it out of the ISR (Kafka's brokers report offline log dirs so).
                    broker.replicas.onReplicaOffline(() -> cluster.reportAgain().onFailure(e -> LOG.warn("Reporting an offline replica failed", e)));
                    return cluster.register(meta.nodeId(), broker.advertisedListeners(), advertisedHost(config, config.httpHost()) + ":" + http.port(),
                            broker::localTopicsReport).compose(v -> broker.unfenced(vertx, cluster));
                })
                .map(v -> {
                    broker.ready = true;
                    broker.serving.tryComplete();
                    LOG.info("Runnel broker {} of cluster {} started in {} ms; log.dirs {}; {} topic(s){}", meta.nodeId(),
                            meta.clusterId(), (System.nanoTime() - t0) / 1_000_000, config.logDir().toAbsolutePath().normalize(),
                            broker.topics.topics().size(), cluster == null ? "" : "; cluster of " + view.brokers().size() + " broker(s)");
                    LOG.info("HTTP listening on http://{}:{}", config.httpHost(), broker.http.port());
                    return broker;
                })
                .onComplete(ar -> {
                    if (ar.succeeded()) {
                        result.complete(ar.result());
                        return;
                    }
                    broker.serving.tryComplete(); // the connections waiting are closed by the stop
                    // Reported once stop() has closed Vert.x (Main waited forever when this went through its loops).
                    LOG.error("Broker {} could not start; stopping what had started", meta.nodeId(), ar.cause());
                    broker.stop().whenComplete((v, x) -> result.fail(ar.cause()));
                });
    }

    /**
     * Asks the controller which metadata version the quorum has committed, again every
     * {@link Limits#STARTUP_VERSION_RETRY_MS} while no controller answers: this broker has caught up once it applied
     * that version, not merely a first image (a voter restarting from its directory first applies what it had before
     * it stopped, which may lack topics created meanwhile).
     */
    private void awaitCommittedVersion(Vertx vertx, HazelcastCluster cluster) {
        if (caughtUp.future().isComplete() || stopping.get()) return;
        cluster.committedMetadataVersion().onComplete(ar -> {
            if (ar.succeeded()) {
                committedAtStart = ar.result();
                checkCaughtUp();
            } else {
                LOG.debug("Broker {} could not read the committed metadata version yet: {}", meta.nodeId(), ar.cause().toString());
                vertx.setTimer(Limits.STARTUP_VERSION_RETRY_MS, id -> awaitCommittedVersion(vertx, cluster));
            }
        });
    }

    /** Caught up: an image applied, at or past the version committed when this broker started (when that is known). */
    private void checkCaughtUp() {
        long target = committedAtStart;
        if (appliedVersion >= 0 && target != -2 && appliedVersion >= target) caughtUp.tryComplete();
    }

    /**
     * Waits until this broker has applied the cluster metadata and is unfenced, as Kafka's broker start-up waits to be
     * unfenced, but at most {@link Limits#STARTUP_UNFENCE_WAIT_MS}: a broker that cannot reach the metadata quorum
     * starts anyway, fenced (clients are not sent to it), and is unfenced once the first image arrives.
     */
    private Future<Void> unfenced(Vertx vertx, HazelcastCluster cluster) {
        Promise<Void> done = Promise.promise();
        long timer = vertx.setTimer(Limits.STARTUP_UNFENCE_WAIT_MS, id -> {
            if (done.tryComplete()) {
                LOG.warn("Broker {} has not received the cluster metadata after {} ms; it starts fenced (clients are not told of it) "
                        + "until it does", meta.nodeId(), Limits.STARTUP_UNFENCE_WAIT_MS);
            }
        });
        caughtUp.future().compose(x -> cluster.unfence()).onComplete(ar -> {
            vertx.cancelTimer(timer);
            if (ar.failed()) LOG.warn("Broker {} could not mark itself unfenced; the registry's check writes it again", meta.nodeId(), ar.cause());
            done.tryComplete();
        });
        return done.future();
    }

    private static void closeQuietly(LogDirLock lock) {
        try {
            lock.close();
        } catch (IOException e) {
            LOG.warn("Releasing {} failed", LogDirLock.FILE, e);
        }
    }

    /** A host other brokers and clients can reach for a listener bound to {@code host}: a wildcard is replaced. */
    private static String advertisedHost(BrokerConfig config, String host) {
        if (!host.isEmpty() && !host.equals("0.0.0.0") && !host.equals("::")) return host;
        String clusterHost = config.get(BrokerConfig.CLUSTER_HOST);
        if (clusterHost != null) return clusterHost;
        try {
            return InetAddress.getLocalHost().getCanonicalHostName();
        } catch (UnknownHostException e) {
            return "localhost";
        }
    }

    /**
     * The topics this broker holds and the newest placements it knows of them, for the controller: it rebuilds the
     * cluster metadata from these after a full restart, and takes newer placements from them than its own (the maps
     * of a split brain's other side). Made again at each registration.
     */
    private JsonArray localTopicsReport() {
        JsonArray out = new JsonArray();
        for (var t : topics.topics()) {
            JsonArray local = new JsonArray();
            JsonArray offline = new JsonArray();
            for (int p = 0; p < t.partitions().size(); p++) {
                if (t.local(p) == null) continue;
                local.add(p);
                if (t.local(p).offline() != null) offline.add(p); // the controller elects no offline replica
            }
            JsonArray placements = new JsonArray();
            for (int i = 0; i < t.placements().size(); i++) {
                // What the controller last said (seen in an image or kept on disk), rather than the stand-in placement of a fresh start.
                var p = applier.newestPlacement(t.topicId(), i).orElse(t.placements().get(i));
                placements.add(new JsonObject().put("replicas", new JsonArray(new ArrayList<>(p.replicas()))).put("leader", p.leader())
                        .put("epoch", p.leaderEpoch()).put("isr", new JsonArray(new ArrayList<>(p.isr()))).put("partitionEpoch", p.partitionEpoch()));
            }
            out.add(new JsonObject().put("name", t.name()).put("topicId", t.topicId().toString())
                    .put("partitions", t.partitions().size()).put("configs", new JsonObject(new HashMap<>(t.config().overrides())))
                    .put("local", local).put("offline", offline).put("placements", placements));
        }
        return out;
    }

    /** Each Kafka listener as clients on other machines reach it: advertised.listeners, else the bound address. */
    private Map<String, String> advertisedListeners() {
        Map<String, String> out = new LinkedHashMap<>();
        for (var l : config.listeners()) out.put(l.name(), advertisedHost(config, l.host()) + ":" + kafkaPort(l.name()));
        var advertised = config.get(BrokerConfig.ADVERTISED_LISTENERS);
        if (advertised != null) for (var a : advertised) out.put(a.name(), a.host() + ":" + a.port());
        return out;
    }

    /**
     * Moves this broker's leaderships to other brokers first when it serves in a cluster ({@link #controlledShutdown},
     * bounded), then stops the endpoints, flushes and closes every log, closes Vert.x and releases the directory.
     * Idempotent. The result is a plain {@link CompletableFuture}: it completes after Vert.x is closed, so it cannot
     * be bound to one of Vert.x's (then terminated) event loops.
     */
    public CompletableFuture<Void> stop() {
        if (!stopping.compareAndSet(false, true)) return stopped;
        boolean serving = ready;
        ready = false;
        Future<Void> handedOver = serving ? controlledShutdown() : Future.succeededFuture();
        handedOver.onComplete(x -> stopServing());
        return stopped;
    }

    /**
     * How long a stop may take at most: the controlled shutdown's bound ({@link #controlledShutdown}) and then the
     * flush and close of every partition ({@link Limits#SHUTDOWN_TIMEOUT_MS}). The SIGTERM hook waits this long.
     */
    public long stopTimeoutMs() {
        return stopTimeoutMs(config);
    }

    /**
     * {@link #stopTimeoutMs()} of a broker configured by {@code config}; a container platform's grace period for a
     * stop (Kubernetes' terminationGracePeriodSeconds, deploy/kubernetes) must be longer.
     */
    public static long stopTimeoutMs(BrokerConfig config) {
        long controlled = !config.clustered() || !config.get(BrokerConfig.CONTROLLED_SHUTDOWN_ENABLE) ? 0
                : Limits.QUORUM_HANDOVER_TIMEOUT_MS + controlledShutdownBudgetMs(config);
        return controlled + Limits.SHUTDOWN_TIMEOUT_MS;
    }

    /** The controlled shutdown's time for moving leaderships: each attempt, first and retries, with its backoff. */
    private long controlledShutdownBudgetMs() {
        return controlledShutdownBudgetMs(config);
    }

    private static long controlledShutdownBudgetMs(BrokerConfig config) {
        return (config.get(BrokerConfig.CONTROLLED_SHUTDOWN_MAX_RETRIES) + 1L)
                * Math.max(config.get(BrokerConfig.CONTROLLED_SHUTDOWN_RETRY_BACKOFF_MS), Limits.CONTROLLED_SHUTDOWN_MIN_ATTEMPT_MS);
    }

    /**
     * Kafka's controlled shutdown ({@code controlled.shutdown.enable}), while the broker still serves: the metadata
     * quorum's leadership goes to another voter if this broker holds it; then the controller moves the leadership of
     * this broker's partitions (and so its group and transaction coordinators) to in-sync replicas elsewhere and takes
     * it out of their ISRs, and the broker waits until its own metadata says it leads none of them. Clients meanwhile
     * get NOT_LEADER_OR_FOLLOWER or NOT_COORDINATOR, retriable, and go to the new leaders. Partitions it could not
     * move (no other in-sync replica) are asked for again after {@code controlled.shutdown.retry.backoff.ms}, at
     * most {@code controlled.shutdown.max.retries} more times; a missing controller is asked again sooner. Never fails:
     * the broker stops once the budget is spent, as Kafka's does.
     */
    private Future<Void> controlledShutdown() {
        if (cluster == null || !config.get(BrokerConfig.CONTROLLED_SHUTDOWN_ENABLE)) return Future.succeededFuture();
        LOG.info("Broker {}: controlled shutdown, moving its leaderships to other brokers", meta.nodeId());
        long t0 = System.nanoTime();
        Promise<Void> done = Promise.promise();
        // The budget for moving leaderships starts once the quorum's leadership is handed over (bounded apart).
        cluster.handOverController().onComplete(x -> askToMove(System.nanoTime() + controlledShutdownBudgetMs() * 1_000_000L,
                config.get(BrokerConfig.CONTROLLED_SHUTDOWN_MAX_RETRIES), done));
        return done.future().onComplete(x -> LOG.info("Broker {}: controlled shutdown took {} ms", meta.nodeId(), (System.nanoTime() - t0) / 1_000_000));
    }

    /** One request to the controller in a controlled shutdown, then the wait for the moves; again while allowed. */
    private void askToMove(long deadline, int retriesLeft, Promise<Void> done) {
        long backoff = config.get(BrokerConfig.CONTROLLED_SHUTDOWN_RETRY_BACKOFF_MS);
        long left = (deadline - System.nanoTime()) / 1_000_000;
        if (left <= 0) {
            LOG.warn("Broker {}: controlled shutdown did not complete in time; it leads {} partition(s) that other replicas could lead",
                    meta.nodeId(), movableLeaderships());
            done.tryComplete();
            return;
        }
        cluster.requestShutdown(Math.min(left, Limits.CONTROLLED_SHUTDOWN_REQUEST_TIMEOUT_MS)).onComplete(ar -> {
            if (ar.failed()) {
                // No controller answered (it is changing hands): soon again, within the budget; logged once. With
                // none for longer than an election takes (the quorum lost its majority: the last brokers of a cluster
                // stopped one after the other), nothing can be moved: the broker stops.
                long now = System.nanoTime();
                if (unansweredSince == 0) {
                    unansweredSince = now;
                    LOG.info("Broker {}: controlled shutdown request not answered, asking again: {}", meta.nodeId(), ar.cause().getMessage());
                }
                if (now - unansweredSince > Limits.CONTROLLED_SHUTDOWN_NO_CONTROLLER_MAX_MS * 1_000_000L) {
                    LOG.warn("Broker {}: no controller answered for {} ms; stopping without moving its leaderships", meta.nodeId(),
                            Limits.CONTROLLED_SHUTDOWN_NO_CONTROLLER_MAX_MS);
                    done.tryComplete();
                    return;
                }
                vertx.setTimer(Limits.CONTROLLED_SHUTDOWN_NO_CONTROLLER_RETRY_MS, t -> askToMove(deadline, retriesLeft, done));
                return;
            }
            unansweredSince = 0;
            List<String> remaining = ar.result();
            long waitUntil = remaining.isEmpty() ? deadline : Math.min(deadline, System.nanoTime() + backoff * 1_000_000L);
            awaitMoved(waitUntil).onComplete(moved -> {
                if (remaining.isEmpty() && moved.result()) {
                    done.tryComplete();
                } else if (retriesLeft > 0 && !remaining.isEmpty()) {
                    LOG.info("Broker {}: {} partition(s) have no other in-sync replica yet ({}); asking again after the backoff", meta.nodeId(),
                            remaining.size(), remaining);
                    long pauseMs = Math.max(1, (waitUntil - System.nanoTime()) / 1_000_000);
                    vertx.setTimer(pauseMs, t -> askToMove(deadline, retriesLeft - 1, done));
                } else {
                    if (!remaining.isEmpty()) {
                        LOG.warn("Broker {}: stopping while it still leads {} (no other in-sync replica)", meta.nodeId(), remaining);
                    }
                    askToMove(System.nanoTime(), 0, done); // out of retries: report and stop
                }
            });
        });
    }

    /**
     * Completes with true once this broker's metadata says it leads no partition that another in-sync replica could
     * lead (the controller's moves have arrived), or with false at {@code deadline} (nanoTime).
     */
    private Future<Boolean> awaitMoved(long deadline) {
        Promise<Boolean> moved = Promise.promise();
        if (movableLeaderships() == 0) return Future.succeededFuture(true);
        vertx.setPeriodic(Limits.CONTROLLED_SHUTDOWN_POLL_MS, id -> {
            boolean none = movableLeaderships() == 0;
            if (none || System.nanoTime() - deadline >= 0) {
                vertx.cancelTimer(id);
                moved.tryComplete(none);
            }
        });
        return moved.future();
    }

    /** The partitions this broker leads, by its metadata, whose ISR has another member. */
    private int movableLeaderships() {
        int n = 0;
        for (var t : topics.topics()) {
            for (var p : t.placements()) if (p.leader() == meta.nodeId() && p.isr().size() > 1) n++;
        }
        return n;
    }

    /** Stops the endpoints, flushes and closes every log, closes Vert.x, leaves the cluster and releases the directory. */
    private void stopServing() {
        topicAdmin.beginShutdown();
        LOG.info("Stopping broker {}", meta.nodeId());
        if (fetchers != null) fetchers.stop();
        if (shares != null) shares.stop();
        if (links != null) links.close();
        if (markers != null) markers.stop();
        if (verifier != null) verifier.stop();
        if (shareStates != null) shareStates.stop();
        Future<Void> httpClosed = http == null ? Future.succeededFuture() : http.close();
        httpClosed.eventually(() -> kafka == null ? Future.succeededFuture() : kafka.stop())
                .eventually(groups::stop)
                .eventually(() -> transactions == null ? Future.succeededFuture() : transactions.stop())
                .eventually(() -> replicas.closeAll(topics)).toCompletionStage().whenCompleteAsync((v, partitionsError) ->
                vertx.close().toCompletionStage().whenComplete((v2, closeError) -> {
                    if (cluster != null) cluster.shutdownHazelcast();
                    security.close();
                    try {
                        lock.close();
                    } catch (IOException e) {
                        LOG.warn("Releasing {} failed", LogDirLock.FILE, e);
                    }
                    Throwable error = partitionsError != null ? partitionsError : closeError;
                    if (error == null) {
                        LOG.info("Broker {} stopped; every log is flushed", meta.nodeId());
                        stopped.complete(null);
                    } else {
                        LOG.error("Broker {} stopped with an error", meta.nodeId(), error);
                        stopped.completeExceptionally(error);
                    }
                }), ForkJoinPool.commonPool());
    }

    public BrokerConfig config() {
        return config;
    }

    public MetaProperties meta() {
        return meta;
    }

    public GroupCoordinator groups() {
        return groups;
    }

    /** The topics this broker knows and its replicas of their partitions. */
    public TopicRegistry topics() {
        return topics;
    }

    /** Topic administration (create, delete, grow, reconfigure). */
    public TopicAdmin topicAdmin() {
        return topicAdmin;
    }

    /** The broker configuration in effect, dynamic overrides included. */
    public DynamicBrokerConfig dynamicConfig() {
        return dynamicConfig;
    }

    public Vertx vertx() {
        return vertx;
    }

    /** The broker's security: listeners' TLS and SASL settings, credentials. */
    /** Share groups' delivery state on this broker (KIP-932). */
    public SharePartitionManager shares() {
        return shares;
    }

    public BrokerSecurity security() {
        return security;
    }

    /** The port the named Kafka listener is bound to (useful when its port is 0). */
    public int kafkaPort(String listenerName) {
        return kafka.boundPorts().get(listenerName);
    }

    /** {@code host:port} of the first Kafka listener, for clients' bootstrap.servers in tests and tools. */
    public String bootstrapServers() {
        var l = config.listeners().get(0);
        String host = l.host().isEmpty() || l.host().equals("0.0.0.0") ? "127.0.0.1" : l.host();
        return host + ":" + kafkaPort(l.name());
    }

    /** Each Kafka listener's {@code host:port} as a client on this machine reaches it, by listener name. */
    private Map<String, String> kafkaListeners() {
        Map<String, String> out = new LinkedHashMap<>();
        for (var l : config.listeners()) {
            String host = l.host().isEmpty() || l.host().equals("0.0.0.0") ? "127.0.0.1" : l.host();
            out.put(l.name(), host + ":" + kafkaPort(l.name()));
        }
        return out;
    }

    /** Kafka request bytes read and not yet answered, broker-wide (bounded by queued.max.request.bytes). */
    public long kafkaInflightRequestBytes() {
        return kafka.inflightRequestBytes();
    }

    /** The bound HTTP port (useful when {@code http.port=0}). */
    public int httpPort() {
        return http.port();
    }

    public boolean isReady() {
        return ready;
    }
}
