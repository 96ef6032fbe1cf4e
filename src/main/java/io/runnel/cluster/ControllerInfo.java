package io.runnel.cluster;

import io.vertx.core.json.JsonObject;
import java.util.UUID;
import org.apache.kafka.common.errors.NotControllerException;

/**
 * Who is the controller: its broker's node id, the controller epoch it was elected with, and its Hazelcast member
 * (a member that left is no controller, whatever the entry says). Stored as {@code {"nodeId", "epoch", "member"}} in
 * the {@code runnel-controller} map (oldest-member mode) or in the CP metadata image (CP mode).
 */
record ControllerInfo(int nodeId, long epoch, UUID member) {
    JsonObject toJson() {
        return new JsonObject().put("nodeId", nodeId).put("epoch", epoch).put("member", member.toString());
    }

    /** The controller epoch {@code c} names: 0 while no controller was ever elected. */
    static long epochOf(ControllerInfo c) {
        return c == null ? 0 : c.epoch();
    }

    /** Fails with NOT_CONTROLLER unless {@code epoch} is still {@code current}, the metadata's controller epoch. */
    static void fence(long epoch, long current) {
        if (current != epoch) throw new NotControllerException("Controller epoch " + epoch + " was replaced by epoch " + current);
    }

    /** The entry {@code o} holds, or null for null. */
    static ControllerInfo fromJson(JsonObject o) {
        return o == null ? null : new ControllerInfo(o.getInteger("nodeId"), o.getLong("epoch", 0L), UUID.fromString(o.getString("member")));
    }
}
