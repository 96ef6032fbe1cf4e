package io.runnel.cluster;

import com.hazelcast.map.IMap;
import java.util.Map;
import java.util.function.BooleanSupplier;
import java.util.function.LongSupplier;
import org.apache.kafka.common.Uuid;
import org.apache.kafka.common.errors.NotControllerException;

/**
 * Topic metadata in Hazelcast's AP maps {@code runnel-topics} and {@code runnel-deleted}, fenced by reading the
 * controller epoch of the {@code runnel-controller} map, and that a majority of the registered brokers is live, before
 * each write (the oldest-member controller; the merge of a healed split brain can still bring back stale entries,
 * see docs/cluster.md).
 */
final class ApMetadataStore implements MetadataStore {
    private final IMap<String, String> topics;
    private final IMap<String, String> deleted;
    private final LongSupplier controllerEpoch;
    private final BooleanSupplier quorum;

    ApMetadataStore(IMap<String, String> topics, IMap<String, String> deleted, LongSupplier controllerEpoch, BooleanSupplier quorum) {
        this.topics = topics;
        this.deleted = deleted;
        this.controllerEpoch = controllerEpoch;
        this.quorum = quorum;
    }

    @Override
    public void checkEpoch(long epoch) {
        if (controllerEpoch.getAsLong() != epoch) throw new NotControllerException("This broker is no longer the controller (epoch " + epoch + ")");
        if (!quorum.getAsBoolean()) throw new NotControllerException("The controller sees fewer than a majority of the registered brokers");
    }

    @Override
    public String topic(String name) {
        return topics.get(name);
    }

    @Override
    public Map<String, String> topics() {
        return Map.copyOf(topics); // one bulk read of the map
    }

    @Override
    public boolean createTopic(long epoch, String name, String json) {
        checkEpoch(epoch);
        return topics.putIfAbsent(name, json) == null;
    }

    @Override
    public void putTopic(long epoch, String name, String json) {
        checkEpoch(epoch);
        topics.put(name, json);
    }

    @Override
    public void deleteTopic(long epoch, String name, Uuid id) {
        checkEpoch(epoch);
        deleted.put(id.toString(), name);
        topics.remove(name);
    }

    @Override
    public boolean isDeleted(Uuid id) {
        return deleted.containsKey(id.toString());
    }
}
