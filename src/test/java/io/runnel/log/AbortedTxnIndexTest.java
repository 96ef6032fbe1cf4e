package io.runnel.log;

import static org.assertj.core.api.Assertions.assertThat;

import io.runnel.log.value.AbortedTxn;
import io.runnel.testkit.FileCorruptor;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.ArrayList;
import java.util.List;
import org.apache.kafka.common.compress.Compression;
import org.apache.kafka.common.record.internal.ControlRecordType;
import org.apache.kafka.common.record.internal.EndTransactionMarker;
import org.apache.kafka.common.record.internal.MemoryRecords;
import org.apache.kafka.common.record.internal.SimpleRecord;
import org.apache.kafka.common.utils.Time;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The transaction index in Kafka's {@code .txnindex} format, one file per segment: what is written, queries, and what
 * loading does with a torn entry, entries past the log end, damage of every kind (checked against the log, since
 * the format has no checksum), files of deleted segments and the single file of earlier versions.
 */
class AbortedTxnIndexTest {
    @TempDir
    Path data;
    private Log log;
    private final List<AbortedTxn> written = new ArrayList<>();

    @BeforeEach
    void sixAbortedTransactionsOverSeveralSegments() throws Exception {
        log = Log.open(data, LogConfig.defaults().withSegmentBytes(300).withIndexIntervalBytes(1), Time.SYSTEM);
        AbortedTxnIndex index = AbortedTxnIndex.load(data, log);
        for (long pid = 1; pid <= 6; pid++) {
            long first = log.appendAsLeader(MemoryRecords.withTransactionalRecords(Compression.NONE, pid, (short) 0, 0,
                    new SimpleRecord(1L, null, ("aborted-" + pid + "-" + "x".repeat(60)).getBytes())).buffer(), 0).firstOffset();
            long marker = log.appendAsLeader(MemoryRecords.withEndTransactionMarker(1L, pid, (short) 0,
                    new EndTransactionMarker(ControlRecordType.ABORT, 0)).buffer(), 0).firstOffset();
            AbortedTxn t = new AbortedTxn(pid, first, marker, marker + 1);
            written.add(t);
            index.writeAppend(index.add(t, log.segmentBaseFor(marker)));
        }
        index.sync();
        assertThat(log.segmentCount()).as("the test needs several segments").isGreaterThan(2);
    }

    @AfterEach
    void close() throws IOException {
        log.close();
    }

    private List<Path> indexFiles() throws IOException {
        try (var files = Files.list(data)) {
            return files.filter(p -> p.toString().endsWith(AbortedTxnIndex.SUFFIX)).sorted().toList();
        }
    }

    @Test
    void entriesAreKafkasAbortedTxnInTheFileOfTheSegmentHoldingTheirMarker() throws Exception {
        List<Path> files = indexFiles();
        assertThat(files).isNotEmpty();
        List<AbortedTxn> read = new ArrayList<>();
        for (Path f : files) {
            long base = Long.parseLong(f.getFileName().toString().substring(0, 20));
            assertThat(log.segmentBaseOffsets()).contains(base);
            ByteBuffer b = ByteBuffer.wrap(Files.readAllBytes(f));
            assertThat(b.remaining() % 34).isZero();
            while (b.hasRemaining()) {
                assertThat(b.getShort()).as("version").isZero();
                AbortedTxn t = new AbortedTxn(b.getLong(), b.getLong(), b.getLong(), b.getLong());
                assertThat(log.segmentBaseFor(t.lastOffset())).isEqualTo(base);
                read.add(t);
            }
        }
        assertThat(read).isEqualTo(written);

        AbortedTxnIndex loaded = AbortedTxnIndex.load(data, log);
        assertThat(loaded.damaged()).isFalse();
        assertThat(loaded.snapshot()).isEqualTo(written);
        AbortedTxn third = written.get(2);
        assertThat(loaded.overlapping(third.firstOffset(), third.lastOffset())).containsExactly(third);
        assertThat(loaded.overlapping(0, Long.MAX_VALUE)).hasSize(6);
        assertThat(loaded.add(new AbortedTxn(9, 0, third.lastOffset(), 0), 0)).as("a replay meeting an indexed marker").isNull();
    }

