package io.runnel.security;

import io.runnel.config.Limits;
import io.vertx.core.json.JsonArray;
import io.vertx.core.json.JsonObject;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Collection;
import java.util.HashMap;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.atomic.AtomicReference;
import org.apache.kafka.common.acl.AccessControlEntry;
import org.apache.kafka.common.acl.AclBinding;
import org.apache.kafka.common.acl.AclBindingFilter;
import org.apache.kafka.common.acl.AclOperation;
import org.apache.kafka.common.acl.AclPermissionType;
import org.apache.kafka.common.resource.PatternType;
import org.apache.kafka.common.resource.ResourcePattern;
import org.apache.kafka.common.resource.ResourceType;

/**
 * The ACLs (Kafka's model: a resource pattern, LITERAL or PREFIXED, and an entry of principal, host, operation and
 * permission), in memory as an immutable snapshot indexed for the authorizer, and on disk.
 *
 * <p>File ({@code <log.dirs>/security/acls.json}, a {@link VersionedDocument}): the content's {@code "acls"} is an
 * array of {@code {"resourceType", "name", "patternType", "principal", "host", "operation", "permission"}} with
 * Kafka's enum names. In a cluster the store follows the cluster's copy ({@link #share}), so every broker enforces
 * the same ACLs. Reads are lock-free (a volatile snapshot); changes are serialised and block (call them on a worker).
 */
public final class AclStore {
    public static final String FILE = "acls.json";

    /** The ACLs of one resource type: literal ones by name, prefixed ones in a list (usually short). */
    record Index(Map<String, List<AclBinding>> literal, List<AclBinding> prefixed) {
    }

    /** The document's name in the cluster metadata. */
    static final String DOCUMENT = "acls";

    private final VersionedDocument document;
    private volatile Set<AclBinding> all = Set.of();
    private volatile Map<ResourceType, Index> index = Map.of();

    private AclStore(Path file) {
        this.document = new VersionedDocument(DOCUMENT, file, content -> replace(new LinkedHashSet<>(fromJson(content.getJsonArray("acls", new JsonArray())))));
    }

    /** Loads the store from {@code dir} (empty when the file is missing). Blocks. */
    public static AclStore load(Path dir) {
        AclStore s = new AclStore(dir == null ? null : dir.resolve(FILE));
        s.document.load("ACL");
        return s;
    }

    /** Follows the cluster's copy of the ACLs from now on (see {@link VersionedDocument#share}). Blocks. */
    public void share(SharedDocuments documents) {
        document.share(documents, content(all));
    }

    private static JsonObject content(Collection<AclBinding> acls) {
        return new JsonObject().put("acls", toJson(acls));
    }

    /** Every ACL. */
    public Set<AclBinding> all() {
        return all;
    }

    /** The ACLs whose pattern applies to {@code name} of {@code type}: literal equal or wildcard, or prefixed. */
    List<AclBinding> matching(ResourceType type, String name) {
        Index i = index.get(type);
        if (i == null) return List.of();
        List<AclBinding> out = new ArrayList<>(i.literal().getOrDefault(name, List.of()));
        if (!name.equals(ResourcePattern.WILDCARD_RESOURCE)) out.addAll(i.literal().getOrDefault(ResourcePattern.WILDCARD_RESOURCE, List.of()));
        for (AclBinding b : i.prefixed()) if (name.startsWith(b.pattern().name())) out.add(b);
        return out;
    }

    /** The ACLs of {@code type} (for checks on "any resource of this type", such as idempotent writes). */
    List<AclBinding> ofType(ResourceType type) {
        Index i = index.get(type);
        if (i == null) return List.of();
        List<AclBinding> out = new ArrayList<>(i.prefixed());
        i.literal().values().forEach(out::addAll);
        return out;
    }

    /** The ACLs that {@code filter} matches. */
    public List<AclBinding> find(AclBindingFilter filter) {
        return all.stream().filter(filter::matches).toList();
    }

    /** Adds ACLs (existing ones are kept once). Blocks; throws when the store would exceed {@link Limits#ACLS_MAX}. */
    public void add(Collection<AclBinding> acls) {
        document.update(content(all), content -> {
            Set<AclBinding> next = new LinkedHashSet<>(fromJson(content.getJsonArray("acls", new JsonArray())));
            next.addAll(acls);
            if (next.size() > Limits.ACLS_MAX) throw new IllegalStateException("the cluster holds " + Limits.ACLS_MAX + " ACLs, its limit");
            return content(next);
        });
    }

    /** Removes the ACLs each filter matches and returns them per filter. Blocks. */
    public List<List<AclBinding>> remove(List<AclBindingFilter> filters) {
        AtomicReference<List<List<AclBinding>>> removed = new AtomicReference<>();
        document.update(content(all), content -> {
            List<AclBinding> current = fromJson(content.getJsonArray("acls", new JsonArray()));
            Set<AclBinding> next = new LinkedHashSet<>(current);
            List<List<AclBinding>> out = new ArrayList<>();
            for (AclBindingFilter f : filters) {
                List<AclBinding> matched = current.stream().filter(f::matches).toList();
                out.add(matched);
                matched.forEach(next::remove);
            }
            removed.set(out);
            return content(next);
        });
        return removed.get();
    }

    private void replace(Set<AclBinding> next) {
        Map<ResourceType, Map<String, List<AclBinding>>> literal = new HashMap<>();
        Map<ResourceType, List<AclBinding>> prefixed = new HashMap<>();
        for (AclBinding b : next) {
            ResourceType t = b.pattern().resourceType();
            if (b.pattern().patternType() == PatternType.PREFIXED) prefixed.computeIfAbsent(t, k -> new ArrayList<>()).add(b);
            else literal.computeIfAbsent(t, k -> new HashMap<>()).computeIfAbsent(b.pattern().name(), k -> new ArrayList<>()).add(b);
        }
        Map<ResourceType, Index> idx = new HashMap<>();
        for (ResourceType t : ResourceType.values()) {
            if (literal.containsKey(t) || prefixed.containsKey(t)) {
                idx.put(t, new Index(Map.copyOf(literal.getOrDefault(t, Map.of())), List.copyOf(prefixed.getOrDefault(t, List.of()))));
            }
        }
        all = Set.copyOf(next);
        index = Map.copyOf(idx);
    }

    /** ACLs in the file format. */
    public static JsonArray toJson(Collection<AclBinding> acls) {
        JsonArray out = new JsonArray();
        for (AclBinding b : acls) {
            out.add(new JsonObject().put("resourceType", b.pattern().resourceType().name()).put("name", b.pattern().name())
                    .put("patternType", b.pattern().patternType().name()).put("principal", b.entry().principal())
                    .put("host", b.entry().host()).put("operation", b.entry().operation().name())
                    .put("permission", b.entry().permissionType().name()));
        }
        return out;
    }

    public static List<AclBinding> fromJson(JsonArray json) {
        List<AclBinding> out = new ArrayList<>();
        for (int i = 0; i < json.size(); i++) {
            JsonObject o = json.getJsonObject(i);
            out.add(new AclBinding(new ResourcePattern(ResourceType.valueOf(o.getString("resourceType")), o.getString("name"),
                    PatternType.valueOf(o.getString("patternType"))), new AccessControlEntry(o.getString("principal"), o.getString("host"),
                    AclOperation.valueOf(o.getString("operation")), AclPermissionType.valueOf(o.getString("permission")))));
        }
        return out;
    }
}
