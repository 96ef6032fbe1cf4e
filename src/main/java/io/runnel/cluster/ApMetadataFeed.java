package io.runnel.cluster;

import com.hazelcast.core.EntryEvent;
import com.hazelcast.map.IMap;
import com.hazelcast.map.listener.EntryAddedListener;
import com.hazelcast.map.listener.EntryRemovedListener;
import com.hazelcast.map.listener.EntryUpdatedListener;
import io.runnel.config.Limits;
import io.runnel.partition.MetadataImage;
import io.runnel.partition.TopicMetadata;
import io.vertx.core.Context;
import java.util.HashMap;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.function.Consumer;
import org.apache.kafka.common.Uuid;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The metadata feed of oldest-member mode: a local copy of Hazelcast's {@code runnel-topics} (topic name to
 * {@link TopicJson}) and {@code runnel-deleted} (tombstoned topic ids) maps, kept by their entry events, from which an
 * image is assembled after each change. Hazelcast's events carry no version, so the images are numbered here, in the
 * order they are assembled on one context. Events can be missed (a member joining or failing while the partition
 * table moves): every {@link Limits#CLUSTER_METADATA_CHECK_MS} the maps are read again on a worker, and entries that
 * differ from the copy are taken, as {@link BrokerRegistry} does for the registrations.
 */
final class ApMetadataFeed implements MetadataFeed {
    private static final Logger LOG = LoggerFactory.getLogger(ApMetadataFeed.class);

    /** A topic's entry: its JSON text (to compare with the map's cheaply) and what it decodes to. */
    private record Entry(String text, TopicMetadata topic) {
        static Entry of(String text) {
            return new Entry(text, TopicJson.decode(text));
        }
    }

    private final HazelcastMember member;
    private final IMap<String, String> topicsMap;
    private final IMap<String, String> deletedMap;
    private final Context context;
    private final Map<String, Entry> topics = new ConcurrentHashMap<>();
    private final Set<Uuid> deleted = ConcurrentHashMap.newKeySet();
    private final AtomicBoolean checking = new AtomicBoolean();
    private volatile Consumer<MetadataImage> listener;
    private long checkTimer = -1;
    /** The version of the last image assembled (on {@link #context}). */
    private long version;

    ApMetadataFeed(HazelcastMember member, IMap<String, String> topicsMap, IMap<String, String> deletedMap) {
        this.member = member;
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
        checkTimer = member.vertx().setPeriodic(Limits.CLUSTER_METADATA_CHECK_MS, id -> check());
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
        if (checkTimer >= 0) member.vertx().cancelTimer(checkTimer);
    }

    /** Reads both maps, swapping the topics in without emptying the copy first (an image meanwhile misses none). */
    private void read() {
        take(Map.copyOf(topics), readTopics(), true);
        deletedMap.keySet().forEach(k -> deleted.add(Uuid.fromString(k)));
    }

    private Map<String, String> readTopics() {
        Map<String, String> read = new HashMap<>();
        topicsMap.forEach(read::put);
        return read;
    }

    /**
     * Makes the copy what {@code read} says, except for entries an event changed since {@code before} was taken
     * (the event is newer than the read); entries missing from {@code read} are removed only with {@code removals}.
     * Returns whether anything changed.
     */
    private boolean take(Map<String, Entry> before, Map<String, String> read, boolean removals) {
        boolean changed = false;
        for (var e : read.entrySet()) {
            Entry was = before.get(e.getKey());
            if (was != null && was.text().equals(e.getValue())) continue;
            Entry next = Entry.of(e.getValue());
            changed |= was == null ? topics.putIfAbsent(e.getKey(), next) == null : topics.replace(e.getKey(), was, next);
        }
        for (var e : before.entrySet()) {
            if (removals && !read.containsKey(e.getKey())) changed |= topics.remove(e.getKey(), e.getValue());
        }
        return changed;
    }

    /** Reads the maps again and takes what differs from the copy (missed events), on a worker; one check at a time. */
    private void check() {
        if (listener == null || !checking.compareAndSet(false, true)) return;
        member.vertx().executeBlocking(() -> {
            // While partitions migrate (or a backup has no owner), a read may miss entries: then it only adds and updates.
            boolean safe = member.isClusterSafe();
            Map<String, Entry> before = Map.copyOf(topics);
            boolean changed = take(before, readTopics(), safe);
            for (String k : deletedMap.keySet()) changed |= deleted.add(Uuid.fromString(k));
            return changed;
        }, false).onComplete(ar -> {
            checking.set(false);
            if (ar.failed()) {
                LOG.debug("Checking the cluster metadata against Hazelcast's maps failed", ar.cause());
            } else if (ar.result()) {
                LOG.info("The cluster metadata differed from Hazelcast's maps (events missed); taking the maps'");
                changed();
            }
        });
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
            if (l == null) return;
            Map<String, TopicMetadata> image = new HashMap<>();
            topics.forEach((name, e) -> image.put(name, e.topic()));
            l.accept(new MetadataImage(++version, image, deleted));
        });
    }

    private final class TopicsListener implements EntryAddedListener<String, String>, EntryUpdatedListener<String, String>,
            EntryRemovedListener<String, String> {
        @Override
        public void entryAdded(EntryEvent<String, String> e) {
            topics.put(e.getKey(), Entry.of(e.getValue()));
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
