package io.runnel.group;

import io.runnel.config.Limits;
import io.runnel.security.SharedDocuments;
import io.runnel.security.VersionedDocument;
import io.vertx.core.json.JsonObject;
import java.nio.file.Path;
import java.util.HashMap;
import java.util.Map;
import java.util.TreeMap;
import java.util.function.UnaryOperator;
import org.apache.kafka.common.errors.PolicyViolationException;

/**
 * Groups' configuration overrides (IncrementalAlterConfigs on GROUP resources, {@link GroupConfig}'s keys), which
 * every broker knows, as Kafka keeps them in its cluster metadata: DescribeConfigs is answered by any broker, and a
 * share-partition's leader reads its group's {@code share.*} keys without asking the group's coordinator.
 *
 * <p>File ({@code <log.dirs>/group-configs.json}, a {@link VersionedDocument}): the content's {@code "groups"} maps a
 * group id to its overrides ({@code {"name": "value"}}). In a cluster the store follows the cluster's copy
 * ({@link #share}), so every broker sees every change. At most {@link Limits#GROUP_CONFIGS_MAX} groups have overrides.
 * Reads are lock-free (a volatile snapshot); changes are serialised and block (call them on a worker).
 */
public final class GroupConfigStore {
    public static final String FILE = "group-configs.json";
    static final String DOCUMENT = "group-configs";

    private final VersionedDocument document;
    private volatile Map<String, Map<String, String>> overrides = Map.of();

    private GroupConfigStore(Path file) {
        this.document = new VersionedDocument(DOCUMENT, file, content -> overrides = fromJson(content));
    }

    /** Loads the store from {@code dir} (empty when the file is missing; memory only for null). Blocks. */
    public static GroupConfigStore load(Path dir) {
        GroupConfigStore s = new GroupConfigStore(dir == null ? null : dir.resolve(FILE));
        s.document.load("Group configuration");
        return s;
    }

    /** A store in memory only (tests). */
    public static GroupConfigStore inMemory() {
        return new GroupConfigStore(null);
    }

    /** Follows the cluster's copy from now on (see {@link VersionedDocument#share}). Blocks. */
    public void share(SharedDocuments documents) {
        document.share(documents, toJson(overrides));
    }

    /** {@code groupId}'s overrides (none: empty). */
    public Map<String, String> overrides(String groupId) {
        return overrides.getOrDefault(groupId, Map.of());
    }

    /**
     * Makes {@code change} of {@code groupId}'s overrides its overrides (empty removes them), atomically with other
     * brokers' changes ({@code change} may run again when another change won a race; what it throws fails this one).
     * Blocks.
     */
    public void change(String groupId, UnaryOperator<Map<String, String>> change) {
        document.update(toJson(overrides), content -> {
            Map<String, Map<String, String>> all = new HashMap<>(fromJson(content));
            Map<String, String> next = change.apply(all.getOrDefault(groupId, Map.of()));
            if (next.isEmpty()) all.remove(groupId);
            else all.put(groupId, new TreeMap<>(next));
            if (all.size() > Limits.GROUP_CONFIGS_MAX) {
                throw new PolicyViolationException("The cluster holds configurations of " + Limits.GROUP_CONFIGS_MAX + " groups, its limit");
            }
            return toJson(all);
        });
    }

    private static Map<String, Map<String, String>> fromJson(JsonObject content) {
        Map<String, Map<String, String>> out = new HashMap<>();
        JsonObject groups = content.getJsonObject("groups", new JsonObject());
        for (String g : groups.fieldNames()) {
            Map<String, String> m = new TreeMap<>();
            groups.getJsonObject(g).forEach(e -> m.put(e.getKey(), String.valueOf(e.getValue())));
            out.put(g, Map.copyOf(m));
        }
        return Map.copyOf(out);
    }

    private static JsonObject toJson(Map<String, Map<String, String>> all) {
        JsonObject groups = new JsonObject();
        new TreeMap<>(all).forEach((g, m) -> groups.put(g, new JsonObject(new HashMap<>(m))));
        return new JsonObject().put("groups", groups);
    }
}
