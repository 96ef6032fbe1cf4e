package io.runnel.partition;

import io.runnel.config.ConfigException;
import io.runnel.config.DynamicBrokerConfig;
import io.runnel.config.Limits;
import io.runnel.config.TopicConfig;
import io.runnel.log.value.TopicRecord;
import io.vertx.core.Future;
import io.vertx.core.Vertx;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Collections;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.function.BooleanSupplier;
import org.apache.kafka.common.TopicPartition;
import org.apache.kafka.common.Uuid;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Makes this broker what the controller's {@link MetadataImage}s say, in a cluster: opens its replicas of new topics
 * and of partitions reassigned to it, grows partition counts, takes new configs and placements (each replica becomes
 * leader or follower), deletes the topics whose ids are tombstoned and the replicas reassigned away from it, and
 * sends each leader's ISR changes back to the controller. Images are applied one at a time, in version order.
 */
public final class ClusterImageApplier {
    private static final Logger LOG = LoggerFactory.getLogger(ClusterImageApplier.class);

    private final Vertx vertx;
    private final TopicRegistry topics;
    private final LocalReplicas replicas;
    private final DynamicBrokerConfig brokerConfig;
    private final TopicAuthority authority;
    private final BooleanSupplier closing;
    private final int nodeId;
    /** The image being applied, or the last one; the next waits for it. */
    private Future<Boolean> applying = Future.succeededFuture(false);
    private long appliedVersion = -1;
    /** Running reassignments per topic in the last image applied, to tell when one ends ({@link #removable}). */
    private final Map<String, Map<Integer, TopicMetadata.Reassignment>> seenReassignments = new ConcurrentHashMap<>();
    /**
     * Per topic id, the newest placement of each partition this broker has known ({@link Placement#newerThan}): kept on
     * disk by its replicas when it started, then from every image. An image may be older than one seen before (the
     * maps of the smaller side after a split brain heals), so this, not the image applied, is the broker's report.
     */
    private final Map<Uuid, List<Placement>> newest = new ConcurrentHashMap<>();

    /**
     * @param authority where leaders send their ISR changes (the controller)
     * @param closing   whether the broker is stopping: images are then ignored
     */
    public ClusterImageApplier(Vertx vertx, TopicRegistry topics, LocalReplicas replicas, DynamicBrokerConfig brokerConfig, TopicAuthority authority,
                               BooleanSupplier closing) {
        this.vertx = vertx;
        this.topics = topics;
        this.replicas = replicas;
        this.brokerConfig = brokerConfig;
        this.authority = authority;
        this.closing = closing;
        this.nodeId = topics.nodeId();
    }

    /**
     * Takes over the topics opened at start: their leaders' ISR changes go to the controller from now on, and the
     * placements their replicas kept are remembered for this broker's report ({@link #newestPlacement}).
     */
    public void start(List<LocalReplicas.Stored> stored) {
        for (LocalReplicas.Stored s : stored) if (s.kept() != null) noteNewest(s.record().topicId(), s.kept());
        topics.topics().forEach(this::connect);
    }

    /**
     * The newest placement this broker knows for partition {@code partition} of topic {@code topicId}: the latest
     * decision of the controller it has seen in an image, or kept on disk by its replica when it started (then the
     * leader is unknown, -1), if any. The broker's report to the controller carries these.
     */
    public Optional<Placement> newestPlacement(Uuid topicId, int partition) {
        List<Placement> known = newest.get(topicId);
        return known == null || partition < 0 || partition >= known.size() ? Optional.empty() : Optional.ofNullable(known.get(partition));
    }

    /** Keeps, per partition, the newer of the placement known and {@code placements}' (entries may be null). */
    private void noteNewest(Uuid topicId, List<Placement> placements) {
        newest.compute(topicId, (id, known) -> {
            List<Placement> out = new ArrayList<>(known == null ? List.of() : known);
            for (int p = 0; p < placements.size(); p++) {
                Placement next = placements.get(p);
                if (out.size() <= p) out.add(null);
                if (next == null || next.replicas().isEmpty()) continue;
                Placement had = out.get(p);
                if (had == null || next.newerThan(had)) out.set(p, next);
            }
            return Collections.unmodifiableList(out);
        });
    }

    /**
     * Applies an image: creates the topics this broker did not know (and opens its replicas of them), grows partition
     * counts, takes new configs and placements, and deletes the topics whose ids are tombstoned. A topic held here and
     * not yet in the image is kept: the controller learns of it when this broker registers. An image not newer than
     * the last one applied is ignored. Completes with whether this image was applied (false when it was ignored),
     * so that what follows the image (the replica fetchers) follows only the newest.
     */
    public synchronized Future<Boolean> apply(MetadataImage image) {
        applying = applying.transform(x -> {
            if (image.version() <= appliedVersion) {
                LOG.debug("Ignoring cluster metadata version {}: version {} is applied", image.version(), appliedVersion);
                return Future.succeededFuture(false);
            }
            appliedVersion = image.version();
            return watched(applyNow(image), image.topics().size()).transform(ar -> {
                // Partly applied still counts: later images start from what this one did.
                if (ar.failed()) LOG.warn("Applying the cluster metadata failed", ar.cause());
                return Future.succeededFuture(true);
            });
        });
        return applying;
    }

