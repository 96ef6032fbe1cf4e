package io.runnel.chaos;

import java.util.List;
import java.util.Map;
import java.util.Queue;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ConcurrentLinkedQueue;
import java.util.concurrent.atomic.AtomicLong;

/**
 * What the workloads of a chaos run did and saw, and the state read back at the end: the input of {@link Checker}.
 * Workload threads append; the final fields are set once the workloads have stopped.
 *
 * <p>Values are {@code p<producer>-k<key>:<seq>}: the part before the colon is the record key, and the sequence
 * grows by one per record of that key, so order per key can be read off the log.
 */
final class History {
    /** A record the broker acknowledged (acks=all) at this partition and offset. */
    record Ack(String value, int partition, long offset, long atMs) {
    }

    /** A send that failed (after the producer's retries), at the partition it was for (-1 when none was chosen). */
    record SendFailure(int partition, long atMs) {
    }

    /** A record a reader was given. {@code reader} names the workload: {@link #GROUP}, {@link #WEBSOCKET} or {@link #COMMITTED_READER}. */
    record Read(String reader, int partition, long offset, String value) {
    }

    /** A consumer-group commit the coordinator acknowledged, or a committed offset read back with the Admin client. */
    record Offset(int partition, long offset, long atMs) {
    }

    /**
     * What a broker claimed in one reading of its {@code /api/cluster}: the controller epoch it acts in (-1 for none)
     * and the partitions it leads ({@code topic-partition} to leader epoch).
     */
    record Claim(int broker, long atMs, long controllerEpoch, Map<String, Integer> leaderEpochs) {
    }

    /** One record of a partition as read back at the end. */
    record Entry(long offset, String value) {
    }

    static final String GROUP = "group";
    static final String COMMITTED_READER = "read_committed";
    static final String WEBSOCKET = "websocket";
    /** Records a transaction writes before it is aborted on purpose; no read_committed reader may ever see one. */
    static final String ABORTED_PREFIX = "ABORTED:";

    final Queue<Ack> acks = new ConcurrentLinkedQueue<>();
    final Queue<Read> reads = new ConcurrentLinkedQueue<>();
    final Queue<Offset> commits = new ConcurrentLinkedQueue<>();
    final Queue<Offset> observedOffsets = new ConcurrentLinkedQueue<>();
    final Queue<Claim> claims = new ConcurrentLinkedQueue<>();
    final AtomicLong sendFailures = new AtomicLong();
    final Queue<SendFailure> failedSends = new ConcurrentLinkedQueue<>();
    final AtomicLong transactionsCommitted = new AtomicLong();
    final AtomicLong transactionsAborted = new AtomicLong();
    final Map<String, AtomicLong> errors = new ConcurrentHashMap<>();
    /** The first message of each kind of error in {@link #errors}. */
    final Map<String, String> errorExamples = new ConcurrentHashMap<>();

    /** When the load started and when the producers stopped (epoch ms; 0 until then). */
    volatile long startedMs;
    volatile long producersStoppedMs;
    /** Set when the final state could not be read back: the checks that compare with it cannot be made. */
    volatile boolean finalStateUnread;
    /** The input topic, every partition from its start, read_uncommitted. */
    volatile Map<Integer, List<Entry>> finalLog = Map.of();
    /** The consumer group's committed offsets at the end. */
    volatile Map<Integer, Long> finalCommitted = Map.of();
    /** The transactional copy's output topic at the end, read_committed. */
    volatile Map<Integer, List<Entry>> finalOutput = Map.of();
    /** The transactional copy's committed input offsets at the end. */
    volatile Map<Integer, Long> copyCommitted = Map.of();

    void error(String where, Throwable e) {
        Throwable cause = e.getCause() != null && e.getCause() != e ? e.getCause() : e;
        String kind = where + ": " + cause.getClass().getSimpleName();
        errors.computeIfAbsent(kind, k -> new AtomicLong()).incrementAndGet();
        if (cause.getMessage() != null) errorExamples.putIfAbsent(kind, cause.getMessage());
    }
}
