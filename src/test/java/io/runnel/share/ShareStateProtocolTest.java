package io.runnel.share;

import static org.assertj.core.api.Assertions.assertThat;

import io.runnel.testkit.BrokerPerTest;
import io.runnel.testkit.RawKafkaClient;
import java.util.List;
import org.apache.kafka.common.Uuid;
import org.apache.kafka.common.message.DeleteShareGroupStateRequestData;
import org.apache.kafka.common.message.InitializeShareGroupStateRequestData;
import org.apache.kafka.common.message.ReadShareGroupStateRequestData;
import org.apache.kafka.common.message.ReadShareGroupStateResponseData;
import org.apache.kafka.common.message.ReadShareGroupStateSummaryRequestData;
import org.apache.kafka.common.message.ReadShareGroupStateSummaryResponseData;
import org.apache.kafka.common.message.WriteShareGroupStateRequestData;
import org.apache.kafka.common.protocol.Errors;
import org.apache.kafka.common.requests.DeleteShareGroupStateRequest;
import org.apache.kafka.common.requests.DeleteShareGroupStateResponse;
import org.apache.kafka.common.requests.InitializeShareGroupStateRequest;
import org.apache.kafka.common.requests.InitializeShareGroupStateResponse;
import org.apache.kafka.common.requests.ReadShareGroupStateRequest;
import org.apache.kafka.common.requests.ReadShareGroupStateResponse;
import org.apache.kafka.common.requests.ReadShareGroupStateSummaryRequest;
import org.apache.kafka.common.requests.ReadShareGroupStateSummaryResponse;
import org.apache.kafka.common.requests.WriteShareGroupStateRequest;
import org.apache.kafka.common.requests.WriteShareGroupStateResponse;
import org.junit.jupiter.api.Test;

/**
 * The share coordinator's inter-broker APIs with Kafka's rules: a read with a newer leader epoch fences the older
 * leader's writes, a write from an older state epoch is refused, writes merge into the stored state, initializing
 * starts a new state epoch, and a deleted state reads as never initialized. The state survives a restart.
 */
class ShareStateProtocolTest extends BrokerPerTest {
    private static final String GROUP = "workers";
    private static final Uuid TOPIC = Uuid.randomUuid();
    private static final byte AVAILABLE = 0;
    private static final byte ACKNOWLEDGED = 2;
    private static final byte ARCHIVED = 4;

    private static ReadShareGroupStateResponseData.PartitionResult read(RawKafkaClient c, int leaderEpoch) throws Exception {
        ReadShareGroupStateRequestData d = new ReadShareGroupStateRequestData().setGroupId(GROUP).setTopics(List.of(
                new ReadShareGroupStateRequestData.ReadStateData().setTopicId(TOPIC).setPartitions(List.of(
                        new ReadShareGroupStateRequestData.PartitionData().setPartition(0).setLeaderEpoch(leaderEpoch)))));
        ReadShareGroupStateResponse r = c.send(new ReadShareGroupStateRequest.Builder(d).build((short) 0));
        return r.data().results().get(0).partitions().get(0);
    }

    private static ReadShareGroupStateSummaryResponseData.PartitionResult summary(RawKafkaClient c) throws Exception {
        ReadShareGroupStateSummaryRequestData d = new ReadShareGroupStateSummaryRequestData().setGroupId(GROUP).setTopics(List.of(
                new ReadShareGroupStateSummaryRequestData.ReadStateSummaryData().setTopicId(TOPIC).setPartitions(List.of(
                        new ReadShareGroupStateSummaryRequestData.PartitionData().setPartition(0)))));
        ReadShareGroupStateSummaryResponse r = c.send(new ReadShareGroupStateSummaryRequest.Builder(d).build((short) 1));
        return r.data().results().get(0).partitions().get(0);
    }

    private static Errors write(RawKafkaClient c, int stateEpoch, int leaderEpoch, long start, int complete,
                                WriteShareGroupStateRequestData.StateBatch... batches) throws Exception {
        WriteShareGroupStateRequestData d = new WriteShareGroupStateRequestData().setGroupId(GROUP).setTopics(List.of(
                new WriteShareGroupStateRequestData.WriteStateData().setTopicId(TOPIC).setPartitions(List.of(
                        new WriteShareGroupStateRequestData.PartitionData().setPartition(0).setStateEpoch(stateEpoch).setLeaderEpoch(leaderEpoch)
                                .setStartOffset(start).setDeliveryCompleteCount(complete).setStateBatches(List.of(batches))))));
        WriteShareGroupStateResponse r = c.send(new WriteShareGroupStateRequest.Builder(d).build((short) 1));
        return Errors.forCode(r.data().results().get(0).partitions().get(0).errorCode());
    }

    private static Errors initialize(RawKafkaClient c, int stateEpoch, long start) throws Exception {
        InitializeShareGroupStateRequestData d = new InitializeShareGroupStateRequestData().setGroupId(GROUP).setTopics(List.of(
                new InitializeShareGroupStateRequestData.InitializeStateData().setTopicId(TOPIC).setPartitions(List.of(
                        new InitializeShareGroupStateRequestData.PartitionData().setPartition(0).setStateEpoch(stateEpoch).setStartOffset(start)))));
        InitializeShareGroupStateResponse r = c.send(new InitializeShareGroupStateRequest.Builder(d).build((short) 0));
        return Errors.forCode(r.data().results().get(0).partitions().get(0).errorCode());
    }

