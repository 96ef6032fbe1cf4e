package io.runnel.log;

import java.io.IOException;
import java.nio.file.DirectoryStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.List;
import java.util.OptionalLong;
import java.util.TreeMap;
import org.apache.kafka.common.utils.Time;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Opens a partition's log directory and brings it to a consistent state, in numbered passes as Kafka's
 * {@code LogLoader.load} does. It blocks on the disk and runs on a worker thread before anyone reads the log.
 *
 * <p>What a crash (kill -9, power cut) can leave, and the pass that repairs it:
 * <ul>
 *   <li>a {@code .tmp} checkpoint that was never renamed: pass 1 deletes it;</li>
 *   <li>index files without their {@code .log}: pass 1 deletes them;</li>
 *   <li>a torn or corrupt tail in any segment written after the last fsync (the recovery point): pass 3 re-validates
 *       every such segment batch by batch (header and CRC), truncates at the last valid batch, and deletes the
 *       segments after a truncation, since the offsets would no longer follow each other;</li>
 *   <li>a missing, short, cut or out-of-order index: pass 3 rebuilds it from the {@code .log};</li>
 *   <li>a missing or unreadable checkpoint: the recovery point reads as 0 (recover everything) and the log start
 *       offset as the first segment's base offset.</li>
 * </ul>
 * After a clean shutdown the recovery point equals the log end, so no segment is re-validated.
 */
final class LogLoader {
    private static final Logger LOG = LoggerFactory.getLogger(LogLoader.class);

    private LogLoader() {
    }

    static Log load(Path dir, LogConfig config, Time time) throws IOException {
        Files.createDirectories(dir);
        long now = time.milliseconds();
        Log log = new Log(dir, config, time);

        // Pass 1: remove what an interrupted write or delete left behind.
        List<Long> baseOffsets = new ArrayList<>();
        try (DirectoryStream<Path> files = Files.newDirectoryStream(dir)) {
            for (Path f : files) {
                String name = f.getFileName().toString();
                if (name.endsWith(".tmp") || name.endsWith(".deleted") || name.endsWith(Compactor.CLEANED_SUFFIX)) {
                    Files.deleteIfExists(f);
                } else if (name.endsWith(Segment.LOG_SUFFIX)) {
                    baseOffsets.add(parseBaseOffset(name, Segment.LOG_SUFFIX));
                }
            }
        }
        try (DirectoryStream<Path> files = Files.newDirectoryStream(dir)) {
            for (Path f : files) {
                String name = f.getFileName().toString();
                String suffix = name.endsWith(Segment.INDEX_SUFFIX) ? Segment.INDEX_SUFFIX
                        : name.endsWith(Segment.TIME_INDEX_SUFFIX) ? Segment.TIME_INDEX_SUFFIX : null;
                if (suffix != null && !baseOffsets.contains(parseBaseOffset(name, suffix))) Files.deleteIfExists(f);
            }
        }
        baseOffsets.removeIf(o -> o < 0);
        baseOffsets.sort(Comparator.naturalOrder());

        // Pass 2: read the checkpoints.
        OptionalLong recoveryCheckpoint = Checkpoints.read(dir.resolve(Checkpoints.RECOVERY_POINT));
        long recoveryPoint = recoveryCheckpoint.orElse(0);
        long startCheckpoint = Checkpoints.read(dir.resolve(Checkpoints.LOG_START_OFFSET)).orElse(0);

        // Pass 3: open every segment; re-validate those past the recovery point and those whose files fail a check.
        TreeMap<Long, Segment> opened = new TreeMap<>();
        boolean recovered = false;
        for (int i = 0; i < baseOffsets.size(); i++) {
            long base = baseOffsets.get(i);
            Segment.OpenedSegment o = Segment.open(dir, base, config.indexIntervalBytes(), now);
            Segment s = o.segment();
            boolean afterRecoveryPoint = s.nextOffset() > recoveryPoint
                    || (i + 1 < baseOffsets.size() && baseOffsets.get(i + 1) > recoveryPoint);
            opened.put(base, s);
            if (!o.needsRecovery() && !afterRecoveryPoint) continue;
            recovered = true;
            long truncated = s.recover(config.maxMessageBytes(), config.compact());
            boolean gap = !config.compact() && i + 1 < baseOffsets.size() && baseOffsets.get(i + 1) != s.nextOffset();
            if (truncated > 0 || gap) {
                // Offsets must follow each other from segment to segment: what lies after a damaged one is dropped.
                for (int j = i + 1; j < baseOffsets.size(); j++) {
                    LOG.warn("Deleting segment {} of {}: it follows a truncated segment", baseOffsets.get(j), dir.getFileName());
                    Segment.open(dir, baseOffsets.get(j), config.indexIntervalBytes(), now).segment().deleteFiles();
                }
                break;
            }
        }
        // A segment emptied by recovery that is not the last one is dropped too (it holds no offsets).
        while (opened.size() > 1 && opened.lastEntry().getValue().size() == 0) {
            Segment empty = opened.pollLastEntry().getValue();
            if (!config.compact() && opened.lastEntry().getValue().nextOffset() != empty.baseOffset()) {
                opened.put(empty.baseOffset(), empty);
                break;
            }
            empty.deleteFiles();
        }

        // Pass 4: an empty directory gets its first segment, at the checkpointed start offset.
        if (opened.isEmpty()) {
            Segment first = Segment.create(dir, startCheckpoint, config.indexIntervalBytes(), now);
            opened.put(first.baseOffset(), first);
        }
        for (Segment s : opened.values()) log.addLoadedSegment(s);

        // Pass 5: settle the offsets; a recovered log is fsynced so that its new recovery point is true.
        long first = opened.firstKey();
        long end = opened.lastEntry().getValue().nextOffset();
        long logStart = Math.min(Math.max(startCheckpoint, first), end);
        log.setLoadedOffsets(logStart, recovered ? 0 : recoveryPoint);
        if (recovered || recoveryCheckpoint.isEmpty()) {
            log.onFlushed(log.prepareFlush().run());
            if (recovered) LOG.info("Recovered {}: offsets {} to {} in {} segment(s)", dir.getFileName(), logStart, end, opened.size());
        }
        return log;
    }

    private static long parseBaseOffset(String name, String suffix) {
        String digits = name.substring(0, name.length() - suffix.length());
        if (digits.length() != 20 || !digits.chars().allMatch(Character::isDigit)) return -1;
        return Long.parseLong(digits);
    }
}
