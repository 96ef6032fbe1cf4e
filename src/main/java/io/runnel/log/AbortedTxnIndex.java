package io.runnel.log;

import io.runnel.log.value.AbortedTxn;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.file.DirectoryStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.ArrayList;
import java.util.Collection;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.NavigableSet;
import java.util.Set;
import java.util.TreeMap;
import java.util.TreeSet;
import java.util.concurrent.ConcurrentHashMap;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The aborted transactions of a partition's log, for read_committed fetches: each names the producer, the
 * transaction's first offset and the offset of its ABORT marker, and the last stable offset when it was aborted. A
 * read_committed consumer is sent those that overlap what it fetched and drops their records (KIP-98).
 *
 * <p>Files: Kafka's transaction index, one {@code NNNNNNNNNNNNNNNNNNNN.txnindex} per segment that holds ABORT markers
 * (named by the segment's base offset, deleted with the segment), append-only, one 34-byte entry per abort whose
 * marker is in that segment, big endian: {@code int16 version=0, int64 producerId, int64 firstOffset, int64
 * lastOffset, int64 lastStableOffset} (Kafka's {@code AbortedTxn}), in marker order. An append is written on the
 * partition's worker queue and fsynced with the log's next flush, before the log and the producer snapshot of that
 * flush: a crash can lose only entries whose markers come after the last snapshot, and the producer-state replay after
 * it writes those again ({@link #lastOffset}).
 *
 * <p>Loading checks every entry, as Kafka's sanity check does and further: the version; the marker inside its file's
 * segment and after the previous entry's; the last stable offset not past the marker nor before the previous entry's; and, since the format carries
 * no checksum, against the log itself: the
 * batch at {@code lastOffset} must be a control batch of the producer, and the batch at {@code firstOffset} (when
 * retention left it) a transactional batch of the producer starting there. A torn entry (a crash's, in the newest
 * file, or damage) or any other failure makes the index {@link #damaged}, and it is rebuilt from the whole log.
 * Entries past the log end (a crash lost their markers, or damage moved them there: the two cannot be told apart)
 * make it {@link #damaged} too; files of segments that no longer exist are dropped, and so is the single {@code aborted-transactions} file of earlier Runnel versions (its content is rebuilt from the log).
 * What the format cannot show, as in Kafka, is a file cut at an entry boundary or deleted: entries lost that way before
 * the last producer snapshot stay lost (fsync ordering, not checks, keeps a crash from doing that).
 *
 * <p>Memory: the entries of the whole log live in memory too (32 bytes each).
 *
 * <p>Threading: the in-memory list belongs to the partition's context; the {@code write*} and {@link #sync} methods
 * take what was prepared there and run on its worker queue.
 */
public final class AbortedTxnIndex {
    private static final Logger LOG = LoggerFactory.getLogger(AbortedTxnIndex.class);
    public static final String SUFFIX = ".txnindex";
    /** The single index file of Runnel before it used Kafka's per-segment files; replaced at load. */
    static final String LEGACY_FILE = "aborted-transactions";
    static final int ENTRY_SIZE = 34;
    static final short VERSION = 0;

    private final Path dir;
    private final List<AbortedTxn> entries;
    /** Files appended to since the last {@link #sync} (worker queue only, but read by whichever worker runs it). */
    private final Set<Path> unsynced = ConcurrentHashMap.newKeySet();
    private boolean damaged;

    /** Bytes to append to one segment's file ({@link #writeAppend}). */
    public record Append(Path file, byte[] bytes) {
    }

    private AbortedTxnIndex(Path dir, List<AbortedTxn> entries) {
        this.dir = dir;
        this.entries = entries;
    }

    /** The index file of the segment based at {@code baseOffset}. */
    public static Path file(Path dir, long baseOffset) {
        return dir.resolve(Segment.fileName(baseOffset, SUFFIX));
    }

    /** Reads and checks the index files of {@code log} (see the class comment). Blocking. */
    public static AbortedTxnIndex load(Path dir, Log log) throws IOException {
        NavigableSet<Long> bases = new TreeSet<>(log.segmentBaseOffsets());
        TreeMap<Long, Path> files = new TreeMap<>();
        try (DirectoryStream<Path> ds = Files.newDirectoryStream(dir, "*" + SUFFIX)) {
            for (Path p : ds) {
                String name = p.getFileName().toString();
                Long base = parseBase(name.substring(0, name.length() - SUFFIX.length()));
                if (base != null && bases.contains(base)) files.put(base, p);
                else Files.deleteIfExists(p); // its segment is gone
            }
        }
        List<AbortedTxn> out = new ArrayList<>();
        boolean damaged = false;
        Path legacy = dir.resolve(LEGACY_FILE);
        if (Files.exists(legacy)) {
            LOG.info("Replacing the aborted-transaction index of {} with Kafka's per-segment .txnindex files", dir.getFileName());
            Files.delete(legacy);
            damaged = true;
        }
        long previous = -1;
        long previousStable = 0;
        for (Map.Entry<Long, Path> f : files.entrySet()) {
            if (damaged) break;
            long base = f.getKey();
            Long next = bases.higher(base);
            long end = next == null ? Long.MAX_VALUE : next;
            ByteBuffer b = ByteBuffer.wrap(Files.readAllBytes(f.getValue()));
            if (b.remaining() % ENTRY_SIZE != 0) {
                // A torn entry: a crash's (only the newest file takes appends) or damage. Which entry it was cannot be
                // told, nor whether the producer snapshot is older than it, so the index is rebuilt either way.
                damaged = true;
                break;
            }
            int whole = 0;
            while (b.remaining() >= ENTRY_SIZE) {
                short version = b.getShort();
                AbortedTxn t = new AbortedTxn(b.getLong(), b.getLong(), b.getLong(), b.getLong());
                // The last stable offset never goes back from one abort to the next (an open transaction's first
                // offset, or the offset after the marker); reads do not use it (Kafka's index search does).
                if (version != VERSION || t.lastOffset() < base || t.lastOffset() >= end || t.lastOffset() <= previous
                        || t.firstOffset() < 0 || t.firstOffset() > t.lastOffset() || t.lastStableOffset() < previousStable
                        || t.lastStableOffset() > t.lastOffset() + 1) {
                    damaged = true;
                    break;
                }
                previous = t.lastOffset();
                previousStable = t.lastStableOffset();
                if (t.lastOffset() >= log.logEndOffset()) {
                    // A crash that lost the log's tail (power loss, or a follower's truncation not yet rewritten in the
                    // file) leaves such entries, but so does damage to a marker offset (a flipped high bit), and then
                    // the true entry, before the producer snapshot, would be lost: rebuild, as Kafka rebuilds the
                    // transaction index of every segment after the recovery point of an unclean shutdown.
                    damaged = true;
                    break;
                }
                whole++;
                if (t.lastOffset() < log.logStartOffset()) continue; // retention moved the start past it
                if (!matchesLog(t, log)) {
                    damaged = true;
                    break;
                }
                out.add(t);
            }
            if (!damaged && (long) whole * ENTRY_SIZE != Files.size(f.getValue())) writeFile(f.getValue(), entriesOf(out, base, end));
        }
        AbortedTxnIndex index = new AbortedTxnIndex(dir, out);
        index.damaged = damaged;
        return index;
    }

    /** Whether the log holds the transaction {@code t} names: its marker, and its first batch if retention left it. */
    private static boolean matchesLog(AbortedTxn t, Log log) throws IOException {
        ByteBuffer marker = log.batchHeaderAt(t.lastOffset());
        if (marker == null || !BatchHeader.isControl(marker, 0) || BatchHeader.producerId(marker, 0) != t.producerId()
                || BatchHeader.baseOffset(marker, 0) != t.lastOffset()) {
            return false;
        }
        if (t.firstOffset() < log.logStartOffset()) return true;
        ByteBuffer first = log.batchHeaderAt(t.firstOffset());
        // Compaction removes the records of aborted transactions: a batch starting exactly there must be the
        // producer's transactional one, but a gap (a later batch holds the offset) is expected.
        return first == null || BatchHeader.baseOffset(first, 0) != t.firstOffset()
                || BatchHeader.producerId(first, 0) == t.producerId() && BatchHeader.isTransactional(first, 0);
    }

    private static List<AbortedTxn> entriesOf(List<AbortedTxn> all, long base, long end) {
        return all.stream().filter(t -> t.lastOffset() >= base && t.lastOffset() < end).toList();
    }

    private static Long parseBase(String digits) {
        if (digits.length() != 20) return null;
        try {
            return Long.parseLong(digits);
        } catch (NumberFormatException e) {
            return null;
        }
    }

    /**
     * Whether the files failed their checks (a torn entry included): the entries before the producer-state snapshot
     * cannot be trusted, and the index must be rebuilt from the log ({@link #clear}).
     */
    public boolean damaged() {
        return damaged;
    }

    /** Empties the index and deletes its files, to be rebuilt from the log. Blocking. */
    public void clear() throws IOException {
        entries.clear();
        damaged = false;
        try (DirectoryStream<Path> ds = Files.newDirectoryStream(dir, "*" + SUFFIX)) {
            for (Path p : ds) Files.deleteIfExists(p);
        }
    }

    /** The offset of the last abort marker indexed, or -1. */
    public long lastOffset() {
        return entries.isEmpty() ? -1 : entries.get(entries.size() - 1).lastOffset();
    }

    /**
     * Adds an abort whose marker is in the segment based at {@code segmentBase} (its marker after every one indexed)
     * and returns what to append with {@link #writeAppend}; null when the marker is indexed already (a replay meeting
     * what the files have).
     */
    public Append add(AbortedTxn t, long segmentBase) {
        if (t.lastOffset() <= lastOffset()) return null;
        entries.add(t);
        return new Append(file(dir, segmentBase), encode(t));
    }

    /**
     * The aborted transactions a read of offsets {@code [fetchOffset, upperBound)} overlaps: marker at or after
     * {@code fetchOffset}, first record before {@code upperBound} (Kafka's collectAbortedTxns).
     */
    public List<AbortedTxn> overlapping(long fetchOffset, long upperBound) {
        List<AbortedTxn> out = new ArrayList<>();
        int lo = 0;
        int hi = entries.size();
        while (lo < hi) { // the first entry whose marker is at or after fetchOffset
            int mid = (lo + hi) >>> 1;
            if (entries.get(mid).lastOffset() < fetchOffset) lo = mid + 1;
            else hi = mid;
        }
        for (int i = lo; i < entries.size(); i++) {
            AbortedTxn t = entries.get(i);
            if (t.firstOffset() < upperBound) out.add(t);
        }
        return out;
    }

    /** Drops the entries whose marker is at or past {@code offset} (a truncated log); true when any was. */
    public boolean truncateTo(long offset) {
        return entries.removeIf(t -> t.lastOffset() >= offset);
    }

    /**
     * Drops the entries whose marker is before {@code logStartOffset} (retention moved it) from memory; their files go
     * with their segments, and those left in the first remaining segment's file are skipped at load.
     */
    public void dropBefore(long logStartOffset) {
        entries.removeIf(t -> t.lastOffset() < logStartOffset);
    }

    /** Drops the entries whose markers compaction removed (their transactions have no record left); true when any was. */
    public boolean removeMarkers(Collection<Long> markerOffsets) {
        if (markerOffsets.isEmpty()) return false;
        Set<Long> gone = Set.copyOf(markerOffsets);
        return entries.removeIf(t -> gone.contains(t.lastOffset()));
    }

    /** The entries now (take it on the partition's context). */
    public List<AbortedTxn> snapshot() {
        return List.copyOf(entries);
    }

    public int size() {
        return entries.size();
    }

    /** Appends an entry to its segment's file. Blocking (no fsync: {@link #sync} does, with the log's flush). */
    public void writeAppend(Append a) throws IOException {
        try (FileChannel ch = FileChannel.open(a.file(), StandardOpenOption.CREATE, StandardOpenOption.WRITE, StandardOpenOption.APPEND)) {
            ByteBuffer b = ByteBuffer.wrap(a.bytes());
            while (b.hasRemaining()) ch.write(b);
        }
        unsynced.add(a.file());
    }

    /** fsyncs the files appended to since the last call. Blocking. */
    public void sync() throws IOException {
        for (Path f : List.copyOf(unsynced)) {
            unsynced.remove(f);
            if (!Files.exists(f)) continue; // its segment was deleted meanwhile
            try (FileChannel ch = FileChannel.open(f, StandardOpenOption.WRITE)) {
                ch.force(true);
            }
        }
    }

    /**
     * Rewrites the files from {@code all} entries, each in the file of the segment (of {@code segmentBases}) holding
     * its marker, atomically per file; files left without entries are deleted. Blocking.
     */
    public void writeAll(List<AbortedTxn> all, List<Long> segmentBases) throws IOException {
        TreeSet<Long> bases = new TreeSet<>(segmentBases);
        Map<Long, List<AbortedTxn>> byFile = new LinkedHashMap<>();
        for (AbortedTxn t : all) {
            Long base = bases.floor(t.lastOffset());
            if (base != null) byFile.computeIfAbsent(base, b -> new ArrayList<>()).add(t);
        }
        try (DirectoryStream<Path> ds = Files.newDirectoryStream(dir, "*" + SUFFIX)) {
            for (Path p : ds) {
                String name = p.getFileName().toString();
                Long base = parseBase(name.substring(0, name.length() - SUFFIX.length()));
                if (base == null || !byFile.containsKey(base)) Files.deleteIfExists(p);
            }
        }
        for (Map.Entry<Long, List<AbortedTxn>> e : byFile.entrySet()) writeFile(file(dir, e.getKey()), e.getValue());
    }

    private static void writeFile(Path f, List<AbortedTxn> entries) throws IOException {
        ByteBuffer b = ByteBuffer.allocate(entries.size() * ENTRY_SIZE);
        for (AbortedTxn t : entries) b.put(encode(t));
        Checkpoints.writeAtomically(f, b.array());
    }

    private static byte[] encode(AbortedTxn t) {
        return ByteBuffer.allocate(ENTRY_SIZE).putShort(VERSION).putLong(t.producerId()).putLong(t.firstOffset()).putLong(t.lastOffset())
                .putLong(t.lastStableOffset()).array();
    }
}
