package io.runnel.share;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import io.runnel.testkit.BrokerPerTest;
import io.runnel.testkit.Brokers;
import io.runnel.testkit.KafkaClients;
import io.runnel.testkit.RawKafkaClient;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import org.apache.kafka.clients.admin.Admin;
import org.apache.kafka.clients.admin.AlterConfigOp;
import org.apache.kafka.clients.admin.ConfigEntry;
import org.apache.kafka.clients.producer.KafkaProducer;
import org.apache.kafka.clients.producer.ProducerRecord;
import org.apache.kafka.common.Uuid;
import org.apache.kafka.common.config.ConfigResource;
import org.apache.kafka.common.message.ShareAcknowledgeRequestData;
import org.apache.kafka.common.message.ShareFetchRequestData;
import org.apache.kafka.common.message.ShareGroupHeartbeatRequestData;
import org.apache.kafka.common.protocol.ApiKeys;
import org.apache.kafka.common.protocol.Errors;
import org.apache.kafka.common.requests.ShareAcknowledgeRequest;
import org.apache.kafka.common.requests.ShareAcknowledgeResponse;
import org.apache.kafka.common.requests.ShareFetchRequest;
import org.apache.kafka.common.requests.ShareFetchResponse;
import org.apache.kafka.common.requests.ShareGroupHeartbeatRequest;
import org.apache.kafka.common.requests.ShareGroupHeartbeatResponse;
import org.junit.jupiter.api.Test;

/** Bad share-group requests get Kafka's error codes, fail only themselves, and the broker goes on serving. */
class ShareProtocolErrorsTest extends BrokerPerTest {
    private static final String MEMBER = Uuid.randomUuid().toString();

    private static ShareGroupHeartbeatResponse heartbeat(RawKafkaClient c, String member, int epoch, List<String> topics) throws Exception {
        return c.send(new ShareGroupHeartbeatRequest.Builder(new ShareGroupHeartbeatRequestData().setGroupId("g").setMemberId(member)
                .setMemberEpoch(epoch).setSubscribedTopicNames(topics)).build(ApiKeys.SHARE_GROUP_HEARTBEAT.latestVersion(false)));
    }

    private static ShareFetchResponse fetch(RawKafkaClient c, int epoch, Uuid topic, ShareFetchRequestData.AcknowledgementBatch ack) throws Exception {
        return fetch(c, MEMBER, epoch, topic, ack);
    }

    private static ShareFetchResponse fetch(RawKafkaClient c, String member, int epoch, Uuid topic, ShareFetchRequestData.AcknowledgementBatch ack)
            throws Exception {
        ShareFetchRequestData d = new ShareFetchRequestData().setGroupId("g").setMemberId(member).setShareSessionEpoch(epoch).setMaxWaitMs(0)
                .setMinBytes(1).setMaxBytes(1 << 20).setMaxRecords(100).setBatchSize(100);
        ShareFetchRequestData.FetchTopic t = new ShareFetchRequestData.FetchTopic().setTopicId(topic);
        ShareFetchRequestData.FetchPartition p = new ShareFetchRequestData.FetchPartition().setPartitionIndex(0);
        if (ack != null) p.acknowledgementBatches().add(ack);
        t.partitions().add(p);
        d.topics().add(t);
        return c.send(new ShareFetchRequest.Builder(d).build(ApiKeys.SHARE_FETCH.latestVersion(false)));
    }

    private static ShareAcknowledgeResponse acknowledge(RawKafkaClient c, int epoch, Uuid topic, long first, long last) throws Exception {
        return acknowledge(c, MEMBER, epoch, topic, first, last);
    }

    private static ShareAcknowledgeResponse acknowledge(RawKafkaClient c, String member, int epoch, Uuid topic, long first, long last) throws Exception {
        return acknowledge(c, member, epoch, topic, first, last, (byte) 1);
    }

