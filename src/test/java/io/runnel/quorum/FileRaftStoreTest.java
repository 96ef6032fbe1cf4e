package io.runnel.quorum;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import io.microraft.MembershipChangeMode;
import io.microraft.RaftEndpoint;
import io.microraft.model.log.LogEntry;
import io.microraft.model.log.RaftGroupMembersView;
import io.microraft.model.log.SnapshotChunk;
import io.microraft.model.message.AppendEntriesRequest;
import io.microraft.model.message.RaftMessage;
import io.microraft.persistence.RestoredRaftState;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** The quorum's files: what is persisted comes back, truncations hold, a torn tail is cut, compaction keeps the live state. */
class FileRaftStoreTest {
    private static final QuorumEndpoint A = new QuorumEndpoint(1, "dir-a");
    private static final QuorumEndpoint B = new QuorumEndpoint(2, "dir-b");
    private static final QuorumEndpoint C = new QuorumEndpoint(3, "dir-c");

    @TempDir
    Path dir;

    private static RaftGroupMembersView members(long index) {
        return QuorumCodec.MODEL.createRaftGroupMembersViewBuilder().setLogIndex(index).setMembers(List.of(A, B, C)).setVotingMembers(List.of(A, B, C)).build();
    }

    private static LogEntry entry(long index, int term, Object op) {
        return QuorumCodec.MODEL.createLogEntryBuilder().setIndex(index).setTerm(term).setOperation(op).build();
    }

    private static List<LogEntry> entries(long from, long to, int term) {
        List<LogEntry> out = new ArrayList<>();
        for (long i = from; i <= to; i++) out.add(entry(i, term, "op-" + i));
        return out;
    }

    private static SnapshotChunk chunk(long index, int term, int chunk, int count, String text) {
        return QuorumCodec.MODEL.createSnapshotChunkBuilder().setIndex(index).setTerm(term).setSnapshotChunkIndex(chunk).setSnapshotChunkCount(count)
                .setGroupMembersView(members(0)).setOperation(text).build();
    }

    private FileRaftStore started() throws IOException {
        return started(FileRaftStore.COMPACT_MIN_BYTES);
    }

    /** A store whose endpoint and first members are persisted, compacting from {@code compactMinBytes}. */
    private FileRaftStore started(long compactMinBytes) throws IOException {
        FileRaftStore store = new FileRaftStore(dir, compactMinBytes);
        store.persistAndFlushLocalEndpoint(QuorumCodec.MODEL.createRaftEndpointPersistentStateBuilder().setLocalEndpoint(A).setVoting(true).build());
        store.persistAndFlushInitialGroupMembers(members(0));
        return store;
    }

    private static List<Long> indices(RestoredRaftState s) {
        return s.getLogEntries().stream().map(LogEntry::getIndex).toList();
    }

    @Test
    void nothingToRestoreInAnEmptyDirectory() throws IOException {
        assertThat(FileRaftStore.restore(dir)).isEmpty();
        assertThat(FileRaftStore.localEndpoint(dir)).isEmpty();
    }

