package io.runnel.config;

import static io.runnel.config.ConfigKey.boolKey;
import static io.runnel.config.ConfigKey.enumKey;
import static io.runnel.config.ConfigKey.intKey;
import static io.runnel.config.ConfigKey.listKey;
import static io.runnel.config.ConfigKey.longKey;
import static io.runnel.config.ConfigKey.stringKey;

import java.io.IOException;
import java.io.Reader;
import java.net.URI;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Properties;
import java.util.Set;
import java.util.TreeSet;
import org.apache.kafka.common.security.auth.SecurityProtocol;

/**
 * The broker's configuration: immutable, typed, with Apache Kafka's key names wherever the meaning is Kafka's.
 *
 * <p>Sources, weakest first: the defaults written here; {@code conf/broker.properties} (or the file named by
 * {@code --config FILE}, which replaces it); environment variables {@code RUNNEL_KEY} (dots to underscores, upper
 * case); command-line flags {@code --key=value}. An unknown key or a bad value in any source stops start-up with a
 * {@link ConfigException} whose message is one line naming the key and what is allowed.
 */
public final class BrokerConfig {

    public static final ConfigKey<Integer> NODE_ID = intKey("node.id", 1, 0, Integer.MAX_VALUE,
            "The id of this broker in the cluster.");
    public static final ConfigKey<String> BROKER_RACK = stringKey("broker.rack", null, "a rack, zone or data centre name",
            BrokerConfig::nonBlank, "The rack of this broker, as Kafka's broker.rack: the controller spreads each partition's replicas over "
                    + "racks, clients are told each broker's rack, and with replica.selector.class consumers fetch from their own rack.");
    public static final ConfigKey<List<Listener>> LISTENERS = listKey("listeners", "PLAINTEXT://0.0.0.0:9092",
            "a comma-separated list of NAME://host:port (port 0 to 65535, 0 picks a free port)", Listener::parse,
            "The addresses the Kafka protocol endpoint listens on.");
    public static final ConfigKey<List<Listener>> ADVERTISED_LISTENERS = listKey("advertised.listeners", null,
            "a comma-separated list of NAME://host:port", Listener::parse,
            "The addresses clients are told to connect to; by default the listeners, with a wildcard host replaced by this machine's host name.");
    public static final ConfigKey<String> LOG_DIRS = stringKey("log.dirs", "./data",
            "one directory path (several directories are not supported yet)", BrokerConfig::singleDirectory,
            "The directory that holds the partition logs and the broker's metadata.");
    public static final ConfigKey<Integer> NUM_PARTITIONS = intKey("num.partitions", 1, 1, 100_000,
            "The partition count of a topic created without one (auto-created topics too).");
    public static final ConfigKey<Integer> DEFAULT_REPLICATION_FACTOR = intKey("default.replication.factor", 1, 1, Short.MAX_VALUE,
            "The replication factor of a topic created without one.");
    public static final ConfigKey<Boolean> AUTO_CREATE_TOPICS_ENABLE = boolKey("auto.create.topics.enable", true,
            "Create a topic when a client asks for metadata of, or produces to, one that does not exist.");
    public static final ConfigKey<Integer> LOG_SEGMENT_BYTES = intKey("log.segment.bytes", 1 << 30, 14, Integer.MAX_VALUE,
            "The size at which a segment file is closed and a new one started.");
    public static final ConfigKey<Long> LOG_ROLL_MS = longKey("log.roll.ms", null, 1, Long.MAX_VALUE,
            "The age at which a segment is rolled even if not full; overrides log.roll.hours.");
    public static final ConfigKey<Integer> LOG_ROLL_HOURS = intKey("log.roll.hours", 168, 1, Integer.MAX_VALUE,
            "The age in hours at which a segment is rolled, when log.roll.ms is not set.");
    public static final ConfigKey<Long> LOG_RETENTION_MS = longKey("log.retention.ms", null, -1, Long.MAX_VALUE,
            "How long a segment is kept after its newest record; -1 keeps forever. Overrides minutes and hours.");
    public static final ConfigKey<Integer> LOG_RETENTION_MINUTES = intKey("log.retention.minutes", null, -1, Integer.MAX_VALUE,
            "Retention in minutes, when log.retention.ms is not set.");
    public static final ConfigKey<Integer> LOG_RETENTION_HOURS = intKey("log.retention.hours", 168, -1, Integer.MAX_VALUE,
            "Retention in hours, when neither log.retention.ms nor log.retention.minutes is set.");
    public static final ConfigKey<Long> LOG_RETENTION_BYTES = longKey("log.retention.bytes", -1L, -1, Long.MAX_VALUE,
            "The size a partition's log is cut back to by deleting its oldest segments; -1 means no limit.");
    public static final ConfigKey<Long> LOG_RETENTION_CHECK_INTERVAL_MS = longKey("log.retention.check.interval.ms", 300_000L, 1, Long.MAX_VALUE,
            "How often each partition checks whether segments can be deleted.");
    public static final ConfigKey<Long> LOG_SEGMENT_DELETE_DELAY_MS = longKey("log.segment.delete.delay.ms", 60_000L, 0, Long.MAX_VALUE,
            "How long files of segments that retention or compaction removed stay open before they are closed and deleted, so that "
                    + "fetch responses already sending them from the file finish.");
    public static final ConfigKey<Long> LOG_FLUSH_INTERVAL_MESSAGES = longKey("log.flush.interval.messages", Long.MAX_VALUE, 1, Long.MAX_VALUE,
            "The number of records appended to a partition after which its log is fsynced.");
    public static final ConfigKey<Long> LOG_FLUSH_INTERVAL_MS = longKey("log.flush.interval.ms", null, 0, Long.MAX_VALUE,
            "The longest time appended records stay unflushed; unset means never by time (Kafka's default, durability comes from replication).");
    public static final ConfigKey<Integer> LOG_INDEX_INTERVAL_BYTES = intKey("log.index.interval.bytes", 4096, 0, Integer.MAX_VALUE,
            "How many log bytes lie between two entries of the sparse offset and time indexes.");
    public static final ConfigKey<String> LOG_MESSAGE_TIMESTAMP_TYPE = enumKey("log.message.timestamp.type", "CreateTime",
            Set.of("CreateTime", "LogAppendTime"), "Whether records keep the producer's timestamp or get the broker's append time.");
    public static final ConfigKey<Integer> MESSAGE_MAX_BYTES = intKey("message.max.bytes", 1_048_588, 0, Integer.MAX_VALUE,
            "The largest record batch the broker accepts, in bytes.");
    public static final ConfigKey<String> HTTP_HOST = stringKey("http.host", "0.0.0.0", "a host name or IP address",
            BrokerConfig::nonBlank, "The address the HTTP endpoint (health, REST, WebSocket, console) binds.");
    public static final ConfigKey<Integer> HTTP_PORT = intKey("http.port", 8080, 0, 65535,
            "The port of the HTTP endpoint; 0 picks a free port.");

