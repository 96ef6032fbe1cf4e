package io.runnel.chaos;

import io.runnel.chaos.History.Ack;
import io.runnel.chaos.History.Entry;
import io.runnel.chaos.History.Offset;
import io.runnel.chaos.History.Read;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.HashMap;
import java.util.List;
import java.util.Map;

/**
 * Checks a chaos run's {@link History} against what Runnel promises, one named check per promise. Each finding
 * counts once, with up to three examples.
 */
final class Checker {
    /** One check: how many violations, and a few examples. */
    /** A check's result; {@code violations} is -1 when it could not be made (the run then fails, unverified). */
    record Check(String name, long violations, List<String> examples) {
        boolean passed() {
            return violations == 0;
        }

        static Check notChecked(String name) {
            return new Check(name, -1, List.of("not checked: the final state could not be read back"));
        }
    }

    static final String LOST = "acknowledged records lost";
    static final String DUPLICATED = "duplicates";
    static final String ORDER = "order per key";
    static final String COMMITS_BACKWARDS = "committed offsets moved backwards";
    static final String VANISHED = "read, then vanished";
    static final String ABORTED_READ = "aborted records read (read_committed)";
    static final String COPY = "transactional copy not exactly once";
    static final String TWO_CONTROLLERS = "two controllers in one epoch";
    static final String TWO_LEADERS = "two leaders in one leader epoch";

    private Checker() {
    }

    static List<Check> check(History h) {
        if (h.finalStateUnread) {
            // Without the final logs every acknowledged record would count as lost: say instead that nothing was verified.
            return List.of(Check.notChecked(LOST), Check.notChecked(DUPLICATED), Check.notChecked(ORDER), Check.notChecked(COMMITS_BACKWARDS),
                    Check.notChecked(VANISHED), abortedRead(h), Check.notChecked(COPY), twoControllers(h), twoLeaders(h));
        }
        Map<Integer, Map<Long, String>> log = index(h.finalLog);
        Map<Integer, Map<Long, String>> output = index(h.finalOutput);
        return List.of(lost(h, log), duplicates(h.finalLog), order(h.finalLog), commitsBackwards(h), vanished(h, log, output),
                abortedRead(h), copy(h), twoControllers(h), twoLeaders(h));
    }

    private static Map<Integer, Map<Long, String>> index(Map<Integer, List<Entry>> entries) {
        Map<Integer, Map<Long, String>> out = new HashMap<>();
        entries.forEach((p, list) -> {
            Map<Long, String> m = new HashMap<>();
            for (Entry e : list) m.put(e.offset(), e.value());
            out.put(p, m);
        });
        return out;
    }

    private static Check lost(History h, Map<Integer, Map<Long, String>> log) {
        Finding f = new Finding(LOST);
        for (Ack a : h.acks) {
            String there = log.getOrDefault(a.partition(), Map.of()).get(a.offset());
            if (!a.value().equals(there)) {
                f.add(a.value() + " acknowledged at " + a.partition() + "@" + a.offset() + ", log has " + (there == null ? "nothing" : there) + " there");
            }
        }
        return f.check();
    }

    private static Check duplicates(Map<Integer, List<Entry>> log) {
        Finding f = new Finding(DUPLICATED);
        Map<String, String> seen = new HashMap<>();
        log.forEach((p, list) -> {
            for (Entry e : list) {
                String where = p + "@" + e.offset();
                String first = seen.putIfAbsent(e.value(), where);
                if (first != null) f.add(e.value() + " at " + first + " and " + where);
            }
        });
        return f.check();
    }

    private static Check order(Map<Integer, List<Entry>> log) {
        Finding f = new Finding(ORDER);
        log.forEach((p, list) -> {
            Map<String, Long> last = new HashMap<>();
            for (Entry e : list) {
                int colon = e.value().lastIndexOf(':');
                if (colon < 0) continue;
                String key = e.value().substring(0, colon);
                long seq = Long.parseLong(e.value().substring(colon + 1));
                Long before = last.put(key, seq);
                if (before != null && seq <= before) f.add(key + ": " + seq + " at " + p + "@" + e.offset() + " after " + before);
            }
        });
        return f.check();
    }

    private static Check commitsBackwards(History h) {
        Finding f = new Finding(COMMITS_BACKWARDS);
        Map<Integer, Long> seen = new HashMap<>();
        List<Offset> observed = new ArrayList<>(h.observedOffsets);
        observed.sort(Comparator.comparingLong(Offset::atMs));
        long start = observed.isEmpty() ? 0 : observed.get(0).atMs();
        for (Offset o : observed) {
            Long before = seen.put(o.partition(), o.offset());
            if (before != null && o.offset() < before) {
                f.add("partition " + o.partition() + ": committed offset read as " + before + ", later as " + o.offset()
                        + String.format(" (at %.1fs)", (o.atMs() - start) / 1000.0));
            }
        }
        Map<Integer, Long> acknowledged = new HashMap<>();
        for (Offset c : h.commits) acknowledged.merge(c.partition(), c.offset(), Math::max);
        acknowledged.forEach((p, max) -> {
            long end = h.finalCommitted.getOrDefault(p, -1L);
            if (end < max) f.add("partition " + p + ": commit of " + max + " acknowledged, the group ends at " + end);
        });
        return f.check();
    }

