package io.runnel.config;

/**
 * Every bound the broker puts on memory, queues and time, with its unit and the reason for its size, in one place
 * (TigerBeetle's habit). Configurable bounds are broker keys in {@link BrokerConfig}; these are the fixed ones.
 */
public final class Limits {
    private Limits() {
    }

    /**
     * Longest pause, in ms, between two checks of a partition's time-based flush (log.flush.interval.ms). The check
     * runs on the partition's event loop and only compares two numbers; 1 s keeps an hourly or daily flush interval
     * accurate to a second without a timer per millisecond.
     */
    public static final long FLUSH_CHECK_MAX_INTERVAL_MS = 1_000;

    /**
     * Time, in ms, that a graceful shutdown (SIGTERM) waits for every partition to flush and close before the process
     * exits anyway. Flushing is bounded by the unflushed bytes, which the page cache holds; 30 s matches the default
     * grace period of container orchestrators.
     */
    public static final long SHUTDOWN_TIMEOUT_MS = 30_000;

    /** Longest wait, in ms, for the controller's answer to a controlled-shutdown request. */
    public static final long CONTROLLED_SHUTDOWN_REQUEST_TIMEOUT_MS = 5_000;

    /** Wait, in ms, before a controlled-shutdown request is sent again when no controller answered (one is being elected). */
    public static final long CONTROLLED_SHUTDOWN_NO_CONTROLLER_RETRY_MS = 250;

    /**
     * How long, in ms, a controlled shutdown keeps asking while no controller answers at all: longer than the metadata
     * quorum takes to elect a leader after a handover or a leader's loss; past it the quorum has no majority (the last
     * brokers of a cluster stopping one after the other) and the broker stops without moving anything.
     */
    public static final long CONTROLLED_SHUTDOWN_NO_CONTROLLER_MAX_MS = 8_000;

    /** How often, in ms, a broker in controlled shutdown checks whether its metadata shows its leaderships moved. */
    public static final long CONTROLLED_SHUTDOWN_POLL_MS = 50;

    /**
     * How long, in ms, a leader does not propose again a replica the controller refused as ineligible for the ISR (a
     * broker in controlled shutdown), unless the placement changes first.
     */
    public static final long ISR_INELIGIBLE_BACKOFF_MS = 5_000;

    /** The least time, in ms, a controlled shutdown gives each attempt, whatever controlled.shutdown.retry.backoff.ms says. */
    public static final long CONTROLLED_SHUTDOWN_MIN_ATTEMPT_MS = 1_000;

    /** Longest topic name, in characters: Kafka's limit (Topic.MAX_NAME_LENGTH), so file names stay below 255 bytes. */
    public static final int TOPIC_NAME_MAX_CHARS = 249;

    /**
     * Largest partition count of one topic. Each partition is a verticle with open files (three per segment), so the
     * bound keeps a single CreateTopics request from exhausting file handles.
     */
    public static final int PARTITIONS_PER_TOPIC_MAX = 10_000;

    /**
     * Requests one Kafka connection may have read and not yet answered, whatever their size. The Java client
     * pipelines at most five; the bound stops a client that pipelines thousands of tiny requests from growing the
     * response queue (the byte credit alone would not, for tiny requests).
     */
    public static final int CONNECTION_MAX_INFLIGHT_REQUESTS = 1_000;

    /**
     * Waits parked on one partition for an offset to pass (long-poll fetches, acks=all produces; each list of a
     * partition). Each is a few dozen bytes; past the bound a new fetch is answered at once with what there is, as
     * if its max.wait.ms had passed, and an acks=all produce times out at once, so memory stays bounded.
     */
    public static final int PARTITION_OFFSET_WAITERS_MAX = 10_000;

    /**
     * Shortest interval, in ms, between two checks of a leader's followers for lag. Kafka checks every
     * replica.lag.time.max.ms / 2; the floor keeps a tiny configured lag from running the check on every tick.
     */
    public static final long ISR_CHECK_MIN_INTERVAL_MS = 100;

    /**
     * Producer ids handed out per block; the next block's start is written to disk before the block is used, so ids
     * are never reused across restarts. 1,000 keeps the file writes rare (Kafka's ProducerIdManager block size).
     */
    public static final int PRODUCER_ID_BLOCK_SIZE = 1_000;

