package io.runnel.cluster;

import com.hazelcast.core.HazelcastInstance;
import com.hazelcast.cp.IAtomicLong;
import com.hazelcast.cp.IAtomicReference;
import io.runnel.config.Limits;
import io.vertx.core.json.JsonObject;
import java.util.HashMap;
import java.util.HashSet;
import java.util.Map;
import java.util.Objects;
import java.util.Set;
import java.util.concurrent.CompletionStage;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;
import java.util.function.Function;
import java.util.UUID;
import java.util.function.LongConsumer;
import java.util.function.Supplier;
import java.util.function.UnaryOperator;
import org.apache.kafka.common.Uuid;
import org.apache.kafka.common.errors.NotControllerException;

/**
 * The cluster metadata as one JSON value in the CP subsystem (an {@code IAtomicReference} replicated by Raft, so a
 * write is either on a majority of the CP members or not done, and no side of a split brain can bring back an older
 * value). The image: {@code {"version", "epochBase", "controller": {"nodeId", "epoch", "member"}, "topics": {name:
 * topic}, "deleted": {topicId: name}}}.
 *
 * <p>Writes are compare-and-set loops that first check the controller epoch in the image: a new controller claims
 * the image with its FencedLock token ({@link #claim}), and from then on every write of an older controller fails
 * with {@code NOT_CONTROLLER} (Kafka's controller epoch, KIP-631's fencing by the quorum). Each write raises the
 * version and sets a CP counter to it ({@code runnel-metadata-version}), which brokers poll cheaply before reading
 * the whole image. Calls block for at most {@link Limits#CP_CALL_TIMEOUT_S} seconds: without a CP majority they fail instead of
 * hanging a worker thread.
 */
final class CpMetadata implements MetadataStore {
    private final HazelcastInstance hz;
    private final LongConsumer written;
    private IAtomicReference<String> image;
    private IAtomicLong version;

    /** A decoded image. */
    /**
     * One read of the image. {@code epochBase} tells images of quorums apart: a CP group made by a reset starts from
     * an epoch base above every controller epoch of the groups before it (see {@link #claim}), so images are ordered
     * by {@code (epochBase, version)} and a broker takes a reset quorum's first image even when its version is lower
     * than one it applied from the lost quorum.
     */
    record Image(long epochBase, long version, ControllerInfo controller, Map<String, String> topics, Set<Uuid> deleted) {
        /** Whether this image comes after {@code (base, version)}: a later quorum's, or a higher version of the same. */
        boolean after(long base, long version) {
            return epochBase != base ? epochBase > base : this.version > version;
        }
    }

    /** {@code written} hears the version of each write this broker made (to tell the other brokers at once). */
    CpMetadata(HazelcastInstance hz, LongConsumer written) {
        this.hz = hz;
        this.written = written;
    }

    /**
     * Runs a call on the CP proxies; a failure drops them, so that the next call makes them again: after a CP
     * subsystem reset ({@link CpRecovery}) the old proxies name a destroyed group and would fail for ever.
     */
    private <T> T call(Supplier<CompletionStage<T>> call) {
        try {
            return await(call.get());
        } catch (RuntimeException e) {
            synchronized (this) {
                image = null;
                version = null;
            }
            throw e;
        }
    }

    /** The CP proxies, made on first use: making them waits for the CP group (never on an event loop). */
    private synchronized IAtomicReference<String> image() {
        if (image == null) image = hz.getCPSubsystem().getAtomicReference("runnel-metadata");
        return image;
    }

    private synchronized IAtomicLong versionCounter() {
        if (version == null) version = hz.getCPSubsystem().getAtomicLong("runnel-metadata-version");
        return version;
    }

    static <T> T await(CompletionStage<T> call) {
        return await(call, "the metadata quorum (CP subsystem)", NotControllerException::new);
    }

    /**
     * Waits at most {@link Limits#CP_CALL_TIMEOUT_S} for a call to {@code what}; a timeout, failure or interrupt
     * becomes {@code error} with a message that names it.
     */
    static <T> T await(CompletionStage<T> call, String what, Function<String, ? extends RuntimeException> error) {
        try {
            return call.toCompletableFuture().get(Limits.CP_CALL_TIMEOUT_S, TimeUnit.SECONDS);
        } catch (TimeoutException e) {
            throw error.apply(Character.toUpperCase(what.charAt(0)) + what.substring(1) + " did not answer within " + Limits.CP_CALL_TIMEOUT_S + " s");
        } catch (ExecutionException e) {
            throw error.apply(Character.toUpperCase(what.charAt(0)) + what.substring(1) + " failed: " + e.getCause());
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw error.apply("Interrupted while waiting for " + what);
        }
    }