    public static final ConfigKey<List<String>> HTTP_CORS_ALLOWED_ORIGINS = listKey("http.cors.allowed.origins", null,
            "* or a comma-separated list of origins (scheme://host[:port])", BrokerConfig::origin,
            "Web origins other than the broker's own whose pages may call the REST API (CORS) and open WebSocket sessions; "
                    + "unset allows the broker's own origin only, * allows any.");

    public static final ConfigKey<String> CLUSTER_DISCOVERY = enumKey("cluster.discovery", "members",
            Set.of("members", "multicast", "kubernetes-dns", "kubernetes-api"),
            "How this broker finds the other brokers of its cluster (Hazelcast's join): members, the addresses in cluster.members "
                    + "(unset: a single broker without Hazelcast); multicast, every broker announcing itself on cluster.multicast.group "
                    + "in the local network; kubernetes-dns, the addresses a headless Service's name (cluster.kubernetes.service.dns) "
                    + "resolves to; kubernetes-api, the endpoints of a Service read from the Kubernetes API. Without cluster.members "
                    + "the cluster's size is not known in advance: set cluster.quorum.voters.");
    public static final ConfigKey<List<String>> CLUSTER_MEMBERS = listKey("cluster.members", null,
            "a comma-separated list of host:port (the port defaults to 5701)", BrokerConfig::hostPort,
            "Hazelcast members to join (TCP-IP discovery, cluster.discovery=members); unset runs a single broker without Hazelcast.");
    public static final ConfigKey<String> CLUSTER_MULTICAST_GROUP = stringKey("cluster.multicast.group", "224.2.2.3",
            "an IPv4 multicast address (224.0.0.0 to 239.255.255.255)", BrokerConfig::multicastGroup,
            "The multicast group brokers announce themselves on with cluster.discovery=multicast.");
    public static final ConfigKey<Integer> CLUSTER_MULTICAST_PORT = intKey("cluster.multicast.port", 54327, 1, 65535,
            "The UDP port of cluster.multicast.group.");
    public static final ConfigKey<String> CLUSTER_KUBERNETES_SERVICE_DNS = stringKey("cluster.kubernetes.service.dns", null,
            "a DNS name, e.g. runnel-headless.default.svc.cluster.local", BrokerConfig::nonBlank,
            "With cluster.discovery=kubernetes-dns: the name of the headless Service whose addresses are the brokers "
                    + "(each is joined on cluster.port). The Service should publish not-ready addresses (brokers join before they are ready).");
    public static final ConfigKey<String> CLUSTER_KUBERNETES_NAMESPACE = stringKey("cluster.kubernetes.namespace", null,
            "a Kubernetes namespace", BrokerConfig::nonBlank,
            "With cluster.discovery=kubernetes-api: the namespace of the brokers' Service; by default the pod's own namespace.");
    public static final ConfigKey<String> CLUSTER_KUBERNETES_SERVICE_NAME = stringKey("cluster.kubernetes.service.name", null,
            "a Kubernetes Service name", BrokerConfig::nonBlank,
            "With cluster.discovery=kubernetes-api: the Service whose endpoints are the brokers (the pod's service account needs "
                    + "to get and list endpoints, endpointslices and pods); unset, every pod of the namespace is asked.");
    public static final ConfigKey<String> CLUSTER_HOST = stringKey("cluster.host", null, "a host name or IP address",
            BrokerConfig::nonBlank, "The address Hazelcast and the clustered event bus bind and advertise; by default Hazelcast picks one.");
    public static final ConfigKey<Integer> CLUSTER_PORT = intKey("cluster.port", 5701, 1, 65535,
            "The Hazelcast port of this broker.");
    public static final ConfigKey<String> CLUSTER_NAME = stringKey("cluster.name", "runnel", "a name without spaces",
            BrokerConfig::nonBlank, "Only brokers with the same cluster name join each other.");
    public static final ConfigKey<String> CLUSTER_CP_MEMBER_COUNT = stringKey("cluster.cp.member.count", "auto",
            "auto, 0, or a count from 3 to 7", BrokerConfig::cpMemberCount,
            "Deprecated metadata modes: a count from 3 to 7 runs the controller election and the metadata on Hazelcast's CP "
                    + "subsystem (Raft) with that many CP members instead of the cluster's own metadata quorum; 0 makes the "
                    + "oldest member the controller with the metadata in AP maps (not safe across a split brain). auto, the "
                    + "default, runs the metadata quorum when cluster.quorum.voters is set or cluster.members lists at least three brokers, and the oldest-member "
                    + "controller otherwise. Every broker of a cluster must resolve to the same mode.");

    public static final ConfigKey<List<Integer>> CLUSTER_QUORUM_VOTERS = listKey("cluster.quorum.voters", null,
            "a comma-separated list of 3, 5 or 7 node ids", BrokerConfig::voterId,
            "The brokers (node ids) that vote in the cluster's own metadata quorum (Raft, as KRaft's controller quorum); their "
                    + "leader is the controller, and the other brokers follow the metadata as observers. Unset, a cluster whose "
                    + "cluster.members lists at least three brokers chooses three voters itself (the lowest node ids registered "
                    + "when a majority of cluster.members has joined) and every broker remembers them in log.dirs. Every broker "
                    + "of a cluster must list the same voters.");
    public static final ConfigKey<Integer> CLUSTER_QUORUM_PORT = intKey("cluster.quorum.port", 0, 0, 65535,
            "The port of this broker's metadata quorum listener (voters only), on cluster.host; 0 picks a free port, "
                    + "which the broker advertises to the others.");