    /**
     * Warns while an image takes longer than {@link Limits#IMAGE_APPLY_WARN_MS} to apply: images apply one at a time,
     * so one that hangs (a replica that does not open or close) keeps every later change, and with it this broker's
     * metadata answers, from taking effect.
     */
    private Future<Void> watched(Future<Void> apply, int topicCount) {
        if (apply.isComplete()) return apply;
        long started = System.nanoTime();
        long timer = vertx.setPeriodic(Limits.IMAGE_APPLY_WARN_MS, id -> LOG.warn("Applying the cluster metadata ({} topic(s)) has taken {} ms so far; "
                + "later metadata waits for it", topicCount, (System.nanoTime() - started) / 1_000_000));
        return apply.andThen(x -> vertx.cancelTimer(timer));
    }

    private Future<Void> applyNow(MetadataImage image) {
        if (closing.getAsBoolean()) return Future.succeededFuture();
        LOG.debug("Applying cluster metadata version {} of {} topic(s)", image.version(), image.topics().size());
        List<Future<?>> all = new ArrayList<>();
        for (LocalTopic t : topics.topics()) {
            if (image.deleted().contains(t.topicId()) && !image.topics().containsKey(t.name())) all.add(removeLocally(t));
        }
        for (TopicMetadata m : image.topics().values()) {
            TopicRecord r = m.record();
            Set<Integer> strays = strays(m); // before noting the image's placements: against what this broker knew
            noteNewest(r.topicId(), m.placements());
            LocalTopic known = topics.topic(r.name()).orElse(null);
            TopicConfig config;
            try {
                config = TopicConfig.of(brokerConfig.current(), r.configs());
            } catch (ConfigException e) {
                LOG.warn("Topic {} has an invalid config in the cluster metadata: {}", r.name(), e.getMessage());
                continue;
            }
            if (known != null && !known.topicId().equals(r.topicId())) {
                all.add(removeLocally(known).compose(v -> create(m, config)));
            } else if (known == null) {
                all.add(create(m, config));
            } else {
                Set<Integer> deletable = removable(m);
                for (int p : strays) {
                    if (p < known.partitions().size() && known.partitions().get(p) != null && deletable.add(p)) {
                        LOG.info("Broker {} holds a stray copy of {}-{}: the partition was moved to {} while it was away; the copy is deleted",
                                nodeId, r.name(), p, m.placements().get(p).replicas());
                    }
                }
                all.add(update(known, m, config, deletable));
            }
        }
        return Future.join(all).mapEmpty();
    }

    private Future<Void> removeLocally(LocalTopic t) {
        topics.remove(t.name());
        return replicas.deleteTopic(t);
    }

    private Future<Void> create(TopicMetadata m, TopicConfig config) {
        return replicas.save(m.record()).compose(v -> replicas.open(m.record(), config, 0, m.placements())).map(o -> {
            LocalTopic t = new LocalTopic(m, config, o.handles(), o.deploymentIds());
            connect(t);
            topics.put(t);
            return null;
        });
    }

    /**
     * The partitions whose local copy this broker may delete: those it was being added to or removed from by a
     * reassignment that has now ended (completed or cancelled). A copy reassigned away while this broker was down is
     * a stray ({@link #strays}).
     */
    private Set<Integer> removable(TopicMetadata m) {
        Map<Integer, TopicMetadata.Reassignment> before = seenReassignments.getOrDefault(m.record().name(), Map.of());
        seenReassignments.put(m.record().name(), m.reassignments());
        Set<Integer> out = new HashSet<>();
        before.forEach((p, ra) -> {
            if (!m.reassignments().containsKey(p) && (ra.adding().contains(nodeId) || ra.removing().contains(nodeId))) out.add(p);
        });
        return out;
    }

    /**
     * The partitions of {@code m} whose local copy is a stray (Kafka's term): a reassignment moved the partition to
     * other brokers while this one was down, so nothing told it to delete its copy. A copy is a stray only when the
     * image's placement leaves this broker out, no reassignment of it runs, it has a leader (its records are served
     * by the replicas it names; after a whole-cluster restart a partition has none until its ISR has reported), and
     * that placement is newer than the newest this broker knows of the partition (the file its replica kept, earlier
     * images): a controller's stale or incomplete view never deletes a copy whose own placement is as new, and a copy
     * without any known placement (one kept by a version that wrote no file) is never taken for a stray.
     */
    private Set<Integer> strays(TopicMetadata m) {
        Set<Integer> out = new HashSet<>();
        List<Placement> placements = m.placements();
        for (int p = 0; p < placements.size(); p++) {
            Placement pl = placements.get(p);
            if (pl.replicas().isEmpty() || pl.replicas().contains(nodeId) || !pl.hasLeader() || m.reassignments().containsKey(p)) continue;
            Optional<Placement> known = newestPlacement(m.record().topicId(), p);
            if (known.isEmpty() || !pl.newerThan(known.get())) continue;
            out.add(p);
        }
        return out;
    }

