package io.runnel.share;

import static io.runnel.share.SharePartitionState.ACCEPT;
import static io.runnel.share.SharePartitionState.GAP;
import static io.runnel.share.SharePartitionState.REJECT;
import static io.runnel.share.SharePartitionState.RELEASE;
import static io.runnel.share.SharePartitionState.RENEW;
import static org.assertj.core.api.Assertions.assertThat;

import io.runnel.share.SharePartitionState.AckBatch;
import io.runnel.share.SharePartitionState.Acquired;
import io.runnel.share.SharePartitionState.Batch;
import io.runnel.share.SharePartitionState.RecordState;
import io.runnel.share.SharePartitionState.Settings;
import java.nio.ByteBuffer;
import java.util.List;
import org.apache.kafka.common.Uuid;
import org.apache.kafka.common.protocol.Errors;
import org.junit.jupiter.api.Test;

/** KIP-932's delivery rules on one share-partition: acquisition, the four acknowledgements, locks, the delivery limit. */
class SharePartitionStateTest {
    private static final Settings SETTINGS = new Settings(3, 20, 30_000);

    private static AckBatch ack(long first, long last, byte type) {
        return new AckBatch(first, last, new byte[] {type});
    }

    /** Log batches of five records from offset 0. */
    private static List<Batch> batches(int count) {
        return java.util.stream.IntStream.range(0, count).mapToObj(i -> new Batch(i * 5L, i * 5L + 4)).toList();
    }

    @Test
    void membersGetDisjointRecordsAndAcceptedOnesAreDone() {
        SharePartitionState s = SharePartitionState.startingAt(SETTINGS, 0);
        assertThat(s.acquire("a", batches(2), 3, 0)).as("a soft bound: the whole first batch").containsExactly(new Acquired(0, 4, (short) 1));
        assertThat(s.nextFetchOffset()).isEqualTo(5);
        assertThat(s.acquire("b", batches(2), 100, 0)).as("only what a does not hold").containsExactly(new Acquired(5, 9, (short) 1));
        assertThat(s.acquire("c", batches(2), 100, 0)).isEmpty();

        assertThat(s.acknowledge("a", List.of(ack(0, 4, ACCEPT)), false, 1)).isEqualTo(Errors.NONE);
        assertThat(s.startOffset()).isEqualTo(5);
        assertThat(s.acknowledge("b", List.of(ack(5, 9, ACCEPT)), false, 1)).isEqualTo(Errors.NONE);
        assertThat(s.startOffset()).isEqualTo(10);
        assertThat(s.inFlight()).isZero();
    }

    @Test
    void releaseGivesTheRecordAgainWithItsCountAndTheLimitArchivesIt() {
        SharePartitionState s = SharePartitionState.startingAt(SETTINGS, 0);
        List<Batch> one = List.of(new Batch(0, 0));
        for (int delivery = 1; delivery <= 3; delivery++) {
            assertThat(s.acquire("m" + delivery, one, 10, 0)).containsExactly(new Acquired(0, 0, (short) delivery));
            assertThat(s.acknowledge("m" + delivery, List.of(ack(0, 0, RELEASE)), false, 0)).isEqualTo(Errors.NONE);
        }
        assertThat(s.stateOf(0)).as("delivered %d times: archived", SETTINGS.deliveryCountLimit()).isNull();
        assertThat(s.startOffset()).isEqualTo(1);
        assertThat(s.acquire("m4", one, 10, 0)).isEmpty();
    }

    @Test
    void aRecordOnItsLastDeliveryGoesOutAlone() {
        SharePartitionState s = SharePartitionState.startingAt(SETTINGS, 0); // limit 3
        s.acquire("a", batches(1), 5, 0);
        s.acknowledge("a", List.of(new AckBatch(0, 4, new byte[] {ACCEPT, RELEASE, ACCEPT, ACCEPT, ACCEPT})), false, 0);
        assertThat(s.acquire("b", batches(1), 5, 0)).containsExactly(new Acquired(1, 1, (short) 2));
        s.acknowledge("b", List.of(ack(1, 1, RELEASE)), false, 0);
        s.acquire("c", List.of(new Batch(5, 9)), 5, 0); // new records behind it
        s.acknowledge("c", List.of(ack(5, 9, RELEASE)), false, 0);
        assertThat(s.acquire("d", List.of(new Batch(0, 4), new Batch(5, 9)), 10, 0))
                .as("offset 1 on its third and last delivery, alone").containsExactly(new Acquired(1, 1, (short) 3));
        s.acknowledge("d", List.of(ack(1, 1, RELEASE)), false, 0);
        assertThat(s.stateOf(1)).as("archived").isNull();
        assertThat(s.acquire("e", List.of(new Batch(5, 9)), 10, 0)).containsExactly(new Acquired(5, 9, (short) 2));
    }

