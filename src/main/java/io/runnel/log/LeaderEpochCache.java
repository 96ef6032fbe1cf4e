package io.runnel.log;

import io.runnel.log.value.EpochEnd;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;

/**
 * A partition's leader epochs and the offset at which each began (Kafka's LeaderEpochFileCache): the answer to
 * OffsetForLeaderEpoch, with which a follower of a new leader finds where its log diverged (KIP-101, KIP-279).
 *
 * <p>File {@code leader-epoch-checkpoint} in the partition directory, text as Kafka writes it: a version line
 * ({@code 0}), an entry count line, then one {@code <epoch> <startOffset>} line per epoch, epochs and offsets
 * increasing. It is written whole under a temporary name, fsynced and renamed ({@link Checkpoints}), so a crash
 * leaves the old or the new file. It is derived data: a missing or unreadable file is rebuilt from the leader epochs
 * stamped in the log's batches ({@link #rebuild}).
 *
 * <p>{@link #assign} changes only the entries in memory: its owner writes {@link #checkpoint} with
 * {@link #writeCheckpoint} off the event loop (the fsyncs would hold it), ordered before any flush of the records
 * the new epoch covers; at start {@link #assignFrom} takes the epochs of the batches a crash may have left after
 * the last checkpoint write. Truncations and rebuilds are blocking and write at once.
 */
public final class LeaderEpochCache {
    public static final String FILE = "leader-epoch-checkpoint";
    /** Kafka's UNDEFINED_EPOCH and UNDEFINED_EPOCH_OFFSET. */
    public static final int UNDEFINED_EPOCH = -1;
    public static final long UNDEFINED_OFFSET = -1;

    /** One epoch and the first offset written in it. */
    public record Entry(int epoch, long startOffset) {
    }

    private final Path file;
    private final List<Entry> entries = new ArrayList<>();

    private LeaderEpochCache(Path file) {
        this.file = file;
    }

    /** Reads the checkpoint in {@code dir}; null when it is missing or unreadable (then {@link #rebuild}). Blocking. */
    public static LeaderEpochCache load(Path dir) {
        LeaderEpochCache c = new LeaderEpochCache(dir.resolve(FILE));
        if (!Files.exists(c.file)) return null;
        try {
            List<String> lines = Files.readAllLines(c.file, StandardCharsets.UTF_8);
            if (lines.size() < 2 || !lines.get(0).trim().equals("0")) return null;
            int n = Integer.parseInt(lines.get(1).trim());
            if (lines.size() < 2 + n) return null;
            for (int i = 0; i < n; i++) {
                String[] parts = lines.get(2 + i).trim().split("\\s+");
                Entry e = new Entry(Integer.parseInt(parts[0]), Long.parseLong(parts[1]));
                if (!c.entries.isEmpty() && (e.epoch() <= c.latest().epoch() || e.startOffset() < c.latest().startOffset())) return null;
                c.entries.add(e);
            }
            return c;
        } catch (IOException | RuntimeException e) {
            return null;
        }
    }

    /** Builds the cache from the leader epochs stamped in the log's batches, and writes it. Blocking. */
    public static LeaderEpochCache rebuild(Path dir, Log log) throws IOException {
        LeaderEpochCache c = new LeaderEpochCache(dir.resolve(FILE));
        c.assignBatches(log, log.logStartOffset());
        c.write();
        return c;
    }

    private Entry latest() {
        return entries.get(entries.size() - 1);
    }

    /** The newest epoch, or {@link #UNDEFINED_EPOCH}. */
    public int latestEpoch() {
        return entries.isEmpty() ? UNDEFINED_EPOCH : latest().epoch();
    }

    /** The epoch in which {@code offset} was written (the latest epoch starting at or before it), or {@link #UNDEFINED_EPOCH}. */
    public int epochForOffset(long offset) {
        int epoch = UNDEFINED_EPOCH;
        for (Entry e : entries) {
            if (e.startOffset() > offset) break;
            epoch = e.epoch();
        }
        return epoch;
    }

    /** The oldest epoch when it began at or before {@code logStartOffset} (it covers the first record), else undefined. */
    public int earliestEpochCovering(long logStartOffset) {
        return !entries.isEmpty() && entries.get(0).startOffset() <= logStartOffset ? entries.get(0).epoch() : UNDEFINED_EPOCH;
    }