    private static ShareAcknowledgeResponse acknowledge(RawKafkaClient c, String member, int epoch, Uuid topic, long first, long last, byte type)
            throws Exception {
        ShareAcknowledgeRequestData d = new ShareAcknowledgeRequestData().setGroupId("g").setMemberId(member).setShareSessionEpoch(epoch)
                .setIsRenewAck(type == 4);
        ShareAcknowledgeRequestData.AcknowledgeTopic t = new ShareAcknowledgeRequestData.AcknowledgeTopic().setTopicId(topic);
        ShareAcknowledgeRequestData.AcknowledgePartition p = new ShareAcknowledgeRequestData.AcknowledgePartition().setPartitionIndex(0);
        p.acknowledgementBatches().add(new ShareAcknowledgeRequestData.AcknowledgementBatch().setFirstOffset(first).setLastOffset(last)
                .setAcknowledgeTypes(List.of(type)));
        t.partitions().add(p);
        d.topics().add(t);
        return c.send(new ShareAcknowledgeRequest.Builder(d).build(ApiKeys.SHARE_ACKNOWLEDGE.latestVersion(false)));
    }

    private static Errors error(short code) {
        return Errors.forCode(code);
    }

    /** The partition's error in an acknowledgement's answer (the request's own is NONE). */
    private static Errors partitionError(ShareAcknowledgeResponse r) {
        assertThat(error(r.data().errorCode())).isEqualTo(Errors.NONE);
        return error(r.data().responses().iterator().next().partitions().get(0).errorCode());
    }

    @Override
    protected Map<String, String> brokerConfig() {
        return Map.of("group.share.record.lock.duration.ms", "1000");
    }

    @Test
    void heartbeatsAreCheckedAsKafkaChecksThem() throws Exception {
        createTopic("q", 1);
        try (RawKafkaClient c = new RawKafkaClient(broker.bootstrapServers())) {
            assertThat(error(heartbeat(c, "", 0, List.of("q")).data().errorCode())).isEqualTo(Errors.INVALID_REQUEST);
            assertThat(error(heartbeat(c, "x".repeat(37), 0, List.of("q")).data().errorCode())).isEqualTo(Errors.INVALID_REQUEST);
            assertThat(error(heartbeat(c, MEMBER, 0, null).data().errorCode())).as("a join names its topics").isEqualTo(Errors.INVALID_REQUEST);
            assertThat(error(heartbeat(c, MEMBER, 3, null).data().errorCode())).isEqualTo(Errors.GROUP_ID_NOT_FOUND);
            ShareGroupHeartbeatResponse joined = heartbeat(c, MEMBER, 0, List.of("q"));
            assertThat(error(joined.data().errorCode())).isEqualTo(Errors.NONE);
            assertThat(joined.data().memberId()).isEqualTo(MEMBER);
            assertThat(joined.data().assignment().topicPartitions()).hasSize(1);
            int epoch = joined.data().memberEpoch();
            assertThat(error(heartbeat(c, MEMBER, epoch + 5, null).data().errorCode())).isEqualTo(Errors.FENCED_MEMBER_EPOCH);
            assertThat(error(heartbeat(c, "someone-else", epoch, null).data().errorCode())).isEqualTo(Errors.UNKNOWN_MEMBER_ID);
            assertThat(error(heartbeat(c, MEMBER, epoch, null).data().errorCode())).as("the member itself is unharmed").isEqualTo(Errors.NONE);
            assertThat(heartbeat(c, MEMBER, -1, null).data().memberEpoch()).as("left").isEqualTo(-1);
        }
    }

