package io.runnel.group;

import static org.assertj.core.api.Assertions.assertThat;

import io.runnel.group.ConsumerGroup.Member;
import io.runnel.group.ConsumerGroup.TopicIdPartition;
import io.runnel.group.ConsumerGroup.TopicMeta;
import java.util.HashSet;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Random;
import java.util.Set;
import org.apache.kafka.common.Uuid;
import org.junit.jupiter.api.Test;

/** The consumer protocol's uniform assignor (ConsumerGroup#computeTarget), on random groups. */
class UniformAssignorTest {

    @Test
    void everyPartitionGoesOnceToASubscriberEvenlyAndOwnersKeepTheirShare() {
        Random random = new Random(42);
        for (int round = 0; round < 200; round++) {
            int topicCount = 1 + random.nextInt(6);
            Map<String, TopicMeta> topics = new LinkedHashMap<>();
            for (int t = 0; t < topicCount; t++) topics.put("t" + t, new TopicMeta(Uuid.randomUuid(), "t" + t, 1 + random.nextInt(40)));
            ConsumerGroup g = new ConsumerGroup("g");
            boolean everyoneEverything = random.nextBoolean();
            int memberCount = 1 + random.nextInt(12);
            for (int i = 0; i < memberCount; i++) {
                Member m = new Member("m" + i);
                m.subscribedTopics = everyoneEverything ? List.copyOf(topics.keySet())
                        : topics.keySet().stream().filter(x -> random.nextInt(3) > 0).toList();
                g.members.put(m.memberId, m);
            }
            g.computeTarget(topics);
            // Members take their targets (nothing else holds anything yet), then one leaves and one joins.
            for (Member m : g.members.values()) g.reconcile(m);
            check(g, topics, everyoneEverything);
            Map<String, Set<TopicIdPartition>> before = new LinkedHashMap<>();
            g.members.values().forEach(m -> before.put(m.memberId, Set.copyOf(m.assigned)));
            g.members.remove("m0");
            Member late = new Member("late");
            late.subscribedTopics = List.copyOf(topics.keySet());
            g.members.put(late.memberId, late);
            g.computeTarget(topics);
            check(g, topics, everyoneEverything);
            if (everyoneEverything) {
                int total = topics.values().stream().mapToInt(TopicMeta::partitions).sum();
                int minQuota = total / g.members.size();
                for (Member m : g.members.values()) {
                    Set<TopicIdPartition> kept = new HashSet<>(before.getOrDefault(m.memberId, Set.of()));
                    kept.retainAll(g.target.get(m.memberId));
                    // Sticky: a member keeps what it had, up to an even share.
                    assertThat(kept.size()).isGreaterThanOrEqualTo(Math.min(minQuota, before.getOrDefault(m.memberId, Set.of()).size()));
                }
            }
        }
    }

    private static void check(ConsumerGroup g, Map<String, TopicMeta> topics, boolean everyoneEverything) {
        Set<TopicIdPartition> seen = new HashSet<>();
        int expected = 0;
        for (TopicMeta t : topics.values()) {
            boolean subscribed = g.members.values().stream().anyMatch(m -> m.subscribedTopics.contains(t.name()));
            if (subscribed) expected += t.partitions();
        }
        for (Member m : g.members.values()) {
            for (TopicIdPartition tp : g.target.get(m.memberId)) {
                assertThat(seen.add(tp)).as("%s assigned twice", tp).isTrue();
                String name = topics.values().stream().filter(t -> t.topicId().equals(tp.topicId())).findFirst().orElseThrow().name();
                assertThat(m.subscribedTopics).contains(name);
            }
        }
        assertThat(seen).hasSize(expected);
        if (everyoneEverything) {
            int min = g.target.values().stream().mapToInt(Set::size).min().orElse(0);
            int max = g.target.values().stream().mapToInt(Set::size).max().orElse(0);
            assertThat(max - min).isLessThanOrEqualTo(1);
        }
    }
}