    @Test
    void rejectAndGapArchiveAndTheStartWaitsForTheFirstRecordInPlay() {
        SharePartitionState s = SharePartitionState.startingAt(SETTINGS, 0);
        s.acquire("a", batches(1), 5, 0);
        byte[] types = {ACCEPT, RELEASE, REJECT, GAP, ACCEPT};
        assertThat(s.acknowledge("a", List.of(new AckBatch(0, 4, types)), false, 0)).isEqualTo(Errors.NONE);
        assertThat(s.startOffset()).as("offset 1 is available again").isEqualTo(1);
        assertThat(s.stateOf(1)).isEqualTo(RecordState.AVAILABLE);
        assertThat(s.stateOf(2)).isEqualTo(RecordState.ARCHIVED);
        assertThat(s.stateOf(3)).isEqualTo(RecordState.ARCHIVED);
        assertThat(s.stateOf(4)).isEqualTo(RecordState.ACKNOWLEDGED);
        assertThat(s.deliveryComplete()).isEqualTo(3);
        assertThat(s.nextFetchOffset()).isEqualTo(1);
        assertThat(s.acquire("b", batches(1), 5, 0)).containsExactly(new Acquired(1, 1, (short) 2));
        s.acknowledge("b", List.of(ack(1, 1, ACCEPT)), false, 0);
        assertThat(s.startOffset()).isEqualTo(5);
    }

    @Test
    void anExpiredLockMakesTheRecordsAvailableAndALateAcknowledgementIsRefused() {
        SharePartitionState s = SharePartitionState.startingAt(SETTINGS, 0);
        s.acquire("a", batches(1), 5, 1_000);
        assertThat(s.nextLockDeadline()).isEqualTo(31_000);
        assertThat(s.expireLocks(30_999)).isFalse();
        assertThat(s.acknowledge("a", List.of(ack(0, 0, RENEW)), true, 20_000)).isEqualTo(Errors.NONE);
        assertThat(s.expireLocks(31_000)).as("1-4 expire; 0 was renewed").isTrue();
        assertThat(s.stateOf(0)).isEqualTo(RecordState.ACQUIRED);
        assertThat(s.stateOf(1)).isEqualTo(RecordState.AVAILABLE);
        assertThat(s.acknowledge("a", List.of(ack(0, 1, ACCEPT)), false, 31_000)).as("1 is no longer a's").isEqualTo(Errors.INVALID_RECORD_STATE);
        assertThat(s.stateOf(0)).as("all or nothing").isEqualTo(RecordState.ACQUIRED);
        assertThat(s.acquire("b", batches(1), 5, 31_000)).containsExactly(new Acquired(1, 4, (short) 2));
        assertThat(s.acknowledge("a", List.of(ack(1, 1, ACCEPT)), false, 31_000)).isEqualTo(Errors.INVALID_RECORD_STATE);
    }

    @Test
    void malformedAcknowledgementsAreInvalidRequestsAndChangeNothing() {
        SharePartitionState s = SharePartitionState.startingAt(SETTINGS, 0);
        s.acquire("a", batches(1), 5, 0);
        assertThat(s.acknowledge("a", List.of(ack(3, 2, ACCEPT)), false, 0)).isEqualTo(Errors.INVALID_REQUEST);
        assertThat(s.acknowledge("a", List.of(ack(0, 2, ACCEPT), ack(2, 3, ACCEPT)), false, 0)).as("overlapping").isEqualTo(Errors.INVALID_REQUEST);
        assertThat(s.acknowledge("a", List.of(new AckBatch(0, 2, new byte[] {ACCEPT, ACCEPT})), false, 0)).as("types per offset")
                .isEqualTo(Errors.INVALID_REQUEST);
        assertThat(s.acknowledge("a", List.of(ack(0, 0, (byte) 9)), false, 0)).isEqualTo(Errors.INVALID_REQUEST);
        assertThat(s.acknowledge("a", List.of(ack(0, 0, RENEW)), false, 0)).as("RENEW only where the version allows it").isEqualTo(Errors.INVALID_REQUEST);
        assertThat(s.acknowledge("a", List.of(ack(0, 0, ACCEPT), ack(2, 2, ACCEPT)), false, 0)).isEqualTo(Errors.NONE);
        assertThat(s.acknowledge("a", List.of(ack(2, 2, ACCEPT)), false, 0)).as("twice").isEqualTo(Errors.INVALID_RECORD_STATE);
        assertThat(s.acknowledge("a", List.of(ack(7, 7, ACCEPT)), false, 0)).as("never acquired").isEqualTo(Errors.INVALID_RECORD_STATE);
        assertThat(s.acknowledge("b", List.of(ack(1, 1, ACCEPT)), false, 0)).as("another member's").isEqualTo(Errors.INVALID_RECORD_STATE);
        // As Kafka (SharePartition.acknowledge): offsets the start offset has passed are done, and acknowledging them again is ignored.
        assertThat(s.acknowledge("a", List.of(ack(0, 0, ACCEPT)), false, 0)).isEqualTo(Errors.NONE);
        for (long o : new long[] {1, 3, 4}) assertThat(s.stateOf(o)).isEqualTo(RecordState.ACQUIRED);
    }

