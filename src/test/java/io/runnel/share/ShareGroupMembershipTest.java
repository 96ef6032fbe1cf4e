package io.runnel.share;

import static org.assertj.core.api.Assertions.assertThat;

import io.runnel.testkit.BrokerPerTest;
import io.runnel.testkit.KafkaClients;
import io.runnel.testkit.RawKafkaClient;
import java.util.List;
import org.apache.kafka.clients.admin.Admin;
import org.apache.kafka.clients.admin.GroupListing;
import org.apache.kafka.clients.admin.ListGroupsOptions;
import org.apache.kafka.clients.admin.ShareGroupDescription;
import org.apache.kafka.common.GroupState;
import org.apache.kafka.common.Uuid;
import org.apache.kafka.common.message.ShareGroupHeartbeatRequestData;
import org.apache.kafka.common.protocol.ApiKeys;
import org.apache.kafka.common.protocol.Errors;
import org.apache.kafka.common.requests.ShareGroupHeartbeatRequest;
import org.apache.kafka.common.requests.ShareGroupHeartbeatResponse;
import org.junit.jupiter.api.Test;

/**
 * Share groups and their members are stored by the coordinator: after a restart a member carries on in its epoch
 * with its assignment, the group keeps its epochs, an empty group is still listed, and a deleted one stays deleted.
 */
class ShareGroupMembershipTest extends BrokerPerTest {
    private static ShareGroupHeartbeatResponse heartbeat(RawKafkaClient c, String group, String member, int epoch, List<String> topics) throws Exception {
        return c.send(new ShareGroupHeartbeatRequest.Builder(new ShareGroupHeartbeatRequestData().setGroupId(group).setMemberId(member)
                .setMemberEpoch(epoch).setSubscribedTopicNames(topics)).build(ApiKeys.SHARE_GROUP_HEARTBEAT.latestVersion(false)));
    }

    @Test
    void membersAndGroupsOutliveACoordinatorRestart() throws Exception {
        createTopic("q", 2);
        String member = Uuid.randomUuid().toString();
        String leaver = Uuid.randomUuid().toString();
        int epoch;
        try (RawKafkaClient c = new RawKafkaClient(broker.bootstrapServers())) {
            ShareGroupHeartbeatResponse joined = heartbeat(c, "stays", member, 0, List.of("q"));
            assertThat(Errors.forCode(joined.data().errorCode())).isEqualTo(Errors.NONE);
            epoch = joined.data().memberEpoch();
            assertThat(Errors.forCode(heartbeat(c, "stays", member, epoch, null).data().errorCode())).isEqualTo(Errors.NONE);
            ShareGroupHeartbeatResponse left = heartbeat(c, "empties", leaver, 0, List.of("q"));
            assertThat(Errors.forCode(heartbeat(c, "empties", leaver, -1, null).data().errorCode())).isEqualTo(Errors.NONE);
            assertThat(left.data().memberEpoch()).isPositive();
        }
        restartBroker();
        try (RawKafkaClient c = new RawKafkaClient(broker.bootstrapServers())) {
            ShareGroupHeartbeatResponse again = heartbeat(c, "stays", member, epoch, null);
            assertThat(Errors.forCode(again.data().errorCode())).as("the member is known after the restart").isEqualTo(Errors.NONE);
            assertThat(again.data().memberEpoch()).isEqualTo(epoch);
        }
        try (Admin admin = KafkaClients.admin(broker.bootstrapServers())) {
            ShareGroupDescription stays = admin.describeShareGroups(List.of("stays")).describedGroups().get("stays").get();
            assertThat(stays.members()).hasSize(1);
            assertThat(stays.members().iterator().next().assignment().topicPartitions()).extracting(tp -> tp.partition()).containsExactlyInAnyOrder(0, 1);
            List<GroupListing> groups = List.copyOf(admin.listGroups(ListGroupsOptions.forShareGroups()).all().get());
            assertThat(groups).extracting(GroupListing::groupId).containsExactlyInAnyOrder("stays", "empties");
            assertThat(groups.stream().filter(g -> g.groupId().equals("empties")).findFirst().orElseThrow().groupState()).contains(GroupState.EMPTY);
            admin.deleteShareGroups(List.of("empties")).all().get();
        }
        restartBroker();
        try (Admin admin = KafkaClients.admin(broker.bootstrapServers())) {
            assertThat(List.copyOf(admin.listGroups(ListGroupsOptions.forShareGroups()).all().get())).extracting(GroupListing::groupId)
                    .as("a deleted group stays deleted").containsExactly("stays");
        }
    }
}