    /** Batches remembered per producer and partition for duplicate detection: Kafka's fixed 5 (max.in.flight). */
    public static final int PRODUCER_BATCHES_REMEMBERED = 5;

    /**
     * Bytes a Kafka request's buffer is allocated ahead of the bytes received (one socket read's worth): the buffer
     * grows to the size the request announces as its bytes arrive, so that connections announcing large requests
     * they never send reserve no memory for them.
     */
    public static final int KAFKA_REQUEST_BUFFER_AHEAD_BYTES = 64 * 1024;

    /**
     * Requests of one Kafka connection being handled at once. Responses are built in memory (a fetch's up to
     * fetch.max.bytes), so this bounds what a client that does not read its responses can make the broker hold;
     * five matches the Java client's max.in.flight.requests.per.connection, so pipelining clients lose nothing.
     */
    public static final int CONNECTION_MAX_DISPATCHED_REQUESTS = 5;

    // ---- HTTP and WebSocket (package http) ----

    /**
     * Largest WebSocket message and HTTP request body, in bytes. A record may be as large as message.max.bytes
     * (1 MiB by default) and base64 makes it a third larger; 2 MiB leaves room for that and the JSON around it, and
     * is what one connection can make the broker buffer for a frame.
     */
    public static final int HTTP_MAX_BODY_BYTES = 2 * 1024 * 1024;

    /**
     * Produce credit the WebSocket gateway grants a connection: records and bytes sent and not yet acknowledged.
     * A frame past it is refused with an error frame, so a fast producer holds at most this much in the broker.
     */
    public static final int WS_PRODUCE_CREDIT_RECORDS = 1_000;
    public static final int WS_PRODUCE_CREDIT_BYTES = 4 * 1024 * 1024;

    /**
     * Transactional ids one WebSocket may use (each a producer id and epoch the session keeps, and a chain of its
     * frames, whose records the produce credit above already bounds).
     */
    public static final int WS_TRANSACTIONAL_IDS_MAX = 100;

    /**
     * transaction.timeout.ms of a WebSocket frame's transaction (capped by transaction.max.timeout.ms): Kafka's
     * producer default. A frame's transaction lasts as long as its appends; this only matters when the broker fails in
     * the middle, and the coordinator then aborts it after this long.
     */
    public static final int WS_TRANSACTION_TIMEOUT_MS = 60_000;

    /**
     * Pause, and longest total wait, in ms, while a WebSocket transaction retries a coordinator busy completing the id's
     * previous transaction (CONCURRENT_TRANSACTIONS), as a Kafka producer's retry.backoff.ms and delivery timeout.
     */
    public static final long WS_TRANSACTION_RETRY_MS = 20;
    public static final long WS_TRANSACTION_RETRY_MAX_MS = 30_000;

    /** Subscriptions one WebSocket may hold at once; each holds one read buffer at most (below). */
    public static final int WS_SUBSCRIPTIONS_MAX = 64;

    /**
     * Bytes one subscription reads from a partition at a time. It reads only while the client has credit and the
     * socket's write queue is not full, so a stalled browser costs at most this per subscription, whatever the
     * topic holds.
     */
    public static final int WS_READ_MAX_BYTES = 1024 * 1024;

    /** Largest credit a client may hold (records or bytes); a grant past it is capped, as a sanity bound. */
    public static final long WS_CREDIT_MAX = 1L << 40;

    /** Most records one REST consume request returns (its {@code limit}); the response is built in memory. */
    public static final int REST_CONSUME_MAX_RECORDS = 10_000;

    /** Longest long-poll of a REST consume request, in ms; 30 s stays under common proxy idle timeouts. */
    public static final long REST_CONSUME_MAX_WAIT_MS = 30_000;

    /**
     * Longest wait, in ms, of a REST or WebSocket produce with acks=all for the in-sync replicas to have its records,
     * before its results say REQUEST_TIMED_OUT: the Java producer's default request.timeout.ms.
     */
    public static final long HTTP_PRODUCE_REPLICATION_TIMEOUT_MS = 30_000;

    /** Most records in one produce request or frame, REST or WebSocket. */
    public static final int HTTP_PRODUCE_MAX_RECORDS = 10_000;

