package io.runnel.security;

import io.runnel.config.Limits;
import io.vertx.core.json.JsonObject;
import java.nio.file.Path;
import java.util.Base64;
import java.util.EnumMap;
import java.util.HashMap;
import java.util.Map;
import java.util.Set;
import java.util.TreeMap;
import java.util.concurrent.ConcurrentHashMap;
import org.apache.kafka.common.security.authenticator.CredentialCache;
import org.apache.kafka.common.security.scram.ScramCredential;
import org.apache.kafka.common.security.scram.internals.ScramMechanism;

/**
 * The SCRAM credentials of the broker's users (KIP-554): per user and mechanism, the salt, stored key, server key
 * and iteration count that RFC 5802 needs to check a client, never the password. kafka-clients' SCRAM server reads
 * them through {@link #cache}, a {@link CredentialCache} kept equal to this store. In a cluster the store follows
 * the cluster's copy ({@link #share}), so a user created on one broker logs in on every broker.
 *
 * <p>File ({@code <log.dirs>/security/scram-credentials.json}, a {@link VersionedDocument}): the content maps user
 * name to mechanism name to {@code {"salt", "storedKey", "serverKey"}} (Base64) and {@code "iterations"}.
 * Thread-safe: reads from any thread, changes serialised.
 */
public final class ScramCredentials {
    public static final String FILE = "scram-credentials.json";
    /** The document's name in the cluster metadata. */
    static final String DOCUMENT = "scram-credentials";

    private final Map<String, Map<ScramMechanism, ScramCredential>> users = new ConcurrentHashMap<>();
    private final CredentialCache cache = new CredentialCache();
    private final VersionedDocument document;

    private ScramCredentials(Path file) {
        for (ScramMechanism m : ScramMechanism.values()) cache.createCache(m.mechanismName(), ScramCredential.class);
        this.document = new VersionedDocument(DOCUMENT, file, this::install);
    }

    /** Loads the store from {@code dir} (created when missing). Blocks. */
    public static ScramCredentials load(Path dir) {
        ScramCredentials s = new ScramCredentials(dir == null ? null : dir.resolve(FILE));
        s.document.load("SCRAM credential");
        return s;
    }

    /** An empty store held in memory only, for tests. */
    public static ScramCredentials inMemory() {
        return new ScramCredentials(null);
    }

    /** Follows the cluster's copy of the credentials from now on (see {@link VersionedDocument#share}). Blocks. */
    public void share(SharedDocuments documents) {
        document.share(documents, toJson());
    }

    /** The credential of {@code user} for {@code mechanism}, or null. */
    public ScramCredential get(String user, ScramMechanism mechanism) {
        Map<ScramMechanism, ScramCredential> m = users.get(user);
        return m == null ? null : m.get(mechanism);
    }

    /** Every user with the mechanisms and iteration counts of their credentials, sorted by name. */
    public Map<String, Map<ScramMechanism, Integer>> describe() {
        Map<String, Map<ScramMechanism, Integer>> out = new TreeMap<>();
        users.forEach((user, creds) -> {
            Map<ScramMechanism, Integer> m = new EnumMap<>(ScramMechanism.class);
            creds.forEach((mech, c) -> m.put(mech, c.iterations()));
            if (!m.isEmpty()) out.put(user, m);
        });
        return out;
    }

    /** Kafka's cache of credentials per mechanism, for {@code ScramServerCallbackHandler}. */
    public CredentialCache.Cache<ScramCredential> cache(ScramMechanism mechanism) {
        return cache.cache(mechanism.mechanismName(), ScramCredential.class);
    }

    /**
     * Sets ({@code credential} not null) or deletes credentials, in one change of the document. Blocks. Throws
     * {@link IllegalStateException} when the store would exceed {@link Limits#SCRAM_USERS_MAX} users.
     */
    public void update(Map<String, Map<ScramMechanism, ScramCredential>> changes) {
        Base64.Encoder b64 = Base64.getEncoder();
        document.update(toJson(), content -> {
            JsonObject next = content.copy();
            changes.forEach((user, creds) -> {
                JsonObject mechs = next.getJsonObject(user, new JsonObject()).copy();
                creds.forEach((mech, c) -> {
                    if (c == null) mechs.remove(mech.mechanismName());
                    else mechs.put(mech.mechanismName(), encode(c, b64));
                });
                if (mechs.isEmpty()) next.remove(user);
                else next.put(user, mechs);
            });
            if (next.size() > Limits.SCRAM_USERS_MAX) throw new IllegalStateException("the cluster holds " + Limits.SCRAM_USERS_MAX + " SCRAM users, its limit");
            return next;
        });
    }

    /** Replaces the store's content (called by its document, under its lock). */
    private void install(JsonObject content) {
        Base64.Decoder b64 = Base64.getDecoder();
        Map<String, Map<ScramMechanism, ScramCredential>> next = new HashMap<>();
        for (String user : content.fieldNames()) {
            JsonObject mechs = content.getJsonObject(user);
            for (String mech : mechs.fieldNames()) {
                JsonObject c = mechs.getJsonObject(mech);
                ScramMechanism m = ScramMechanism.forMechanismName(mech);
                if (m == null) throw new IllegalArgumentException("unknown mechanism " + mech);
                next.computeIfAbsent(user, u -> new ConcurrentHashMap<>()).put(m, new ScramCredential(b64.decode(c.getString("salt")),
                        b64.decode(c.getString("storedKey")), b64.decode(c.getString("serverKey")), c.getInteger("iterations")));
            }
        }
        for (String user : Set.copyOf(users.keySet())) {
            if (!next.containsKey(user)) {
                users.remove(user);
                for (ScramMechanism m : ScramMechanism.values()) cache(m).remove(user);
            }
        }
        next.forEach((user, creds) -> {
            users.put(user, creds);
            for (ScramMechanism m : ScramMechanism.values()) {
                if (creds.containsKey(m)) cache(m).put(user, creds.get(m));
                else cache(m).remove(user);
            }
        });
    }

    /** The store's content in the file format. */
    public JsonObject toJson() {
        Base64.Encoder b64 = Base64.getEncoder();
        JsonObject out = new JsonObject();
        new TreeMap<>(users).forEach((user, creds) -> {
            JsonObject mechs = new JsonObject();
            creds.forEach((mech, c) -> mechs.put(mech.mechanismName(), encode(c, b64)));
            out.put(user, mechs);
        });
        return out;
    }

    private static JsonObject encode(ScramCredential c, Base64.Encoder b64) {
        return new JsonObject().put("salt", b64.encodeToString(c.salt())).put("storedKey", b64.encodeToString(c.storedKey()))
                .put("serverKey", b64.encodeToString(c.serverKey())).put("iterations", c.iterations());
    }
}
