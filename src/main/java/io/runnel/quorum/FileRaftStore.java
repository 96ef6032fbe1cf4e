package io.runnel.quorum;

import io.microraft.RaftEndpoint;
import io.microraft.model.log.LogEntry;
import io.microraft.model.log.RaftGroupMembersView;
import io.microraft.model.log.SnapshotChunk;
import io.microraft.model.log.SnapshotEntry;
import io.microraft.model.persistence.RaftEndpointPersistentState;
import io.microraft.model.persistence.RaftTermPersistentState;
import io.microraft.lifecycle.RaftNodeLifecycleAware;
import io.microraft.persistence.RaftStore;
import io.microraft.persistence.RestoredRaftState;
import java.io.DataOutputStream;
import java.io.IOException;
import java.nio.BufferUnderflowException;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.nio.file.StandardOpenOption;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.TreeMap;
import java.util.zip.CRC32C;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The metadata quorum's Raft state on disk, in one directory ({@code <first log.dir>/__cluster_metadata}, as Kafka's
 * KRaft keeps {@code __cluster_metadata-0}):
 * <ul>
 *   <li>{@code quorum.state}: this member's endpoint (node id and directory id) and whether it votes, the group's
 *       initial members, the current term and the vote cast in it. Rewritten whole on each change, through a
 *       temporary file that is forced and renamed, so it is always one consistent version (Raft's vote must never be
 *       forgotten: a member that voted twice in a term could elect two leaders);</li>
 *   <li>{@code quorum.log}: records appended in order, each {@code [length][CRC-32C][type][payload]}: log entries,
 *       snapshot chunks, and the truncations MicroRaft asks for (a rolled back tail, entries before a snapshot, an
 *       abandoned snapshot). {@link #flush} forces it. Reading stops at the first torn or corrupt record (a crash
 *       while appending), which is cut off; what followed it is copied aside first ({@code quorum.log.damaged-*})
 *       and named in a warning. Once the records made obsolete by snapshots outweigh the live ones the file is
 *       rewritten with only the live records (the newest whole snapshot, any newer one still arriving, and the
 *       entries after the whole one), again through a forced and renamed temporary file.</li>
 * </ul>
 * Calls come from one Raft node's thread at a time (MicroRaft's contract), so nothing here is synchronized.
 */
public final class FileRaftStore implements RaftStore, RaftNodeLifecycleAware, AutoCloseable {
    private static final Logger LOG = LoggerFactory.getLogger(FileRaftStore.class);
    static final String STATE_FILE = "quorum.state";
    static final String LOG_FILE = "quorum.log";
    /** A rewrite of the log is considered once it holds at least this many bytes... */
    static final long COMPACT_MIN_BYTES = 4L << 20;

    private static final byte ENTRIES = 1;
    private static final byte CHUNK = 2;
    private static final byte TRUNCATE_FROM = 3;
    private static final byte TRUNCATE_UNTIL = 4;
    private static final byte DELETE_CHUNKS = 5;

    private final Path dir;
    private final long compactMinBytes;
    private FileChannel log;
    private long logBytes;
    /** Why the log takes no more records (a torn record could not be cut off), or null. */
    private String broken;
    /** The log's length at the last {@link #flush}: what a power loss cannot take (for the simulation's crashes). */
    private long flushedBytes;
    private boolean compactionDue;

    // What quorum.state holds (null until persisted).
    private RaftEndpointPersistentState endpoint;
    private RaftGroupMembersView initialMembers;
    private RaftTermPersistentState term;

    /** Opens (creating when needed) the store in {@code dir}, continuing what {@link #restore} read there. */
    public FileRaftStore(Path dir) throws IOException {
        this(dir, COMPACT_MIN_BYTES);
    }