    /**
     * Seconds an HTTP or WebSocket connection may send nothing before it is closed. The server pings every WebSocket
     * each {@link #WS_PING_INTERVAL_MS}, and clients answer with pongs, so only a dead peer (a laptop that slept, a
     * dropped network) times out, and its subscriptions leave their groups. Longer than the longest REST long poll.
     */
    public static final int HTTP_READ_IDLE_TIMEOUT_S = 60;

    /** Interval, in ms, of the server's WebSocket pings; three fit in {@link #HTTP_READ_IDLE_TIMEOUT_S}. */
    public static final long WS_PING_INTERVAL_MS = 20_000;

    /**
     * Longest wait, in ms, for a topic change made by the controller (create, delete, grow, configure) to reach the
     * broker that asked for it, before the request fails with a timeout (the change may still land).
     */
    public static final long CLUSTER_CHANGE_TIMEOUT_MS = 30_000;

    /**
     * Longest wait, in ms, for a group change (a commit, a generation) to reach every in-sync replica of its
     * __consumer_offsets partition before the request fails with a timeout: Kafka's offsets.commit.timeout.ms.
     */
    public static final long OFFSET_COMMIT_TIMEOUT_MS = 5_000;

    /** After this long (ms), and as often again, a broker warns that a cluster metadata image is still being applied. */
    public static final long IMAGE_APPLY_WARN_MS = 10_000;

    // ---- the cluster: Hazelcast membership and the metadata quorum (package cluster) ----

    /** Seconds between two Hazelcast heartbeats of a member (and of a CP session). One second detects a frozen broker soon. */
    public static final int CLUSTER_HEARTBEAT_INTERVAL_S = 1;

    /**
     * Seconds without a heartbeat after which a broker is declared gone: Kafka's broker.session.timeout.ms is 9 s. A
     * killed broker is noticed at once, when its connections close.
     */
    public static final int CLUSTER_MEMBER_TIMEOUT_S = 10;

    /**
     * A leader's lease, in ms: a coordinator answers only while an in-sync follower fetched from its partition this
     * recently (or it is the whole ISR). Half the failure detection time, so that a coordinator cut off or frozen
     * knows itself deposed before the controller can have elected a successor; followers fetch at least every
     * {@link #REPLICA_FETCH_MAX_WAIT_MS}.
     */
    public static final long LEADER_LEASE_MS = CLUSTER_MEMBER_TIMEOUT_S * 1000L / 2;

    /** Seconds between Hazelcast's checks for a split cluster to merge: a broker cut off or frozen rejoins within seconds. */
    public static final int CLUSTER_MERGE_INTERVAL_S = 5;

    /**
     * How many times a starting broker joins its cluster when Hazelcast ends its member while it joins (a merge of
     * clusters formed apart refused it): brokers started at once may form three clusters whose merges refuse one
     * another.
     */
    public static final int CLUSTER_JOIN_ATTEMPTS = 3;

    /**
     * Longest wait, in ms, after a merge for Hazelcast's partition table to settle before the maps are read again
     * (read during the merge's migrations, they miss entries). Past it the broker reads anyway.
     */
    public static final long CLUSTER_MERGE_SETTLE_MS = 30_000;

    /** Pause, in ms, between two checks that the partition table settled after a merge (a local call). */
    public static final long CLUSTER_SAFE_POLL_MS = 100;

    /**
     * How often, in ms, each broker reads the broker registrations again whatever the events said: events can be
     * missed (a member failing, a merge) and an entry that does not change sends none again. A few small entries.
     */
    public static final long CLUSTER_REGISTRATION_CHECK_MS = 5_000;

    /**
     * How often, in ms, each broker reads the cluster metadata maps again whatever the events said (oldest-member
     * mode), for the same reason as {@link #CLUSTER_REGISTRATION_CHECK_MS}. One JSON text per topic; decoded only
     * when it changed.
     */
    public static final long CLUSTER_METADATA_CHECK_MS = 5_000;

    /**
     * Longest wait, in ms, of a Produce request for a topic or partition this broker does not know yet (in a cluster):
     * the controller's image usually arrives and is applied within milliseconds. The connection's later Produce
     * requests hand their batches over after it (their own waits run meanwhile); then it is refused with
     * UNKNOWN_TOPIC_OR_PARTITION. Not waited for by a client that may not write to the topic.
     */
    public static final long PRODUCE_UNKNOWN_PARTITION_WAIT_MS = CLUSTER_METADATA_CHECK_MS;

