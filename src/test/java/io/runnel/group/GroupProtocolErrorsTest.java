package io.runnel.group;

import static org.assertj.core.api.Assertions.assertThat;

import io.runnel.testkit.BrokerPerTest;
import io.runnel.testkit.RawKafkaClient;
import java.util.List;
import org.apache.kafka.common.message.FindCoordinatorRequestData;
import org.apache.kafka.common.message.HeartbeatRequestData;
import org.apache.kafka.common.message.JoinGroupRequestData.JoinGroupRequestProtocol;
import org.apache.kafka.common.message.JoinGroupRequestData.JoinGroupRequestProtocolCollection;
import org.apache.kafka.common.message.JoinGroupRequestData;
import org.apache.kafka.common.message.OffsetCommitRequestData;
import org.apache.kafka.common.message.SyncGroupRequestData;
import org.apache.kafka.common.protocol.ApiKeys;
import org.apache.kafka.common.protocol.Errors;
import org.apache.kafka.common.requests.FindCoordinatorRequest;
import org.apache.kafka.common.requests.FindCoordinatorResponse;
import org.apache.kafka.common.requests.HeartbeatRequest;
import org.apache.kafka.common.requests.HeartbeatResponse;
import org.apache.kafka.common.requests.JoinGroupRequest;
import org.apache.kafka.common.requests.JoinGroupResponse;
import org.apache.kafka.common.requests.OffsetCommitRequest;
import org.apache.kafka.common.requests.OffsetCommitResponse;
import org.apache.kafka.common.requests.SyncGroupRequest;
import org.apache.kafka.common.requests.SyncGroupResponse;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

/** The classic protocol at the wire: KIP-394's round trip, generations, and Kafka's error codes for bad requests. */
class GroupProtocolErrorsTest extends BrokerPerTest {

    @BeforeEach
    void start() throws Exception {
        createTopic("t", 1);
    }


    private static JoinGroupResponse join(RawKafkaClient c, String group, String memberId, int sessionMs) throws Exception {
        JoinGroupRequestProtocolCollection protocols = new JoinGroupRequestProtocolCollection();
        protocols.add(new JoinGroupRequestProtocol().setName("range").setMetadata(new byte[] {1}));
        return c.send(new JoinGroupRequest.Builder(new JoinGroupRequestData().setGroupId(group).setMemberId(memberId).setSessionTimeoutMs(sessionMs)
                .setRebalanceTimeoutMs(10_000).setProtocolType("consumer").setProtocols(protocols)).build(ApiKeys.JOIN_GROUP.latestVersion(false)));
    }

    @Test
    void theMemberIdRoundTripGenerationsAndErrors() throws Exception {
        try (RawKafkaClient c = new RawKafkaClient(broker.bootstrapServers())) {
            FindCoordinatorResponse fc = c.send(new FindCoordinatorRequest.Builder(new FindCoordinatorRequestData()
                    .setKeyType(FindCoordinatorRequest.CoordinatorType.GROUP.id()).setCoordinatorKeys(List.of("g1", "g2"))).build((short) 4));
            assertThat(fc.data().coordinators()).hasSize(2).allSatisfy(x -> assertThat(x.nodeId()).isEqualTo(1));

            assertThat(join(c, "g1", "", 1000).data().errorCode()).isEqualTo(Errors.INVALID_SESSION_TIMEOUT.code());
            assertThat(join(c, "", "", 10_000).data().errorCode()).isEqualTo(Errors.INVALID_GROUP_ID.code());
            JoinGroupResponse first = join(c, "g1", "", 10_000);
            assertThat(first.data().errorCode()).isEqualTo(Errors.MEMBER_ID_REQUIRED.code()); // KIP-394
            String memberId = first.data().memberId();
            assertThat(memberId).isNotEmpty();
            JoinGroupResponse joined = join(c, "g1", memberId, 10_000);
            assertThat(joined.data().errorCode()).isZero();
            assertThat(joined.data().generationId()).isEqualTo(1);
            assertThat(joined.data().leader()).isEqualTo(memberId);
            assertThat(joined.data().members()).hasSize(1);

            assertThat(join(c, "g1", "someone-else", 10_000).data().errorCode()).isEqualTo(Errors.UNKNOWN_MEMBER_ID.code());
            SyncGroupResponse stale = c.send(new SyncGroupRequest.Builder(new SyncGroupRequestData().setGroupId("g1").setMemberId(memberId)
                    .setGenerationId(0)).build((short) 3));
            assertThat(stale.data().errorCode()).isEqualTo(Errors.ILLEGAL_GENERATION.code());
            SyncGroupResponse synced = c.send(new SyncGroupRequest.Builder(new SyncGroupRequestData().setGroupId("g1").setMemberId(memberId)
                    .setGenerationId(1).setAssignments(List.of(new SyncGroupRequestData.SyncGroupRequestAssignment().setMemberId(memberId)
                            .setAssignment(new byte[] {9, 9})))).build((short) 3));
            assertThat(synced.data().errorCode()).isZero();
            assertThat(synced.data().assignment()).containsExactly(9, 9);

            assertThat(heartbeat(c, "g1", memberId, 1)).isEqualTo(Errors.NONE);
            assertThat(heartbeat(c, "g1", memberId, 7)).isEqualTo(Errors.ILLEGAL_GENERATION);
            assertThat(heartbeat(c, "g1", "nobody", 1)).isEqualTo(Errors.UNKNOWN_MEMBER_ID);
            assertThat(heartbeat(c, "no-such-group", "nobody", 1)).isEqualTo(Errors.UNKNOWN_MEMBER_ID);

            assertThat(commit(c, "g1", 1, memberId, "t", "meta")).isEqualTo(Errors.NONE);
            assertThat(commit(c, "g1", 3, memberId, "t", "meta")).isEqualTo(Errors.ILLEGAL_GENERATION);
            assertThat(commit(c, "g1", -1, "", "t", "meta")).isEqualTo(Errors.UNKNOWN_MEMBER_ID); // the group has members
            assertThat(commit(c, "g1", 1, memberId, "no-such-topic", "meta")).isEqualTo(Errors.UNKNOWN_TOPIC_OR_PARTITION);
            assertThat(commit(c, "g1", 1, memberId, "t", "x".repeat(5000))).isEqualTo(Errors.OFFSET_METADATA_TOO_LARGE);
            assertThat(commit(c, "standalone", -1, "", "t", "")).isEqualTo(Errors.NONE); // a consumer that only assigns
        }
    }

    private static Errors heartbeat(RawKafkaClient c, String group, String member, int generation) throws Exception {
        HeartbeatResponse r = c.send(new HeartbeatRequest.Builder(new HeartbeatRequestData().setGroupId(group).setMemberId(member)
                .setGenerationId(generation)).build((short) 4));
        return Errors.forCode(r.data().errorCode());
    }

    private static Errors commit(RawKafkaClient c, String group, int generation, String member, String topic, String metadata) throws Exception {
        OffsetCommitRequestData d = new OffsetCommitRequestData().setGroupId(group).setGenerationIdOrMemberEpoch(generation).setMemberId(member);
        d.topics().add(new OffsetCommitRequestData.OffsetCommitRequestTopic().setName(topic).setPartitions(List.of(
                new OffsetCommitRequestData.OffsetCommitRequestPartition().setPartitionIndex(0).setCommittedOffset(5).setCommittedMetadata(metadata))));
        OffsetCommitResponse r = c.send(new OffsetCommitRequest(d, (short) 8));
        return Errors.forCode(r.data().topics().get(0).partitions().get(0).errorCode());
    }
}
