package io.runnel.chaos;

import static org.assertj.core.api.Assertions.assertThat;

import io.runnel.chaos.History.Entry;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.stream.Collectors;
import org.junit.jupiter.api.Test;

/** The chaos checker on made-up histories: each violation it must find, and a clean history it must pass. */
class CheckerTest {

    /** A clean run: three records acknowledged and read, committed, copied exactly once. */
    private static History clean() {
        History h = new History();
        h.acks.add(new History.Ack("p0-k0:0", 0, 0, 1));
        h.acks.add(new History.Ack("p0-k0:1", 0, 1, 2));
        h.acks.add(new History.Ack("p0-k1:0", 1, 0, 3));
        h.finalLog = Map.of(0, List.of(new Entry(0, "p0-k0:0"), new Entry(1, "p0-k0:1")), 1, List.of(new Entry(0, "p0-k1:0")));
        h.reads.add(new History.Read(History.GROUP, 0, 0, "p0-k0:0"));
        h.reads.add(new History.Read(History.GROUP, 0, 0, "p0-k0:0")); // read twice: at-least-once allows it
        h.commits.add(new History.Offset(0, 2, 10));
        h.observedOffsets.add(new History.Offset(0, 1, 5));
        h.observedOffsets.add(new History.Offset(0, 2, 11));
        h.finalCommitted = Map.of(0, 2L, 1, 1L);
        h.finalOutput = Map.of(0, List.of(new Entry(0, "p0-k0:0"), new Entry(3, "p0-k0:1")), 1, List.of(new Entry(0, "p0-k1:0")));
        h.copyCommitted = Map.of(0, 2L, 1, 1L);
        h.reads.add(new History.Read(History.COMMITTED_READER, 0, 3, "p0-k0:1"));
        return h;
    }

    private static Map<String, Long> violations(History h) {
        return Checker.check(h).stream().collect(Collectors.toMap(Checker.Check::name, Checker.Check::violations));
    }

    private static Map<String, Long> onlyFailing(History h) {
        return violations(h).entrySet().stream().filter(e -> e.getValue() > 0).collect(Collectors.toMap(Map.Entry::getKey, Map.Entry::getValue));
    }

    @Test
    void aCleanHistoryPasses() {
        assertThat(Checker.check(clean())).allMatch(Checker.Check::passed);
    }

    @Test
    void anAcknowledgedRecordMissingOrReplacedIsLost() {
        History h = clean();
        h.acks.add(new History.Ack("p1-k0:0", 1, 5, 4)); // beyond the log's end
        h.acks.add(new History.Ack("p1-k0:1", 1, 0, 4)); // the log has another record there
        assertThat(onlyFailing(h)).containsOnly(Map.entry(Checker.LOST, 2L));
    }

    @Test
    void theSameRecordTwiceInTheLogIsADuplicate() {
        History h = clean();
        h.finalLog = Map.of(0, List.of(new Entry(0, "p0-k0:0"), new Entry(1, "p0-k0:1")), 1, List.of(new Entry(0, "p0-k1:0"), new Entry(1, "p0-k0:1")));
        assertThat(violations(h)).containsEntry(Checker.DUPLICATED, 1L);
    }

    @Test
    void aKeysSequenceGoingBackIsAnOrderViolation() {
        History h = clean();
        h.finalLog = Map.of(0, List.of(new Entry(0, "p0-k0:1"), new Entry(1, "p0-k0:0")), 1, List.of(new Entry(0, "p0-k1:0")));
        assertThat(violations(h)).containsEntry(Checker.ORDER, 1L);
    }

    @Test
    void committedOffsetsMovingBackwardsAreFound() {
        History h = clean();
        h.observedOffsets.add(new History.Offset(0, 1, 12)); // read as 2 at 11, then as 1
        assertThat(onlyFailing(h)).containsOnly(Map.entry(Checker.COMMITS_BACKWARDS, 1L));

        History lostCommit = clean();
        lostCommit.finalCommitted = Map.of(0, 1L, 1, 1L); // 2 was acknowledged
        assertThat(onlyFailing(lostCommit)).containsEntry(Checker.COMMITS_BACKWARDS, 1L);
    }

