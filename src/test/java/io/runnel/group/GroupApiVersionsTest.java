package io.runnel.group;

import static org.assertj.core.api.Assertions.assertThat;

import io.runnel.testkit.Brokers;
import io.runnel.testkit.RawKafkaClient;
import io.runnel.testkit.SharedBroker;
import java.util.List;
import java.util.Map;
import org.apache.kafka.common.Uuid;
import org.apache.kafka.common.message.DeleteGroupsRequestData;
import org.apache.kafka.common.message.DescribeGroupsRequestData;
import org.apache.kafka.common.message.FindCoordinatorRequestData;
import org.apache.kafka.common.message.HeartbeatRequestData;
import org.apache.kafka.common.message.JoinGroupRequestData.JoinGroupRequestProtocol;
import org.apache.kafka.common.message.JoinGroupRequestData.JoinGroupRequestProtocolCollection;
import org.apache.kafka.common.message.JoinGroupRequestData;
import org.apache.kafka.common.message.LeaveGroupRequestData.MemberIdentity;
import org.apache.kafka.common.message.ListGroupsRequestData;
import org.apache.kafka.common.message.OffsetCommitRequestData;
import org.apache.kafka.common.message.OffsetFetchRequestData;
import org.apache.kafka.common.message.SyncGroupRequestData;
import org.apache.kafka.common.protocol.ApiKeys;
import org.apache.kafka.common.protocol.Errors;
import org.apache.kafka.common.requests.DeleteGroupsRequest;
import org.apache.kafka.common.requests.DeleteGroupsResponse;
import org.apache.kafka.common.requests.DescribeGroupsRequest;
import org.apache.kafka.common.requests.DescribeGroupsResponse;
import org.apache.kafka.common.requests.FindCoordinatorRequest;
import org.apache.kafka.common.requests.FindCoordinatorResponse;
import org.apache.kafka.common.requests.HeartbeatRequest;
import org.apache.kafka.common.requests.HeartbeatResponse;
import org.apache.kafka.common.requests.JoinGroupRequest;
import org.apache.kafka.common.requests.JoinGroupResponse;
import org.apache.kafka.common.requests.LeaveGroupRequest;
import org.apache.kafka.common.requests.LeaveGroupResponse;
import org.apache.kafka.common.requests.ListGroupsRequest;
import org.apache.kafka.common.requests.ListGroupsResponse;
import org.apache.kafka.common.requests.OffsetCommitRequest;
import org.apache.kafka.common.requests.OffsetCommitResponse;
import org.apache.kafka.common.requests.OffsetFetchRequest;
import org.apache.kafka.common.requests.OffsetFetchResponse;
import org.apache.kafka.common.requests.SyncGroupRequest;
import org.apache.kafka.common.requests.SyncGroupResponse;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/**
 * Every advertised version of the group APIs, old ones (librdkafka, kafkajs, Sarama) and new flexible ones: each
 * version runs its part of a group's life and gets no error.
 */
class GroupApiVersionsTest extends SharedBroker {
    static Uuid topicId;

    @BeforeAll
    static void createTopic() throws Exception {
        topicId = Brokers.await(broker.topicAdmin().createTopic("gv", 1, Map.of())).topicId();
    }

    private static short min(ApiKeys k) {
        return k.oldestVersion();
    }

    private static short max(ApiKeys k) {
        return k.latestVersion(false);
    }

    /** Joins {@code group} at JoinGroup {@code v} (with the KIP-394 round trip from v4); returns member id and generation. */
    private static JoinGroupResponse join(RawKafkaClient c, String group, short v) throws Exception {
        JoinGroupRequestProtocolCollection protocols = new JoinGroupRequestProtocolCollection();
        protocols.add(new JoinGroupRequestProtocol().setName("range").setMetadata(new byte[] {0}));
        JoinGroupRequestData d = new JoinGroupRequestData().setGroupId(group).setMemberId("").setSessionTimeoutMs(10_000)
                .setRebalanceTimeoutMs(v >= 1 ? 10_000 : -1).setProtocolType("consumer").setProtocols(protocols);
        JoinGroupResponse r = c.send(new JoinGroupRequest(d, v));
        if (r.data().errorCode() == Errors.MEMBER_ID_REQUIRED.code()) r = c.send(new JoinGroupRequest(d.setMemberId(r.data().memberId()), v));
        assertThat(r.data().errorCode()).as("JoinGroup v%d", v).isZero();
        return r;
    }

    private static void sync(RawKafkaClient c, String group, JoinGroupResponse j, short v) throws Exception {
        SyncGroupRequestData d = new SyncGroupRequestData().setGroupId(group).setMemberId(j.data().memberId()).setGenerationId(j.data().generationId())
                .setAssignments(List.of(new SyncGroupRequestData.SyncGroupRequestAssignment().setMemberId(j.data().memberId()).setAssignment(new byte[] {1})));
        if (v >= 5) d.setProtocolType("consumer").setProtocolName("range");
        SyncGroupResponse r = c.send(new SyncGroupRequest(d, v));
        assertThat(r.data().errorCode()).as("SyncGroup v%d", v).isZero();
        assertThat(r.data().assignment()).containsExactly(1);
    }

