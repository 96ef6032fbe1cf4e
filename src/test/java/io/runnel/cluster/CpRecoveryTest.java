package io.runnel.cluster;

import static org.assertj.core.api.Assertions.assertThat;

import io.runnel.cluster.CpRecovery.Published;
import java.util.List;
import java.util.Map;
import java.util.Set;
import org.junit.jupiter.api.Test;

/** When a CP group that lost its majority may be reset, and where the quorum made after a reset takes up its sequences. */
class CpRecoveryTest {
    private static final Map<String, Integer> GROUP = Map.of("a", 1, "b", 2, "c", 3);

    private static Published cp(String uuid) {
        return new Published(uuid, 10, 2);
    }

    @Test
    void aGroupIsLostForGoodOnlyWhenAMajorityOfItsMembersProvablyLostTheirIdentity() {
        // Two brokers restarted (they hold no CP identity now): only "a" can come back as itself.
        assertThat(CpRecovery.lostForGood(GROUP, Map.of(1, cp("a"), 2, cp(""), 3, cp("")), Set.of(1, 2, 3))).isTrue();
        // One restarted: "a" and "c" still make a majority.
        assertThat(CpRecovery.lostForGood(GROUP, Map.of(1, cp("a"), 2, cp(""), 3, cp("c")), Set.of(1, 2, 3))).isFalse();
        // Two unreachable (the other side of a partition, or frozen): they may come back as themselves, no reset.
        assertThat(CpRecovery.lostForGood(GROUP, Map.of(1, cp("a"), 2, cp("b"), 3, cp("c")), Set.of(1))).isFalse();
        // A member whose broker is not live counts as possibly alive even if its last entry says otherwise.
        assertThat(CpRecovery.lostForGood(GROUP, Map.of(1, cp("a"), 2, cp(""), 3, cp("")), Set.of(1, 2))).isFalse();
        // A broker promoted again under a new identity: its old one is gone.
        assertThat(CpRecovery.lostForGood(GROUP, Map.of(1, cp("x"), 2, cp("y"), 3, cp("c")), Set.of(1, 2, 3))).isTrue();
        // No entry yet for a restarted broker: not proof.
        assertThat(CpRecovery.lostForGood(GROUP, Map.of(1, cp("a")), Set.of(1, 2, 3))).isFalse();
        assertThat(CpRecovery.lostForGood(Map.of(), Map.of(), Set.of(1, 2, 3))).as("no group seen yet").isFalse();
    }

    @Test
    void theFloorIsTheHighestVersionAppliedAndEpochSeenAnywhere() {
        long[] floor = CpRecovery.floor(List.of(new Published("a", 41, 3), new Published("", 57, 2), new Published("c", -1, 5)));
        assertThat(floor).containsExactly(57, 5);
        assertThat(CpRecovery.floor(List.of())).containsExactly(0, 0);
    }

    @Test
    void aRestartedBrokerDoesNotLowerWhatItsNodeIdPublished() {
        // Its former process saw controller epoch 528 and applied version 90; the new one has seen nothing yet.
        Published restarted = CpRecovery.merge(new Published("old", 90, 528), "", -1, 0);
        assertThat(restarted).isEqualTo(new Published("", 90, 528));
        assertThat(CpRecovery.merge(restarted, "new", 95, 530)).isEqualTo(new Published("new", 95, 530));
        assertThat(CpRecovery.merge(null, "", -1, 0)).isEqualTo(new Published("", -1, 0));
    }

    @Test
    void anEntryRoundTrips() {
        Published p = new Published("d8c1", 12, 4);
        assertThat(Published.decode(p.encode())).isEqualTo(p);
        assertThat(Published.decode(null)).isNull();
    }
}