    @Test
    void aRecordReadThatIsNotInTheFinalLogVanished() {
        History h = clean();
        h.reads.add(new History.Read(History.GROUP, 1, 1, "p0-k1:1"));
        h.reads.add(new History.Read(History.COMMITTED_READER, 1, 7, "p0-k1:0"));
        assertThat(onlyFailing(h)).containsOnly(Map.entry(Checker.VANISHED, 2L));
    }

    @Test
    void anAbortedRecordSeenByReadCommittedIsFound() {
        History h = clean();
        h.reads.add(new History.Read(History.COMMITTED_READER, 0, 4, History.ABORTED_PREFIX + 7));
        List<Entry> out = new ArrayList<>(h.finalOutput.get(0));
        out.add(new Entry(4, History.ABORTED_PREFIX + 7));
        h.finalOutput = Map.of(0, out, 1, h.finalOutput.get(1));
        assertThat(onlyFailing(h)).containsOnly(Map.entry(Checker.ABORTED_READ, 2L));
    }

    @Test
    void theCopyMustHoldEachCommittedInputOnceAndNothingUncommitted() {
        History missing = clean();
        missing.finalOutput = Map.of(0, List.of(new Entry(0, "p0-k0:0")), 1, List.of(new Entry(0, "p0-k1:0")));
        // the read_committed reader had read the missing copy: that it vanished is a finding of its own
        assertThat(onlyFailing(missing)).containsOnly(Map.entry(Checker.COPY, 1L), Map.entry(Checker.VANISHED, 1L));

        History twice = clean();
        twice.finalOutput = Map.of(0, List.of(new Entry(0, "p0-k0:0"), new Entry(3, "p0-k0:1"), new Entry(4, "p0-k0:1")),
                1, List.of(new Entry(0, "p0-k1:0")));
        assertThat(onlyFailing(twice)).containsOnly(Map.entry(Checker.COPY, 1L));

        History ahead = clean();
        ahead.copyCommitted = Map.of(0, 1L, 1, 1L); // p0-k0:1 is in the output, its input offset 1 was never committed
        assertThat(onlyFailing(ahead)).containsOnly(Map.entry(Checker.COPY, 1L));
    }

    @Test
    void twoBrokersClaimingOneControllerEpochOrOneLeaderEpochAreASplitBrain() {
        History fine = clean();
        fine.claims.add(new History.Claim(1, 1, 3, Map.of("chaos-0", 5)));
        fine.claims.add(new History.Claim(1, 2, 3, Map.of("chaos-0", 5))); // the same broker again
        fine.claims.add(new History.Claim(2, 3, 4, Map.of("chaos-0", 6))); // a later election
        fine.claims.add(new History.Claim(1, 3, -1, Map.of("chaos-0", 5))); // a deposed leader that has not heard yet
        assertThat(Checker.check(fine)).allMatch(Checker.Check::passed);

        History split = clean();
        split.claims.add(new History.Claim(1, 1, 3, Map.of("chaos-0", 5)));
        split.claims.add(new History.Claim(3, 9, 3, Map.of("chaos-0", 5, "chaos-1", 2)));
        assertThat(onlyFailing(split)).containsOnly(Map.entry(Checker.TWO_CONTROLLERS, 1L), Map.entry(Checker.TWO_LEADERS, 1L));
    }

    @Test
    void aFinalStateThatCouldNotBeReadIsReportedUncheckedNotAsLoss() {
        History h = clean();
        h.finalLog = Map.of();
        h.finalStateUnread = true;
        List<Checker.Check> checks = Checker.check(h);
        assertThat(checks).filteredOn(c -> c.name().equals(Checker.LOST)).singleElement()
                .satisfies(c -> assertThat(c.violations()).isEqualTo(-1L));
        assertThat(checks).filteredOn(c -> c.name().equals(Checker.TWO_CONTROLLERS)).singleElement()
                .satisfies(c -> assertThat(c.passed()).isTrue());
        assertThat(checks).anyMatch(c -> !c.passed());
    }
}
