package io.runnel.cluster;

import java.util.HashMap;
import java.util.HashSet;
import java.util.Map;
import java.util.Set;
import org.apache.kafka.common.Uuid;

/** The metadata store as a map (a fake for unit tests: the Hazelcast and CP stores are exercised by the cluster tests). */
final class InMemoryMetadataStore implements MetadataStore {
    private final Map<String, String> topics = new HashMap<>();
    private final Set<Uuid> deleted = new HashSet<>();

    @Override
    public void checkEpoch(long epoch) {
    }

    @Override
    public String topic(String name) {
        return topics.get(name);
    }

    @Override
    public Map<String, String> topics() {
        return Map.copyOf(topics);
    }

    @Override
    public boolean createTopic(long epoch, String name, String json) {
        return topics.putIfAbsent(name, json) == null;
    }

    @Override
    public void putTopic(long epoch, String name, String json) {
        topics.put(name, json);
    }

    @Override
    public void deleteTopic(long epoch, String name, Uuid id) {
        deleted.add(id);
        topics.remove(name);
    }

    @Override
    public boolean isDeleted(Uuid id) {
        return deleted.contains(id);
    }
}
