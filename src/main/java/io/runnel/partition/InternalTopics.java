package io.runnel.partition;

import java.util.Set;

/**
 * The internal topics, as Kafka names them: the group coordinator's {@code __consumer_offsets} and the transaction
 * coordinator's {@code __transaction_state}. Metadata marks them internal and they cannot be deleted over REST.
 */
public final class InternalTopics {
    public static final String CONSUMER_OFFSETS = "__consumer_offsets";
    public static final String TRANSACTION_STATE = "__transaction_state";
    private static final Set<String> ALL = Set.of(CONSUMER_OFFSETS, TRANSACTION_STATE);

    private InternalTopics() {
    }

    public static boolean isInternal(String topic) {
        return ALL.contains(topic);
    }
}
