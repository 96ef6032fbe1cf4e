package io.runnel.cluster;

import io.runnel.log.value.TopicRecord;
import io.runnel.partition.Placement;
import io.runnel.partition.TopicMetadata;
import io.vertx.core.json.JsonArray;
import io.vertx.core.json.JsonObject;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import org.apache.kafka.common.Uuid;

/**
 * A topic's cluster metadata as the JSON text stored in Hazelcast's {@code runnel-topics} map:
 * {@code {"name", "topicId", "configs": {...}, "placements": [{"replicas": [..], "leader", "epoch", "isr": [..],
 * "partitionEpoch"}]}} (a placement without a partition epoch, stored before they existed, reads as 0),
 * one placement per partition, and {@code "reassignments": {"partition": {"origin": [..], "target": [..]}}} while any run.
 */
final class TopicJson {
    private TopicJson() {
    }

    static String encode(TopicMetadata t) {
        JsonArray placements = new JsonArray();
        for (Placement p : t.placements()) {
            placements.add(new JsonObject().put("replicas", new JsonArray(new ArrayList<>(p.replicas()))).put("leader", p.leader())
                    .put("epoch", p.leaderEpoch()).put("isr", new JsonArray(new ArrayList<>(p.isr()))).put("partitionEpoch", p.partitionEpoch()));
        }
        JsonObject o = new JsonObject().put("name", t.record().name()).put("topicId", t.record().topicId().toString())
                .put("configs", new JsonObject(new HashMap<>(t.record().configs()))).put("placements", placements);
        if (!t.reassignments().isEmpty()) {
            JsonObject r = new JsonObject();
            t.reassignments().forEach((p, a) -> r.put(Integer.toString(p), new JsonObject().put("origin", new JsonArray(new ArrayList<>(a.origin())))
                    .put("target", new JsonArray(new ArrayList<>(a.target())))));
            o.put("reassignments", r);
        }
        return o.encode();
    }

    static TopicMetadata decode(String text) {
        JsonObject o = new JsonObject(text);
        List<Placement> placements = new ArrayList<>();
        for (Object x : o.getJsonArray("placements")) {
            placements.add(placement((JsonObject) x));
        }
        Map<Integer, TopicMetadata.Reassignment> reassignments = new HashMap<>();
        o.getJsonObject("reassignments", new JsonObject()).forEach(e -> {
            JsonObject a = (JsonObject) e.getValue();
            reassignments.put(Integer.parseInt(e.getKey()), new TopicMetadata.Reassignment(ints(a.getJsonArray("origin")), ints(a.getJsonArray("target"))));
        });
        TopicRecord record = new TopicRecord(o.getString("name"), Uuid.fromString(o.getString("topicId")), placements.size(),
                strings(o.getJsonObject("configs")));
        return new TopicMetadata(record,
                placements, reassignments);
    }

    /** One placement's JSON (also a broker's report of it, where the leader may be absent: -1). */
    static Placement placement(JsonObject p) {
        return new Placement(ints(p.getJsonArray("replicas")), p.getInteger("leader", -1), p.getInteger("epoch"), ints(p.getJsonArray("isr")),
                p.getInteger("partitionEpoch", 0));
    }

    /** A JSON object of config overrides as a map of strings (null: none). */
    static Map<String, String> strings(JsonObject o) {
        Map<String, String> out = new HashMap<>();
        if (o != null) o.forEach(e -> out.put(e.getKey(), String.valueOf(e.getValue())));
        return Map.copyOf(out);
    }

    static List<Integer> ints(JsonArray a) {
        List<Integer> out = new ArrayList<>();
        for (Object x : a) out.add(((Number) x).intValue());
        return out;
    }
}
