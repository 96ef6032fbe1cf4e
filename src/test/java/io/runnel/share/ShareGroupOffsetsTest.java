package io.runnel.share;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.catchThrowable;
import static org.awaitility.Awaitility.await;

import io.runnel.testkit.BrokerPerTest;
import io.runnel.testkit.KafkaClients;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Set;
import org.apache.kafka.clients.admin.Admin;
import org.apache.kafka.clients.admin.GroupListing;
import org.apache.kafka.clients.admin.ListGroupsOptions;
import org.apache.kafka.clients.admin.ListShareGroupOffsetsSpec;
import org.apache.kafka.clients.admin.SharePartitionOffsetInfo;
import org.apache.kafka.clients.consumer.KafkaShareConsumer;
import org.apache.kafka.clients.producer.KafkaProducer;
import org.apache.kafka.clients.producer.ProducerRecord;
import org.apache.kafka.common.TopicPartition;
import org.apache.kafka.common.errors.GroupIdNotFoundException;
import org.apache.kafka.common.errors.GroupNotEmptyException;
import org.junit.jupiter.api.Test;

/** A share group's start offsets with the Admin client (kafka-share-groups.sh --describe --offsets, --reset-offsets, --delete-offsets). */
class ShareGroupOffsetsTest extends BrokerPerTest {
    private static final TopicPartition LEDGER = new TopicPartition("ledger", 0);

    @Override
    protected Map<String, String> brokerConfig() {
        return Map.of("group.share.heartbeat.interval.ms", "500");
    }

    private Map<TopicPartition, SharePartitionOffsetInfo> offsets(Admin admin) throws Exception {
        return admin.listShareGroupOffsets(Map.of("g", new ListShareGroupOffsetsSpec())).partitionsToOffsetInfo("g").get();
    }

    @Test
    void startOffsetsAreDescribedResetAndDeletedWhileTheGroupIsEmpty() throws Exception {
        createTopic("ledger", 1);
        try (KafkaProducer<String, String> p = KafkaClients.producer(broker.bootstrapServers(), Map.of())) {
            for (int i = 0; i < 10; i++) p.send(new ProducerRecord<>("ledger", "r" + i)).get();
        }
        try (Admin admin = KafkaClients.admin(broker.bootstrapServers())) {
            assertThat(catchThrowable(() -> offsets(admin))).as("no such group yet").hasCauseInstanceOf(GroupIdNotFoundException.class);
            admin.alterShareGroupOffsets("g", Map.of(LEDGER, 4L)).all().get();
            assertThat(admin.listGroups(ListGroupsOptions.forShareGroups()).all().get()).as("created by the alter, as in Kafka")
                    .extracting(GroupListing::groupId).containsExactly("g");
            SharePartitionOffsetInfo info = offsets(admin).get(LEDGER);
            assertThat(info.startOffset()).isEqualTo(4);
            assertThat(info.lag()).contains(6L);

            List<String> got = new ArrayList<>();
            try (KafkaShareConsumer<String, String> c = KafkaClients.shareConsumer(broker.bootstrapServers(), "g", Map.of())) {
                c.subscribe(List.of("ledger"));
                await().atMost(Duration.ofSeconds(30)).until(() -> {
                    c.poll(Duration.ofMillis(100)).forEach(r -> got.add(r.value()));
                    return got.size() >= 6;
                });
                assertThat(catchThrowable(() -> admin.alterShareGroupOffsets("g", Map.of(LEDGER, 0L)).all().get()))
                        .as("a group with members").hasCauseInstanceOf(GroupNotEmptyException.class);
                c.poll(Duration.ofMillis(100)); // accepts the last records
                c.commitSync();
            }
            assertThat(got).containsExactly("r4", "r5", "r6", "r7", "r8", "r9");
            await().atMost(Duration.ofSeconds(10)).until(() -> offsets(admin).get(LEDGER).startOffset() == 10);
            assertThat(offsets(admin).get(LEDGER).lag()).contains(0L);

            admin.deleteShareGroupOffsets("g", Set.of("ledger")).all().get();
            SharePartitionOffsetInfo gone = offsets(admin).get(LEDGER);
            assertThat(gone == null || gone.startOffset() == -1).as("no state after the delete: %s", gone).isTrue();
            assertThat(catchThrowable(() -> admin.deleteShareGroupOffsets("g", Set.of("ledger")).all().get()))
                    .as("nothing left to delete").isNotNull();

            admin.alterShareGroupOffsets("g", Map.of(LEDGER, 7L)).all().get();
            assertThat(offsets(admin).get(LEDGER).startOffset()).isEqualTo(7);
            admin.deleteShareGroups(List.of("g")).all().get();
            assertThat(catchThrowable(() -> offsets(admin))).as("a deleted group").hasCauseInstanceOf(GroupIdNotFoundException.class);
            admin.alterShareGroupOffsets("g", Map.of(LEDGER, 0L)).all().get();
            assertThat(offsets(admin).get(LEDGER).startOffset()).as("a new group, not the deleted one's state").isZero();
        }
    }
}