    /** With another size at which compaction is considered (tests make it small to exercise it). */
    FileRaftStore(Path dir, long compactMinBytes) throws IOException {
        this.dir = dir;
        this.compactMinBytes = compactMinBytes;
        Files.createDirectories(dir);
        Contents contents = read(dir);
        this.endpoint = contents.endpoint;
        this.initialMembers = contents.initialMembers;
        this.term = contents.term;
        Path file = dir.resolve(LOG_FILE);
        this.log = FileChannel.open(file, StandardOpenOption.CREATE, StandardOpenOption.WRITE, StandardOpenOption.READ);
        long size = log.size();
        if (size > contents.validLogBytes) {
            // A torn record at the end (a crash while appending) is cut off, so new records follow the last whole one.
            // Anything else after it is kept aside: a bad checksum in the middle means damage, not a torn write.
            Path aside = dir.resolve(LOG_FILE + ".damaged-" + System.currentTimeMillis());
            try (FileChannel out = FileChannel.open(aside, StandardOpenOption.CREATE_NEW, StandardOpenOption.WRITE)) {
                log.transferTo(contents.validLogBytes, size - contents.validLogBytes, out);
            }
            LOG.warn("The metadata quorum's log {} ends in {} unreadable bytes after byte {} (a crash while appending, or damage): cut off, "
                    + "kept in {}", file, size - contents.validLogBytes, contents.validLogBytes, aside);
            log.truncate(contents.validLogBytes);
        }
        log.position(contents.validLogBytes);
        this.logBytes = contents.validLogBytes;
        this.flushedBytes = logBytes;
    }

    /**
     * What a Raft node restarting on {@code dir} needs, or empty when the directory holds no member yet (a new broker,
     * or one that crashed before it persisted its endpoint and the group's first members).
     */
    public static Optional<RestoredRaftState> restore(Path dir) throws IOException {
        Contents c = read(dir);
        if (c.endpoint == null || c.initialMembers == null) return Optional.empty();
        RaftTermPersistentState term = c.term != null ? c.term : QuorumCodec.MODEL.createRaftTermPersistentStateBuilder().setTerm(0).setVotedFor(null).build();
        SnapshotEntry snapshot = c.latestSnapshot();
        long after = snapshot == null ? 0 : snapshot.getIndex();
        List<LogEntry> entries = new ArrayList<>(c.entries.tailMap(after, false).values());
        return Optional.of(new RestoredRaftState(c.endpoint, c.initialMembers, term, snapshot, entries));
    }

    /** The endpoint persisted in {@code dir}, if any: a broker keeps its directory id as long as it keeps the directory. */
    public static Optional<QuorumEndpoint> localEndpoint(Path dir) throws IOException {
        Contents c = read(dir);
        return c.endpoint == null ? Optional.empty() : Optional.of((QuorumEndpoint) c.endpoint.getLocalEndpoint());
    }

    @Override
    public void persistAndFlushLocalEndpoint(RaftEndpointPersistentState state) throws IOException {
        endpoint = state;
        writeState();
    }

    @Override
    public void persistAndFlushInitialGroupMembers(RaftGroupMembersView members) throws IOException {
        initialMembers = members;
        writeState();
    }

    @Override
    public void persistAndFlushTerm(RaftTermPersistentState state) throws IOException {
        term = state;
        writeState();
    }

    @Override
    public void persistLogEntries(List<LogEntry> entries) throws IOException {
        append(ENTRIES, entries(entries));
    }

    @Override
    public void persistSnapshotChunk(SnapshotChunk chunk) throws IOException {
        append(CHUNK, out -> QuorumCodec.writeChunk(out, chunk));
    }

    @Override
    public void truncateLogEntriesFrom(long indexInclusive) throws IOException {
        append(TRUNCATE_FROM, out -> out.writeLong(indexInclusive));
    }

    @Override
    public void truncateLogEntriesUntil(long indexInclusive) throws IOException {
        append(TRUNCATE_UNTIL, out -> out.writeLong(indexInclusive));
        compactionDue = true;
    }

    @Override
    public void deleteSnapshotChunks(long index, int chunkCount) throws IOException {
        append(DELETE_CHUNKS, out -> {
            out.writeLong(index);
            out.writeInt(chunkCount);
        });
    }

    @Override
    public void flush() throws IOException {
        log.force(false);
        flushedBytes = logBytes;
        if (compactionDue && logBytes >= compactMinBytes) compact();
    }

