package io.runnel.partition;

import java.util.Set;

/**
 * The internal topics, as Kafka names them: the group coordinator's {@code __consumer_offsets}, the transaction
 * coordinator's {@code __transaction_state} and the share coordinator's {@code __share_group_state}. Metadata marks them internal and they cannot be deleted over REST.
 */
public final class InternalTopics {
    public static final String CONSUMER_OFFSETS = "__consumer_offsets";
    public static final String TRANSACTION_STATE = "__transaction_state";
    /** Share groups' delivery state (KIP-932's share coordinator). */
    public static final String SHARE_GROUP_STATE = "__share_group_state";
    private static final Set<String> ALL = Set.of(CONSUMER_OFFSETS, TRANSACTION_STATE, SHARE_GROUP_STATE);

    private InternalTopics() {
    }

    public static boolean isInternal(String topic) {
        return ALL.contains(topic);
    }
}
