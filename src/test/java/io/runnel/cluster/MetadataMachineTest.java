package io.runnel.cluster;

import static org.assertj.core.api.Assertions.assertThat;

import io.vertx.core.json.JsonObject;
import java.util.ArrayList;
import java.util.List;
import java.util.UUID;
import java.util.concurrent.atomic.AtomicInteger;
import org.apache.kafka.common.Uuid;
import org.junit.jupiter.api.Test;

/** The metadata quorum's state machine: claims, fenced topic writes, snapshots, and determinism. */
class MetadataMachineTest {
    private static final String MEMBER = UUID.randomUUID().toString();
    private final AtomicInteger changes = new AtomicInteger();
    private final MetadataMachine machine = new MetadataMachine(changes::incrementAndGet);
    private long index;

    @Test
    void eachClaimTakesTheNextEpochNeverBelowTheFloor() {
        assertThat(apply(claim(1, 7, 30))).isEqualTo(8L); // the first claim starts above what brokers saw before
        assertThat(machine.image().version()).isEqualTo(31);
        assertThat(apply(claim(2, 0, 0))).isEqualTo(9L);
        assertThat(machine.image().controller().nodeId()).isEqualTo(2);
        assertThat(machine.image().controller().epoch()).isEqualTo(9);
        assertThat(changes).hasValue(2);
    }

    @Test
    void topicWritesApplyOnlyUnderTheCurrentControllerEpoch() {
        long first = (Long) apply(claim(1, 0, 0));
        assertThat(apply(write("create", first, "orders", topic(3)))).isEqualTo(true);
        assertThat(apply(write("create", first, "orders", topic(5)))).as("the name exists").isEqualTo(false);
        long second = (Long) apply(claim(2, 0, 0));
        long version = machine.image().version();

        assertThat(apply(write("put", first, "orders", topic(9)))).isEqualTo(new MetadataMachine.Fenced(first, second));
        assertThat(apply(write("create", first, "other", topic(1)))).isInstanceOf(MetadataMachine.Fenced.class);
        assertThat(machine.image().version()).as("a fenced write changes nothing").isEqualTo(version);
        assertThat(new JsonObject(machine.image().topics().get("orders")).getInteger("partitions")).isEqualTo(3);

        assertThat(apply(write("put", second, "orders", topic(9)))).isEqualTo(true);
        assertThat(new JsonObject(machine.image().topics().get("orders")).getInteger("partitions")).isEqualTo(9);
        Uuid id = Uuid.randomUuid();
        assertThat(apply(new JsonObject().put("op", "delete").put("epoch", second).put("name", "orders").put("id", id.toString()).encode())).isEqualTo(true);
        assertThat(machine.image().topics()).isEmpty();
        assertThat(machine.image().deleted()).containsExactly(id);
    }

    @Test
    void anUnknownOperationChangesNothing() {
        apply(claim(1, 0, 0));
        long version = machine.image().version();
        assertThat(apply("{\"op\":\"from-the-future\",\"epoch\":1}")).isEqualTo(new MetadataMachine.Unknown("from-the-future"));
        assertThat(apply(MetadataMachine.NEW_TERM)).isNull();
        assertThat(machine.image().version()).isEqualTo(version);
    }

    /** A snapshot of thousands of topics spans several chunks; installing it gives the same image, as does replaying the log. */
    @Test
    void aSnapshotInSeveralChunksAndTheLogGiveTheSameImage() {
        List<String> log = new ArrayList<>();
        log.add(claim(1, 0, 0));
        for (int i = 0; i < 6_000; i++) log.add(write("create", 1, "topic-" + i, topic(i % 7 + 1)));
        log.add(new JsonObject().put("op", "delete").put("epoch", 1).put("name", "topic-5").put("id", Uuid.randomUuid().toString()).encode());
        log.add(claim(3, 0, 0));
        log.forEach(this::apply);

        List<Object> chunks = new ArrayList<>();
        machine.takeSnapshot(index, chunks::add);
        assertThat(chunks).hasSizeGreaterThan(1);
        MetadataMachine installed = new MetadataMachine(() -> { });
        installed.installSnapshot(index, chunks);
        assertThat(installed.image()).isEqualTo(machine.image());

        MetadataMachine replayed = new MetadataMachine(() -> { });
        long i = 0;
        for (String op : log) replayed.runOperation(++i, op);
        assertThat(replayed.image()).isEqualTo(machine.image());
    }

    private Object apply(String op) {
        return machine.runOperation(++index, op);
    }

    private static String claim(int node, long floorEpoch, long floorVersion) {
        return new JsonObject().put("op", "claim").put("node", node).put("member", MEMBER).put("floorEpoch", floorEpoch)
                .put("floorVersion", floorVersion).encode();
    }

    private static String write(String op, long epoch, String name, JsonObject topic) {
        return new JsonObject().put("op", op).put("epoch", epoch).put("name", name).put("topic", topic).encode();
    }

    private static JsonObject topic(int partitions) {
        return new JsonObject().put("partitions", partitions).put("topicId", Uuid.randomUuid().toString());
    }
}
