package io.runnel.http;

import io.runnel.config.Limits;
import io.runnel.http.RecordJson.Outgoing;
import io.runnel.log.value.AppendInfo;
import io.runnel.metrics.BrokerMetrics;
import io.runnel.partition.Acks;
import io.runnel.partition.LocalTopic;
import io.runnel.partition.PartitionHandle;
import io.runnel.partition.TopicRegistry;
import io.runnel.cluster.BrokerLinks;
import io.vertx.core.Future;
import io.vertx.core.Promise;
import io.vertx.core.Vertx;
import io.vertx.core.json.JsonArray;
import io.vertx.core.json.JsonObject;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.atomic.AtomicInteger;
import org.apache.kafka.common.TopicPartition;
import org.apache.kafka.common.compress.Compression;
import org.apache.kafka.common.errors.BrokerNotAvailableException;
import org.apache.kafka.common.protocol.Errors;
import org.apache.kafka.common.record.TimestampType;
import org.apache.kafka.common.record.internal.DefaultRecordBatch;
import org.apache.kafka.common.record.internal.MemoryRecords;
import org.apache.kafka.common.record.internal.RecordBatch;
import org.apache.kafka.common.record.internal.SimpleRecord;
import org.apache.kafka.common.utils.Time;
import org.apache.kafka.common.utils.Utils;

/**
 * Appends records that arrived as JSON (REST or WebSocket) the way a Kafka producer would: a record's explicit
 * partition, else the murmur2 hash of its key (Kafka's BuiltInPartitioner.partitionForKey, so a key lands on the same
 * partition whichever client wrote it), else round robin. Records of one partition become v2 batches no larger than
 * the topic's max.message.bytes, appended in order; each record gets its own result.
 */
public final class Publisher {
    /** Bytes a v2 batch header takes, plus a generous per-record overhead, for splitting into batches. */
    private static final int BATCH_OVERHEAD = DefaultRecordBatch.RECORD_BATCH_OVERHEAD;
    private static final int RECORD_OVERHEAD = 32;

    private final TopicRegistry partitions;
    private final Time time;
    private final AtomicInteger roundRobin = new AtomicInteger();
    private final BrokerMetrics metrics;
    /** Where partitions led by other brokers are written, in a cluster; null for a single broker. */
    private final BrokerLinks links;
    private final Vertx vertx;

    public Publisher(TopicRegistry partitions, Time time, BrokerMetrics metrics) {
        this(partitions, time, metrics, null, null);
    }

    public Publisher(TopicRegistry partitions, Time time, BrokerMetrics metrics, BrokerLinks links, Vertx vertx) {
        this.partitions = partitions;
        this.time = time;
        this.metrics = metrics;
        this.links = links;
        this.vertx = vertx;
    }

    /** Where one record went, or why it did not. */
    public record Result(int partition, long offset, long timestamp, ApiError error) {
    }

    /**
     * Appends {@code records} to {@code topic} and answers once the leader has them ({@code acksAll} false, Kafka's
     * acks=1) or once every in-sync replica has them (acks=all, as a Kafka producer by default: refused while the
     * in-sync replicas are fewer than the topic's min.insync.replicas, and failed when they do not have the records
     * within {@link Limits#HTTP_PRODUCE_REPLICATION_TIMEOUT_MS}). Fails as a whole only when the topic does not exist.
     * In a cluster, the records of a partition another broker leads are produced at that broker ({@link #forward}).
     */
    public Future<List<Result>> publish(String topic, List<Outgoing> records, boolean acksAll) {
        LocalTopic t = partitions.topic(topic).orElse(null);
        if (t == null) return Future.failedFuture(ApiError.unknownTopic(topic));
        Result[] results = new Result[records.size()];
        Map<Integer, List<Integer>> byPartition = assign(t, records, results);
        int maxBatch = t.config().maxMessageBytes();
        Acks acks = acksAll ? Acks.all(t.config().minInsyncReplicas(), Limits.HTTP_PRODUCE_REPLICATION_TIMEOUT_MS) : Acks.LEADER;
        long now = time.milliseconds();
        List<Future<Void>> all = new ArrayList<>();
        byPartition.forEach((p, indexes) -> {
            Future<Void> chain = Future.succeededFuture();
            for (List<Integer> chunk : chunks(records, indexes, maxBatch)) {
                chain = chain.compose(v -> appendAtLeader(topic, p, acksAll, acks, records, chunk, now, results, 0));
            }
            all.add(chain);
        });
        return Future.join(all).transform(ignored -> Future.succeededFuture(Arrays.asList(results)));
    }