    /** The log's length when it was last forced. */
    long flushedBytes() {
        return flushedBytes;
    }

    /** Closes the log file (the Raft node terminated). Idempotent. */
    @Override
    public void close() throws IOException {
        log.close();
    }

    @Override
    public void onRaftNodeStart() {
    }

    /** The node that used this store terminated: the log file is closed (a restarted node opens a new store). */
    @Override
    public void onRaftNodeTerminate() {
        try {
            close();
        } catch (IOException e) {
            LOG.warn("Closing the metadata quorum's log in {} failed", dir, e);
        }
    }

    private void append(byte type, QuorumCodec.Writer payload) throws IOException {
        if (broken != null) throw new IOException("The metadata quorum's log in " + dir + " takes no record until the broker restarts: " + broken);
        byte[] body = record(type, payload);
        ByteBuffer framed = frame(body);
        try {
            while (framed.hasRemaining()) log.write(framed);
        } catch (IOException e) {
            // A write that failed part-way (a full disk) left part of a record: it is cut off, so that the next record
            // follows the last whole one. Left there, it would end the log at a restart, and every record written after
            // it (acknowledged to the leader) would be set aside as damage. If it cannot be cut off, nothing more is
            // written: the node fails its appends (the others go on) until a restart cuts the torn tail.
            try {
                log.truncate(logBytes);
                log.position(logBytes);
            } catch (IOException t) {
                broken = t.toString();
                e.addSuppressed(t);
            }
            // Only a failed append of entries leaves the node's state as it was (MicroRaft adds them in memory after
            // they are persisted). A truncation, a snapshot chunk or a deletion is already done in memory when it
            // fails here: entries appended after it would replay on top of what it removed. Nothing more is written.
            if (type != ENTRIES) broken = "a " + type + " record could not be written: " + e;
            throw e;
        }
        logBytes += 8 + body.length;
    }

    private static byte[] record(byte type, QuorumCodec.Writer payload) {
        return QuorumCodec.write(out -> {
            out.writeByte(type);
            payload.write(out);
        });
    }

    private static QuorumCodec.Writer entries(List<LogEntry> entries) {
        return out -> {
            out.writeInt(entries.size());
            for (LogEntry e : entries) QuorumCodec.writeEntry(out, e);
        };
    }

    private static ByteBuffer frame(byte[] body) {
        CRC32C crc = new CRC32C();
        crc.update(body);
        ByteBuffer record = ByteBuffer.allocate(8 + body.length);
        record.putInt(body.length).putInt((int) crc.getValue()).put(body).flip();
        return record;
    }

    /**
     * Rewrites the log with only the live records, when the obsolete ones are at least half of it: the chunks of the
     * newest whole snapshot and of any newer one still arriving (MicroRaft holds those in memory and will complete
     * it), and the entries after the whole one. Optional work: a failure before the new file is in place leaves the
     * old one and is only logged; once it is in place, the store goes on with it.
     */
    private void compact() throws IOException {
        compactionDue = false;
        Contents c = read(dir);
        SnapshotEntry snapshot = c.latestSnapshot();
        long after = snapshot == null ? 0 : snapshot.getIndex();
        List<byte[]> records = new ArrayList<>();
        for (TreeMap<Integer, SnapshotChunk> group : c.chunks.tailMap(after, true).values()) {
            for (SnapshotChunk chunk : group.values()) records.add(record(CHUNK, out -> QuorumCodec.writeChunk(out, chunk)));
        }
        List<LogEntry> entries = new ArrayList<>(c.entries.tailMap(after, false).values());
        if (!entries.isEmpty()) records.add(record(ENTRIES, entries(entries)));
        long live = records.stream().mapToLong(r -> 8 + r.length).sum();
        if (live * 2 > logBytes) return;
        Path tmp = dir.resolve(LOG_FILE + ".tmp");
        try {
            try (FileChannel out = FileChannel.open(tmp, StandardOpenOption.CREATE, StandardOpenOption.TRUNCATE_EXISTING, StandardOpenOption.WRITE)) {
                for (byte[] r : records) {
                    ByteBuffer b = frame(r);
                    while (b.hasRemaining()) out.write(b);
                }
                out.force(true);
            }
            Files.move(tmp, dir.resolve(LOG_FILE), StandardCopyOption.ATOMIC_MOVE, StandardCopyOption.REPLACE_EXISTING);
        } catch (IOException e) {
            LOG.warn("Compacting the metadata quorum's log in {} failed; it goes on uncompacted", dir, e);
            Files.deleteIfExists(tmp);
            return;
        }
        forceDirectory();
        // In place: from here on only the new file holds the log (the old handle names the replaced one).
        FileChannel compacted = FileChannel.open(dir.resolve(LOG_FILE), StandardOpenOption.WRITE, StandardOpenOption.READ);
        compacted.position(compacted.size());
        FileChannel old = log;
        log = compacted;
        logBytes = compacted.size();
        flushedBytes = logBytes;
        old.close();
    }