    @Test
    void theWindowHoldsAtMostMaxRecordLocksUntilItsStartMoves() {
        SharePartitionState s = SharePartitionState.startingAt(new Settings(5, 12, 30_000), 0);
        List<Acquired> got = s.acquire("a", batches(10), 1_000, 0);
        assertThat(got).containsExactly(new Acquired(0, 11, (short) 1));
        assertThat(s.inFlight()).isEqualTo(12);
        assertThat(s.hasAcquirable(50)).isFalse();
        assertThat(s.acquire("b", batches(10), 1_000, 0)).isEmpty();
        s.acknowledge("a", List.of(ack(0, 4, ACCEPT)), false, 0);
        assertThat(s.hasAcquirable(50)).isTrue();
        assertThat(s.acquire("b", batches(10), 1_000, 0)).containsExactly(new Acquired(12, 16, (short) 1));
    }

    @Test
    void aMemberWhoseSessionEndsReleasesWhatItHolds() {
        SharePartitionState s = SharePartitionState.startingAt(SETTINGS, 0);
        s.acquire("a", batches(1), 5, 0);
        s.acquire("b", batches(2), 5, 0);
        assertThat(s.acquiredBy("a")).isEqualTo(5);
        assertThat(s.releaseMember("a")).isTrue();
        assertThat(s.acquiredBy("a")).isZero();
        assertThat(s.acquiredBy("b")).isEqualTo(5);
        assertThat(s.nextFetchOffset()).isZero();
        assertThat(s.releaseMember("a")).isFalse();
    }

    @Test
    void offsetsWithoutRecordsAreDoneAndTheLogStartMovingDropsWhatItPassed() {
        SharePartitionState s = SharePartitionState.startingAt(SETTINGS, 0);
        assertThat(s.acquire("a", List.of(new Batch(0, 1), new Batch(7, 8)), 10, 0))
                .as("2-6 were compacted away").containsExactly(new Acquired(0, 1, (short) 1), new Acquired(7, 8, (short) 1));
        s.acknowledge("a", List.of(ack(0, 1, ACCEPT)), false, 0);
        assertThat(s.startOffset()).isEqualTo(7);
        s.logStartMoved(8);
        assertThat(s.startOffset()).isEqualTo(8);
        assertThat(s.stateOf(7)).isNull();
        s.logStartMoved(100);
        assertThat(s.startOffset()).isEqualTo(100);
        assertThat(s.endOffset()).isEqualTo(99);
        assertThat(s.nextFetchOffset()).isEqualTo(100);
    }

