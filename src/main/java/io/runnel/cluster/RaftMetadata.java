package io.runnel.cluster;

import io.microraft.Ordered;
import io.microraft.QueryPolicy;
import io.microraft.RaftNode;
import io.vertx.core.json.JsonObject;
import java.util.Map;
import java.util.Optional;
import java.util.UUID;
import org.apache.kafka.common.Uuid;
import org.apache.kafka.common.errors.NotControllerException;

/**
 * The cluster metadata kept by the metadata quorum: a {@link MetadataStore} whose writes are entries of the quorum's
 * Raft log, applied by {@link MetadataMachine} on every member. Only the quorum's leader can write; the controller is
 * the broker that leads the quorum and has claimed the image ({@link #claim}), and a write under an older controller
 * epoch fails with {@code NOT_CONTROLLER} as the machine refuses it. Reads are linearizable queries (the leader checks
 * with a majority that it still leads), so a deposed controller never decides from a stale image.
 *
 * <p>Calls block for at most {@link io.runnel.config.Limits#CP_CALL_TIMEOUT_S} seconds (never on an event loop); a
 * timeout, a lost leadership or an outcome the quorum cannot tell yet fail with {@code NOT_CONTROLLER}: the controller
 * steps down and the next one reads what was committed.
 */
final class RaftMetadata implements MetadataStore {
    /** What a failed call names. */
    private static final String QUORUM = "the metadata quorum";

    private final RaftNode node;

    RaftMetadata(RaftNode node) {
        this.node = node;
    }

    /**
     * Makes this broker, which leads the quorum, the controller with the next controller epoch (never below
     * {@code floorEpoch + 1}; an empty image starts its versions at {@code floorVersion}).
     */
    ControllerInfo claim(int nodeId, UUID member, long floorVersion, long floorEpoch) {
        long epoch = (Long) replicate(new JsonObject().put("op", "claim").put("node", nodeId).put("member", member.toString())
                .put("floorVersion", floorVersion).put("floorEpoch", floorEpoch));
        return new ControllerInfo(nodeId, epoch, member);
    }

    /** The image as the quorum holds it now (a linearizable read). */
    CpMetadata.Image read() {
        Ordered<CpMetadata.Image> r = CpMetadata.await(node.query(MetadataMachine.READ, QueryPolicy.LINEARIZABLE, Optional.empty(), Optional.empty()), QUORUM,
                NotControllerException::new);
        return r.getResult();
    }

    private Object replicate(JsonObject op) {
        Ordered<Object> r = CpMetadata.await(node.replicate(op.encode()), QUORUM, NotControllerException::new);
        Object v = r.getResult();
        if (v instanceof MetadataMachine.Fenced f) {
            ControllerInfo.fence(f.epoch(), f.current());
        }
        if (v instanceof MetadataMachine.Unknown u) {
            throw new IllegalStateException("The metadata quorum does not know the operation " + u.op());
        }
        return v;
    }

    @Override
    public long committedVersion() {
        return read().version();
    }

    @Override
    public void checkEpoch(long epoch) {
        ControllerInfo.fence(epoch, ControllerInfo.epochOf(read().controller()));
    }

    @Override
    public String topic(String name) {
        return read().topics().get(name);
    }

    @Override
    public Map<String, String> topics() {
        return read().topics();
    }

    @Override
    public boolean createTopic(long epoch, String name, String json) {
        return (Boolean) replicate(write("create", epoch, name).put("topic", new JsonObject(json)));
    }

    @Override
    public void putTopic(long epoch, String name, String json) {
        replicate(write("put", epoch, name).put("topic", new JsonObject(json)));
    }

    @Override
    public void deleteTopic(long epoch, String name, Uuid id) {
        replicate(write("delete", epoch, name).put("id", id.toString()));
    }

    @Override
    public boolean isDeleted(Uuid id) {
        return read().deleted().contains(id);
    }

    private static JsonObject write(String op, long epoch, String name) {
        return new JsonObject().put("op", op).put("epoch", epoch).put("name", name);
    }
}