    @Test
    void sessionsAndAcknowledgementsGetKafkasErrorsAndHarmNothingElse() throws Exception {
        Uuid topic = createTopic("q", 1);
        try (RawKafkaClient c = new RawKafkaClient(broker.bootstrapServers())) {
            assertThat(error(fetch(c, 4, topic, null).data().errorCode())).as("no session").isEqualTo(Errors.SHARE_SESSION_NOT_FOUND);
            ShareFetchRequestData.AcknowledgementBatch ack = new ShareFetchRequestData.AcknowledgementBatch().setFirstOffset(0).setLastOffset(0)
                    .setAcknowledgeTypes(List.of((byte) 1));
            assertThat(error(fetch(c, 0, topic, ack).data().errorCode())).as("acknowledgements in an opening request").isEqualTo(Errors.INVALID_REQUEST);
            assertThat(error(acknowledge(c, 0, topic, 0, 0).data().errorCode())).isEqualTo(Errors.INVALID_SHARE_SESSION_EPOCH);

            assertThat(error(fetch(c, 0, topic, null).data().errorCode())).as("a session opens").isEqualTo(Errors.NONE);
            assertThat(error(fetch(c, 7, topic, null).data().errorCode())).isEqualTo(Errors.INVALID_SHARE_SESSION_EPOCH);
            ShareAcknowledgeResponse notAcquired = acknowledge(c, 1, topic, 0, 0);
            assertThat(error(notAcquired.data().errorCode())).isEqualTo(Errors.NONE);
            assertThat(error(notAcquired.data().responses().iterator().next().partitions().get(0).errorCode()))
                    .as("a record never acquired").isEqualTo(Errors.INVALID_RECORD_STATE);
            assertThat(error(fetch(c, 2, topic, null).data().errorCode())).as("the session goes on").isEqualTo(Errors.NONE);
            assertThat(error(fetch(c, -1, topic, null).data().errorCode())).as("closed").isEqualTo(Errors.NONE);
            assertThat(error(fetch(c, 3, topic, null).data().errorCode())).isEqualTo(Errors.SHARE_SESSION_NOT_FOUND);
        }
    }

    @Test
    void acknowledgingRecordsNotHeldIsRefusedAndChangesNothing() throws Exception {
        Uuid topic = createTopic("q", 1);
        String other = Uuid.randomUuid().toString();
        try (RawKafkaClient a = new RawKafkaClient(broker.bootstrapServers()); RawKafkaClient b = new RawKafkaClient(broker.bootstrapServers())) {
            assertThat(error(fetch(a, 0, topic, null).data().errorCode())).isEqualTo(Errors.NONE); // the group starts at the end: 0
            try (KafkaProducer<String, String> p = KafkaClients.producer(broker.bootstrapServers(), Map.of("linger.ms", 1_000))) {
                for (int i = 0; i < 4; i++) p.send(new ProducerRecord<>("q", 0, null, "r" + i));
                p.flush();
            }
            ShareFetchResponse got = fetch(a, 1, topic, null);
            assertThat(got.data().responses().iterator().next().partitions().get(0).acquiredRecords())
                    .extracting(r -> r.firstOffset() + "-" + r.lastOffset() + "#" + r.deliveryCount()).containsExactly("0-3#1");

            assertThat(partitionError(acknowledge(a, 2, topic, 2, 2))).isEqualTo(Errors.NONE);
            assertThat(partitionError(acknowledge(a, 3, topic, 2, 2))).as("twice").isEqualTo(Errors.INVALID_RECORD_STATE);
            assertThat(error(fetch(b, other, 0, topic, null).data().errorCode())).isEqualTo(Errors.NONE);
            assertThat(partitionError(acknowledge(b, other, 1, topic, 1, 1))).as("another member's").isEqualTo(Errors.INVALID_RECORD_STATE);
            await().atMost(Duration.ofSeconds(10)).until(() ->
                    Brokers.await(broker.shares().state("g", topic, 0)).orElseThrow().stateOf(1) == SharePartitionState.RecordState.AVAILABLE);
            assertThat(partitionError(acknowledge(a, 4, topic, 1, 1))).as("after its lock ran out").isEqualTo(Errors.INVALID_RECORD_STATE);

            // Nothing was harmed: the other member gets what the first one let go, on its second delivery, and accepts it.
            ShareFetchResponse again = fetch(b, other, 2, topic, null);
            assertThat(again.data().responses().iterator().next().partitions().get(0).acquiredRecords())
                    .extracting(r -> r.firstOffset() + "-" + r.lastOffset() + "#" + r.deliveryCount()).containsExactly("0-1#2", "3-3#2");
            assertThat(partitionError(acknowledge(b, other, 3, topic, 0, 1))).isEqualTo(Errors.NONE);
            assertThat(partitionError(acknowledge(b, other, 4, topic, 3, 3))).isEqualTo(Errors.NONE);
            // Offsets the group is past are done: acknowledging them again is no error (Kafka's SharePartition skips them).
            assertThat(partitionError(acknowledge(a, 5, topic, 0, 0))).isEqualTo(Errors.NONE);
            assertThat(Brokers.await(broker.shares().state("g", topic, 0)).orElseThrow().startOffset()).isEqualTo(4);
        }
    }