    /**
     * How long a new controller waits for every live member to register (a member that rejoined after a split brain
     * registers again with the newest placements it knows) before it decides anything without them.
     */
    public static final long CONTROLLER_REGISTRATION_WAIT_MS = 15_000;

    /** How often a new controller checks whether every live member has registered. */
    public static final long CONTROLLER_REGISTRATION_POLL_MS = 50;

    /** Longest wait, in ms, for a cluster thread (the CP election, the metadata poller) to end at shutdown. */
    public static final long CLUSTER_THREAD_JOIN_MS = 3_000;

    /**
     * Seconds a CP session (the controller lock holder's) lives without heartbeats: like Kafka's
     * broker.session.timeout.ms, so a frozen controller loses the lock in about as long as a frozen KRaft one.
     */
    public static final int CP_SESSION_TTL_S = 10;

    /**
     * Seconds after which Hazelcast removes a CP member that is missing from the cluster, so that a broker that is not
     * a CP member can take its seat. A restarted broker removes its former identity itself, at once (CpGroupKeeper);
     * this is for a broker that never comes back. Not short: each removal of a missing member shrinks the group (a
     * group of two drops its missing member on its leader's word alone), so a short one let a few overlapping faults
     * shrink the quorum to a single broker.
     */
    public static final int CP_MEMBER_REMOVAL_S = 300;

    /** The CP group's Raft timings, in ms and counts: a leader is suspected after 5 missed 1 s heartbeats. */
    public static final long CP_RAFT_HEARTBEAT_MS = 1_000;
    public static final int CP_RAFT_MISSED_HEARTBEATS = 5;
    public static final long CP_RAFT_ELECTION_TIMEOUT_MS = 2_000;

    /** Longest wait, in seconds, for one call to the CP subsystem: without a CP majority it fails instead of hanging a worker. */
    public static final int CP_CALL_TIMEOUT_S = 10;

    /**
     * How long, in ms, the CP election waits for the controller lock at a time, and how often its holder checks it
     * still holds it: a controller that lost its CP session gives the role up within this.
     */
    public static final long CP_ELECTION_POLL_MS = 1_000;

    /** How often, in ms, a broker checks the CP group's size (and promotes itself into a group that lost a member). */
    public static final long CP_GROUP_CHECK_MS = 2_000;

    /**
     * Checks of the CP group in a row without an answer (each waits up to {@link #CP_CALL_TIMEOUT_S}) after which the
     * oldest member resets a group that lost its majority for good (docs/cluster.md).
     */
    public static final int CP_RECOVERY_FAILED_CHECKS = 2;

    /** How often, in ms, a broker compares the CP metadata's version with the one it applied (a counter read). */
    public static final long CP_METADATA_POLL_MS = 1_000;

    /** Every this many version checks a broker reads the whole CP metadata image anyway (a missed announcement). */
    public static final int CP_METADATA_FULL_READ_POLLS = 10;

    // ---- replication: the follower side (package cluster) ----

    /** Longest time, in ms, a follower's fetch waits at the leader for new records (Kafka's replica.fetch.wait.max.ms). */
    public static final int REPLICA_FETCH_MAX_WAIT_MS = 500;

    /** Bytes a follower fetches per partition at most (Kafka's replica.fetch.max.bytes). */
    public static final int REPLICA_FETCH_PARTITION_MAX_BYTES = 1 << 20;

    /** Bytes of one follower fetch response at most (Kafka's replica.fetch.response.max.bytes is 10 MiB). */
    public static final int REPLICA_FETCH_RESPONSE_MAX_BYTES = 8 << 20;

    /** Pause, in ms, before a follower asks its leader again after an error (Kafka's replica.fetch.backoff.ms is 1 s). */
    public static final long REPLICA_FETCH_RETRY_MS = 200;

    /** How long, in ms, a follower whose disk is full waits before it tries to append again (Kafka's replica.fetch.backoff.ms). */
    public static final long REPLICA_STORAGE_RETRY_MS = 1_000;

    /** Longest wait, in ms, for a connection to another broker; a leader that does not answer is tried again. */
    public static final int BROKER_CONNECT_TIMEOUT_MS = 5_000;