    private void writeState() throws IOException {
        byte[] body = QuorumCodec.write(out -> {
            out.writeByte(QuorumCodec.VERSION);
            out.writeBoolean(endpoint != null);
            if (endpoint != null) {
                QuorumCodec.writeEndpoint(out, endpoint.getLocalEndpoint());
                out.writeBoolean(endpoint.isVoting());
            }
            out.writeBoolean(initialMembers != null);
            if (initialMembers != null) QuorumCodec.writeMembers(out, initialMembers);
            out.writeBoolean(term != null);
            if (term != null) {
                out.writeInt(term.getTerm());
                out.writeBoolean(term.getVotedFor() != null);
                if (term.getVotedFor() != null) QuorumCodec.writeEndpoint(out, term.getVotedFor());
            }
        });
        Path tmp = dir.resolve(STATE_FILE + ".tmp");
        try (FileChannel out = FileChannel.open(tmp, StandardOpenOption.CREATE, StandardOpenOption.TRUNCATE_EXISTING, StandardOpenOption.WRITE)) {
            ByteBuffer b = frame(body);
            while (b.hasRemaining()) out.write(b);
            out.force(true);
        }
        Files.move(tmp, dir.resolve(STATE_FILE), StandardCopyOption.ATOMIC_MOVE, StandardCopyOption.REPLACE_EXISTING);
        forceDirectory();
    }

    /** Makes a rename durable (the directory entry), where the platform allows opening a directory. */
    private void forceDirectory() throws IOException {
        try (FileChannel d = FileChannel.open(dir, StandardOpenOption.READ)) {
            d.force(true);
        } catch (IOException e) {
            // Not every platform opens directories; the rename itself is atomic.
        }
    }

    /** What the directory holds, replayed. */
    private static final class Contents {
        RaftEndpointPersistentState endpoint;
        RaftGroupMembersView initialMembers;
        RaftTermPersistentState term;
        final TreeMap<Long, LogEntry> entries = new TreeMap<>();
        /** Snapshot index to its chunks by chunk index. */
        final TreeMap<Long, TreeMap<Integer, SnapshotChunk>> chunks = new TreeMap<>();
        long validLogBytes;

        /** The newest snapshot all of whose chunks are here, or null. */
        SnapshotEntry latestSnapshot() {
            for (Map.Entry<Long, TreeMap<Integer, SnapshotChunk>> e : chunks.descendingMap().entrySet()) {
                TreeMap<Integer, SnapshotChunk> parts = e.getValue();
                SnapshotChunk first = parts.firstEntry().getValue();
                if (parts.size() != first.getSnapshotChunkCount()) continue;
                return QuorumCodec.MODEL.createSnapshotEntryBuilder().setIndex(e.getKey()).setTerm(first.getTerm())
                        .setSnapshotChunks(new ArrayList<>(parts.values())).setGroupMembersView(first.getGroupMembersView()).build();
            }
            return null;
        }
    }

