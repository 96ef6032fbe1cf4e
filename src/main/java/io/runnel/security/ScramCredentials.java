package io.runnel.security;

import io.runnel.config.Limits;
import io.runnel.log.Checkpoints;
import io.vertx.core.json.JsonObject;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Base64;
import java.util.EnumMap;
import java.util.Map;
import java.util.TreeMap;
import java.util.concurrent.ConcurrentHashMap;
import org.apache.kafka.common.security.authenticator.CredentialCache;
import org.apache.kafka.common.security.scram.ScramCredential;
import org.apache.kafka.common.security.scram.internals.ScramMechanism;

/**
 * The SCRAM credentials of the broker's users (KIP-554): per user and mechanism, the salt, stored key, server key
 * and iteration count that RFC 5802 needs to check a client, never the password. kafka-clients' SCRAM server reads
 * them through {@link #cache}, a {@link CredentialCache} kept equal to this store.
 *
 * <p>File format ({@code <log.dirs>/security/scram-credentials.json}): one JSON object, user name to mechanism name
 * to {@code {"salt", "storedKey", "serverKey"}} (Base64) and {@code "iterations"}. Written whole under a temporary
 * name, fsynced and renamed, so a crash leaves the old file or the new one. Thread-safe: reads from any thread,
 * writes serialised.
 */
public final class ScramCredentials {
    public static final String FILE = "scram-credentials.json";

    private final Path file;
    private final Map<String, Map<ScramMechanism, ScramCredential>> users = new ConcurrentHashMap<>();
    private final CredentialCache cache = new CredentialCache();

    private ScramCredentials(Path file) {
        this.file = file;
        for (ScramMechanism m : ScramMechanism.values()) cache.createCache(m.mechanismName(), ScramCredential.class);
    }

    /** Loads the store from {@code dir} (created when missing). Blocks. */
    public static ScramCredentials load(Path dir) {
        ScramCredentials s = new ScramCredentials(dir == null ? null : dir.resolve(FILE));
        if (s.file != null && Files.isRegularFile(s.file)) {
            try {
                s.apply(new JsonObject(Files.readString(s.file, StandardCharsets.UTF_8)));
            } catch (IOException e) {
                throw new UncheckedIOException("Cannot read " + s.file, e);
            } catch (RuntimeException e) {
                throw new IllegalStateException("SCRAM credential file " + s.file + " is damaged (" + e.getMessage()
                        + "); restore it or remove it and create the users again", e);
            }
        }
        return s;
    }

    /** An empty store held in memory only, for tests. */
    public static ScramCredentials inMemory() {
        return new ScramCredentials(null);
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
     * Sets ({@code credential} not null) or deletes credentials and writes the file once for all of them. Blocks.
     * Throws {@link IllegalStateException} when the store would exceed {@link Limits#SCRAM_USERS_MAX} users.
     */
    public synchronized void update(Map<String, Map<ScramMechanism, ScramCredential>> changes) {
        for (Map.Entry<String, Map<ScramMechanism, ScramCredential>> u : changes.entrySet()) {
            if (!users.containsKey(u.getKey()) && users.size() >= Limits.SCRAM_USERS_MAX && u.getValue().values().stream().anyMatch(c -> c != null)) {
                throw new IllegalStateException("the broker holds " + Limits.SCRAM_USERS_MAX + " SCRAM users, its limit");
            }
        }
        JsonObject before = toJson();
        for (Map.Entry<String, Map<ScramMechanism, ScramCredential>> u : changes.entrySet()) {
            u.getValue().forEach((mech, c) -> put(u.getKey(), mech, c));
        }
        try {
            persist();
        } catch (UncheckedIOException e) {
            users.clear();
            for (ScramMechanism m : ScramMechanism.values()) cache.createCache(m.mechanismName(), ScramCredential.class);
            apply(before);
            throw e;
        }
    }

    /** Replaces the whole store with {@code json} (the file format), as a metadata image from another broker. Blocks. */
    public synchronized void replaceWith(JsonObject json) {
        for (String user : Map.copyOf(users).keySet()) {
            for (ScramMechanism m : ScramMechanism.values()) put(user, m, null);
        }
        apply(json);
        persist();
    }

    private void put(String user, ScramMechanism mechanism, ScramCredential c) {
        if (c == null) {
            Map<ScramMechanism, ScramCredential> m = users.get(user);
            if (m != null) {
                m.remove(mechanism);
                if (m.isEmpty()) users.remove(user);
            }
            cache(mechanism).remove(user);
        } else {
            users.computeIfAbsent(user, u -> new ConcurrentHashMap<>()).put(mechanism, c);
            cache(mechanism).put(user, c);
        }
    }

    private void apply(JsonObject json) {
        Base64.Decoder b64 = Base64.getDecoder();
        for (String user : json.fieldNames()) {
            JsonObject mechs = json.getJsonObject(user);
            for (String mech : mechs.fieldNames()) {
                JsonObject c = mechs.getJsonObject(mech);
                ScramMechanism m = ScramMechanism.forMechanismName(mech);
                if (m == null) throw new IllegalArgumentException("unknown mechanism " + mech);
                put(user, m, new ScramCredential(b64.decode(c.getString("salt")), b64.decode(c.getString("storedKey")),
                        b64.decode(c.getString("serverKey")), c.getInteger("iterations")));
            }
        }
    }

    /** The store in the file format. */
    public JsonObject toJson() {
        Base64.Encoder b64 = Base64.getEncoder();
        JsonObject out = new JsonObject();
        new TreeMap<>(users).forEach((user, creds) -> {
            JsonObject mechs = new JsonObject();
            creds.forEach((mech, c) -> mechs.put(mech.mechanismName(), new JsonObject().put("salt", b64.encodeToString(c.salt()))
                    .put("storedKey", b64.encodeToString(c.storedKey())).put("serverKey", b64.encodeToString(c.serverKey()))
                    .put("iterations", c.iterations())));
            out.put(user, mechs);
        });
        return out;
    }

    private void persist() {
        if (file == null) return;
        try {
            Files.createDirectories(file.getParent());
            Checkpoints.writeAtomically(file, toJson().encodePrettily().getBytes(StandardCharsets.UTF_8));
        } catch (IOException e) {
            throw new UncheckedIOException("Cannot write " + file, e);
        }
    }
}
