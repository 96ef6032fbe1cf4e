package io.runnel.group;

import io.vertx.core.Promise;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.HashMap;
import java.util.HashSet;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import org.apache.kafka.common.message.JoinGroupResponseData;
import org.apache.kafka.common.message.SyncGroupResponseData;

/**
 * A consumer group of the classic protocol (JoinGroup / SyncGroup / Heartbeat / LeaveGroup), as Kafka's
 * {@code ClassicGroup}: its state, generation, chosen protocol, leader and members. Plain state; the
 * {@link GroupShard} that owns it drives the transitions on its event loop.
 *
 * <pre>
 * Empty --join--> PreparingRebalance --all rejoined or timeout--> CompletingRebalance --leader's sync--> Stable
 *   ^                    ^                                               |                                  |
 *   +--- last member ----+----------- join, leave, session expiry -------+----------------------------------+
 * </pre>
 */
final class ClassicGroup {
    enum State {
        EMPTY("Empty"), PREPARING_REBALANCE("PreparingRebalance"), COMPLETING_REBALANCE("CompletingRebalance"), STABLE("Stable"), DEAD("Dead");

        final String kafkaName;

        State(String kafkaName) {
            this.kafkaName = kafkaName;
        }
    }

    /** A protocol a member supports (an assignor, for consumers) and its subscription metadata. */
    record Protocol(String name, byte[] metadata) {
    }

    static final class Member {
        String memberId;
        final String groupInstanceId;
        final String clientId;
        final String clientHost;
        int rebalanceTimeoutMs;
        int sessionTimeoutMs;
        List<Protocol> protocols;
        byte[] assignment = new byte[0];
        Promise<JoinGroupResponseData> awaitingJoin;
        Promise<SyncGroupResponseData> awaitingSync;
        long sessionTimer = -1;

        Member(String memberId, String groupInstanceId, String clientId, String clientHost, int rebalanceTimeoutMs, int sessionTimeoutMs,
               List<Protocol> protocols) {
            this.memberId = memberId;
            this.groupInstanceId = groupInstanceId;
            this.clientId = clientId;
            this.clientHost = clientHost;
            this.rebalanceTimeoutMs = rebalanceTimeoutMs;
            this.sessionTimeoutMs = sessionTimeoutMs;
            this.protocols = protocols;
        }

        byte[] metadataFor(String protocol) {
            for (Protocol p : protocols) if (p.name().equals(protocol)) return p.metadata();
            return new byte[0];
        }

        boolean sameProtocols(List<Protocol> other) {
            if (other.size() != protocols.size()) return false;
            for (int i = 0; i < other.size(); i++) {
                if (!other.get(i).name().equals(protocols.get(i).name()) || !Arrays.equals(other.get(i).metadata(), protocols.get(i).metadata())) {
                    return false;
                }
            }
            return true;
        }
    }

    final String groupId;
    State state = State.EMPTY;
    String protocolType;
    String protocol;
    int generation;
    String leader;
    final LinkedHashMap<String, Member> members = new LinkedHashMap<>();
    /** Member ids handed out with MEMBER_ID_REQUIRED (KIP-394) that have not joined yet, with their expiry timers. */
    final Map<String, Long> pendingMembers = new HashMap<>();
    /** group.instance.id to member id, for static members (KIP-345). */
    final Map<String, String> staticMembers = new HashMap<>();
    long rebalanceTimer = -1;
    /** While the first rebalance of an empty group waits for more members (group.initial.rebalance.delay.ms). */
    boolean initialDelay;

    ClassicGroup(String groupId) {
        this.groupId = groupId;
    }

    boolean is(State s) {
        return state == s;
    }

    /** Whether a joining member's protocols fit the group's (same type, at least one protocol every member has). */
    boolean supports(String type, List<Protocol> protocols) {
        if (members.isEmpty()) return type != null && !type.isEmpty() && !protocols.isEmpty();
        if (!type.equals(protocolType)) return false;
        Set<String> common = candidates();
        return protocols.stream().anyMatch(p -> common.contains(p.name()));
    }

    /** Protocols every member supports. */
    Set<String> candidates() {
        Set<String> common = null;
        for (Member m : members.values()) {
            Set<String> names = new HashSet<>();
            m.protocols.forEach(p -> names.add(p.name()));
            if (common == null) common = names;
            else common.retainAll(names);
        }
        return common == null ? Set.of() : common;
    }

    /** Kafka's vote: each member votes for its most preferred candidate; the most votes wins (ties: first seen). */
    String selectProtocol() {
        Set<String> candidates = candidates();
        Map<String, Integer> votes = new LinkedHashMap<>();
        for (Member m : members.values()) {
            for (Protocol p : m.protocols) {
                if (candidates.contains(p.name())) {
                    votes.merge(p.name(), 1, Integer::sum);
                    break;
                }
            }
        }
        return votes.entrySet().stream().max(Map.Entry.comparingByValue()).map(Map.Entry::getKey).orElse(null);
    }

    boolean allJoined() {
        return pendingMembers.isEmpty() && members.values().stream().allMatch(m -> m.awaitingJoin != null);
    }

    List<Member> memberList() {
        return new ArrayList<>(members.values());
    }
}