    private static Contents read(Path dir) throws IOException {
        Contents c = new Contents();
        readState(dir.resolve(STATE_FILE), c);
        byte[] bytes;
        try {
            bytes = Files.readAllBytes(dir.resolve(LOG_FILE));
        } catch (NoSuchFileException e) {
            return c;
        }
        ByteBuffer in = ByteBuffer.wrap(bytes);
        while (in.remaining() >= 8) {
            int start = in.position();
            int length = in.getInt();
            int crc = in.getInt();
            if (length <= 0 || length > in.remaining()) break; // torn
            byte[] body = new byte[length];
            in.get(body);
            CRC32C check = new CRC32C();
            check.update(body);
            if ((int) check.getValue() != crc) {
                in.position(start);
                break; // torn or corrupt: nothing after it can be trusted
            }
            try {
                apply(ByteBuffer.wrap(body), c);
            } catch (BufferUnderflowException | IllegalArgumentException e) {
                throw new IOException("Unreadable quorum log record at byte " + start + " of " + dir.resolve(LOG_FILE), e);
            }
            c.validLogBytes = in.position();
        }
        return c;
    }

    private static void apply(ByteBuffer in, Contents c) {
        byte type = in.get();
        switch (type) {
            case ENTRIES -> {
                int count = in.getInt();
                for (int i = 0; i < count; i++) {
                    LogEntry e = QuorumCodec.readEntry(in);
                    c.entries.put(e.getIndex(), e);
                }
            }
            case CHUNK -> {
                SnapshotChunk chunk = QuorumCodec.readChunk(in);
                TreeMap<Integer, SnapshotChunk> group = c.chunks.computeIfAbsent(chunk.getIndex(), k -> new TreeMap<>());
                SnapshotChunk other = group.isEmpty() ? null : group.firstEntry().getValue();
                // Chunks of another snapshot at the same index (another term, another split) are not parts of this one.
                if (other != null && (other.getTerm() != chunk.getTerm() || other.getSnapshotChunkCount() != chunk.getSnapshotChunkCount())) group.clear();
                group.put(chunk.getSnapshotChunkIndex(), chunk);
            }
            case TRUNCATE_FROM -> c.entries.tailMap(in.getLong(), true).clear();
            case TRUNCATE_UNTIL -> {
                long until = in.getLong();
                c.entries.headMap(until, true).clear();
                c.chunks.headMap(until, false).clear();
            }
            case DELETE_CHUNKS -> c.chunks.remove(in.getLong());
            default -> throw new IllegalArgumentException("Unknown quorum log record type " + type);
        }
    }

    private static void readState(Path file, Contents c) throws IOException {
        byte[] bytes;
        try {
            bytes = Files.readAllBytes(file);
        } catch (NoSuchFileException e) {
            return;
        }
        ByteBuffer in = ByteBuffer.wrap(bytes);
        try {
            int length = in.getInt();
            int crc = in.getInt();
            if (length != in.remaining()) throw new IOException(file + " is " + bytes.length + " bytes, its header says " + (length + 8));
            byte[] body = new byte[length];
            in.get(body);
            CRC32C check = new CRC32C();
            check.update(body);
            if ((int) check.getValue() != crc) throw new IOException(file + " fails its checksum");
            ByteBuffer b = ByteBuffer.wrap(body);
            byte version = b.get();
            if (version != QuorumCodec.VERSION) throw new IOException(file + " has format version " + version + ", this broker reads " + QuorumCodec.VERSION);
            if (b.get() == 1) {
                RaftEndpoint local = QuorumCodec.readEndpoint(b);
                c.endpoint = QuorumCodec.MODEL.createRaftEndpointPersistentStateBuilder().setLocalEndpoint(local).setVoting(b.get() == 1).build();
            }
            if (b.get() == 1) c.initialMembers = QuorumCodec.readMembers(b);
            if (b.get() == 1) {
                int t = b.getInt();
                RaftEndpoint votedFor = b.get() == 1 ? QuorumCodec.readEndpoint(b) : null;
                c.term = QuorumCodec.MODEL.createRaftTermPersistentStateBuilder().setTerm(t).setVotedFor(votedFor).build();
            }
        } catch (BufferUnderflowException | IllegalArgumentException e) {
            throw new IOException(file + " is unreadable", e);
        }
    }
}