    /**
     * Bytes of one answer another broker may send on an inter-broker connection (cluster.BrokerClient): a larger size
     * prefix closes the connection. A follower's fetch answer is bounded by the fetch sizes, except that each
     * partition returns at least one whole batch (up to message.max.bytes), so this leaves room for many partitions.
     */
    public static final int BROKER_RESPONSE_MAX_BYTES = 256 << 20;

    // ---- HTTP and WebSocket calls carried out at the leader (cluster.BrokerLinks) ----

    /** Connections a broker keeps to each other broker for its HTTP and WebSocket clients' requests, one request at a time each. */
    public static final int FORWARD_CONNECTIONS_PER_BROKER = 4;

    /** Such requests that wait for a connection to one broker; one more fails at once (503), as a full queue would drown it. */
    public static final int FORWARD_QUEUE_PER_BROKER = 1_024;

    /**
     * How long, in ms, a subscription's read at another broker waits there for records when it found none (the
     * Fetch's max_wait_ms): how soon a record appended to an idle partition reaches the page, at most.
     */
    public static final int FORWARD_FETCH_MAX_WAIT_MS = 250;

    /** Bytes a waiting read of an idle partition at another broker asks for (a first batch comes whole, as Kafka's fetch). */
    public static final int FORWARD_WAIT_READ_BYTES = 64 * 1024;

    /** How often, in ms, the HTTP endpoint notes the cluster's brokers, whose pages may open sockets here (OriginPolicy). */
    public static final long HTTP_CLUSTER_ORIGINS_REFRESH_MS = 1_000;

    /** Pause, in ms, before a read or a produce goes again to a partition's leader after it moved or could not be reached. */
    public static final long FORWARD_RETRY_BACKOFF_MS = 200;

    /** How long, in ms, a subscription's start keeps asking a partition's leader where to start while the leader is moving. */
    public static final long FORWARD_START_TIMEOUT_MS = 30_000;

    /** How many times a produce whose leader moved (NOT_LEADER_OR_FOLLOWER, nothing written) is sent again to the new leader. */
    public static final int FORWARD_PRODUCE_RETRIES = 10;

    // ---- the group coordinator (package group) ----

    /** How often, in ms, expired offsets are removed: Kafka's offsets.retention.check.interval.ms. */
    public static final long OFFSETS_RETENTION_CHECK_INTERVAL_MS = 600_000;

    /** Bytes of __consumer_offsets a group shard reads at a time while it replays its partition at start. */
    public static final int GROUP_LOAD_READ_BYTES = 1 << 20;

    /** Pause, in ms, before a transaction coordinator writes again the markers a partition did not take (its leader moved, say). */
    public static final long TXN_MARKER_RETRY_MS = 200;

    /**
     * Longest pause, in ms, between two attempts to store a transaction's completion once its markers are written (the
     * pause doubles from {@link #TXN_MARKER_RETRY_MS}): the transaction stays prepared, and its producer waits, until it is stored.
     */
    public static final long TXN_COMPLETION_RETRY_MAX_MS = 5_000;

    /**
     * Transactional ids whose partition check (KIP-890 verification, or a version 2 add) waits for the next
     * AddPartitionsToTxn request to one coordinator broker while one is in flight. Each is a producer's first write to a
     * partition in a transaction, so the queue holds at most one entry per active transactional producer; past the bound
     * a check is answered CONCURRENT_TRANSACTIONS (retried by the producer) rather than held.
     */
    public static final int TXN_VERIFICATIONS_QUEUED_PER_BROKER = 10_000;

    /**
     * How often a share state operation (a share-partition's read, write, summary, initialization or deletion) is tried
     * at its share coordinator while the coordinator is moving or out of reach, with pauses doubling from
     * {@link #SHARE_STATE_RETRY_BACKOFF_MS} (100, 200, 400, 800 ms: 1.5 s in all), as Kafka's persister retries; then
     * its error is the caller's (a fetch's partition error, an acknowledgement's COORDINATOR_NOT_AVAILABLE).
     */
    public static final int SHARE_STATE_ATTEMPTS = 5;
    public static final long SHARE_STATE_RETRY_BACKOFF_MS = 100;

    /**
     * Share state operations waiting for the next request to one share coordinator broker while one is in flight. They
     * go together, one request per group and operation kind; a second write of a share-partition replaces the first
     * (each carries the whole state). Past the bound an operation is answered COORDINATOR_NOT_AVAILABLE at once.
     */
    public static final int SHARE_STATE_QUEUED_PER_BROKER = 50_000;

