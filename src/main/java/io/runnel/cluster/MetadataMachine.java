package io.runnel.cluster;

import io.microraft.statemachine.StateMachine;
import io.runnel.quorum.ImageServer;
import io.vertx.core.json.JsonObject;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.TreeMap;
import java.util.UUID;
import java.util.function.Consumer;
import org.apache.kafka.common.Uuid;

/**
 * The cluster metadata as the state machine of the metadata quorum's Raft log (KRaft's {@code __cluster_metadata}
 * replayed into an image): the controller, the topics (name to {@link TopicJson}) and the tombstones of deleted topic
 * ids, with a version raised by every change. Each log entry is one operation as JSON text; applying it is
 * deterministic (everything it depends on is in the entry or in the state), so every member that applies the same log
 * holds the same image.
 *
 * <ul>
 *   <li>{@code {"op": "claim", "node", "member", "floorVersion", "floorEpoch"}}: the quorum's leader becomes the
 *   controller with the next controller epoch, never lower than {@code floorEpoch + 1} (the highest epoch any broker
 *   saw before this quorum existed) nor a version below {@code floorVersion}. Answers the epoch.</li>
 *   <li>{@code {"op": "create"|"put", "epoch", "name", "topic"}}, {@code {"op": "delete", "epoch", "name", "id"}}:
 *   topic changes, applied only when {@code epoch} is the controller epoch of the image (a deposed controller's
 *   writes fail with {@link Fenced}, as KIP-631 fences them). {@code create} answers false when the name exists.</li>
 *   <li>{@code {"op": "new-term"}}: what a new leader commits first (MicroRaft's new-term operation); no change.</li>
 *   <li>{@code {"op": "read"}}: a query (run, never logged): answers the image.</li>
 * </ul>
 * An operation this version does not know changes nothing and answers {@link Unknown}.
 *
 * <p>Threads: the Raft node's thread applies and snapshots; {@link #image()} may be read on any thread (the state is
 * guarded by this object's lock, held for one operation at a time).
 */
final class MetadataMachine implements StateMachine {
    static final String NEW_TERM = "{\"op\":\"new-term\"}";
    static final String READ = "{\"op\":\"read\"}";
    /** Characters per snapshot chunk: an image of thousands of topics goes in several chunks of a few hundred KB. */
    static final int SNAPSHOT_CHUNK_CHARS = 256 * 1024;

    /** A write under a controller epoch that is no longer the image's. */
    record Fenced(long epoch, long current) {
    }

    /** An operation this broker's version does not know (written by a newer one). */
    record Unknown(String op) {
    }

    private final Runnable changed;
    private long version;
    private ControllerInfo controller;
    private final TreeMap<String, String> topics = new TreeMap<>();
    private final TreeMap<String, String> deleted = new TreeMap<>();
    /** The image last built by {@link #image()}, and the version it was built at. */
    private CpMetadata.Image built;
    private long builtVersion = -1;
    /** The image as text for observers and snapshots, at its version ({@link #observed()}). */
    private ImageServer.Image observed;

    /** {@code changed} is told of each change on the Raft thread; it only signals, and the image is read after. */
    MetadataMachine(Runnable changed) {
        this.changed = changed;
    }

    /**
     * The newest image applied here. Built on demand, once per version asked for: a change costs no copy of the
     * topics, so replaying a long log on start is linear however many topics there are.
     */
    synchronized CpMetadata.Image image() {
        if (builtVersion != version) {
            Set<Uuid> ids = new HashSet<>();
            deleted.keySet().forEach(id -> ids.add(Uuid.fromString(id)));
            built = new CpMetadata.Image(0, version, controller, Map.copyOf(topics), Set.copyOf(ids));
            builtVersion = version;
        }
        return built;
    }

    @Override
    public synchronized Object runOperation(long commitIndex, Object operation) {
        JsonObject o = new JsonObject((String) operation);
        String op = o.getString("op", "");
        switch (op) {
            case "new-term":
                return null;
            case "read":
                return image(); // a query: never in the log
            case "claim": {
                long epoch = Math.max(ControllerInfo.epochOf(controller), o.getLong("floorEpoch", 0L)) + 1;
                version = Math.max(version, o.getLong("floorVersion", 0L));
                controller = new ControllerInfo(o.getInteger("node"), epoch, UUID.fromString(o.getString("member")));
                publish();
                return epoch;
            }
            case "create":
            case "put":
            case "delete": {
                long epoch = o.getLong("epoch", -1L);
                long current = ControllerInfo.epochOf(controller);
                if (epoch != current) return new Fenced(epoch, current);
                String name = o.getString("name");
                if (op.equals("create")) {
                    if (topics.containsKey(name)) return false;
                    topics.put(name, o.getJsonObject("topic").encode());
                } else if (op.equals("put")) {
                    topics.put(name, o.getJsonObject("topic").encode());
                } else {
                    topics.remove(name);
                    deleted.put(o.getString("id"), name);
                }
                publish();
                return true;
            }
            default:
                return new Unknown(op);
        }
    }

    private void publish() {
        version++;
        changed.run();
    }

    @Override
    public synchronized void takeSnapshot(long commitIndex, Consumer<Object> chunks) {
        observed().chunks().forEach(chunks);
    }

    /**
     * The image as an observer is sent it ({@link io.runnel.quorum.ImageServer}): the snapshot's text in chunks, built
     * once per version however many observers ask.
     */
    synchronized ImageServer.Image observed() {
        if (observed == null || observed.version() != version) {
            JsonObject t = new JsonObject();
            topics.forEach((k, v) -> t.put(k, new JsonObject(v)));
            JsonObject d = new JsonObject();
            deleted.forEach(d::put);
            String text = new JsonObject().put("version", version).put("controller", controller == null ? null : controller.toJson())
                    .put("topics", t).put("deleted", d).encode();
            List<String> chunks = new ArrayList<>();
            for (int from = 0; from < text.length() || from == 0; from += SNAPSHOT_CHUNK_CHARS) {
                chunks.add(text.substring(from, Math.min(text.length(), from + SNAPSHOT_CHUNK_CHARS)));
            }
            observed = new ImageServer.Image(version, chunks);
        }
        return observed;
    }

    /**
     * An observer's machine takes the image a voter sent when it is newer than its own (an older one, from a voter
     * that is behind, changes nothing). Any thread.
     */
    synchronized void install(ImageServer.Image image) {
        if (image.version() > version) installSnapshot(0, new ArrayList<>(image.chunks()));
    }

    @Override
    public synchronized void installSnapshot(long commitIndex, List<Object> chunks) {
        StringBuilder text = new StringBuilder();
        for (Object c : chunks) text.append((String) c);
        JsonObject o = new JsonObject(text.toString());
        topics.clear();
        Map<String, String> t = new HashMap<>();
        o.getJsonObject("topics", new JsonObject()).forEach(e -> t.put(e.getKey(), ((JsonObject) e.getValue()).encode()));
        topics.putAll(t);
        deleted.clear();
        o.getJsonObject("deleted", new JsonObject()).forEach(e -> deleted.put(e.getKey(), (String) e.getValue()));
        controller = ControllerInfo.fromJson(o.getJsonObject("controller"));
        version = o.getLong("version", 0L) - 1; // publish() raises it back to the snapshot's
        publish();
    }

    @Override
    public Object getNewTermOperation() {
        return NEW_TERM;
    }
}