    public static final ConfigKey<Long> REPLICA_LAG_TIME_MAX_MS = longKey("replica.lag.time.max.ms", 30_000L, 1, Long.MAX_VALUE,
            "A follower that has not caught up with its leader for this long leaves the in-sync replicas.");
    public static final ConfigKey<Integer> REPLICA_SOCKET_TIMEOUT_MS = intKey("replica.socket.timeout.ms", 30_000, 1_000, Integer.MAX_VALUE,
            "A follower's request to its leader not answered in this long fails; the follower connects again.");
    public static final ConfigKey<String> REPLICA_SELECTOR_CLASS = stringKey("replica.selector.class", null,
            "a class implementing org.apache.kafka.common.replica.ReplicaSelector, e.g. org.apache.kafka.common.replica.RackAwareReplicaSelector",
            BrokerConfig::replicaSelector, "Where a partition's leader sends a consumer to fetch from (KIP-392): with Kafka's "
                    + "RackAwareReplicaSelector, an in-sync replica in the consumer's client.rack. Unset: consumers fetch from the leader.");
    public static final ConfigKey<Integer> MIN_INSYNC_REPLICAS = intKey("min.insync.replicas", 1, 1, Short.MAX_VALUE,
            "The fewest in-sync replicas with which an acks=all produce is accepted (NOT_ENOUGH_REPLICAS below it).");
    public static final ConfigKey<Boolean> UNCLEAN_LEADER_ELECTION_ENABLE = boolKey("unclean.leader.election.enable", false,
            "Whether a replica outside the ISR may become leader when no in-sync replica is alive (losing acknowledged records).");
    public static final ConfigKey<Boolean> AUTO_LEADER_REBALANCE_ENABLE = boolKey("auto.leader.rebalance.enable", true,
            "Whether the controller moves leadership back to preferred replicas (the first of each partition's replicas) when too many lead elsewhere.");
    public static final ConfigKey<Long> LEADER_IMBALANCE_CHECK_INTERVAL_SECONDS = longKey("leader.imbalance.check.interval.seconds", 300L, 1,
            Long.MAX_VALUE / 1000, "How often the controller checks for leaders away from their preferred replicas.");
    public static final ConfigKey<Integer> LEADER_IMBALANCE_PER_BROKER_PERCENTAGE = intKey("leader.imbalance.per.broker.percentage", 10, 0, 100,
            "The share of a broker's preferred partitions led elsewhere above which the controller moves them back.");

    public static final ConfigKey<Boolean> CONTROLLED_SHUTDOWN_ENABLE = boolKey("controlled.shutdown.enable", true,
            "Whether a broker stopping with SIGTERM first moves the leadership of its partitions (and so its group and transaction "
            + "coordinators) to in-sync replicas on other brokers, and leaves their ISRs.");
    public static final ConfigKey<Integer> CONTROLLED_SHUTDOWN_MAX_RETRIES = intKey("controlled.shutdown.max.retries", 3, 0, 100,
            "How many more times a stopping broker asks the controller to move its leaderships when some could not be moved yet.");
    public static final ConfigKey<Long> CONTROLLED_SHUTDOWN_RETRY_BACKOFF_MS = longKey("controlled.shutdown.retry.backoff.ms", 5_000L, 0, 600_000,
            "How long a stopping broker waits for its leaderships to move before it asks again.");

    public static final ConfigKey<Integer> SOCKET_REQUEST_MAX_BYTES = intKey("socket.request.max.bytes", 104_857_600, 1, Integer.MAX_VALUE,
            "The largest request a Kafka client may send, in bytes; a larger size prefix closes the connection.");
    public static final ConfigKey<Long> QUEUED_MAX_REQUEST_BYTES = longKey("queued.max.request.bytes", 268_435_456L, 1, Long.MAX_VALUE,
            "Bytes of Kafka requests the whole broker holds at once (read, not yet answered); past it every connection pauses reading.");
    public static final ConfigKey<Integer> CONNECTION_MAX_INFLIGHT_BYTES = intKey("connection.max.inflight.bytes", 16_777_216, 1, Integer.MAX_VALUE,
            "Bytes of requests one Kafka connection may have read and not yet answered before Runnel pauses reading it (its credit).");

    public static final ConfigKey<Integer> FETCH_MAX_BYTES = intKey("fetch.max.bytes", 57_671_680, 1024, Integer.MAX_VALUE,
            "The most bytes one Fetch response carries, whatever the consumer asks for (Kafka's fetch.max.bytes).");

    public static final ConfigKey<Integer> OFFSETS_TOPIC_NUM_PARTITIONS = intKey("offsets.topic.num.partitions", 50, 1, 1000,
            "Partitions of the internal topic __consumer_offsets (created when the first consumer group appears); do not change it afterwards.");
    public static final ConfigKey<Integer> OFFSETS_TOPIC_SEGMENT_BYTES = intKey("offsets.topic.segment.bytes", 104_857_600, 1024, Integer.MAX_VALUE,
            "Segment size of __consumer_offsets; smaller segments are compacted sooner.");
    public static final ConfigKey<Integer> GROUP_MIN_SESSION_TIMEOUT_MS = intKey("group.min.session.timeout.ms", 6000, 1, Integer.MAX_VALUE,
            "The shortest session timeout a consumer group member may ask for.");
    public static final ConfigKey<Integer> GROUP_MAX_SESSION_TIMEOUT_MS = intKey("group.max.session.timeout.ms", 1_800_000, 1, Integer.MAX_VALUE,
            "The longest session timeout a consumer group member may ask for.");
    public static final ConfigKey<Integer> GROUP_INITIAL_REBALANCE_DELAY_MS = intKey("group.initial.rebalance.delay.ms", 3000, 0, Integer.MAX_VALUE,
            "How long the first rebalance of an empty group waits for more members to join.");
    public static final ConfigKey<Integer> OFFSETS_RETENTION_MINUTES = intKey("offsets.retention.minutes", 10_080, 1, Integer.MAX_VALUE,
            "How long committed offsets of a group without members are kept.");
    public static final ConfigKey<Integer> OFFSET_METADATA_MAX_BYTES = intKey("offset.metadata.max.bytes", 4096, 0, Integer.MAX_VALUE,
            "The longest metadata string a committed offset may carry.");

    public static final ConfigKey<Integer> GROUP_CONSUMER_SESSION_TIMEOUT_MS = intKey("group.consumer.session.timeout.ms", 45_000, 1, Integer.MAX_VALUE,
            "How long a member of a consumer-protocol group (KIP-848) may go without a heartbeat before it is removed.");
    public static final ConfigKey<Integer> GROUP_CONSUMER_HEARTBEAT_INTERVAL_MS = intKey("group.consumer.heartbeat.interval.ms", 5_000, 1, Integer.MAX_VALUE,
            "How often members of a consumer-protocol group (KIP-848) are told to heartbeat.");

    public static final ConfigKey<Integer> GROUP_SHARE_SESSION_TIMEOUT_MS = intKey("group.share.session.timeout.ms", 45_000, 1, Integer.MAX_VALUE,
            "How long a member of a share group (KIP-932) may go without a heartbeat before it is removed.");
    public static final ConfigKey<Integer> GROUP_SHARE_HEARTBEAT_INTERVAL_MS = intKey("group.share.heartbeat.interval.ms", 5_000, 1, Integer.MAX_VALUE,
            "How often members of a share group are told to heartbeat.");
    public static final ConfigKey<Integer> GROUP_SHARE_MAX_SIZE = intKey("group.share.max.size", 200, 1, 1000,
            "The most members a share group may have.");
    public static final ConfigKey<Integer> GROUP_SHARE_RECORD_LOCK_DURATION_MS = intKey("group.share.record.lock.duration.ms", 30_000, 1_000, 3_600_000,
            "How long a share group member holds the records it acquired before they may be delivered to another.");
    public static final ConfigKey<Integer> GROUP_SHARE_DELIVERY_COUNT_LIMIT = intKey("group.share.delivery.count.limit", 5, 2, 10,
            "How many times a record is delivered to a share group before it is archived (not delivered again).");
    public static final ConfigKey<Integer> GROUP_SHARE_PARTITION_MAX_RECORD_LOCKS = intKey("group.share.partition.max.record.locks", 2_000, 100, 10_000,
            "The most records of one partition a share group may have in flight (acquired, or done but behind one that is not).");

