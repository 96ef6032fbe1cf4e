package io.runnel.partition;

import io.runnel.log.Checkpoints;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The {@code cluster-placement} file of a replica: the last placement the controller gave it, so that after a
 * restart of the whole cluster (the Hazelcast maps are empty then) the broker's report to the controller carries the
 * real replicas and ISR, which keeps the replication factor and elects from the in-sync replicas.
 *
 * <p>Format: UTF-8 text, four lines {@code replicas=1,2,3}, {@code isr=1,2}, {@code epoch=7} and
 * {@code partitionEpoch=12} (node ids in placement order, the leader epoch, the partition epoch; a file without the
 * last line, written before partition epochs existed, reads as partition epoch 0); the leader is not kept (it is elected again). Written atomically (temporary
 * file, fsync, rename, directory fsync; {@link Checkpoints#writeAtomically}), so a crash leaves the old or the new
 * placement. A missing file, one without replicas, or one that does not parse reads as absent (logged): the report
 * then names this broker as the partition's only known replica, which is what a broker alone has.
 */
final class PlacementFile {
    static final String NAME = "cluster-placement";
    private static final Logger LOG = LoggerFactory.getLogger(PlacementFile.class);

    private PlacementFile() {
    }

    /** Writes {@code p} into the replica's directory {@code dir}. Blocking (two fsyncs). */
    static void write(Path dir, Placement p) throws IOException {
        Checkpoints.writeAtomically(dir.resolve(NAME), encode(p).getBytes(StandardCharsets.UTF_8));
    }

    /** The placement kept in {@code dir} (leader -1), or empty when there is none or it cannot be read. Blocking. */
    static Optional<Placement> read(Path dir) {
        Path f = dir.resolve(NAME);
        try {
            if (!Files.exists(f)) return Optional.empty();
            return decode(Files.readString(f, StandardCharsets.UTF_8));
        } catch (IOException | RuntimeException e) {
            LOG.warn("Ignoring the unreadable placement file of {}: {}", dir.getFileName(), e.toString());
            return Optional.empty();
        }
    }

    static String encode(Placement p) {
        return "replicas=" + join(p.replicas()) + "\nisr=" + join(p.isr()) + "\nepoch=" + p.leaderEpoch() + "\npartitionEpoch=" + p.partitionEpoch() + "\n";
    }

    /** The placement {@code text} holds; throws on text that does not parse. */
    static Optional<Placement> decode(String text) {
        Map<String, String> kv = new HashMap<>();
        for (String line : text.split("\n")) {
            int eq = line.indexOf('=');
            if (eq > 0) kv.put(line.substring(0, eq), line.substring(eq + 1));
        }
        List<Integer> replicas = ids(kv.get("replicas"));
        if (replicas.isEmpty()) return Optional.empty();
        return Optional.of(new Placement(replicas, -1, Integer.parseInt(kv.getOrDefault("epoch", "0")), ids(kv.get("isr")),
                Integer.parseInt(kv.getOrDefault("partitionEpoch", "0"))));
    }

    private static String join(List<Integer> ids) {
        return String.join(",", ids.stream().map(String::valueOf).toList());
    }

    private static List<Integer> ids(String csv) {
        if (csv == null || csv.isBlank()) return List.of();
        return Arrays.stream(csv.split(",")).map(String::trim).map(Integer::parseInt).toList();
    }
}