    private static Check vanished(History h, Map<Integer, Map<Long, String>> log, Map<Integer, Map<Long, String>> output) {
        Finding f = new Finding(VANISHED);
        for (Read r : h.reads) {
            Map<Integer, Map<Long, String>> truth = r.reader().equals(History.COMMITTED_READER) ? output : log;
            String there = truth.getOrDefault(r.partition(), Map.of()).get(r.offset());
            if (!r.value().equals(there)) {
                f.add(r.reader() + " read " + r.value() + " at " + r.partition() + "@" + r.offset() + ", log has " + (there == null ? "nothing" : there) + " there");
            }
        }
        return f.check();
    }

    private static Check abortedRead(History h) {
        Finding f = new Finding(ABORTED_READ);
        for (Read r : h.reads) {
            if (r.reader().equals(History.COMMITTED_READER) && r.value().startsWith(History.ABORTED_PREFIX)) {
                f.add("read " + r.value() + " at " + r.partition() + "@" + r.offset());
            }
        }
        h.finalOutput.forEach((p, list) -> {
            for (Entry e : list) if (e.value().startsWith(History.ABORTED_PREFIX)) f.add("final read has " + e.value() + " at " + p + "@" + e.offset());
        });
        return f.check();
    }

    /**
     * Kafka's exactly-once for a read-process-write loop: every input record below the copy's committed offsets is in
     * the output exactly once, and every output record's input is below them (outputs and offsets commit together).
     */
    private static Check copy(History h) {
        Finding f = new Finding(COPY);
        Map<String, Integer> copies = new HashMap<>();
        h.finalOutput.forEach((p, list) -> {
            for (Entry e : list) if (!e.value().startsWith(History.ABORTED_PREFIX)) copies.merge(e.value(), 1, Integer::sum);
        });
        Map<String, Boolean> committedInput = new HashMap<>();
        h.finalLog.forEach((p, list) -> {
            long committed = h.copyCommitted.getOrDefault(p, 0L);
            for (Entry e : list) {
                boolean below = e.offset() < committed;
                committedInput.put(e.value(), below);
                int n = copies.getOrDefault(e.value(), 0);
                if (below && n != 1) f.add(e.value() + " (input " + p + "@" + e.offset() + ", below the committed " + committed + ") copied " + n + " times");
            }
        });
        copies.forEach((v, n) -> {
            Boolean below = committedInput.get(v);
            if (below == null) f.add(v + " is in the output but in no input partition");
            else if (!below) f.add(v + " is in the output but its input offset was never committed");
        });
        return f.check();
    }

    /**
     * Each election raises the controller epoch, so two brokers acting as controller in the same epoch (at any
     * times) means two elections gave out one epoch: a split brain.
     */
    private static Check twoControllers(History h) {
        Finding f = new Finding(TWO_CONTROLLERS);
        Map<Long, java.util.TreeSet<Integer>> byEpoch = new java.util.TreeMap<>();
        for (History.Claim c : h.claims) {
            if (c.controllerEpoch() >= 0) byEpoch.computeIfAbsent(c.controllerEpoch(), e -> new java.util.TreeSet<>()).add(c.broker());
        }
        byEpoch.forEach((epoch, brokers) -> {
            if (brokers.size() > 1) f.add("brokers " + brokers + " each acted as controller in epoch " + epoch);
        });
        return f.check();
    }

    /** Each leader election raises the partition's leader epoch: two brokers leading it in one epoch is a split brain. */
    private static Check twoLeaders(History h) {
        Finding f = new Finding(TWO_LEADERS);
        Map<String, java.util.TreeSet<Integer>> byEpoch = new java.util.TreeMap<>();
        for (History.Claim c : h.claims) {
            c.leaderEpochs().forEach((tp, epoch) -> byEpoch.computeIfAbsent(tp + " in leader epoch " + epoch, k -> new java.util.TreeSet<>()).add(c.broker()));
        }
        byEpoch.forEach((what, brokers) -> {
            if (brokers.size() > 1) f.add("brokers " + brokers + " each led " + what);
        });
        return f.check();
    }

    private static final class Finding {
        private final String name;
        private final List<String> examples = new ArrayList<>();
        private long count;

        Finding(String name) {
            this.name = name;
        }

        void add(String example) {
            count++;
            if (examples.size() < 3) examples.add(example);
        }

        Check check() {
            return new Check(name, count, List.copyOf(examples));
        }
    }
}