    public static final ConfigKey<Integer> SHARE_COORDINATOR_STATE_TOPIC_NUM_PARTITIONS = intKey("share.coordinator.state.topic.num.partitions", 50, 1, 1000,
            "Partitions of the internal topic __share_group_state, where share groups' delivery state is kept (created on first use).");
    public static final ConfigKey<Integer> SHARE_COORDINATOR_STATE_TOPIC_REPLICATION_FACTOR = intKey("share.coordinator.state.topic.replication.factor", 3, 1, 32,
            "Replicas of __share_group_state, capped by the live brokers when it is created.");
    public static final ConfigKey<Integer> SHARE_COORDINATOR_STATE_TOPIC_MIN_ISR = intKey("share.coordinator.state.topic.min.isr", 2, 1, 32,
            "min.insync.replicas of __share_group_state (capped by its replicas): a share group's acknowledgement is answered once this many replicas hold it.");
    public static final ConfigKey<Integer> SHARE_COORDINATOR_STATE_TOPIC_SEGMENT_BYTES = intKey("share.coordinator.state.topic.segment.bytes", 104_857_600,
            1_048_576, Integer.MAX_VALUE, "Segment size of __share_group_state (compacted).");

    public static final ConfigKey<Integer> TRANSACTION_STATE_LOG_NUM_PARTITIONS = intKey("transaction.state.log.num.partitions", 50, 1, 1000,
            "Partitions of the internal topic __transaction_state (created when the first transactional producer appears); do not change it afterwards.");
    public static final ConfigKey<Integer> TRANSACTION_STATE_LOG_REPLICATION_FACTOR = intKey("transaction.state.log.replication.factor", 3, 1, 32,
            "Replicas of __transaction_state, capped by the live brokers when it is created.");
    public static final ConfigKey<Integer> TRANSACTION_STATE_LOG_MIN_ISR = intKey("transaction.state.log.min.isr", 2, 1, 32,
            "min.insync.replicas of __transaction_state, capped by its replication factor.");
    public static final ConfigKey<Integer> TRANSACTION_STATE_LOG_SEGMENT_BYTES = intKey("transaction.state.log.segment.bytes", 104_857_600, 1024,
            Integer.MAX_VALUE, "Segment size of __transaction_state, a compacted topic.");
    public static final ConfigKey<Integer> TRANSACTION_MAX_TIMEOUT_MS = intKey("transaction.max.timeout.ms", 900_000, 1, Integer.MAX_VALUE,
            "The longest transaction.timeout.ms a producer may ask for; a longer one is refused (INVALID_TRANSACTION_TIMEOUT).");
    public static final ConfigKey<Integer> TRANSACTIONAL_ID_EXPIRATION_MS = intKey("transactional.id.expiration.ms", 604_800_000, 1, Integer.MAX_VALUE,
            "How long the coordinator keeps a transactional id that has no transaction open and no activity.");
    public static final ConfigKey<Long> PRODUCER_ID_EXPIRATION_MS = longKey("producer.id.expiration.ms", 86_400_000L, 1, Long.MAX_VALUE,
            "How long a partition keeps an idempotent producer's state (its sequence numbers, for duplicates) after the timestamp of its last "
                    + "batch, while it has no transaction open there (KIP-854).");
    public static final ConfigKey<Long> PRODUCER_ID_EXPIRATION_CHECK_INTERVAL_MS = longKey("producer.id.expiration.check.interval.ms", 600_000L, 1,
            Long.MAX_VALUE, "How often each partition drops the producer state older than producer.id.expiration.ms.");
    public static final ConfigKey<Integer> TRANSACTION_ABORT_TIMED_OUT_TRANSACTION_CLEANUP_INTERVAL_MS = intKey(
            "transaction.abort.timed.out.transaction.cleanup.interval.ms", 10_000, 1, Integer.MAX_VALUE,
            "How often the coordinator aborts the transactions open for longer than their timeout (and fences their producers).");
    public static final ConfigKey<Integer> TRANSACTION_VERSION = intKey("transaction.version", 2, 1, 2,
            "The finalized transaction.version feature ApiVersions advertises (Kafka sets it with kafka-features.sh): 2 lets Kafka 4 clients use "
                    + "transactions version 2 (KIP-890: partitions join through their leaders, the epoch is bumped with every transaction); "
                    + "1 keeps every client on version 1. Clients that do not know the feature use version 1 either way.");
    public static final ConfigKey<Boolean> TRANSACTION_PARTITION_VERIFICATION_ENABLE = boolKey("transaction.partition.verification.enable", true,
            "Whether a partition leader asks the transaction coordinator that a transactional producer's partition joined its transaction "
                    + "before it takes the transaction's first records (KIP-890 part 1); a late or stray write then fails instead of "
                    + "leaving a transaction open in the partition for good.");

