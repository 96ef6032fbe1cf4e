package io.runnel.group;

import io.runnel.group.ConsumerGroup.TopicMeta;
import java.util.Optional;
import org.apache.kafka.common.Uuid;

/** What the group coordinator needs to know of topics: by name for subscriptions, by id for assignments. */
interface TopicLookup {
    Optional<TopicMeta> byName(String name);

    Optional<TopicMeta> byId(Uuid id);
}
