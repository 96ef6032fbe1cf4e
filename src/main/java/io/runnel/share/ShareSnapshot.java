package io.runnel.share;

import java.nio.BufferUnderflowException;
import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.List;
import org.apache.kafka.common.Uuid;
import org.apache.kafka.common.protocol.ByteBufferAccessor;

/**
 * The durable state of one share group on one partition, as a record of {@code __share_group_state} in Kafka's layout
 * (its share coordinator's {@code ShareSnapshotKey} and {@code ShareSnapshotValue}, version 0): so Kafka's tools can
 * read the topic. Runnel's share coordinator writes only snapshots (Kafka's also writes {@code ShareUpdate} deltas between
 * them); the in-flight window is bounded ({@code group.share.partition.max.record.locks}), and so is a snapshot.
 *
 * <p>Key: {@code int16 type = 0, string GroupId (int16 length), uuid TopicId, int32 Partition}. Value: {@code int16
 * version = 0}, then a flexible struct: {@code int32 SnapshotEpoch, int32 StateEpoch, int32 LeaderEpoch, int64
 * StartOffset, int64 CreateTimestamp, int64 WriteTimestamp, StateBatches (compact array of {int64 FirstOffset, int64
 * LastOffset, int8 DeliveryState, int16 DeliveryCount, tagged fields}), tagged fields} where tag 0 is
 * DeliveryCompleteCount (KIP-1226, omitted at its default -1). A null value (tombstone) deletes the state.
 */