    /** Every broker key, in the order of {@code conf/broker.properties}. */
    public static final List<ConfigKey<?>> KEYS = concat(List.of(NODE_ID, BROKER_RACK, LISTENERS, ADVERTISED_LISTENERS, LOG_DIRS,
            NUM_PARTITIONS, DEFAULT_REPLICATION_FACTOR, AUTO_CREATE_TOPICS_ENABLE, LOG_SEGMENT_BYTES, LOG_ROLL_MS,
            LOG_ROLL_HOURS, LOG_RETENTION_MS, LOG_RETENTION_MINUTES, LOG_RETENTION_HOURS, LOG_RETENTION_BYTES,
            LOG_RETENTION_CHECK_INTERVAL_MS, LOG_SEGMENT_DELETE_DELAY_MS, LOG_FLUSH_INTERVAL_MESSAGES, LOG_FLUSH_INTERVAL_MS,
            LOG_INDEX_INTERVAL_BYTES, LOG_MESSAGE_TIMESTAMP_TYPE, MESSAGE_MAX_BYTES, SOCKET_REQUEST_MAX_BYTES,
            QUEUED_MAX_REQUEST_BYTES, CONNECTION_MAX_INFLIGHT_BYTES, FETCH_MAX_BYTES, OFFSETS_TOPIC_NUM_PARTITIONS, OFFSETS_TOPIC_SEGMENT_BYTES,
            GROUP_MIN_SESSION_TIMEOUT_MS, GROUP_MAX_SESSION_TIMEOUT_MS, GROUP_INITIAL_REBALANCE_DELAY_MS, OFFSETS_RETENTION_MINUTES,
            OFFSET_METADATA_MAX_BYTES, GROUP_CONSUMER_SESSION_TIMEOUT_MS, GROUP_CONSUMER_HEARTBEAT_INTERVAL_MS,
            GROUP_SHARE_SESSION_TIMEOUT_MS, GROUP_SHARE_HEARTBEAT_INTERVAL_MS, GROUP_SHARE_MAX_SIZE, GROUP_SHARE_RECORD_LOCK_DURATION_MS,
            GROUP_SHARE_DELIVERY_COUNT_LIMIT, GROUP_SHARE_PARTITION_MAX_RECORD_LOCKS, SHARE_COORDINATOR_STATE_TOPIC_NUM_PARTITIONS,
            SHARE_COORDINATOR_STATE_TOPIC_REPLICATION_FACTOR, SHARE_COORDINATOR_STATE_TOPIC_MIN_ISR, SHARE_COORDINATOR_STATE_TOPIC_SEGMENT_BYTES,
            TRANSACTION_STATE_LOG_NUM_PARTITIONS, TRANSACTION_STATE_LOG_REPLICATION_FACTOR, TRANSACTION_STATE_LOG_MIN_ISR,
            TRANSACTION_STATE_LOG_SEGMENT_BYTES, TRANSACTION_MAX_TIMEOUT_MS, TRANSACTIONAL_ID_EXPIRATION_MS,
            PRODUCER_ID_EXPIRATION_MS, PRODUCER_ID_EXPIRATION_CHECK_INTERVAL_MS,
            TRANSACTION_ABORT_TIMED_OUT_TRANSACTION_CLEANUP_INTERVAL_MS, TRANSACTION_VERSION, TRANSACTION_PARTITION_VERIFICATION_ENABLE, HTTP_HOST, HTTP_PORT, HTTP_CORS_ALLOWED_ORIGINS,
            CLUSTER_DISCOVERY, CLUSTER_MEMBERS, CLUSTER_MULTICAST_GROUP, CLUSTER_MULTICAST_PORT,
            CLUSTER_KUBERNETES_SERVICE_DNS, CLUSTER_KUBERNETES_NAMESPACE, CLUSTER_KUBERNETES_SERVICE_NAME, CLUSTER_HOST, CLUSTER_PORT, CLUSTER_NAME, CLUSTER_CP_MEMBER_COUNT, CLUSTER_QUORUM_VOTERS, CLUSTER_QUORUM_PORT,
            REPLICA_LAG_TIME_MAX_MS, REPLICA_SOCKET_TIMEOUT_MS, REPLICA_SELECTOR_CLASS, MIN_INSYNC_REPLICAS, UNCLEAN_LEADER_ELECTION_ENABLE,
            AUTO_LEADER_REBALANCE_ENABLE, LEADER_IMBALANCE_CHECK_INTERVAL_SECONDS, LEADER_IMBALANCE_PER_BROKER_PERCENTAGE, CONTROLLED_SHUTDOWN_ENABLE,
            CONTROLLED_SHUTDOWN_MAX_RETRIES, CONTROLLED_SHUTDOWN_RETRY_BACKOFF_MS), SecurityKeys.KEYS);

    private static List<ConfigKey<?>> concat(List<ConfigKey<?>> a, List<ConfigKey<?>> b) {
        List<ConfigKey<?>> out = new ArrayList<>(a);
        out.addAll(b);
        return List.copyOf(out);
    }

    /** The environment variable that carries JVM flags for scripts/runnel; it is not a configuration key. */
    public static final String ENV_JVM_OPTS = "RUNNEL_OPTS";
    /**
     * Variables of the launch scripts, not configuration keys: JVM flags, and the container image's jar, configuration
     * file and preStop wait (deploy/bin). A pod's environment carries them to the broker, which passes over them.
     */
    public static final Set<String> SCRIPT_VARIABLES = Set.of(ENV_JVM_OPTS, "RUNNEL_JAR", "RUNNEL_CONFIG", "RUNNEL_STOP_WAIT_S");

    private final Map<String, Object> values;
    /** Keys with a {@code listener.name.} or {@code http.} prefix, by their full (lower-case) name. */
    private final Map<String, Object> listenerValues;
    private final Map<String, String> origins;

    private final List<Layer> layers;

    /**
     * Keys that can change while the broker runs (IncrementalAlterConfigs on a BROKER resource), as in Kafka: the
     * defaults of the topic-level storage settings. Everything else is read once at start.
     */
    public static final Set<String> DYNAMIC_KEYS = Set.of(LOG_RETENTION_MS.name(), LOG_RETENTION_MINUTES.name(),
            LOG_RETENTION_HOURS.name(), LOG_RETENTION_BYTES.name(), LOG_SEGMENT_BYTES.name(), LOG_ROLL_MS.name(), LOG_ROLL_HOURS.name(),
            LOG_FLUSH_INTERVAL_MESSAGES.name(), LOG_FLUSH_INTERVAL_MS.name(), LOG_INDEX_INTERVAL_BYTES.name(),
            LOG_MESSAGE_TIMESTAMP_TYPE.name(), MESSAGE_MAX_BYTES.name());

    /** Origin of values set with IncrementalAlterConfigs on the cluster-wide default resource (empty name). */
    public static final String DYNAMIC_DEFAULT = "dynamic default broker config";
    /** Origin of values set with IncrementalAlterConfigs on this broker's resource (its node id). */
    public static final String DYNAMIC_BROKER = "dynamic broker config";

    private BrokerConfig(Map<String, Object> values, Map<String, Object> listenerValues, Map<String, String> origins, List<Layer> layers) {
        this.values = Collections.unmodifiableMap(values);
        this.listenerValues = Collections.unmodifiableMap(listenerValues);
        this.origins = Collections.unmodifiableMap(origins);
        this.layers = List.copyOf(layers);
    }

    /**
     * This configuration with dynamic overrides on top (Kafka's precedence: per-broker over cluster default over
     * static). Throws {@link ConfigException} for a key that is not dynamic or a bad value.
     */
    public BrokerConfig withDynamic(Map<String, String> clusterDefaults, Map<String, String> perBroker) {
        for (Map<String, String> m : List.of(clusterDefaults, perBroker)) {
            for (String k : m.keySet()) {
                if (!DYNAMIC_KEYS.contains(k)) {
                    throw new ConfigException("Configuration key '" + k + "' cannot be changed while the broker runs; the dynamic keys are "
                            + new TreeSet<>(DYNAMIC_KEYS) + ".");
                }
            }
        }
        List<Layer> all = new ArrayList<>(staticLayers());
        all.add(new Layer(DYNAMIC_DEFAULT, clusterDefaults));
        all.add(new Layer(DYNAMIC_BROKER, perBroker));
        return fromLayers(all);
    }

