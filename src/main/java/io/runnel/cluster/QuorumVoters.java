package io.runnel.cluster;

import java.util.concurrent.ConcurrentMap;
import io.runnel.config.Limits;
import io.runnel.log.Checkpoints;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.function.BooleanSupplier;
import java.util.function.IntSupplier;
import java.util.function.Supplier;
import java.util.stream.Collectors;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The metadata quorum's voters when {@code cluster.quorum.voters} is not set: the cluster chooses them once and every
 * broker remembers them.
 *
 * <p>The choice is made once a majority of {@code cluster.members} is in this broker's Hazelcast cluster and at
 * least {@link #AUTO_VOTERS} brokers have registered: the lowest registered node ids. It is written with
 * {@code putIfAbsent} to the {@code runnel-cluster} map, so that brokers choosing at the same time agree on the first
 * choice; requiring a majority of the listed members keeps the two sides of a split brain at a new cluster's start
 * from both choosing (at most one side holds a majority). Every broker writes the set to
 * {@code <log.dirs>/quorum-voters} before it uses it and reads it from there after a restart, so a whole-cluster
 * restart, which empties the maps, finds the same voters (their Raft logs are in {@code <log.dirs>/quorum}); a broker
 * that remembers a set puts it back into the map. KRaft asks for its voters in the configuration
 * ({@code controller.quorum.voters}, or {@code kafka-storage format --initial-controllers}, KIP-853); this is the
 * same decision made once at the first start instead.
 */
final class QuorumVoters {
    private static final Logger LOG = LoggerFactory.getLogger(QuorumVoters.class);
    /** How many voters an automatic choice makes (KRaft's usual quorum: one failure to spare). */
    static final int AUTO_VOTERS = 3;
    static final String FILE = "quorum-voters";
    private static final String KEY = "quorumVoters";

    private final List<Integer> configured;
    private final Path file;
    private final ConcurrentMap<String, String> clusterMap;
    private final int listedMembers;

    /**
     * @param configured    {@code cluster.quorum.voters}, or empty to choose
     * @param logDir        where this broker remembers the choice
     * @param listedMembers how many brokers {@code cluster.members} lists
     */
    QuorumVoters(List<Integer> configured, Path logDir, ConcurrentMap<String, String> clusterMap, int listedMembers) {
        this.configured = configured;
        this.file = logDir.resolve(FILE);
        this.clusterMap = clusterMap;
        this.listedMembers = listedMembers;
    }

    /**
     * The voters: configured, remembered, chosen by another broker, or chosen here once {@code hazelcastMembers} is a
     * majority of {@code cluster.members}, every member has registered and {@code registered} (live registered node
     * ids, ascending) has enough brokers. Blocking: waits (polling) until one of these holds or {@code running} turns false (then empty).
     */
    List<Integer> await(BooleanSupplier running, IntSupplier hazelcastMembers, BooleanSupplier everyMemberRegistered,
            Supplier<List<Integer>> registered) throws IOException {
        if (!configured.isEmpty()) return configured;
        List<Integer> remembered = read(file);
        if (!remembered.isEmpty()) return remembered;
        boolean waitLogged = false;
        while (running.getAsBoolean()) {
            String chosen = clusterMap.get(KEY);
            if (chosen == null) {
                List<Integer> live = registered.get();
                // Every member registered: a member that joined but has not registered may remember voters it has
                // not put into the map yet (it does so before it registers).
                if (live.size() >= AUTO_VOTERS && hazelcastMembers.getAsInt() * 2 > listedMembers && everyMemberRegistered.getAsBoolean()) {
                    List<Integer> mine = new ArrayList<>(live.subList(0, AUTO_VOTERS));
                    String other = clusterMap.putIfAbsent(KEY, text(mine));
                    chosen = other != null ? other : text(mine);
                    if (other == null) LOG.info("Chose the metadata quorum's voters: brokers {}", mine);
                }
            }
            if (chosen != null) {
                List<Integer> voters = parse(chosen);
                Checkpoints.writeAtomically(file, text(voters).getBytes(StandardCharsets.UTF_8));
                return voters;
            }
            if (!waitLogged) {
                LOG.info("Waiting for {} brokers (and a majority of cluster.members) to choose the metadata quorum's voters", AUTO_VOTERS);
                waitLogged = true;
            }
            try {
                Thread.sleep(Limits.QUORUM_VOTERS_WAIT_POLL_MS);
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                break;
            }
        }
        return List.of();
    }

    /**
     * Puts the voters this broker remembers (if any) into the cluster's map, as soon as it has joined and before it
     * registers: brokers that remember nothing (new, or a disk replaced) then take the same voters rather than
     * choosing others. Blocking.
     */
    static void publishRemembered(ConcurrentMap<String, String> clusterMap, Path logDir) throws IOException {
        List<Integer> remembered = read(logDir.resolve(FILE));
        if (remembered.isEmpty()) return;
        String cluster = clusterMap.putIfAbsent(KEY, text(remembered));
        if (cluster != null && !parse(cluster).equals(remembered)) {
            // Two groups of brokers that each chose voters (a cluster started twice as two, then joined): each group's
            // metadata is in its own quorum, and this broker stays with the one its data belongs to.
            LOG.error("This broker's log.dirs remembers the metadata quorum voters {} but the cluster chose {}: it stays with {} "
                    + "(a broker of another cluster?)", remembered, parse(cluster), remembered);
        }
    }

    /** The voters remembered in {@code file}, or empty when it does not exist. */
    static List<Integer> read(Path file) throws IOException {
        String text;
        try {
            text = Files.readString(file, StandardCharsets.UTF_8);
        } catch (NoSuchFileException e) {
            return List.of();
        }
        try {
            return parse(text);
        } catch (IllegalArgumentException e) {
            throw new IOException("Cannot read the metadata quorum's voters from " + file + ": '" + text.trim() + "' is not a list of node ids", e);
        }
    }

    static String text(List<Integer> voters) {
        return voters.stream().map(String::valueOf).collect(Collectors.joining(","));
    }

    /** Parses {@code 1,2,3}: distinct node ids, ascending. */
    static List<Integer> parse(String text) {
        List<Integer> out = new ArrayList<>();
        try {
            for (String part : text.trim().split(",")) out.add(Integer.parseInt(part.trim()));
        } catch (NumberFormatException e) {
            throw new IllegalArgumentException("not a list of node ids: '" + text.trim() + "'");
        }
        if (out.isEmpty() || out.stream().distinct().count() != out.size() || out.stream().anyMatch(id -> id < 0)) {
            throw new IllegalArgumentException("not a list of distinct node ids: '" + text.trim() + "'");
        }
        return out.stream().sorted().toList();
    }
}