    @Test
    void aSnapshotKeepsEveryStateAndCountAndGivesAcquiredRecordsAgain() {
        SharePartitionState s = SharePartitionState.startingAt(SETTINGS, 3);
        s.acquire("a", List.of(new Batch(3, 9)), 10, 0);
        s.acknowledge("a", List.of(new AckBatch(4, 8, new byte[] {ACCEPT, RELEASE, REJECT, ACCEPT, ACCEPT})), false, 0);
        ShareSnapshot snap = s.snapshot(2, 200);
        assertThat(snap.startOffset()).isEqualTo(3);
        assertThat(snap.batches()).containsExactly(new ShareSnapshot.StateBatch(3, 3, RecordState.AVAILABLE.id, (short) 1),
                new ShareSnapshot.StateBatch(4, 4, RecordState.ACKNOWLEDGED.id, (short) 1),
                new ShareSnapshot.StateBatch(5, 5, RecordState.AVAILABLE.id, (short) 1),
                new ShareSnapshot.StateBatch(6, 6, RecordState.ARCHIVED.id, (short) 1),
                new ShareSnapshot.StateBatch(7, 8, RecordState.ACKNOWLEDGED.id, (short) 1),
                new ShareSnapshot.StateBatch(9, 9, RecordState.AVAILABLE.id, (short) 1));
        assertThat(snap.deliveryCompleteCount()).isEqualTo(4);

        ShareSnapshot read = ShareSnapshot.decodeValue(ByteBuffer.wrap(snap.encodeValue()));
        assertThat(read).isEqualTo(snap);
        SharePartitionState again = SharePartitionState.restore(SETTINGS, read);
        assertThat(again.startOffset()).isEqualTo(3);
        assertThat(again.endOffset()).isEqualTo(9);
        assertThat(again.acquire("b", List.of(new Batch(3, 9)), 10, 0)).as("what a held, delivered again; done records not")
                .containsExactly(new Acquired(3, 3, (short) 2), new Acquired(5, 5, (short) 2), new Acquired(9, 9, (short) 2));
    }

    @Test
    void snapshotRecordsUseKafkasShareGroupStateLayout() {
        Uuid topic = Uuid.randomUuid();
        byte[] key = ShareSnapshot.encodeKey(new ShareSnapshot.Key("workers", topic, 4));
        ByteBuffer k = ByteBuffer.wrap(key);
        assertThat(k.getShort()).as("record type: ShareSnapshotKey").isZero();
        assertThat(k.getShort()).isEqualTo((short) 7);
        assertThat(ShareSnapshot.decodeKey(ByteBuffer.wrap(key))).isEqualTo(new ShareSnapshot.Key("workers", topic, 4));
        assertThat(ShareSnapshot.decodeKey(ByteBuffer.wrap(new byte[] {0, 5, 1}))).as("another record type").isNull();

        ShareSnapshot empty = new ShareSnapshot(0, 0, 0, 42, -1, 1, 2, List.of());
        byte[] v = empty.encodeValue();
        assertThat(v).as("version, 3 ints, 3 longs, an empty compact array, no tagged field").hasSize(2 + 12 + 24 + 1 + 1);
        assertThat(ShareSnapshot.decodeValue(ByteBuffer.wrap(v))).isEqualTo(empty);
        byte[] future = v.clone();
        future[1] = 1;
        org.assertj.core.api.Assertions.assertThatThrownBy(() -> ShareSnapshot.decodeValue(ByteBuffer.wrap(future)))
                .isInstanceOf(IllegalArgumentException.class);
    }

    @Test
    void aWriteMergesIntoTheStoredStateAsKafkasCoordinatorMergesIt() {
        List<ShareSnapshot.StateBatch> stored = List.of(new ShareSnapshot.StateBatch(0, 9, (byte) 0, (short) 1),
                new ShareSnapshot.StateBatch(10, 19, (byte) 2, (short) 1), new ShareSnapshot.StateBatch(30, 39, (byte) 0, (short) 2));
        List<ShareSnapshot.StateBatch> written = List.of(new ShareSnapshot.StateBatch(35, 44, (byte) 4, (short) 3),
                new ShareSnapshot.StateBatch(5, 12, (byte) 2, (short) 1));
        assertThat(ShareSnapshot.merge(stored, written, 3)).containsExactly(new ShareSnapshot.StateBatch(3, 4, (byte) 0, (short) 1),
                new ShareSnapshot.StateBatch(5, 12, (byte) 2, (short) 1), new ShareSnapshot.StateBatch(13, 19, (byte) 2, (short) 1),
                new ShareSnapshot.StateBatch(30, 34, (byte) 0, (short) 2), new ShareSnapshot.StateBatch(35, 44, (byte) 4, (short) 3));
        assertThat(ShareSnapshot.merge(stored, stored, 0)).as("the whole state written again").isEqualTo(stored);
        assertThat(ShareSnapshot.merge(stored, List.of(), 40)).isEmpty();
        assertThat(ShareSnapshot.merge(List.of(), written, 0)).containsExactly(written.get(1), written.get(0));
    }

    @Test
    void theRecordLimitModeCutsABatchWhereTheLimitFalls() {
        SharePartitionState s = SharePartitionState.startingAt(SETTINGS, 0);
        assertThat(s.acquire("a", List.of(new Batch(0, 9)), 3, 0, true)).containsExactly(new Acquired(0, 2, (short) 1));
        assertThat(s.acquire("b", List.of(new Batch(0, 9)), 3, 0)).as("batch-optimized: the rest of the batch")
                .containsExactly(new Acquired(3, 9, (short) 1));
    }

