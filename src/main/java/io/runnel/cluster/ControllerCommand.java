package io.runnel.cluster;

import io.vertx.core.json.JsonArray;
import io.vertx.core.json.JsonObject;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import org.apache.kafka.common.TopicPartition;
import org.apache.kafka.common.errors.InvalidRequestException;
import org.apache.kafka.common.protocol.Errors;
import org.apache.kafka.common.requests.ApiError;

/**
 * The commands brokers send the controller over the clustered event bus, and their one codec: {@link ControllerClient}
 * encodes, {@link ClusterController} decodes, so both sides agree on each field by construction. On the wire each
 * is a JSON object {@code {"op": name, ...fields}}; unknown ops are refused with INVALID_REQUEST.
 */
sealed interface ControllerCommand {
    /** The event-bus address only the controller consumes. */
    String ADDRESS = "runnel.controller";

    /**
     * CreateTopics: {@code partitions} partitions of {@code replicationFactor} replicas, with config overrides; or, with
     * a non-empty {@code assignment}, the replicas of each partition as given (Kafka's manual assignment).
     */
    record Create(String name, int partitions, int replicationFactor, Map<String, String> configs, List<List<Integer>> assignment)
            implements ControllerCommand {
        public Create {
            assignment = assignment.stream().map(List::copyOf).toList();
        }

        public Create(String name, int partitions, int replicationFactor, Map<String, String> configs) {
            this(name, partitions, replicationFactor, configs, List.of());
        }
    }

    /** DeleteTopics. */
    record Delete(String name) implements ControllerCommand {
    }

    /** CreatePartitions: the topic grows to {@code total} partitions. */
    record Grow(String name, int total) implements ControllerCommand {
    }

    /** IncrementalAlterConfigs of a topic: its overrides become {@code configs}. */
    record Configure(String name, Map<String, String> configs) implements ControllerCommand {
    }

    /** AlterPartition: the ISR a leader proposes, taken only while it still leads in {@code leaderEpoch}. */
    record AlterIsr(String name, int partition, int leader, int leaderEpoch, List<Integer> isr) implements ControllerCommand {
    }

    /**
     * ElectLeaders: preferred leaders, or with {@code unclean} any live replica of a leaderless partition, for
     * {@code partitions} ({@code topic -> partitions}, null for every partition). The reply is {@link #encodeResults}.
     */
    record Elect(boolean unclean, Map<String, List<Integer>> partitions) implements ControllerCommand {
    }

    /** AlterPartitionReassignments of one partition: to {@code replicas}, or null to cancel (KIP-455, KIP-860's flag). */
    record Reassign(String name, int partition, List<Integer> replicas, boolean allowReplicationFactorChange) implements ControllerCommand {
    }

    /**
     * A broker's controlled shutdown (Kafka's ControlledShutdown; KRaft's heartbeat with wantShutDown): the
     * partitions it leads get another in-sync replica as leader, and it leaves every ISR it is not alone in. The
     * reply is {@code {"remaining": ["topic-partition", ...]}}: what it still leads that has other replicas (none of
     * them in sync and live).
     */
    record Shutdown(int broker) implements ControllerCommand {
    }

    /**
     * The metadata version the quorum has committed, as the controller reads it: {@code {"version": n}} (-1 when its
     * store cannot tell). A restarting broker serves once it has applied that version (Kafka's broker waits for its
     * metadata to catch up before it is unfenced).
     */
    record Version() implements ControllerCommand {
    }

    /** ElectLeaders' election types on the wire (Kafka's ElectionType). */
    int PREFERRED = 0;
    int UNCLEAN = 1;