public record ShareSnapshot(int snapshotEpoch, int stateEpoch, int leaderEpoch, long startOffset, int deliveryCompleteCount,
                            long createTimestamp, long writeTimestamp, List<StateBatch> batches) {
    /** Kafka's record type of a snapshot key. */
    static final short SNAPSHOT_TYPE = 0;
    /** Kafka's record type of an update key (read, never written). */
    static final short UPDATE_TYPE = 1;
    private static final short VALUE_VERSION = 0;
    private static final int DELIVERY_COMPLETE_TAG = 0;

    /** Offsets {@code firstOffset..lastOffset} in one delivery state ({@link SharePartitionState.RecordState#id}) and count. */
    public record StateBatch(long firstOffset, long lastOffset, byte deliveryState, short deliveryCount) {
    }

    /** Which share-partition a record is about. */
    public record Key(String groupId, Uuid topicId, int partition) {
        /** Kafka's coordinator key string, {@code group:topicId:partition}, which picks the state partition. */
        public String coordinatorKey() {
            return groupId + ":" + topicId + ":" + partition;
        }
    }

    /**
     * The stored state {@code stored} after a write of {@code written}'s batches and start offset, as Kafka's share
     * coordinator combines a WriteShareGroupState with what it holds: the written batches replace the offsets they
     * cover, the stored ones keep the rest, and nothing before the start offset stays. Both lists are in offset order
     * without overlaps (a state's batches are).
     */
    public static List<StateBatch> merge(List<StateBatch> stored, List<StateBatch> written, long startOffset) {
        List<StateBatch> w = new ArrayList<>(written);
        w.sort(java.util.Comparator.comparingLong(StateBatch::firstOffset));
        List<StateBatch> out = new ArrayList<>(stored.size() + w.size());
        int j = 0;
        for (StateBatch b : stored) {
            while (j < w.size() && w.get(j).lastOffset() < b.firstOffset()) j++;
            long from = b.firstOffset();
            for (int k = j; from <= b.lastOffset(); k++) {
                if (k >= w.size() || w.get(k).firstOffset() > b.lastOffset()) {
                    out.add(new StateBatch(from, b.lastOffset(), b.deliveryState(), b.deliveryCount()));
                    break;
                }
                if (w.get(k).firstOffset() > from) out.add(new StateBatch(from, w.get(k).firstOffset() - 1, b.deliveryState(), b.deliveryCount()));
                from = w.get(k).lastOffset() + 1;
            }
        }
        out.addAll(w);
        out.sort(java.util.Comparator.comparingLong(StateBatch::firstOffset));
        List<StateBatch> kept = new ArrayList<>(out.size());
        for (StateBatch b : out) {
            if (b.lastOffset() < startOffset) continue;
            kept.add(b.firstOffset() >= startOffset ? b : new StateBatch(startOffset, b.lastOffset(), b.deliveryState(), b.deliveryCount()));
        }
        return kept;
    }

    public static byte[] encodeKey(Key k) {
        byte[] group = k.groupId().getBytes(StandardCharsets.UTF_8);
        ByteBuffer b = ByteBuffer.allocate(2 + 2 + group.length + 16 + 4);
        b.putShort(SNAPSHOT_TYPE).putShort((short) group.length).put(group);
        b.putLong(k.topicId().getMostSignificantBits()).putLong(k.topicId().getLeastSignificantBits()).putInt(k.partition());
        return b.array();
    }

    /** The key of a snapshot or update record; null for another record type or a malformed key. */
    public static Key decodeKey(ByteBuffer b) {
        try {
            ByteBuffer d = b.duplicate();
            short type = d.getShort();
            if (type != SNAPSHOT_TYPE && type != UPDATE_TYPE) return null;
            byte[] group = new byte[d.getShort()];
            d.get(group);
            Uuid topic = new Uuid(d.getLong(), d.getLong());
            return new Key(new String(group, StandardCharsets.UTF_8), topic, d.getInt());
        } catch (BufferUnderflowException | NegativeArraySizeException e) {
            return null;
        }
    }

    /** Whether a key names a snapshot (not an update, which Runnel does not write). */
    public static boolean isSnapshotKey(ByteBuffer b) {
        return b.remaining() >= 2 && b.getShort(b.position()) == SNAPSHOT_TYPE;
    }

    public byte[] encodeValue() {
        ByteBuffer b = ByteBuffer.allocate(2 + 4 * 3 + 8 * 3 + 5 + batches.size() * (8 + 8 + 1 + 2 + 1) + 1 + 1 + 1 + 4);
        b.putShort(VALUE_VERSION).putInt(snapshotEpoch).putInt(stateEpoch).putInt(leaderEpoch).putLong(startOffset)
                .putLong(createTimestamp).putLong(writeTimestamp);
        new ByteBufferAccessor(b).writeUnsignedVarint(batches.size() + 1);
        for (StateBatch s : batches) {
            b.putLong(s.firstOffset()).putLong(s.lastOffset()).put(s.deliveryState()).putShort(s.deliveryCount());
            new ByteBufferAccessor(b).writeUnsignedVarint(0); // no tagged fields
        }
        if (deliveryCompleteCount == -1) {
            new ByteBufferAccessor(b).writeUnsignedVarint(0);
        } else {
            new ByteBufferAccessor(b).writeUnsignedVarint(1);
            new ByteBufferAccessor(b).writeUnsignedVarint(DELIVERY_COMPLETE_TAG);
            new ByteBufferAccessor(b).writeUnsignedVarint(4);
            b.putInt(deliveryCompleteCount);
        }
        byte[] out = new byte[b.position()];
        b.flip().get(out);
        return out;
    }

    /** Reads a snapshot value; throws IllegalArgumentException for a version or layout it cannot read. */
    public static ShareSnapshot decodeValue(ByteBuffer value) {
        try {
            ByteBuffer b = value.duplicate();
            short version = b.getShort();
            if (version != VALUE_VERSION) throw new IllegalArgumentException("share snapshot version " + version);
            int snapshotEpoch = b.getInt();
            int stateEpoch = b.getInt();
            int leaderEpoch = b.getInt();
            long start = b.getLong();
            long created = b.getLong();
            long written = b.getLong();
            int n = new ByteBufferAccessor(b).readUnsignedVarint() - 1;
            if (n < 0 || n > b.remaining() / 20) throw new IllegalArgumentException("share snapshot with " + n + " batches");
            List<StateBatch> batches = new ArrayList<>(n);
            for (int i = 0; i < n; i++) {
                batches.add(new StateBatch(b.getLong(), b.getLong(), b.get(), b.getShort()));
                skipTaggedFields(b);
            }
            int complete = -1;
            int tags = new ByteBufferAccessor(b).readUnsignedVarint();
            for (int i = 0; i < tags; i++) {
                int tag = new ByteBufferAccessor(b).readUnsignedVarint();
                int size = new ByteBufferAccessor(b).readUnsignedVarint();
                if (tag == DELIVERY_COMPLETE_TAG && size == 4) complete = b.getInt();
                else b.position(b.position() + size);
            }
            return new ShareSnapshot(snapshotEpoch, stateEpoch, leaderEpoch, start, complete, created, written, batches);
        } catch (BufferUnderflowException | IllegalArgumentException e) {
            throw new IllegalArgumentException("unreadable share snapshot: " + e.getMessage(), e);
        }
    }

    private static void skipTaggedFields(ByteBuffer b) {
        int tags = new ByteBufferAccessor(b).readUnsignedVarint();
        for (int i = 0; i < tags; i++) {
            new ByteBufferAccessor(b).readUnsignedVarint();
            int size = new ByteBufferAccessor(b).readUnsignedVarint();
            b.position(b.position() + size);
        }
    }
}