    /**
     * The partition of each record (indexes into {@code records}, grouped by partition, in order): its explicit one,
     * else the murmur2 hash of its key, else round robin. A record naming a partition the topic lacks gets its error in
     * {@code results} instead.
     */
    Map<Integer, List<Integer>> assign(LocalTopic t, List<Outgoing> records, Result[] results) {
        int count = t.partitions().size();
        Map<Integer, List<Integer>> byPartition = new LinkedHashMap<>();
        for (int i = 0; i < records.size(); i++) {
            Outgoing r = records.get(i);
            int p;
            if (r.partition() != null) {
                p = r.partition();
                if (p >= count) {
                    results[i] = new Result(p, -1, -1, ApiError.unknownPartition(t.name(), p));
                    continue;
                }
            } else if (r.key() != null) {
                p = Utils.toPositive(Utils.murmur2(r.key())) % count;
            } else {
                p = Utils.toPositive(roundRobin.getAndIncrement()) % count;
            }
            byPartition.computeIfAbsent(p, x -> new ArrayList<>()).add(i);
        }
        return byPartition;
    }

    /** The records of {@code chunk} as the records of a batch, stamped {@code now} unless they carry a timestamp. */
    static SimpleRecord[] batchOf(List<Outgoing> records, List<Integer> chunk, long now) {
        SimpleRecord[] batch = new SimpleRecord[chunk.size()];
        for (int j = 0; j < chunk.size(); j++) {
            Outgoing r = records.get(chunk.get(j));
            batch[j] = new SimpleRecord(r.timestamp() == null ? now : r.timestamp(), r.key(), r.value(), r.headers());
        }
        return batch;
    }

    /**
     * Appends {@code chunk} where partition {@code p} is led now: here, or at its leader through {@link #links}. A
     * leader that moved before it wrote anything (NOT_LEADER_OR_FOLLOWER, or not reachable at all) is asked again
     * where the metadata says the partition went, at most {@link Limits#FORWARD_PRODUCE_RETRIES} times, as a Kafka
     * producer retries; a request that may have been written (timed out, connection lost) is not sent twice.
     */
    private Future<Void> appendAtLeader(String topic, int p, boolean acksAll, Acks acks, List<Outgoing> records, List<Integer> chunk, long now,
                                        Result[] results, int attempt) {
        LocalTopic t = partitions.topic(topic).orElse(null);
        if (t == null) {
            for (int i : chunk) results[i] = new Result(p, -1, -1, ApiError.unknownTopic(topic));
            return Future.succeededFuture();
        }
        PartitionHandle h = t.local(p);
        if (h != null && h.isLeader()) return append(topic, h, p, acks, records, chunk, now, results);
        int leader = t.leader(p);
        if (links == null || leader < 0) {
            if (links != null && attempt < Limits.FORWARD_PRODUCE_RETRIES) return retry(topic, p, acksAll, acks, records, chunk, now, results, attempt);
            ApiError e = ApiError.notHere(topic, p, leader);
            for (int i : chunk) results[i] = new Result(p, -1, -1, e);
            return Future.succeededFuture();
        }
        SimpleRecord[] batch = batchOf(records, chunk, now);
        MemoryRecords built = MemoryRecords.withRecords(RecordBatch.MAGIC_VALUE_V2, 0L, Compression.NONE, TimestampType.CREATE_TIME, batch);
        return links.produce(leader, new TopicPartition(topic, p), built, acksAll, (int) Limits.HTTP_PRODUCE_REPLICATION_TIMEOUT_MS).transform(ar -> {
            Errors error = ar.succeeded() ? Errors.forCode(ar.result().errorCode()) : null;
            boolean notWritten = ar.succeeded() ? error == Errors.NOT_LEADER_OR_FOLLOWER || error == Errors.LEADER_NOT_AVAILABLE
                    : unreachable(ar.cause());
            if (notWritten && attempt < Limits.FORWARD_PRODUCE_RETRIES) return retry(topic, p, acksAll, acks, records, chunk, now, results, attempt);
            if (ar.failed()) {
                ApiError e = ApiError.of(ar.cause());
                for (int i : chunk) results[i] = new Result(p, -1, -1, e);
            } else if (error != Errors.NONE) {
                ApiError e = ApiError.of(error.exception(ar.result().errorMessage()));
                for (int i : chunk) results[i] = new Result(p, -1, -1, e);
            } else {
                written(results, p, chunk, batch, new AppendInfo(ar.result().baseOffset(), ar.result().baseOffset() + chunk.size() - 1, chunk.size(),
                        ar.result().logAppendTimeMs(), ar.result().logStartOffset()));
            }
            return Future.<Void>succeededFuture();
        });
    }

