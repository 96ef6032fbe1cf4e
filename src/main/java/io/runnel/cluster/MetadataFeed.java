package io.runnel.cluster;

import io.runnel.partition.MetadataImage;
import java.util.function.Consumer;

/**
 * Where this broker receives the cluster's topic metadata from: a typed, versioned {@link MetadataImage} each time
 * it changes, handed over on one Vert.x context so that images arrive in the order they were assembled. One kind per
 * way the metadata is kept: {@link ApMetadataFeed} (Hazelcast map events, oldest-member mode), {@link CpMetadataFeed}
 * (polling the CP subsystem's image, CP mode) and {@link RaftMetadataFeed}
 * (the metadata quorum's: a voter applying its log, or an observer taking the images a voter sends).
 */
interface MetadataFeed {
    /** Starts following the metadata. Blocking (an initial read). */
    void start();

    /** Where images go from now on; the current image is handed over at once. */
    void onImage(Consumer<MetadataImage> listener);

    /** Reads the metadata again (after a merge, local copies may be stale). Blocking. */
    void reload();

    void stop();
}
