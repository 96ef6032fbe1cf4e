package io.runnel.log;

import static org.assertj.core.api.Assertions.assertThat;

import io.runnel.log.value.AbortedTxn;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** The aborted-transaction index file: queries, a torn last entry, entries past the log end, retention. */
class AbortedTxnIndexTest {
    @TempDir
    Path data;

    @Test
    void dropsATornLastEntryAndWhatLiesPastTheLogEndAndAnswersOverlaps() throws Exception {
        AbortedTxnIndex index = AbortedTxnIndex.load(data, 100);
        for (long i = 0; i < 4; i++) index.writeAppend(index.add(new AbortedTxn(i, i * 10, i * 10 + 5, i * 10)));
        assertThat(index.add(new AbortedTxn(9, 0, 35, 0))).as("a replay meeting an indexed marker").isNull();
        assertThat(index.overlapping(16, 21)).extracting(AbortedTxn::producerId).containsExactly(2L);
        assertThat(index.overlapping(0, 100)).hasSize(4);

        Files.write(data.resolve(AbortedTxnIndex.FILE), new byte[] {1, 2, 3}, StandardOpenOption.APPEND);
        assertThat(AbortedTxnIndex.load(data, 100).size()).as("a torn entry at the end is dropped").isEqualTo(4);
        AbortedTxnIndex shorter = AbortedTxnIndex.load(data, 25);
        assertThat(shorter.lastOffset()).as("markers at or past the log end are dropped").isEqualTo(15);
        assertThat(AbortedTxnIndex.load(data, 100).size()).as("and the file was rewritten without them").isEqualTo(2);
        assertThat(shorter.dropBefore(10)).isTrue();
        assertThat(shorter.snapshot()).extracting(AbortedTxn::producerId).containsExactly(1L);
    }

    @Test
    void anEntryDamagedBeforeWholeOnesMarksTheIndexForRebuildingWhileATornLastOneDoesNot() throws Exception {
        AbortedTxnIndex index = AbortedTxnIndex.load(data, 100);
        for (long i = 0; i < 3; i++) index.writeAppend(index.add(new AbortedTxn(i, i * 10, i * 10 + 5, i * 10)));
        Path f = data.resolve(AbortedTxnIndex.FILE);
        byte[] bytes = Files.readAllBytes(f);
        bytes[bytes.length - 2] ^= 1;
        Files.write(f, bytes);
        AbortedTxnIndex tornTail = AbortedTxnIndex.load(data, 100);
        assertThat(tornTail.damaged()).isFalse();
        assertThat(tornTail.size()).isEqualTo(2);
        bytes = Files.readAllBytes(f);
        bytes[0] ^= 1;
        Files.write(f, bytes);
        assertThat(AbortedTxnIndex.load(data, 100).damaged()).isTrue();
    }
}
