package io.runnel.security;

import io.runnel.log.Checkpoints;
import io.vertx.core.json.JsonObject;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.function.Consumer;
import java.util.function.UnaryOperator;

/**
 * One document every broker of a cluster holds alike (the SCRAM credentials and the ACLs, under
 * {@code log.dirs/security/}; groups' configurations): its content, a version that grows by one with every change,
 * its file, and in a cluster its copy in the cluster metadata ({@link SharedDocuments}), which every broker's copy
 * follows.
 *
 * <p>File format: {@code {"version": n, "content": {...}}}, written whole under a temporary name, fsynced and renamed
 * (a crash leaves the old or the new file). Changes are applied in version order: a copy older than the one held (a
 * cluster event that arrives after this broker already applied a newer change) is ignored. In a cluster, a change is
 * a compare-and-set on the shared copy, so two brokers changing the document at once both get their change in; on
 * joining, a broker adopts the cluster's copy, or gives the cluster its own when the cluster has none (after the whole
 * cluster was down). All methods block and are serialised.
 */
public final class VersionedDocument {
    private final String name;
    private final Path file;
    private final Consumer<JsonObject> apply;
    private long version;
    private SharedDocuments shared;

    /**
     * @param name  the document's name in the cluster metadata
     * @param file  where this broker keeps it, or null (memory only)
     * @param apply installs a content in the store (called under this document's lock)
     */
    public VersionedDocument(String name, Path file, Consumer<JsonObject> apply) {
        this.name = name;
        this.file = file;
        this.apply = apply;
    }

    /** Reads the file, if any, and applies its content. */
    public synchronized void load(String what) {
        if (file == null || !Files.isRegularFile(file)) return;
        JsonObject doc;
        try {
            doc = new JsonObject(Files.readString(file, StandardCharsets.UTF_8));
            apply.accept(doc.getJsonObject("content", new JsonObject()));
            version = doc.getLong("version", 0L);
        } catch (IOException e) {
            throw new UncheckedIOException("Cannot read " + file, e);
        } catch (RuntimeException e) {
            throw new IllegalStateException(what + " file " + file + " is damaged (" + e.getMessage() + "); restore it from a backup", e);
        }
    }

    /**
     * Makes {@code change} of the current content (given as {@code current} for a broker alone) the new content, in
     * the cluster's copy when there is one.
     */
    public synchronized void update(JsonObject current, UnaryOperator<JsonObject> change) {
        if (shared == null) {
            adopt(document(version + 1, change.apply(current)), true);
            return;
        }
        String text = shared.update(name, old -> {
            JsonObject doc = old == null ? document(0, new JsonObject()) : new JsonObject(old);
            return document(doc.getLong("version", 0L) + 1, change.apply(doc.getJsonObject("content", new JsonObject()))).encode();
        });
        adopt(new JsonObject(text), false);
    }

    /** Follows the cluster's copy from now on: adopts it, or seeds it with {@code current} when the cluster has none. */
    public synchronized void share(SharedDocuments documents, JsonObject current) {
        String text = documents.update(name, old -> old != null ? old : document(version, current).encode());
        adopt(new JsonObject(text), true); // the cluster's copy is the truth, whatever this broker's version
        documents.listen(name, t -> adoptText(t));
        shared = documents;
    }

    private synchronized void adoptText(String text) {
        adopt(new JsonObject(text), false);
    }

    /** Installs {@code doc} unless it is older than the held version ({@code force}: whatever its version). */
    private void adopt(JsonObject doc, boolean force) {
        long v = doc.getLong("version", 0L);
        if (!force && v <= version) return;
        JsonObject content = doc.getJsonObject("content", new JsonObject());
        persist(doc);
        apply.accept(content);
        version = v;
    }

    private void persist(JsonObject doc) {
        if (file == null) return;
        try {
            Files.createDirectories(file.getParent());
            Checkpoints.writeAtomically(file, doc.encodePrettily().getBytes(StandardCharsets.UTF_8));
        } catch (IOException e) {
            throw new UncheckedIOException("Cannot write " + file, e);
        }
    }

    private static JsonObject document(long version, JsonObject content) {
        return new JsonObject().put("version", version).put("content", content);
    }
}