    @Test
    void restoresTheEndpointTheVoteTheEntriesAndTheNewestWholeSnapshot() throws IOException {
        FileRaftStore store = started();
        store.persistAndFlushTerm(QuorumCodec.MODEL.createRaftTermPersistentStateBuilder().setTerm(7).setVotedFor(B).build());
        store.persistLogEntries(entries(1, 10, 7));
        store.truncateLogEntriesFrom(8); // a rolled back tail
        store.persistLogEntries(entries(8, 12, 8));
        store.persistSnapshotChunk(chunk(6, 7, 0, 2, "image-part-0"));
        store.persistSnapshotChunk(chunk(6, 7, 1, 2, "image-part-1"));
        store.truncateLogEntriesUntil(6);
        store.persistSnapshotChunk(chunk(11, 8, 0, 2, "half of a newer snapshot")); // incomplete: ignored
        store.persistLogEntries(List.of(entry(13, 8, QuorumCodec.MODEL.createUpdateRaftGroupMembersOpBuilder().setMembers(List.of(A, B))
                .setVotingMembers(List.of(A, B)).setEndpoint(C).setMode(MembershipChangeMode.REMOVE_MEMBER).build())));
        store.flush();
        store.close();

        RestoredRaftState s = FileRaftStore.restore(dir).orElseThrow();
        assertThat(s.getLocalEndpointPersistentState().getLocalEndpoint()).isEqualTo(A);
        assertThat(s.getLocalEndpointPersistentState().isVoting()).isTrue();
        assertThat(s.getInitialGroupMembers().getVotingMembers()).containsExactly(A, B, C);
        assertThat(s.getTermPersistentState().getTerm()).isEqualTo(7);
        assertThat(s.getTermPersistentState().getVotedFor()).isEqualTo(B);
        assertThat(s.getSnapshotEntry().getIndex()).isEqualTo(6);
        assertThat(s.getSnapshotEntry().getTerm()).isEqualTo(7);
        assertThat(s.getSnapshotEntry().getSnapshotChunkCount()).isEqualTo(2);
        assertThat(indices(s)).containsExactly(7L, 8L, 9L, 10L, 11L, 12L, 13L);
        assertThat(s.getLogEntries().get(1).getTerm()).as("entry 8 from the tail that replaced the rolled back one").isEqualTo(8);
        assertThat(FileRaftStore.localEndpoint(dir)).contains(A);
    }

    @Test
    void aTornRecordAtTheEndIsCutOffAndAppendingGoesOnAfterTheLastWholeOne() throws IOException {
        FileRaftStore store = started();
        store.persistLogEntries(entries(1, 5, 1));
        store.flush();
        store.close();
        Path log = dir.resolve(FileRaftStore.LOG_FILE);
        long whole = Files.size(log);
        try (FileChannel ch = FileChannel.open(log, StandardOpenOption.APPEND)) {
            ch.write(ByteBuffer.wrap(new byte[] {0, 0, 0, 50, 1, 2, 3})); // a crash in the middle of a record
        }
        assertThat(indices(FileRaftStore.restore(dir).orElseThrow())).containsExactly(1L, 2L, 3L, 4L, 5L);

        FileRaftStore reopened = new FileRaftStore(dir);
        assertThat(Files.size(log)).isEqualTo(whole);
        reopened.persistLogEntries(entries(6, 6, 1));
        reopened.flush();
        reopened.close();
        assertThat(indices(FileRaftStore.restore(dir).orElseThrow())).containsExactly(1L, 2L, 3L, 4L, 5L, 6L);
    }

    /**
     * A full disk fails an append part-way: the part written is cut off, so the records appended once space returns
     * follow the last whole one and come back at a restart (left there, the torn record ended the log and set them
     * aside). On a small tmpfs the test mounts (needs root, as .ci/run has).
     */
    @Test
    void anAppendThatFailsOnAFullDiskLeavesNothingBehindAndLaterAppendsSurvive() throws Exception {
        Path disk = dir.resolve("disk");
        Files.createDirectories(disk);
        assumeTrue(run("mount", "-t", "tmpfs", "-o", "size=1m", "tmpfs", disk.toString()) == 0, "mounting a tmpfs needs root");
        try {
            Path quorum = disk.resolve("quorum");
            FileRaftStore store = new FileRaftStore(quorum);
            store.persistAndFlushLocalEndpoint(QuorumCodec.MODEL.createRaftEndpointPersistentStateBuilder().setLocalEndpoint(A).setVoting(true).build());
            store.persistAndFlushInitialGroupMembers(members(0));
            store.persistLogEntries(entries(1, 5, 1));
            store.flush();
            Path filler = disk.resolve("filler");
            long free = Files.getFileStore(disk).getUsableSpace();
            Files.write(filler, new byte[(int) Math.max(0, free - 64 * 1024)]);
            long before = Files.size(quorum.resolve(FileRaftStore.LOG_FILE));
            assertThatThrownBy(() -> store.persistLogEntries(List.of(entry(6, 1, "x".repeat(256 * 1024))))).isInstanceOf(IOException.class);
            assertThat(Files.size(quorum.resolve(FileRaftStore.LOG_FILE))).as("the torn record is cut off").isEqualTo(before);

            Files.delete(filler);
            store.persistLogEntries(entries(6, 8, 1));
            store.flush();
            store.close();
            RestoredRaftState restored = FileRaftStore.restore(quorum).orElseThrow();
            assertThat(indices(restored)).containsExactly(1L, 2L, 3L, 4L, 5L, 6L, 7L, 8L);
            assertThat(restored.getLogEntries().get(5).getOperation()).isEqualTo("op-6");
        } finally {
            run("umount", disk.toString());
        }
    }