    /**
     * Producers per partition whose transaction check is in progress (a verification guard, Kafka's
     * VerificationStateEntry). An entry lives from the check's start to the transaction's first append or its marker;
     * past the bound the oldest is dropped, and its producer's write then fails INVALID_TXN_STATE instead of being held.
     */
    public static final int TXN_VERIFICATION_GUARDS_PER_PARTITION = 10_000;

    // ---- WebSocket subscriptions (package http) ----

    /** Pause, in ms, before a subscription parks again when a wake-up found nothing to read (its partition's waits were full). */
    public static final long WS_IDLE_RETRY_MS = 100;

    /** Pause, in ms, before a WebSocket group member heartbeats again after a failed or retriable heartbeat. */
    public static final long WS_GROUP_HEARTBEAT_RETRY_MS = 1_000;

    /** Shortest interval, in ms, between two heartbeats of a WebSocket group member, whatever the coordinator asks. */
    public static final long WS_GROUP_HEARTBEAT_MIN_INTERVAL_MS = 100;

    /** The rebalance timeout, in ms, a WebSocket group member joins with: the Java consumer's max.poll.interval.ms is 5 min; a page answers faster. */
    public static final long WS_GROUP_REBALANCE_TIMEOUT_MS = 60_000;

    /**
     * How long, in ms, a WebSocket share subscription's fetch waits at this broker for records to acquire (a long poll,
     * as a share consumer's fetch.max.wait.ms); a fetch at another broker's partitions does not wait there (it would
     * hold a forwarding connection), and is made again after {@link #WS_SHARE_REMOTE_POLL_MS} when it found nothing.
     */
    public static final long WS_SHARE_FETCH_WAIT_MS = 500;
    public static final long WS_SHARE_REMOTE_POLL_MS = 250;

    /** Most records one fetch of a WebSocket share subscription acquires (fewer when its credit is smaller). */
    public static final int WS_SHARE_FETCH_MAX_RECORDS = 500;

    /** Most records one {@code ack} frame names, and most ack frames waiting per partition leader of a subscription. */
    public static final int WS_SHARE_ACKS_PER_FRAME = 10_000;
    public static final int WS_SHARE_ACK_FRAMES_QUEUED = 256;

    /** SCRAM users one cluster holds: the credential store is kept whole in memory and rewritten whole on each change. */
    public static final int SCRAM_USERS_MAX = 100_000;

    /** Failed SASL authentications logged per minute (the rest are counted only): a password-guessing client cannot flood the log. */
    public static final int AUTH_FAILURE_LOG_LINES_PER_MINUTE = 60;

    /** ACLs one cluster holds: kept whole in memory (indexed) and rewritten whole on each change. */
    public static final int ACLS_MAX = 100_000;

    /**
     * Groups with configuration overrides (IncrementalAlterConfigs on GROUP resources) in a cluster: the overrides are
     * one document every broker holds whole ({@code group.GroupConfigStore}); past the bound a change is refused
     * (POLICY_VIOLATION).
     */
    public static final int GROUP_CONFIGS_MAX = 10_000;

    /** Pause, in ms, before a starting broker asks again which metadata version the quorum committed (no controller yet). */
    public static final long STARTUP_VERSION_RETRY_MS = 250;

    /** Authorization denials logged per minute (the rest are counted only). */
    public static final int AUTHZ_DENIAL_LOG_LINES_PER_MINUTE = 60;

    /** Compare-and-set attempts of one change to a shared security document before it fails (each lost race is another broker's change). */
    public static final int SHARED_DOCUMENT_UPDATE_ATTEMPTS = 100;

    /** Console login sessions one broker holds (in memory; each a 32-byte id and a principal). */
    public static final int HTTP_SESSIONS_MAX = 10_000;

    /**
     * Largest frame, in bytes, on a metadata quorum connection (one Raft message: an append of a batch of metadata
     * records, or one snapshot chunk). A length beyond it closes the connection before anything is allocated.
     */
    public static final int QUORUM_MAX_FRAME_BYTES = 8 * 1024 * 1024;

