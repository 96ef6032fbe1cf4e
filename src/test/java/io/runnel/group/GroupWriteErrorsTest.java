package io.runnel.group;

import static org.assertj.core.api.Assertions.assertThat;

import org.apache.kafka.common.errors.InvalidGroupIdException;
import org.apache.kafka.common.errors.KafkaStorageException;
import org.apache.kafka.common.errors.NotEnoughReplicasAfterAppendException;
import org.apache.kafka.common.errors.NotEnoughReplicasException;
import org.apache.kafka.common.errors.NotLeaderOrFollowerException;
import org.apache.kafka.common.errors.TimeoutException;
import org.apache.kafka.common.errors.UnknownTopicOrPartitionException;
import org.apache.kafka.common.protocol.Errors;
import org.junit.jupiter.api.Test;

/** A group write that fails is answered with the error Kafka's group coordinator gives, one that clients retry. */
class GroupWriteErrorsTest {

    private static Errors answered(Throwable writeFailure) {
        return Errors.forException(GroupShard.notCoordinator(writeFailure).cause());
    }

    @Test
    void writeFailuresBecomeCoordinatorErrors() {
        assertThat(answered(new TimeoutException("not replicated in time"))).isEqualTo(Errors.COORDINATOR_NOT_AVAILABLE);
        assertThat(answered(new NotEnoughReplicasException("one in-sync replica"))).isEqualTo(Errors.COORDINATOR_NOT_AVAILABLE);
        assertThat(answered(new NotEnoughReplicasAfterAppendException("shrank"))).isEqualTo(Errors.COORDINATOR_NOT_AVAILABLE);
        assertThat(answered(new UnknownTopicOrPartitionException("gone"))).isEqualTo(Errors.COORDINATOR_NOT_AVAILABLE);
        assertThat(answered(new NotLeaderOrFollowerException("moved"))).isEqualTo(Errors.NOT_COORDINATOR);
        assertThat(answered(new KafkaStorageException("disk"))).isEqualTo(Errors.NOT_COORDINATOR);
        assertThat(answered(new InvalidGroupIdException("bad"))).isEqualTo(Errors.INVALID_GROUP_ID);
    }
}