    private List<Layer> staticLayers() {
        return layers.stream().filter(l -> !l.source().equals(DYNAMIC_DEFAULT) && !l.source().equals(DYNAMIC_BROKER)).toList();
    }

    /** The defaults alone, as if every source were empty. */
    public static BrokerConfig defaults() {
        return fromLayers(List.of());
    }

    /** A configuration from explicit key/value pairs over the defaults, for tests and embedding. */
    public static BrokerConfig of(Map<String, String> overrides) {
        return fromLayers(List.of(new Layer("overrides", overrides)));
    }

    /**
     * Loads the configuration as {@code java -jar runnel.jar [--config FILE] [--KEY=VALUE ...]} does.
     *
     * @param args        the command line
     * @param env         the environment (only variables starting with {@code RUNNEL_} are read)
     * @param defaultFile the file used when no {@code --config} is given; skipped if it does not exist
     */
    public static BrokerConfig load(String[] args, Map<String, String> env, Path defaultFile) {
        Path file = null;
        Map<String, String> flags = new LinkedHashMap<>();
        for (int i = 0; i < args.length; i++) {
            String arg = args[i];
            if (arg.equals("--config")) {
                if (i + 1 >= args.length) throw new ConfigException("--config needs a file: --config FILE.");
                file = Path.of(args[++i]);
            } else if (arg.startsWith("--config=")) {
                file = Path.of(arg.substring("--config=".length()));
            } else if (arg.startsWith("--") && arg.indexOf('=') > 2) {
                flags.put(arg.substring(2, arg.indexOf('=')), arg.substring(arg.indexOf('=') + 1));
            } else {
                throw new ConfigException("Unrecognised argument '" + arg
                        + "': usage is java -jar runnel.jar [--config FILE] [--KEY=VALUE ...].");
            }
        }
        List<Layer> layers = new ArrayList<>();
        if (file != null) {
            if (!Files.isRegularFile(file)) throw new ConfigException("Configuration file '" + file + "' (from --config) does not exist.");
            layers.add(new Layer(file.toString(), readProperties(file)));
        } else if (defaultFile != null && Files.isRegularFile(defaultFile)) {
            layers.add(new Layer(defaultFile.toString(), readProperties(defaultFile)));
        }
        layers.add(new Layer("environment", fromEnvironment(env)));
        layers.add(new Layer("command line", flags));
        return fromLayers(layers);
    }

    private record Layer(String source, Map<String, String> entries) {
    }

    private static BrokerConfig fromLayers(List<Layer> layers) {
        Map<String, ConfigKey<?>> known = new LinkedHashMap<>();
        KEYS.forEach(k -> known.put(k.name(), k));
        Map<String, String> text = new LinkedHashMap<>();
        Map<String, String> origins = new LinkedHashMap<>();
        for (ConfigKey<?> k : KEYS) {
            if (k.defaultValue() != null) {
                text.put(k.name(), k.defaultValue());
                origins.put(k.name(), "default");
            }
        }
        for (Layer layer : layers) {
            for (Map.Entry<String, String> e : layer.entries().entrySet()) {
                if (!known.containsKey(e.getKey()) && SecurityKeys.prefixedBase(e.getKey()) == null) {
                    throw new ConfigException("Unknown configuration key '" + e.getKey() + "' (from " + layer.source()
                            + "); the keys are listed in conf/broker.properties.");
                }
                text.put(e.getKey(), e.getValue());
                origins.put(e.getKey(), layer.source());
            }
        }
        Map<String, Object> values = new LinkedHashMap<>();
        Map<String, Object> listenerValues = new LinkedHashMap<>();
        for (Map.Entry<String, String> e : text.entrySet()) {
            ConfigKey<?> key = known.containsKey(e.getKey()) ? known.get(e.getKey()) : SecurityKeys.prefixedBase(e.getKey()).named(e.getKey());
            Object v = key.parse(e.getValue(), origins.get(e.getKey()));
            if (known.containsKey(e.getKey())) values.put(e.getKey(), v);
            else listenerValues.put(e.getKey(), v);
        }
        BrokerConfig config = new BrokerConfig(values, listenerValues, origins, layers);
        config.checkConsistency();
        return config;
    }

    private static Map<String, String> fromEnvironment(Map<String, String> env) {
        Map<String, String> byEnvName = new LinkedHashMap<>();
        KEYS.forEach(k -> byEnvName.put(k.envName(), k.name()));
        Map<String, String> out = new LinkedHashMap<>();
        for (Map.Entry<String, String> e : env.entrySet()) {
            if (!e.getKey().startsWith("RUNNEL_") || SCRIPT_VARIABLES.contains(e.getKey())) continue;
            String key = byEnvName.get(e.getKey());
            if (key == null) {
                throw new ConfigException("Unknown configuration variable '" + e.getKey()
                        + "' (from environment); RUNNEL_ variables name keys of conf/broker.properties, such as RUNNEL_LOG_DIRS.");
            }
            out.put(key, e.getValue());
        }
        return out;
    }

    private static Map<String, String> readProperties(Path file) {
        Properties p = new Properties();
        try (Reader r = Files.newBufferedReader(file, StandardCharsets.UTF_8)) {
            p.load(r);
        } catch (IOException e) {
            throw new ConfigException("Cannot read configuration file '" + file + "': " + e.getMessage());
        }
        Map<String, String> out = new LinkedHashMap<>();
        p.stringPropertyNames().stream().sorted().forEach(k -> out.put(k, p.getProperty(k)));
        return out;
    }