    private Future<Void> update(LocalTopic known, TopicMetadata image, TopicConfig config, Set<Integer> removable) {
        TopicMetadata m = withHeldPartitions(known, image);
        TopicRecord r = m.record();
        List<Placement> placements = m.placements();
        Future<LocalTopic> grown = Future.succeededFuture(known);
        if (r.partitions() > known.partitions().size()) {
            grown = replicas.save(r).compose(v -> replicas.open(r, config, known.partitions().size(), placements)).map(added -> {
                List<PartitionHandle> handles = new ArrayList<>(known.partitions());
                handles.addAll(added.handles());
                List<String> ids = new ArrayList<>(known.deploymentIds());
                ids.addAll(added.deploymentIds());
                LocalTopic t = new LocalTopic(m, known.config(), handles, ids);
                connect(t);
                return t;
            });
        } else if (!known.config().overrides().equals(r.configs())) {
            grown = replicas.save(r).compose(v -> Future.all(known.localPartitions().stream().map(h -> h.updateConfig(config.logConfig())).toList()))
                    .map(v -> known);
        }
        return grown.compose(t -> {
            List<Future<Void>> roles = new ArrayList<>();
            int n = Math.min(t.partitions().size(), placements.size());
            PartitionHandle[] handles = t.partitions().toArray(PartitionHandle[]::new);
            String[] ids = t.deploymentIds().toArray(String[]::new);
            boolean[] opened = {false};
            for (int p = 0; p < n; p++) {
                PartitionHandle h = handles[p];
                Placement pl = placements.get(p);
                boolean mine = pl.replicas().contains(nodeId);
                int at = p;
                if (h == null && mine) {
                    // A reassignment made this broker a replica: it opens the partition and starts following.
                    TopicPartition tp = new TopicPartition(r.name(), p);
                    roles.add(replicas.openOne(tp, config, pl).map(o -> {
                        handles[at] = o.handles().get(0);
                        ids[at] = o.deploymentIds().get(0);
                        opened[0] = true;
                        LOG.info("Broker {} is now a replica of {}", nodeId, tp);
                        return null;
                    }));
                } else if (h != null && !mine && removable.contains(p)) {
                    // Reassigned away (or an addition cancelled): the replica and its files go.
                    roles.add(replicas.delete(h, ids[at]).map(v -> {
                        handles[at] = null;
                        ids[at] = null;
                        LOG.info("Broker {} is no longer a replica of {}-{}; its copy is deleted", nodeId, r.name(), at);
                        return null;
                    }));
                } else if (h != null && !h.placement().equals(pl)) {
                    roles.add(h.applyPlacement(pl));
                }
            }
            return Future.join(roles).transform(x -> {
                if (x.failed()) LOG.warn("Changing the replicas of topic {} failed", r.name(), x.cause());
                LocalTopic next = new LocalTopic(m, config, Arrays.asList(handles), Arrays.asList(ids));
                topics.put(next);
                if (opened[0]) connect(next); // the new replicas' ISR proposals go to the controller too
                return Future.<Void>succeededFuture();
            });
        });
    }

    /**
     * The image's metadata of a topic, extended to the partitions this broker holds beyond the image's count, with
     * the placements it last had for them: after a whole-cluster restart the controller may have rebuilt the topic
     * from a report that missed later partitions, and learns of them when this broker registers. Without this, this
     * broker's view of the topic would stop following the images.
     */
    private TopicMetadata withHeldPartitions(LocalTopic known, TopicMetadata image) {
        int held = known.partitions().size();
        TopicRecord r = image.record();
        if (r.partitions() >= held) return image;
        LOG.warn("The cluster metadata has {} partition(s) of topic {} and this broker holds {}; keeping the others until the controller learns of them",
                r.partitions(), r.name(), held);
        List<Placement> placements = new ArrayList<>(image.placements());
        placements.addAll(known.placements().subList(r.partitions(), held));
        return new TopicMetadata(new TopicRecord(r.name(), r.topicId(), held, r.configs()), placements, image.reassignments());
    }

    /** A leader's ISR changes go to the controller. */
    private void connect(LocalTopic t) {
        for (int p = 0; p < t.partitions().size(); p++) {
            PartitionHandle h = t.partitions().get(p);
            if (h == null) continue;
            int partition = p;
            h.useIsrProposals((epoch, isr) -> authority.alterIsr(t.name(), partition, epoch, isr)
                    .onFailure(e -> LOG.info("ISR change of {}-{} to {} was not taken: {}", t.name(), partition, isr, e.getMessage())));
        }
    }
}