    /**
     * Frames and bytes that may wait for one quorum peer (while connecting, or while its socket's write queue is
     * full); more are dropped and Raft sends again what matters. Two large appends or snapshot chunks fit.
     */
    public static final int QUORUM_PEER_QUEUE_FRAMES = 1_024;
    public static final long QUORUM_PEER_QUEUE_BYTES = 16L * 1024 * 1024;

    /** Received quorum messages that may wait for the Raft node's thread; more are dropped (Raft retries). */
    public static final int QUORUM_INBOUND_PENDING = 4_096;

    /** Reconnection backoff, in ms, to a quorum peer: doubles from the first to the second after each failure. */
    public static final long QUORUM_RECONNECT_MIN_MS = 100;
    public static final long QUORUM_RECONNECT_MAX_MS = 2_000;

    /** Time, in ms, a connection attempt to a quorum peer may take. */
    public static final long QUORUM_CONNECT_TIMEOUT_MS = 3_000;

    /**
     * A quorum peer counts as reachable for this long, in ms, after its last message arrived (or while a connection to
     * it is open): five of the leader's one-second heartbeats.
     */
    public static final long QUORUM_REACHABLE_MS = 5_000;

    /**
     * The metadata quorum's Raft timing (cluster.quorum.voters): an election round times out after the election timeout
     * (ms) and another starts; the leader sends a heartbeat every period (s). Followers take the leader for
     * failed after the heartbeat timeout (s) without one, and a leader steps down, and its controller with it, when it
     * has not heard from a majority for as long: both are about 3 s, so a deposed controller may act for a moment
     * while a new one is elected; the epoch in every metadata write fences it. Kafka's KRaft uses a 1 s election
     * timeout and a 2 s fetch timeout.
     */
    public static final int QUORUM_ELECTION_TIMEOUT_MS = 1_000;
    public static final int QUORUM_HEARTBEAT_PERIOD_S = 1;
    public static final int QUORUM_HEARTBEAT_TIMEOUT_S = 3;

    /** Committed metadata operations between two snapshots of the quorum's state machine (the log before is dropped). */
    public static final int QUORUM_SNAPSHOT_EVERY_COMMITS = 10_000;

    /** Time, in ms, before a voter whose quorum member failed to start tries again. */
    public static final long QUORUM_START_RETRY_MS = 5_000;

    /**
     * Longest wait, in ms, for the metadata quorum's leader to hand its leadership to another voter in a controlled
     * shutdown (MicroRaft's leadership transfer, after the target has caught up); past it the broker stops anyway
     * and the others elect a leader after the heartbeat timeout.
     */
    public static final long QUORUM_HANDOVER_TIMEOUT_MS = 5_000;

    /** How often, in ms, a voter waiting for the others' endpoints (a new quorum's first start) looks again. */
    public static final long QUORUM_VOTERS_WAIT_POLL_MS = 200;

    /**
     * How long, in ms, a metadata observer's request waits at a voter for an image newer than the observer's (a change
     * answers it at once), and the longest wait a voter grants.
     */
    public static final long QUORUM_OBSERVER_WAIT_MS = 10_000;
    public static final int QUORUM_OBSERVER_WAIT_MAX_MS = 30_000;

    /** Time, in ms, beyond the wait that an observer gives a voter to answer before it moves to another voter. */
    public static final long QUORUM_OBSERVER_GRACE_MS = 5_000;

    /** Largest metadata image, in bytes, an observer reads (all of an answer's chunks); a larger one closes the connection. */
    public static final long QUORUM_OBSERVER_MAX_IMAGE_BYTES = 512L * 1024 * 1024;

    /** Observer connections one voter serves at once (one per broker of the cluster that is not a voter); more are refused. */
    public static final int QUORUM_OBSERVER_CONNECTIONS_MAX = 1_024;

    /**
     * How often, in ms, the quorum's election checks whether this broker leads the quorum (and, while controller,
     * still does): a controller whose node stopped leading gives the role up within this.
     */
    public static final long RAFT_ELECTION_POLL_MS = 200;

    /**
     * How long, in ms, a starting broker of a cluster waits to apply the cluster metadata and be unfenced before it
     * reports itself started anyway (fenced: clients are not sent to it until the metadata arrives). A healthy cluster
     * answers in milliseconds; the bound keeps a broker that cannot reach the metadata quorum from hanging its start.
     */
    public static final long STARTUP_UNFENCE_WAIT_MS = 15_000;
}