    private void checkConsistency() {
        List<Integer> voters = quorumVoters();
        if (!voters.isEmpty()) {
            if (voters.size() != 3 && voters.size() != 5 && voters.size() != 7 || voters.stream().distinct().count() != voters.size()) {
                throw new ConfigException("cluster.quorum.voters must list 3, 5 or 7 different node ids, got " + voters + ".");
            }
            if (!clustered()) {
                throw new ConfigException("cluster.quorum.voters needs a cluster to vote in: cluster.members, or a cluster.discovery other than members.");
            }
            String cp = get(CLUSTER_CP_MEMBER_COUNT);
            if (!cp.equals("auto") && !cp.equals("0")) {
                throw new ConfigException("cluster.quorum.voters replaces the CP subsystem: leave cluster.cp.member.count unset (or 0), got " + cp + ".");
            }
        }
        checkDiscovery();
        if (listeners().isEmpty()) {
            throw new ConfigException("Invalid value '' for configuration key 'listeners' (from " + origins.get("listeners")
                    + "): must name at least one NAME://host:port.");
        }
        List<String> names = listeners().stream().map(Listener::name).toList();
        if (names.stream().distinct().count() != names.size()) {
            throw new ConfigException("Invalid value for configuration key 'listeners': each listener name may appear once, got " + names + ".");
        }
        Map<String, SecurityProtocol> protocols = get(SecurityKeys.LISTENER_SECURITY_PROTOCOL_MAP);
        for (String name : names) {
            if (!protocols.containsKey(name)) {
                throw new ConfigException("Listener " + name + " has no security protocol: add " + name
                        + ":<PLAINTEXT|SSL|SASL_PLAINTEXT|SASL_SSL> to listener.security.protocol.map.");
            }
        }
        List<Listener> advertised = get(ADVERTISED_LISTENERS);
        if (advertised != null) {
            for (Listener a : advertised) {
                if (!names.contains(a.name())) {
                    throw new ConfigException("advertised.listeners names " + a.name() + ", which is not one of the listeners " + names + ".");
                }
            }
        }
        SecurityProtocol interProtocol = get(SecurityKeys.SECURITY_INTER_BROKER_PROTOCOL);
        if (interProtocol != null && get(SecurityKeys.INTER_BROKER_LISTENER_NAME) == null
                && listeners().stream().noneMatch(l -> protocols.get(l.name()) == interProtocol)) {
            throw new ConfigException("security.inter.broker.protocol is " + interProtocol + ", but no listener has that protocol " + names + ".");
        }
        String interBroker = get(SecurityKeys.INTER_BROKER_LISTENER_NAME);
        if (interBroker != null && !names.contains(interBroker)) {
            throw new ConfigException("inter.broker.listener.name is " + interBroker + ", which is not one of the listeners " + names + ".");
        }
        for (String key : listenerValues.keySet()) {
            if (!key.startsWith("listener.name.")) continue;
            String listener = key.substring("listener.name.".length(), key.indexOf('.', "listener.name.".length())).toUpperCase(Locale.ROOT);
            if (!names.contains(listener)) {
                throw new ConfigException("Configuration key '" + key + "' names listener " + listener + ", which is not one of the listeners " + names + ".");
            }
        }
        for (Listener l : listeners()) {
            SecurityProtocol p = protocolOf(l.name());
            if ((p == SecurityProtocol.SSL || p == SecurityProtocol.SASL_SSL) && forListener(l.name(), SecurityKeys.SSL_KEYSTORE_LOCATION) == null
                    && forListener(l.name(), SecurityKeys.SSL_KEYSTORE_KEY) == null) {
                throw new ConfigException("Listener " + l.name() + " is " + p + " but has no key store: set ssl.keystore.location (or listener.name."
                        + l.name().toLowerCase(Locale.ROOT) + ".ssl.keystore.location).");
            }
        }
    }

    /** The security protocol of the named listener, from {@code listener.security.protocol.map}. */
    public SecurityProtocol protocolOf(String listenerName) {
        return get(SecurityKeys.LISTENER_SECURITY_PROTOCOL_MAP).get(listenerName);
    }

    /** The listener that brokers use to reach each other: {@code inter.broker.listener.name}, else the first listener. */
    public String interBrokerListener() {
        String name = get(SecurityKeys.INTER_BROKER_LISTENER_NAME);
        if (name != null) return name;
        SecurityProtocol p = get(SecurityKeys.SECURITY_INTER_BROKER_PROTOCOL);
        if (p != null) {
            for (Listener l : listeners()) if (protocolOf(l.name()) == p) return l.name();
        }
        return listeners().get(0).name();
    }

    /**
     * The value of {@code key} for one listener: {@code listener.name.<listener>.<key>} when set, else the broker-wide
     * value (Kafka's precedence).
     */
    public <T> T forListener(String listenerName, ConfigKey<T> key) {
        @SuppressWarnings("unchecked")
        T v = (T) listenerValues.get("listener.name." + listenerName.toLowerCase(Locale.ROOT) + "." + key.name());
        return v != null ? v : get(key);
    }

    /**
     * The value of an {@code ssl.*} key for the HTTP endpoint: {@code http.<key>} when set, else the key's default (the
     * Kafka listeners' values do not carry over: HTTPS is configured on its own).
     */
    public <T> T forHttp(ConfigKey<T> key) {
        @SuppressWarnings("unchecked")
        T v = (T) listenerValues.get("http." + key.name());
        if (v != null) return v;
        return key.defaultValue() == null ? null : key.parse(key.defaultValue(), "default");
    }

    /** The value of a SASL key for one mechanism of one listener: the mechanism's prefix, else the listener's, else the broker's. */
    public <T> T forMechanism(String listenerName, String mechanism, ConfigKey<T> key) {
        @SuppressWarnings("unchecked")
        T v = (T) listenerValues.get("listener.name." + listenerName.toLowerCase(Locale.ROOT) + "." + mechanism.toLowerCase(Locale.ROOT) + "." + key.name());
        return v != null ? v : forListener(listenerName, key);
    }

    private static String singleDirectory(String text) {
        if (text.isBlank() || text.contains(",")) throw new IllegalArgumentException();
        return text;
    }

    /** {@code *} or an origin as browsers send it: {@code scheme://host[:port]}, no path. */
    private static String origin(String text) {
        String t = text.trim();
        if (t.equals("*")) return t;
        URI u = URI.create(t);
        if (u.getScheme() == null || u.getHost() == null || (u.getPath() != null && !u.getPath().isEmpty()) || u.getQuery() != null) {
            throw new IllegalArgumentException();
        }
        return t;
    }

    /** {@code http.cors.allowed.origins}: empty when unset (the broker's own origin only). */
    public List<String> corsAllowedOrigins() {
        List<String> o = get(HTTP_CORS_ALLOWED_ORIGINS);
        return o == null ? List.of() : o;
    }

    /** {@code host:port}, or {@code host} with Hazelcast's default port 5701; returns {@code host:port}. */
    private static String hostPort(String text) {
        String t = text.trim();
        int colon = t.lastIndexOf(':');
        if (t.isEmpty() || colon == 0) throw new IllegalArgumentException();
        if (colon < 0) return t + ":5701";
        int port = Integer.parseInt(t.substring(colon + 1));
        if (port < 1 || port > 65535) throw new IllegalArgumentException();
        return t;
    }

