package io.runnel.security;

import io.runnel.config.Limits;
import io.runnel.log.Checkpoints;
import io.vertx.core.json.JsonArray;
import io.vertx.core.json.JsonObject;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Collection;
import java.util.HashMap;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
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
 * <p>File format ({@code <log.dirs>/security/acls.json}): a JSON array of {@code {"resourceType", "name",
 * "patternType", "principal", "host", "operation", "permission"}} with Kafka's enum names. Written whole under a
 * temporary name, fsynced and renamed (a crash leaves the old or the new file). Reads are lock-free (a volatile
 * snapshot); writes are serialised and block (call them on a worker).
 */
public final class AclStore {
    public static final String FILE = "acls.json";

    /** The ACLs of one resource type: literal ones by name, prefixed ones in a list (usually short). */
    record Index(Map<String, List<AclBinding>> literal, List<AclBinding> prefixed) {
    }

    private final Path file;
    private volatile Set<AclBinding> all = Set.of();
    private volatile Map<ResourceType, Index> index = Map.of();

    private AclStore(Path file) {
        this.file = file;
    }

    /** Loads the store from {@code dir} (empty when the file is missing). Blocks. */
    public static AclStore load(Path dir) {
        AclStore s = new AclStore(dir == null ? null : dir.resolve(FILE));
        if (s.file != null && Files.isRegularFile(s.file)) {
            try {
                s.replace(new LinkedHashSet<>(fromJson(new JsonArray(Files.readString(s.file, StandardCharsets.UTF_8)))));
            } catch (IOException e) {
                throw new UncheckedIOException("Cannot read " + s.file, e);
            } catch (RuntimeException e) {
                throw new IllegalStateException("ACL file " + s.file + " is damaged (" + e.getMessage() + "); restore it from a backup", e);
            }
        }
        return s;
    }

    /** Every ACL. */
    public Set<AclBinding> all() {
        return all;
    }

    public int size() {
        return all.size();
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
    public synchronized void add(Collection<AclBinding> acls) {
        Set<AclBinding> next = new LinkedHashSet<>(all);
        next.addAll(acls);
        if (next.size() > Limits.ACLS_MAX) throw new IllegalStateException("the cluster holds " + Limits.ACLS_MAX + " ACLs, its limit");
        persistAndSwap(next);
    }

    /** Removes the ACLs each filter matches and returns them per filter. Blocks. */
    public synchronized List<List<AclBinding>> remove(List<AclBindingFilter> filters) {
        List<List<AclBinding>> out = new ArrayList<>();
        Set<AclBinding> next = new LinkedHashSet<>(all);
        for (AclBindingFilter f : filters) {
            List<AclBinding> matched = all.stream().filter(f::matches).toList();
            out.add(matched);
            matched.forEach(next::remove);
        }
        if (next.size() != all.size()) persistAndSwap(next);
        return out;
    }

    /** Replaces every ACL (an image from the cluster metadata). Blocks. */
    public synchronized void replaceAll(Collection<AclBinding> acls) {
        persistAndSwap(new LinkedHashSet<>(acls));
    }

    private void persistAndSwap(Set<AclBinding> next) {
        if (file != null) {
            try {
                Files.createDirectories(file.getParent());
                Checkpoints.writeAtomically(file, toJson(next).encodePrettily().getBytes(StandardCharsets.UTF_8));
            } catch (IOException e) {
                throw new UncheckedIOException("Cannot write " + file, e);
            }
        }
        replace(next);
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