    @Test
    void aGroupThatForbidsRenewalsRefusesThem() throws Exception {
        Uuid topic = createTopic("q", 1);
        try (Admin admin = KafkaClients.admin(broker.bootstrapServers())) {
            admin.incrementalAlterConfigs(Map.of(new ConfigResource(ConfigResource.Type.GROUP, "g"), List.of(new AlterConfigOp(
                    new ConfigEntry("share.renew.acknowledge.enable", "false"), AlterConfigOp.OpType.SET)))).all().get(30, TimeUnit.SECONDS);
        }
        try (RawKafkaClient a = new RawKafkaClient(broker.bootstrapServers())) {
            assertThat(error(fetch(a, 0, topic, null).data().errorCode())).isEqualTo(Errors.NONE);
            try (KafkaProducer<String, String> p = KafkaClients.producer(broker.bootstrapServers(), Map.of())) {
                p.send(new ProducerRecord<>("q", 0, null, "r")).get();
            }
            assertThat(fetch(a, 1, topic, null).data().responses().iterator().next().partitions().get(0).acquiredRecords()).hasSize(1);
            assertThat(partitionError(acknowledge(a, MEMBER, 2, topic, 0, 0, (byte) 4))).as("RENEW").isEqualTo(Errors.INVALID_RECORD_STATE);
            assertThat(partitionError(acknowledge(a, MEMBER, 3, topic, 0, 0, (byte) 1))).as("still held: ACCEPT").isEqualTo(Errors.NONE);
        }
    }

    @Test
    void anAcknowledgementThatCannotBeStoredFailsAndIsPutBack() throws Exception {
        Uuid topic = createTopic("q", 1);
        ConfigResource state = new ConfigResource(ConfigResource.Type.TOPIC, "__share_group_state");
        try (RawKafkaClient a = new RawKafkaClient(broker.bootstrapServers()); Admin admin = KafkaClients.admin(broker.bootstrapServers())) {
            assertThat(error(fetch(a, 0, topic, null).data().errorCode())).isEqualTo(Errors.NONE); // creates __share_group_state
            try (KafkaProducer<String, String> p = KafkaClients.producer(broker.bootstrapServers(), Map.of())) {
                p.send(new ProducerRecord<>("q", 0, null, "r")).get();
            }
            assertThat(fetch(a, 1, topic, null).data().responses().iterator().next().partitions().get(0).acquiredRecords()).hasSize(1);
            // The state's one replica is too few for its writes now: an acknowledgement cannot be stored.
            admin.incrementalAlterConfigs(Map.of(state, List.of(new AlterConfigOp(new ConfigEntry("min.insync.replicas", "2"),
                    AlterConfigOp.OpType.SET)))).all().get(30, TimeUnit.SECONDS);
            assertThat(partitionError(acknowledge(a, 2, topic, 0, 0))).isEqualTo(Errors.COORDINATOR_NOT_AVAILABLE);
            SharePartitionState st = Brokers.await(broker.shares().state("g", topic, 0)).orElseThrow();
            assertThat(st.stateOf(0)).as("put back: still held by the member").isEqualTo(SharePartitionState.RecordState.ACQUIRED);
            assertThat(st.startOffset()).isZero();

            admin.incrementalAlterConfigs(Map.of(state, List.of(new AlterConfigOp(new ConfigEntry("min.insync.replicas", "1"),
                    AlterConfigOp.OpType.SET)))).all().get(30, TimeUnit.SECONDS);
            assertThat(partitionError(acknowledge(a, 3, topic, 0, 0))).as("acknowledged again, stored").isEqualTo(Errors.NONE);
            assertThat(Brokers.await(broker.shares().state("g", topic, 0)).orElseThrow().startOffset()).isEqualTo(1);
        }
    }
}