    private static Errors delete(RawKafkaClient c) throws Exception {
        DeleteShareGroupStateRequestData d = new DeleteShareGroupStateRequestData().setGroupId(GROUP).setTopics(List.of(
                new DeleteShareGroupStateRequestData.DeleteStateData().setTopicId(TOPIC).setPartitions(List.of(
                        new DeleteShareGroupStateRequestData.PartitionData().setPartition(0)))));
        DeleteShareGroupStateResponse r = c.send(new DeleteShareGroupStateRequest.Builder(d).build((short) 0));
        return Errors.forCode(r.data().results().get(0).partitions().get(0).errorCode());
    }

    private static WriteShareGroupStateRequestData.StateBatch batch(long first, long last, byte state, int count) {
        return new WriteShareGroupStateRequestData.StateBatch().setFirstOffset(first).setLastOffset(last).setDeliveryState(state)
                .setDeliveryCount((short) count);
    }

    private static List<String> batches(ReadShareGroupStateResponseData.PartitionResult p) {
        return p.stateBatches().stream().map(b -> b.firstOffset() + "-" + b.lastOffset() + ":" + b.deliveryState() + "x" + b.deliveryCount()).toList();
    }

    @Test
    void theCoordinatorKeepsKafkasRulesForShareState() throws Exception {
        try (RawKafkaClient c = new RawKafkaClient(broker.bootstrapServers())) {
            ReadShareGroupStateResponseData.PartitionResult none = read(c, 0);
            assertThat(Errors.forCode(none.errorCode())).isEqualTo(Errors.NONE);
            assertThat(none.startOffset()).as("never initialized").isEqualTo(-1);

            assertThat(initialize(c, 1, 10)).isEqualTo(Errors.NONE);
            assertThat(initialize(c, 1, 20)).as("the same state epoch again").isEqualTo(Errors.FENCED_STATE_EPOCH);
            ReadShareGroupStateResponseData.PartitionResult init = read(c, 3); // leader epoch 3 reads: epochs below are fenced
            assertThat(init.startOffset()).isEqualTo(10);
            assertThat(init.stateEpoch()).isEqualTo(1);
            assertThat(Errors.forCode(read(c, 2).errorCode())).isEqualTo(Errors.FENCED_LEADER_EPOCH);
            assertThat(write(c, 1, 2, 10, 0, batch(10, 14, AVAILABLE, 1))).as("an older leader").isEqualTo(Errors.FENCED_LEADER_EPOCH);
            assertThat(write(c, 0, 3, 10, 0, batch(10, 14, AVAILABLE, 1))).as("an older state epoch").isEqualTo(Errors.FENCED_STATE_EPOCH);

            assertThat(write(c, 1, 3, 10, 0, batch(10, 14, AVAILABLE, 1), batch(15, 19, ACKNOWLEDGED, 1))).isEqualTo(Errors.NONE);
            assertThat(write(c, 1, 3, 11, 2, batch(10, 10, ACKNOWLEDGED, 1), batch(12, 12, ARCHIVED, 5))).isEqualTo(Errors.NONE);
            ReadShareGroupStateResponseData.PartitionResult merged = read(c, 3);
            assertThat(merged.startOffset()).isEqualTo(11);
            assertThat(batches(merged)).as("the second write merged into the first, nothing before the start offset")
                    .containsExactly("11-11:0x1", "12-12:4x5", "13-14:0x1", "15-19:2x1");
            ReadShareGroupStateSummaryResponseData.PartitionResult s = summary(c);
            assertThat(s.startOffset()).isEqualTo(11);
            assertThat(s.leaderEpoch()).isEqualTo(3);
            assertThat(s.stateEpoch()).isEqualTo(1);
            assertThat(s.deliveryCompleteCount()).isEqualTo(2);
        }

        restartBroker();
        try (RawKafkaClient c = new RawKafkaClient(broker.bootstrapServers())) {
            assertThat(batches(read(c, 3))).as("read again from the log").containsExactly("11-11:0x1", "12-12:4x5", "13-14:0x1", "15-19:2x1");
            assertThat(initialize(c, 2, 100)).as("AlterShareGroupOffsets: a new state epoch").isEqualTo(Errors.NONE);
            assertThat(write(c, 1, 3, 11, 0, batch(11, 11, ACKNOWLEDGED, 1))).as("the leader's copy is stale").isEqualTo(Errors.FENCED_STATE_EPOCH);
            ReadShareGroupStateResponseData.PartitionResult again = read(c, 4);
            assertThat(again.startOffset()).isEqualTo(100);
            assertThat(again.stateBatches()).isEmpty();
            assertThat(delete(c)).isEqualTo(Errors.NONE);
            assertThat(read(c, 4).startOffset()).as("deleted").isEqualTo(-1);
            assertThat(summary(c).startOffset()).isEqualTo(-1);
        }
    }
}