    private static int run(String... command) throws IOException, InterruptedException {
        Process p = new ProcessBuilder(command).redirectErrorStream(true).redirectOutput(ProcessBuilder.Redirect.DISCARD).start();
        return p.waitFor(30, TimeUnit.SECONDS) ? p.exitValue() : -1;
    }

    @Test
    void aCorruptRecordEndsTheLogThereAndWhatFollowedIsKeptAside() throws IOException {
        FileRaftStore store = started();
        store.persistLogEntries(entries(1, 2, 1));
        store.persistLogEntries(entries(3, 4, 1));
        store.close();
        Path log = dir.resolve(FileRaftStore.LOG_FILE);
        byte[] bytes = Files.readAllBytes(log);
        bytes[bytes.length - 3] ^= 0x5A; // a flipped bit in the second record
        Files.write(log, bytes);
        assertThat(indices(FileRaftStore.restore(dir).orElseThrow())).containsExactly(1L, 2L);
        new FileRaftStore(dir).close(); // opening cuts the log, after copying the damaged record aside
        try (var aside = Files.list(dir)) {
            assertThat(aside.filter(f -> f.getFileName().toString().startsWith(FileRaftStore.LOG_FILE + ".damaged-")).toList()).hasSize(1);
        }
        assertThat(indices(FileRaftStore.restore(dir).orElseThrow())).containsExactly(1L, 2L);
    }

    @Test
    void aDamagedStateFileIsAnErrorNotAnEmptyState() throws IOException {
        started().close();
        Path state = dir.resolve(FileRaftStore.STATE_FILE);
        byte[] bytes = Files.readAllBytes(state);
        bytes[bytes.length - 1] ^= 1;
        Files.write(state, bytes);
        // Starting over as a new member would forget a vote: refused.
        assertThatThrownBy(() -> FileRaftStore.restore(dir)).isInstanceOf(IOException.class).hasMessageContaining("checksum");
    }

    @Test
    void compactionKeepsOnlyTheLiveRecords() throws IOException {
        FileRaftStore store = started();
        String big = "x".repeat(2_000);
        long index = 0;
        while (Files.size(dir.resolve(FileRaftStore.LOG_FILE)) < FileRaftStore.COMPACT_MIN_BYTES + (1 << 20)) {
            List<LogEntry> batch = new ArrayList<>();
            for (int i = 0; i < 100; i++) batch.add(entry(++index, 3, big));
            store.persistLogEntries(batch);
        }
        long snapshotAt = index - 10;
        store.persistSnapshotChunk(chunk(snapshotAt, 3, 0, 1, "image"));
        store.truncateLogEntriesUntil(snapshotAt);
        store.flush();
        assertThat(Files.size(dir.resolve(FileRaftStore.LOG_FILE))).isLessThan(FileRaftStore.COMPACT_MIN_BYTES / 4);
        store.persistLogEntries(entries(index + 1, index + 1, 3));
        store.close();
        RestoredRaftState s = FileRaftStore.restore(dir).orElseThrow();
        assertThat(s.getSnapshotEntry().getIndex()).isEqualTo(snapshotAt);
        assertThat(s.getLogEntries()).hasSize(11);
        assertThat(s.getLogEntries().get(10).getOperation()).isEqualTo("op-" + (index + 1));
    }