    /** The version of the newest write (a cheap read, to decide whether {@link #read} is worth it). */
    long version() {
        return call(() -> versionCounter().getAsync());
    }

    Image read() {
        return decode(call(() -> image().getAsync()));
    }

    static Image decode(String text) {
        if (text == null) return new Image(0, 0, null, Map.of(), Set.of());
        JsonObject o = new JsonObject(text);
        Map<String, String> topics = new HashMap<>();
        o.getJsonObject("topics", new JsonObject()).forEach(e -> topics.put(e.getKey(), ((JsonObject) e.getValue()).encode()));
        Set<Uuid> deleted = new HashSet<>();
        o.getJsonObject("deleted", new JsonObject()).fieldNames().forEach(id -> deleted.add(Uuid.fromString(id)));
        return new Image(o.getLong("epochBase", 0L), o.getLong("version", 0L), ControllerInfo.fromJson(o.getJsonObject("controller")), Map.copyOf(topics), Set.copyOf(deleted));
    }

    /**
     * Claims the image for the holder of the controller lock's fence {@code fence}: the controller epoch is the fence
     * plus the image's {@code epochBase}, and becomes the image's, unless a newer one is there already (then null).
     * From then on writes under older epochs fail. An empty image (a new cluster, a whole-cluster restart, or a CP
     * group reset after it lost its majority for good: {@link CpRecovery}) starts from {@code floor} = {version,
     * epoch}, the highest any broker applied and saw, so that versions and epochs never go back for any broker (a
     * reset CP subsystem counts its fences from the start again).
     */
    ControllerInfo claim(int nodeId, long fence, UUID member, Supplier<long[]> floor) {
        while (true) {
            String cur = call(() -> image().getAsync());
            JsonObject o;
            if (cur == null) {
                long[] f = floor.get();
                o = new JsonObject().put("version", f[0]).put("epochBase", f[1]);
            } else {
                o = new JsonObject(cur);
            }
            ControllerInfo claimant = new ControllerInfo(nodeId, o.getLong("epochBase", 0L) + fence, member);
            JsonObject c = o.getJsonObject("controller");
            if (c != null && c.getLong("epoch", 0L) > claimant.epoch()) return null;
            o.put("controller", claimant.toJson());
            if (commit(cur, o)) return claimant;
        }
    }

    /** Applies {@code change} to the image under controller epoch {@code epoch}; a null result changes nothing. */
    private void update(long epoch, UnaryOperator<JsonObject> change) {
        while (true) {
            String cur = call(() -> image().getAsync());
            JsonObject o = cur == null ? new JsonObject() : new JsonObject(cur);
            fence(o, epoch);
            JsonObject next = change.apply(o);
            if (next == null || commit(cur, next)) return;
        }
    }

    private boolean commit(String cur, JsonObject next) {
        long v = next.getLong("version", 0L) + 1;
        next.put("version", v);
        if (!call(() -> image().compareAndSetAsync(cur, next.encode()))) return false;
        call(() -> versionCounter().setAsync(v));
        written.accept(v);
        return true;
    }

    private static void fence(JsonObject image, long epoch) {
        JsonObject c = image.getJsonObject("controller");
        ControllerInfo.fence(epoch, c == null ? 0 : c.getLong("epoch", 0L));
    }

    @Override
    public void checkEpoch(long epoch) {
        fence(new JsonObject(Objects.requireNonNullElse(call(() -> image().getAsync()), "{}")), epoch);
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
        boolean[] created = {false};
        update(epoch, o -> {
            created[0] = false;
            JsonObject topics = o.getJsonObject("topics", new JsonObject());
            if (topics.containsKey(name)) return null;
            o.put("topics", topics.put(name, new JsonObject(json)));
            created[0] = true;
            return o;
        });
        return created[0];
    }

    @Override
    public void putTopic(long epoch, String name, String json) {
        update(epoch, o -> o.put("topics", o.getJsonObject("topics", new JsonObject()).put(name, new JsonObject(json))));
    }

    @Override
    public void deleteTopic(long epoch, String name, Uuid id) {
        update(epoch, o -> {
            JsonObject topics = o.getJsonObject("topics", new JsonObject());
            topics.remove(name);
            return o.put("topics", topics).put("deleted", o.getJsonObject("deleted", new JsonObject()).put(id.toString(), name));
        });
    }

    @Override
    public boolean isDeleted(Uuid id) {
        return read().deleted().contains(id);
    }
}