    @Test
    void everyVersionOfTheGroupApisWorks() throws Exception {
        try (RawKafkaClient c = new RawKafkaClient(broker.bootstrapServers())) {
            for (short v = min(ApiKeys.FIND_COORDINATOR); v <= max(ApiKeys.FIND_COORDINATOR); v++) {
                FindCoordinatorRequestData d = new FindCoordinatorRequestData().setKeyType((byte) 0);
                if (v >= 4) d.setCoordinatorKeys(List.of("fc")); else d.setKey("fc");
                FindCoordinatorResponse r = c.send(new FindCoordinatorRequest.Builder(d).build(v));
                int node = v >= 4 ? r.data().coordinators().get(0).nodeId() : r.data().nodeId();
                assertThat(node).as("FindCoordinator v%d", v).isEqualTo(1);
            }
            for (short v = min(ApiKeys.JOIN_GROUP); v <= max(ApiKeys.JOIN_GROUP); v++) {
                JoinGroupResponse j = join(c, "join-v" + v, v);
                assertThat(j.data().generationId()).isEqualTo(1);
                sync(c, "join-v" + v, j, max(ApiKeys.SYNC_GROUP));
            }
            for (short v = min(ApiKeys.SYNC_GROUP); v <= max(ApiKeys.SYNC_GROUP); v++) {
                sync(c, "sync-v" + v, join(c, "sync-v" + v, max(ApiKeys.JOIN_GROUP)), v);
            }
            for (short v = min(ApiKeys.HEARTBEAT); v <= max(ApiKeys.HEARTBEAT); v++) {
                JoinGroupResponse j = join(c, "hb-v" + v, max(ApiKeys.JOIN_GROUP));
                sync(c, "hb-v" + v, j, max(ApiKeys.SYNC_GROUP));
                HeartbeatResponse r = c.send(new HeartbeatRequest.Builder(new HeartbeatRequestData().setGroupId("hb-v" + v)
                        .setMemberId(j.data().memberId()).setGenerationId(j.data().generationId())).build(v));
                assertThat(r.data().errorCode()).as("Heartbeat v%d", v).isZero();
            }
            for (short v = min(ApiKeys.OFFSET_COMMIT); v <= max(ApiKeys.OFFSET_COMMIT); v++) {
                OffsetCommitRequestData d = new OffsetCommitRequestData().setGroupId("oc-v" + v).setGenerationIdOrMemberEpoch(-1).setMemberId("");
                d.topics().add(new OffsetCommitRequestData.OffsetCommitRequestTopic().setName("gv").setTopicId(topicId).setPartitions(List.of(
                        new OffsetCommitRequestData.OffsetCommitRequestPartition().setPartitionIndex(0).setCommittedOffset(10 + v).setCommittedMetadata("m"))));
                OffsetCommitResponse r = c.send(OffsetCommitRequest.Builder.forTopicIdsOrNames(d).build(v));
                assertThat(r.data().topics().get(0).partitions().get(0).errorCode()).as("OffsetCommit v%d", v).isZero();
            }
            for (short v = min(ApiKeys.OFFSET_FETCH); v <= max(ApiKeys.OFFSET_FETCH); v++) {
                String group = "oc-v" + max(ApiKeys.OFFSET_COMMIT);
                OffsetFetchRequestData d = new OffsetFetchRequestData();
                if (v >= 8) {
                    d.groups().add(new OffsetFetchRequestData.OffsetFetchRequestGroup().setGroupId(group).setTopics(List.of(
                            new OffsetFetchRequestData.OffsetFetchRequestTopics().setName("gv").setTopicId(topicId).setPartitionIndexes(List.of(0)))));
                } else {
                    d.setGroupId(group).setTopics(List.of(new OffsetFetchRequestData.OffsetFetchRequestTopic().setName("gv").setPartitionIndexes(List.of(0))));
                }
                OffsetFetchResponse r = c.send(OffsetFetchRequest.Builder.forTopicIdsOrNames(d, false).build(v));
                long offset = v >= 8 ? r.data().groups().get(0).topics().get(0).partitions().get(0).committedOffset()
                        : r.data().topics().get(0).partitions().get(0).committedOffset();
                assertThat(offset).as("OffsetFetch v%d", v).isEqualTo(10 + max(ApiKeys.OFFSET_COMMIT));
            }
            for (short v = min(ApiKeys.LEAVE_GROUP); v <= max(ApiKeys.LEAVE_GROUP); v++) {
                JoinGroupResponse j = join(c, "leave-v" + v, max(ApiKeys.JOIN_GROUP));
                LeaveGroupResponse r = c.send(new LeaveGroupRequest.Builder("leave-v" + v, List.of(new MemberIdentity().setMemberId(j.data().memberId())))
                        .build(v));
                assertThat(r.error()).as("LeaveGroup v%d", v).isEqualTo(Errors.NONE);
            }
            for (short v = min(ApiKeys.LIST_GROUPS); v <= max(ApiKeys.LIST_GROUPS); v++) {
                ListGroupsResponse r = c.send(new ListGroupsRequest.Builder(new ListGroupsRequestData()).build(v));
                assertThat(r.data().errorCode()).isZero();
                assertThat(r.data().groups()).as("ListGroups v%d", v).anySatisfy(g -> assertThat(g.groupId()).isEqualTo("join-v0"));
            }
            for (short v = min(ApiKeys.DESCRIBE_GROUPS); v <= max(ApiKeys.DESCRIBE_GROUPS); v++) {
                DescribeGroupsResponse r = c.send(new DescribeGroupsRequest.Builder(new DescribeGroupsRequestData().setGroups(List.of("hb-v0"))).build(v));
                assertThat(r.data().groups().get(0).groupState()).as("DescribeGroups v%d", v).isEqualTo("Stable");
                assertThat(r.data().groups().get(0).members()).hasSize(1);
            }
            for (short v = min(ApiKeys.DELETE_GROUPS); v <= max(ApiKeys.DELETE_GROUPS); v++) {
                DeleteGroupsResponse r = c.send(new DeleteGroupsRequest.Builder(new DeleteGroupsRequestData().setGroupsNames(List.of("leave-v" + v))).build(v));
                assertThat(r.data().results().find("leave-v" + v).errorCode()).as("DeleteGroups v%d", v).isZero();
            }
        }
    }
}
