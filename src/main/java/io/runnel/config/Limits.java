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
}