    @Test
    void aBatchRedeliveredPastHalfTheLimitGoesOutAloneAndInEverSmallerParts() {
        // Kafka's throttled delivery with share.delivery.count.limit=5: the throttle limit is 3.
        SharePartitionState s = SharePartitionState.startingAt(new Settings(5, 100, 30_000), 0);
        List<Batch> log = List.of(new Batch(0, 7), new Batch(8, 11));
        assertThat(s.acquire("a", log, 100, 0)).containsExactly(new Acquired(0, 11, (short) 1));
        s.acknowledge("a", List.of(ack(0, 7, RELEASE), ack(8, 11, ACCEPT)), false, 0);
        for (int delivery = 2; delivery <= 3; delivery++) {
            assertThat(s.acquire("a", log, 100, 0)).as("delivery %d: the batch whole", delivery).containsExactly(new Acquired(0, 7, (short) delivery));
            s.acknowledge("a", List.of(ack(0, 7, RELEASE)), false, 0);
        }
        log = List.of(new Batch(0, 7), new Batch(8, 11), new Batch(12, 15));
        assertThat(s.acquire("a", log, 100, 0)).as("delivered three times: half the batch, nothing after it")
                .containsExactly(new Acquired(0, 3, (short) 4));
        assertThat(s.acquire("b", log, 100, 0)).as("the other half").containsExactly(new Acquired(4, 7, (short) 4));
        assertThat(s.acquire("c", log, 100, 0)).as("then the new records").containsExactly(new Acquired(12, 15, (short) 1));
        s.acknowledge("a", List.of(ack(0, 3, RELEASE)), false, 0);
        assertThat(s.acquire("a", log, 100, 0)).as("the last delivery: one record alone").containsExactly(new Acquired(0, 0, (short) 5));
    }

    @Test
    void anAcknowledgementThatCouldNotBeStoredIsPutBack() {
        SharePartitionState s = SharePartitionState.startingAt(SETTINGS, 0);
        s.acquire("a", batches(1), 100, 0); // 0-4, lock until 30,000
        SharePartitionState.Acknowledged first = s.acknowledgeUndoable("a", List.of(ack(0, 1, ACCEPT), ack(2, 2, RELEASE)), false, 10);
        assertThat(first.error()).isEqualTo(Errors.NONE);
        assertThat(s.startOffset()).isEqualTo(2);
        assertThat(s.acquire("b", batches(1), 100, 20)).as("b takes the released record").containsExactly(new Acquired(2, 2, (short) 2));
        SharePartitionState.Acknowledged later = s.acknowledgeUndoable("a", List.of(ack(3, 3, ACCEPT)), false, 30);
        assertThat(later.error()).isEqualTo(Errors.NONE);

        s.rollback(first.undo()); // its write failed: 0 and 1 are a's again, under their old lock; 2 stays with b
        assertThat(s.startOffset()).isEqualTo(0);
        assertThat(java.util.Arrays.asList(s.stateOf(0), s.stateOf(1), s.stateOf(2), s.stateOf(3), s.stateOf(4)))
                .containsExactly(RecordState.ACQUIRED, RecordState.ACQUIRED, RecordState.ACQUIRED, RecordState.ACKNOWLEDGED, RecordState.ACQUIRED);
        assertThat(s.deliveryCountOf(0)).isEqualTo(1);
        assertThat(s.acquiredBy("a")).isEqualTo(3);
        assertThat(s.acquiredBy("b")).isEqualTo(1);
        assertThat(s.nextLockDeadline()).as("under the lock they had").isEqualTo(30_000);
        assertThat(s.acknowledge("a", List.of(ack(0, 1, ACCEPT)), false, 40)).as("a may acknowledge them again").isEqualTo(Errors.NONE);
        assertThat(s.startOffset()).isEqualTo(2);

        SharePartitionState.Acknowledged renew = s.acknowledgeUndoable("a", List.of(ack(4, 4, RENEW)), true, 50);
        assertThat(renew.undo().isEmpty()).as("a renewal changes nothing to store").isTrue();
        SharePartitionState.Acknowledged accepted = s.acknowledgeUndoable("a", List.of(ack(4, 4, ACCEPT)), false, 60);
        s.logStartMoved(5); // retention took the log up to 5 meanwhile: nothing below it comes back
        s.rollback(accepted.undo());
        assertThat(s.stateOf(4)).isNull();
        assertThat(s.startOffset()).isEqualTo(5);
    }
}