    public List<Entry> entries() {
        return List.copyOf(entries);
    }

    /**
     * Records in memory that {@code epoch} begins at {@code startOffset} (a leader taking over, or a follower
     * appending the first batch of a newer epoch); returns whether the entries changed (then the owner writes the
     * {@link #checkpoint}). An epoch that is not newer than the latest is ignored.
     */
    public boolean assign(int epoch, long startOffset) {
        if (epoch < 0 || (!entries.isEmpty() && epoch <= latest().epoch())) return false;
        // An older epoch that began at or after this offset never held records: Kafka drops it too.
        entries.removeIf(e -> e.startOffset() >= startOffset);
        entries.add(new Entry(epoch, startOffset));
        return true;
    }

    /**
     * Assigns the epochs stamped in the batches from the one holding {@code fromOffset} to the log end (at start:
     * from the recovery point, where a crash may have come before the checkpoint of a newer epoch was written), and
     * writes the checkpoint when that changed anything. Blocking.
     */
    public void assignFrom(Log log, long fromOffset) throws IOException {
        if (assignBatches(log, fromOffset)) write();
    }

    /** {@link #assign}s the epoch of each batch from the one holding {@code fromOffset} on; whether anything changed. */
    private boolean assignBatches(Log log, long fromOffset) throws IOException {
        boolean[] changed = {false};
        if (fromOffset < log.logEndOffset()) {
            log.forEachBatchHeader(Math.max(fromOffset, log.logStartOffset()), h -> changed[0] |= assign(BatchHeader.partitionLeaderEpoch(h, 0),
                    BatchHeader.baseOffset(h, 0)));
        }
        return changed[0];
    }

    /** The checkpoint file's content for the entries now (taken by the owner, written by {@link #writeCheckpoint}). */
    public byte[] checkpoint() {
        StringBuilder b = new StringBuilder("0\n").append(entries.size()).append('\n');
        for (Entry e : entries) b.append(e.epoch()).append(' ').append(e.startOffset()).append('\n');
        return b.toString().getBytes(StandardCharsets.UTF_8);
    }

    /** Writes a {@link #checkpoint} into partition directory {@code dir}, crash safe. Blocking. */
    public static void writeCheckpoint(Path dir, byte[] checkpoint) throws IOException {
        Checkpoints.writeAtomically(dir.resolve(FILE), checkpoint);
    }

    /**
     * Where {@code epoch} ended, as the leader answers OffsetForLeaderEpoch: for the latest epoch the log end offset;
     * for an older one the start of the next epoch after it; for an epoch older than every known one, undefined.
     */
    public EpochEnd endOffsetFor(int epoch, long logEndOffset) {
        if (entries.isEmpty() || epoch < entries.get(0).epoch()) return new EpochEnd(UNDEFINED_EPOCH, UNDEFINED_OFFSET);
        if (epoch >= latest().epoch()) return new EpochEnd(latest().epoch(), logEndOffset);
        Entry floor = null;
        for (int i = 0; i < entries.size(); i++) {
            Entry e = entries.get(i);
            if (e.epoch() > epoch) return new EpochEnd(floor.epoch(), e.startOffset());
            floor = e;
        }
        return new EpochEnd(latest().epoch(), logEndOffset);
    }

    /** Forgets the epochs that began at or after {@code endOffset} (the log was truncated there). Blocking. */
    public void truncateFromEnd(long endOffset) throws IOException {
        if (entries.removeIf(e -> e.startOffset() >= endOffset)) write();
    }

    /**
     * Forgets what lies before {@code startOffset} (retention moved the log start): the epoch that holds it now
     * begins there. Blocking.
     */
    public void truncateFromStart(long startOffset) throws IOException {
        int holder = -1;
        for (int i = 0; i < entries.size(); i++) if (entries.get(i).startOffset() <= startOffset) holder = i;
        if (holder < 0) return;
        Entry h = entries.get(holder);
        if (holder == 0 && h.startOffset() == startOffset) return;
        entries.subList(0, holder + 1).clear();
        entries.add(0, new Entry(h.epoch(), startOffset));
        write();
    }

    /** Writes the checkpoint now. Blocking. */
    public void write() throws IOException {
        Checkpoints.writeAtomically(file, checkpoint());
    }
}