    @Test
    void compactionKeepsASnapshotThatIsStillArriving() throws IOException {
        FileRaftStore store = started(1);
        store.persistLogEntries(entries(1, 12, 1));
        store.persistSnapshotChunk(chunk(10, 1, 0, 1, "image at 10"));
        store.persistSnapshotChunk(chunk(20, 2, 0, 2, "first half of the image at 20")); // a leader's snapshot, arriving
        store.truncateLogEntriesUntil(10);
        store.flush(); // compacts: the half-received snapshot must stay
        store.persistSnapshotChunk(chunk(20, 2, 1, 2, "second half"));
        store.truncateLogEntriesUntil(20);
        store.flush();
        store.close();
        RestoredRaftState s = FileRaftStore.restore(dir).orElseThrow();
        assertThat(s.getSnapshotEntry().getIndex()).isEqualTo(20);
        assertThat((List<?>) s.getSnapshotEntry().getOperation()).extracting(c -> ((SnapshotChunk) c).getOperation()).containsExactly("first half of the image at 20", "second half");
    }

    @Test
    void everyMessageSurvivesTheCodecAndBadFramesAreRefused() {
        AppendEntriesRequest append = QuorumCodec.MODEL.createAppendEntriesRequestBuilder().setGroupId("g").setSender(A).setTerm(4).setPreviousLogTerm(3)
                .setPreviousLogIndex(9).setCommitIndex(8).setLogEntries(entries(10, 12, 4)).setQuerySequenceNumber(5).setFlowControlSequenceNumber(6).build();
        List<RaftMessage> messages = List.of(append,
                QuorumCodec.MODEL.createPreVoteRequestBuilder().setGroupId("g").setSender(B).setTerm(5).setLastLogTerm(4).setLastLogIndex(12).build(),
                QuorumCodec.MODEL.createVoteResponseBuilder().setGroupId("g").setSender(C).setTerm(5).setGranted(true).build(),
                QuorumCodec.MODEL.createInstallSnapshotRequestBuilder().setGroupId("g").setSender(A).setTerm(5).setSenderLeader(true).setSnapshotTerm(4)
                        .setSnapshotIndex(11).setTotalSnapshotChunkCount(1).setSnapshotChunk(chunk(11, 4, 0, 1, "image")).setSnapshottedMembers(List.of(A, B))
                        .setGroupMembersView(members(3)).setQuerySequenceNumber(1).setFlowControlSequenceNumber(2).build(),
                QuorumCodec.MODEL.createAppendEntriesFailureResponseBuilder().setGroupId("g").setSender(B).setTerm(5).setExpectedNextIndex(7)
                        .setQuerySequenceNumber(1).setFlowControlSequenceNumber(2).build());
        for (RaftMessage m : messages) {
            byte[] bytes = QuorumCodec.encode(m);
            RaftMessage back = QuorumCodec.decode(bytes);
            assertThat(back.getClass()).isEqualTo(m.getClass());
            assertThat(QuorumCodec.encode(back)).as("re-encoded " + m.getClass().getSimpleName()).isEqualTo(bytes);
        }
        AppendEntriesRequest back = (AppendEntriesRequest) QuorumCodec.decode(QuorumCodec.encode(append));
        assertThat(back.getLogEntries()).extracting(LogEntry::getOperation).containsExactly("op-10", "op-11", "op-12");
        assertThat((RaftEndpoint) back.getSender()).isEqualTo(A);

        byte[] bytes = QuorumCodec.encode(append);
        assertThatThrownBy(() -> QuorumCodec.decode(Arrays.copyOf(bytes, bytes.length - 1))).isInstanceOf(IllegalArgumentException.class);
        byte[] huge = bytes.clone();
        ByteBuffer.wrap(huge).putInt(2 + 4 + 1 + 4 + 4 + 5 + 4 + 4 + 8 + 8, Integer.MAX_VALUE); // the entry count
        assertThatThrownBy(() -> QuorumCodec.decode(huge)).isInstanceOf(IllegalArgumentException.class).hasMessageContaining("does not fit");
        byte[] version = bytes.clone();
        version[0] = 99;
        assertThatThrownBy(() -> QuorumCodec.decode(version)).isInstanceOf(IllegalArgumentException.class).hasMessageContaining("version");
    }
}