    /** Whether a forwarded request failed before the leader could have written anything: its broker was not reached. */
    static boolean unreachable(Throwable e) {
        return e instanceof BrokerNotAvailableException || e instanceof java.net.ConnectException;
    }

    private Future<Void> retry(String topic, int p, boolean acksAll, Acks acks, List<Outgoing> records, List<Integer> chunk, long now, Result[] results,
                               int attempt) {
        Promise<Void> later = Promise.promise();
        vertx.setTimer(Limits.FORWARD_RETRY_BACKOFF_MS, x -> appendAtLeader(topic, p, acksAll, acks, records, chunk, now, results, attempt + 1)
                .onComplete(later));
        return later.future();
    }

    private Future<Void> append(String topic, PartitionHandle h, int p, Acks acks, List<Outgoing> records, List<Integer> chunk, long now,
                                Result[] results) {
        SimpleRecord[] batch = batchOf(records, chunk, now);
        int bytes = payloadOf(records, chunk);
        var buffer = MemoryRecords.withRecords(RecordBatch.MAGIC_VALUE_V2, 0L, Compression.NONE, TimestampType.CREATE_TIME, batch).buffer();
        return h.append(buffer, acks).transform(ar -> {
            if (ar.succeeded()) {
                AppendInfo info = ar.result();
                metrics.recordsIn(topic, chunk.size(), bytes);
                written(results, p, chunk, batch, info);
            } else {
                ApiError e = ApiError.of(ar.cause());
                for (int i : chunk) results[i] = new Result(p, -1, -1, e);
            }
            return Future.<Void>succeededFuture();
        });
    }

    /** The results of {@code chunk}'s records, appended as {@code batch} to {@code partition} as {@code info} says. */
    static void written(Result[] results, int partition, List<Integer> chunk, SimpleRecord[] batch, AppendInfo info) {
        for (int j = 0; j < chunk.size(); j++) {
            long ts = info.logAppendTimeMs() >= 0 ? info.logAppendTimeMs() : batch[j].timestamp();
            results[chunk.get(j)] = new Result(partition, info.firstOffset() + j, ts, null);
        }
    }

    static int payloadOf(List<Outgoing> records, List<Integer> chunk) {
        int bytes = 0;
        for (int i : chunk) bytes += records.get(i).payloadBytes();
        return bytes;
    }

    /** Splits a partition's records into runs whose estimated batch size stays within {@code maxBatch}. */
    static List<List<Integer>> chunks(List<Outgoing> records, List<Integer> indexes, int maxBatch) {
        List<List<Integer>> out = new ArrayList<>();
        List<Integer> current = new ArrayList<>();
        int size = BATCH_OVERHEAD;
        for (int i : indexes) {
            int s = records.get(i).payloadBytes() + RECORD_OVERHEAD + 8 * records.get(i).headers().length;
            if (!current.isEmpty() && size + s > maxBatch) {
                out.add(current);
                current = new ArrayList<>();
                size = BATCH_OVERHEAD;
            }
            current.add(i);
            size += s;
        }
        if (!current.isEmpty()) out.add(current);
        return out;
    }

    /** Results as the APIs answer them: {partition, offset, timestamp}, or {partition, error, message}. */
    static JsonArray toJson(List<Result> results) {
        JsonArray out = new JsonArray();
        for (Result r : results) {
            JsonObject o = new JsonObject().put("partition", r.partition());
            if (r.error() == null) {
                o.put("offset", r.offset()).put("timestamp", r.timestamp());
            } else {
                o.put("error", r.error().code()).put("message", r.error().getMessage());
            }
            out.add(o);
        }
        return out;
    }
}