    static JsonObject encode(ControllerCommand c) {
        if (c instanceof Create x) {
            JsonArray assignment = new JsonArray();
            for (List<Integer> replicas : x.assignment()) assignment.add(ints(replicas));
            return op("create").put("name", x.name()).put("partitions", x.partitions()).put("replicationFactor", x.replicationFactor())
                    .put("configs", new JsonObject(new HashMap<>(x.configs()))).put("assignment", assignment);
        }
        if (c instanceof Delete x) return op("delete").put("name", x.name());
        if (c instanceof Grow x) return op("grow").put("name", x.name()).put("total", x.total());
        if (c instanceof Configure x) return op("configure").put("name", x.name()).put("configs", new JsonObject(new HashMap<>(x.configs())));
        if (c instanceof AlterIsr x) {
            return op("alterIsr").put("name", x.name()).put("partition", x.partition()).put("leader", x.leader()).put("leaderEpoch", x.leaderEpoch())
                    .put("isr", ints(x.isr()));
        }
        if (c instanceof Elect x) {
            JsonObject wanted = null;
            if (x.partitions() != null) {
                wanted = new JsonObject();
                for (var e : x.partitions().entrySet()) wanted.put(e.getKey(), ints(e.getValue()));
            }
            return op("elect").put("type", x.unclean() ? UNCLEAN : PREFERRED).put("partitions", wanted);
        }
        if (c instanceof Shutdown x) return op("shutdown").put("broker", x.broker());
        if (c instanceof Version) return op("version");
        Reassign x = (Reassign) c;
        return op("reassign").put("name", x.name()).put("partition", x.partition()).put("replicas", x.replicas() == null ? null : ints(x.replicas()))
                .put("allowRfChange", x.allowReplicationFactorChange());
    }

    /** The command {@code o} encodes; INVALID_REQUEST for an unknown op. */
    static ControllerCommand decode(JsonObject o) {
        String op = o.getString("op");
        if (op == null) throw new InvalidRequestException("A controller command without an op");
        return switch (op) {
            case "create" -> new Create(o.getString("name"), o.getInteger("partitions"), o.getInteger("replicationFactor"),
                    TopicJson.strings(o.getJsonObject("configs")), assignmentOf(o.getJsonArray("assignment", new JsonArray())));
            case "delete" -> new Delete(o.getString("name"));
            case "grow" -> new Grow(o.getString("name"), o.getInteger("total"));
            case "configure" -> new Configure(o.getString("name"), TopicJson.strings(o.getJsonObject("configs")));
            case "alterIsr" -> new AlterIsr(o.getString("name"), o.getInteger("partition"), o.getInteger("leader"), o.getInteger("leaderEpoch"),
                    TopicJson.ints(o.getJsonArray("isr")));
            case "elect" -> {
                Map<String, List<Integer>> wanted = null;
                JsonObject p = o.getJsonObject("partitions");
                if (p != null) {
                    wanted = new LinkedHashMap<>();
                    for (var e : p) wanted.put(e.getKey(), TopicJson.ints((JsonArray) e.getValue()));
                }
                yield new Elect(o.getInteger("type") == UNCLEAN, wanted);
            }
            case "reassign" -> new Reassign(o.getString("name"), o.getInteger("partition"),
                    o.getJsonArray("replicas") == null ? null : TopicJson.ints(o.getJsonArray("replicas")), o.getBoolean("allowRfChange", true));
            case "shutdown" -> new Shutdown(o.getInteger("broker"));
            case "version" -> new Version();
            default -> throw new InvalidRequestException("Unknown controller command " + op);
        };
    }

    /** ElectLeaders' reply: {@code {"results": [{"topic", "partition", "error", "message"}]}}. */
    static JsonObject encodeResults(Map<TopicPartition, ApiError> results) {
        JsonArray out = new JsonArray();
        results.forEach((tp, e) -> {
            JsonObject r = new JsonObject().put("topic", tp.topic()).put("partition", tp.partition()).put("error", e.error().code());
            if (e.message() != null && e.error() != Errors.NONE) r.put("message", e.message());
            out.add(r);
        });
        return new JsonObject().put("results", out);
    }

    static Map<TopicPartition, ApiError> decodeResults(JsonObject reply) {
        Map<TopicPartition, ApiError> out = new LinkedHashMap<>();
        for (Object x : reply.getJsonArray("results", new JsonArray())) {
            JsonObject r = (JsonObject) x;
            out.put(new TopicPartition(r.getString("topic"), r.getInteger("partition")),
                    new ApiError(Errors.forCode(r.getInteger("error").shortValue()), r.getString("message")));
        }
        return out;
    }

    private static JsonObject op(String name) {
        return new JsonObject().put("op", name);
    }

    private static List<List<Integer>> assignmentOf(JsonArray a) {
        List<List<Integer>> out = new ArrayList<>();
        for (Object replicas : a) {
            List<Integer> r = new ArrayList<>();
            for (Object id : (JsonArray) replicas) r.add(((Number) id).intValue());
            out.add(r);
        }
        return out;
    }

    private static JsonArray ints(List<Integer> values) {
        return new JsonArray(new ArrayList<>(values));
    }
}