    @Test
    void aTornEntryOrEntriesPastTheLogEndCallForRebuilding() throws Exception {
        Path newest = indexFiles().get(indexFiles().size() - 1);
        byte[] clean = Files.readAllBytes(newest);
        Files.write(newest, new byte[] {0, 0, 1, 2, 3}, StandardOpenOption.APPEND);
        assertThat(AbortedTxnIndex.load(data, log).damaged()).as("which entry was torn, and when, cannot be told").isTrue();
        Files.write(newest, clean);

        // A crash lost the last two markers: entries past the log end look like damage to a marker offset (which would
        // hide a true entry before the producer snapshot), so the index is rebuilt; files of segments gone are deleted.
        log.truncateTo(written.get(4).lastOffset());
        AbortedTxnIndex shorter = AbortedTxnIndex.load(data, log);
        assertThat(shorter.damaged()).as("entries past the log end").isTrue();
        for (Path f : indexFiles()) assertThat(log.segmentBaseOffsets()).contains(Long.parseLong(f.getFileName().toString().substring(0, 20)));
        shorter.writeAll(written.subList(0, 4), log.segmentBaseOffsets()); // what the rebuild from the log writes
        AbortedTxnIndex rebuilt = AbortedTxnIndex.load(data, log);
        assertThat(rebuilt.damaged()).isFalse();
        assertThat(rebuilt.snapshot()).isEqualTo(written.subList(0, 4));
    }

    @Test
    void damageOfAnyFieldIsFoundAndTheIndexCalledForRebuilding() throws Exception {
        Path first = indexFiles().get(0);
        byte[] clean = Files.readAllBytes(first);
        // version, producer id (no checksum: found against the log), first offset, marker offset
        for (int at : new int[] {1, 2 + 7, 2 + 8 + 7, 2 + 16 + 7}) {
            Files.write(first, clean);
            FileCorruptor.flip(first, at);
            assertThat(AbortedTxnIndex.load(data, log).damaged()).as("byte %d flipped", at).isTrue();
        }
        Files.write(first, clean);
        assertThat(AbortedTxnIndex.load(data, log).damaged()).isFalse();

        // The newest file's marker offset sent past the log end by a flipped high bit: the true entry would be lost.
        Path newest = indexFiles().get(indexFiles().size() - 1);
        byte[] newestClean = Files.readAllBytes(newest);
        FileCorruptor.flip(newest, newestClean.length - 34 + 2 + 16);
        assertThat(AbortedTxnIndex.load(data, log).damaged()).as("a marker offset past the log end").isTrue();
        Files.write(newest, newestClean);
        // A last stable offset moved before the previous entry's.
        Path second = indexFiles().get(indexFiles().size() > 1 ? 1 : 0);
        byte[] secondClean = Files.readAllBytes(second);
        byte[] stableZero = secondClean.clone();
        ByteBuffer.wrap(stableZero).putLong(stableZero.length - 8, 0);
        Files.write(second, stableZero);
        assertThat(AbortedTxnIndex.load(data, log).damaged()).as("a last stable offset going back").isTrue();
        Files.write(second, secondClean);
        assertThat(AbortedTxnIndex.load(data, log).damaged()).isFalse();

        FileCorruptor.truncate(first, clean.length - 3);
        assertThat(AbortedTxnIndex.load(data, log).damaged()).as("a torn entry").isTrue();
        Files.write(first, clean);

        AbortedTxnIndex index = AbortedTxnIndex.load(data, log);
        index.clear();
        assertThat(indexFiles()).isEmpty();
        assertThat(index.size()).isZero();
    }

    @Test
    void filesOfDeletedSegmentsAndTheFileOfEarlierVersionsAreRemoved() throws Exception {
        Path orphan = AbortedTxnIndex.file(data, 123_456);
        Files.write(orphan, new byte[34]);
        AbortedTxnIndex loaded = AbortedTxnIndex.load(data, log);
        assertThat(orphan).doesNotExist();
        assertThat(loaded.damaged()).isFalse();

        Files.write(data.resolve(AbortedTxnIndex.LEGACY_FILE), new byte[36]);
        AbortedTxnIndex upgraded = AbortedTxnIndex.load(data, log);
        assertThat(upgraded.damaged()).as("rebuilt from the log once").isTrue();
        assertThat(data.resolve(AbortedTxnIndex.LEGACY_FILE)).doesNotExist();

        long base = log.segmentBaseFor(written.get(5).lastOffset());
        assertThat(AbortedTxnIndex.file(data, base)).exists();
        log.truncateTo(written.get(0).lastOffset() + 1);
        if (!log.segmentBaseOffsets().contains(base)) {
            assertThat(AbortedTxnIndex.file(data, base)).as("deleted with its segment").doesNotExist();
        }
    }
}
