package io.runnel.cluster;

import com.hazelcast.core.EntryEvent;
import com.hazelcast.map.IMap;
import com.hazelcast.map.listener.EntryAddedListener;
import com.hazelcast.map.listener.EntryRemovedListener;
import com.hazelcast.map.listener.EntryUpdatedListener;
import io.runnel.partition.MetadataImage;
import io.runnel.partition.TopicMetadata;
import io.vertx.core.Context;
import java.util.HashMap;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.function.Consumer;
import org.apache.kafka.common.Uuid;

/**
 * The metadata feed of oldest-member mode: a local copy of Hazelcast's {@code runnel-topics} (topic name to
 * {@link TopicJson}) and {@code runnel-deleted} (tombstoned topic ids) maps, kept by their entry events, from which an
 * image is assembled after each change. Hazelcast's events carry no version, so the images are numbered here, in the
 * order they are assembled on one context.
 */
final class ApMetadataFeed implements MetadataFeed {
    private final IMap<String, String> topicsMap;
    private final IMap<String, String> deletedMap;
    private final Context context;
    private final Map<String, TopicMetadata> topics = new ConcurrentHashMap<>();
    private final Set<Uuid> deleted = ConcurrentHashMap.newKeySet();
    private volatile Consumer<MetadataImage> listener;
    /** The version of the last image assembled (on {@link #context}). */
    private long version;

    ApMetadataFeed(HazelcastMember member, IMap<String, String> topicsMap, IMap<String, String> deletedMap) {
        this.topicsMap = topicsMap;
        this.deletedMap = deletedMap;
        this.context = member.vertx().getOrCreateContext();
    }

    @Override
    public void start() {
        topicsMap.addEntryListener(new TopicsListener(), true);
        deletedMap.addEntryListener((EntryAddedListener<String, String>) e -> {
            deleted.add(Uuid.fromString(e.getKey()));
            changed();
        }, true);
        read();
    }

    @Override
    public void onImage(Consumer<MetadataImage> l) {
        listener = l;
        changed();
    }

    @Override
    public void reload() {
        read();
        changed();
    }

    @Override
    public void stop() {
        listener = null;
    }

    /** Reads both maps, swapping the topics in without emptying the copy first (an image meanwhile misses none). */
    private void read() {
        Map<String, TopicMetadata> read = new HashMap<>();
        topicsMap.forEach((k, v) -> read.put(k, TopicJson.decode(v)));
        topics.keySet().retainAll(read.keySet());
        topics.putAll(read);
        deletedMap.keySet().forEach(k -> deleted.add(Uuid.fromString(k)));
    }

    /**
     * Hands the current metadata to the listener, on the feed's context so that images are applied in order. The
     * copy is taken there too, not on the calling thread: Hazelcast delivers events of different keys (and membership
     * events) on different threads, and a copy taken before another thread's update could otherwise be applied after
     * that thread's newer copy, leaving the broker on a stale placement until the topic changed again.
     */
    private void changed() {
        if (listener == null) return;
        context.runOnContext(v -> {
            Consumer<MetadataImage> l = listener;
            if (l != null) l.accept(new MetadataImage(++version, topics, deleted));
        });
    }

    private final class TopicsListener implements EntryAddedListener<String, String>, EntryUpdatedListener<String, String>,
            EntryRemovedListener<String, String> {
        @Override
        public void entryAdded(EntryEvent<String, String> e) {
            topics.put(e.getKey(), TopicJson.decode(e.getValue()));
            changed();
        }

        @Override
        public void entryUpdated(EntryEvent<String, String> e) {
            entryAdded(e);
        }

        @Override
        public void entryRemoved(EntryEvent<String, String> e) {
            topics.remove(e.getKey());
            changed();
        }
    }
}