    /**
     * The keys each discovery needs and the ones it ignores. A discovered cluster's size is not known in advance, so
     * the metadata quorum cannot choose its voters safely (QuorumVoters waits for a majority of cluster.members): it
     * needs cluster.quorum.voters, as KRaft needs controller.quorum.voters, unless the deprecated modes are asked for.
     */
    private void checkDiscovery() {
        String discovery = get(CLUSTER_DISCOVERY);
        boolean members = discovery.equals("members");
        if (!members && get(CLUSTER_MEMBERS) != null) {
            throw new ConfigException("cluster.members is the list of cluster.discovery=members; with cluster.discovery=" + discovery
                    + " leave it unset (from " + origin(CLUSTER_MEMBERS) + ").");
        }
        if (discovery.equals("kubernetes-dns") && get(CLUSTER_KUBERNETES_SERVICE_DNS) == null) {
            throw new ConfigException("cluster.discovery=kubernetes-dns needs cluster.kubernetes.service.dns, the headless Service's DNS name.");
        }
        if (!discovery.equals("kubernetes-dns") && get(CLUSTER_KUBERNETES_SERVICE_DNS) != null) {
            throw new ConfigException("cluster.kubernetes.service.dns is read with cluster.discovery=kubernetes-dns only (it is " + discovery + ").");
        }
        if (!discovery.equals("kubernetes-api") && (get(CLUSTER_KUBERNETES_SERVICE_NAME) != null || get(CLUSTER_KUBERNETES_NAMESPACE) != null)) {
            throw new ConfigException("cluster.kubernetes.service.name and cluster.kubernetes.namespace are read with cluster.discovery=kubernetes-api "
                    + "only (it is " + discovery + ").");
        }
        if (!members && quorumVoters().isEmpty() && get(CLUSTER_CP_MEMBER_COUNT).equals("auto")) {
            throw new ConfigException("cluster.discovery=" + discovery + " needs cluster.quorum.voters (the node ids of the 3, 5 or 7 brokers that "
                    + "run the metadata quorum, e.g. 0,1,2): with discovery the brokers cannot know how many of them make a majority.");
        }
    }

    /** Whether this broker joins a cluster (Hazelcast): cluster.members lists brokers, or another discovery is chosen. */
    public boolean clustered() {
        return !get(CLUSTER_DISCOVERY).equals("members") || get(CLUSTER_MEMBERS) != null && !get(CLUSTER_MEMBERS).isEmpty();
    }

    /** The Hazelcast members to join; empty when this broker runs alone. */
    public List<String> clusterMembers() {
        List<String> m = get(CLUSTER_MEMBERS);
        return m == null ? List.of() : m;
    }

    /**
     * The size of the CP group (the deprecated CP-subsystem metadata mode): the count {@code cluster.cp.member.count}
     * sets, and 0 with {@code auto} (the cluster's own metadata quorum from three brokers, see {@link #quorumMode}).
     */
    public int cpMemberCount() {
        String v = get(CLUSTER_CP_MEMBER_COUNT);
        if (v.equals("auto") || !quorumVoters().isEmpty()) return 0;
        return Integer.parseInt(v);
    }

    /**
     * Whether this broker takes part in the cluster's own metadata quorum: {@code cluster.quorum.voters} is set, or
     * {@code cluster.cp.member.count} is {@code auto} and {@code cluster.members} lists at least three brokers (the
     * voters are then chosen by the cluster, {@link #quorumVoters} is empty).
     */
    public boolean quorumMode() {
        return !quorumVoters().isEmpty() || get(CLUSTER_CP_MEMBER_COUNT).equals("auto") && clusterMembers().size() >= 3;
    }

    /** The node ids of the metadata quorum's voters as configured ({@code cluster.quorum.voters}), sorted; empty when unset. */
    public List<Integer> quorumVoters() {
        List<Integer> v = get(CLUSTER_QUORUM_VOTERS);
        return v == null ? List.of() : v.stream().sorted().toList();
    }

    private static String multicastGroup(String text) {
        String t = text.trim();
        if (!t.matches("\\d{1,3}(\\.\\d{1,3}){3}")) throw new IllegalArgumentException();
        int first = Integer.parseInt(t.substring(0, t.indexOf('.')));
        for (String part : t.split("\\.")) if (Integer.parseInt(part) > 255) throw new IllegalArgumentException();
        if (first < 224 || first > 239) throw new IllegalArgumentException();
        return t;
    }

    private static Integer voterId(String text) {
        int id = Integer.parseInt(text.trim());
        if (id < 0) throw new IllegalArgumentException();
        return id;
    }

    private static String cpMemberCount(String text) {
        if (text.equals("auto")) return text;
        int n = Integer.parseInt(text.trim());
        if (n != 0 && (n < 3 || n > 7)) throw new IllegalArgumentException();
        return Integer.toString(n);
    }

    /** A class name that loads and implements Kafka's ReplicaSelector (refused at start otherwise). */
    private static String replicaSelector(String name) {
        try {
            if (!org.apache.kafka.common.replica.ReplicaSelector.class.isAssignableFrom(Class.forName(name.trim()))) {
                throw new IllegalArgumentException();
            }
        } catch (ClassNotFoundException e) {
            throw new IllegalArgumentException(e);
        }
        return name.trim();
    }

    private static String nonBlank(String text) {
        if (text.isBlank()) throw new IllegalArgumentException();
        return text;
    }

    @SuppressWarnings("unchecked")
    public <T> T get(ConfigKey<T> key) {
        return (T) values.get(key.name());
    }

    /** Where a key's value came from: "default", a file name, "environment" or "command line". */
    public String origin(ConfigKey<?> key) {
        return origins.getOrDefault(key.name(), "default");
    }

    /** Every key that has a value, as text, for logging and DescribeConfigs. */
    public Map<String, Object> values() {
        return values;
    }

    public int nodeId() {
        return get(NODE_ID);
    }

    public List<Listener> listeners() {
        return get(LISTENERS);
    }

    public Path logDir() {
        return Path.of(get(LOG_DIRS));
    }

    public int httpPort() {
        return get(HTTP_PORT);
    }

    public String httpHost() {
        return get(HTTP_HOST);
    }

    /** Retention by time in ms as Kafka resolves it: ms, else minutes, else hours; negative means forever. */
    public long retentionMs() {
        Long ms = get(LOG_RETENTION_MS);
        if (ms != null) return ms;
        Integer minutes = get(LOG_RETENTION_MINUTES);
        if (minutes != null) return minutes < 0 ? -1 : minutes * 60_000L;
        int hours = get(LOG_RETENTION_HOURS);
        return hours < 0 ? -1 : hours * 3_600_000L;
    }

    /** Segment age before a roll, in ms: log.roll.ms, else log.roll.hours. */
    public long rollMs() {
        Long ms = get(LOG_ROLL_MS);
        return ms != null ? ms : get(LOG_ROLL_HOURS) * 3_600_000L;
    }

    /** The flush interval in ms; Long.MAX_VALUE (never) when unset, as in Kafka. */
    public long flushIntervalMs() {
        Long ms = get(LOG_FLUSH_INTERVAL_MS);
        return ms != null ? ms : Long.MAX_VALUE;
    }

    @Override
    public String toString() {
        return values.toString();
    }
}
