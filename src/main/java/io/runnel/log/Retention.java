package io.runnel.log;

import java.util.ArrayList;
import java.util.List;

/**
 * Which segments retention may delete, oldest first and always a prefix of the log, never the active (last)
 * segment. Kafka's three rules (UnifiedLog.deleteOldSegments), checked in turn on the segments that remain (the
 * time and size rules only when cleanup.policy contains delete):
 * <ol>
 *   <li>below the log start offset: the next segment starts at or before it (after DeleteRecords);</li>
 *   <li>by time: the segment's newest record is older than {@code retention.ms} (negative keeps forever); a segment
 *       without timestamps is never old;</li>
 *   <li>by size: while the log minus this segment is still at least {@code retention.bytes} (negative: no limit).</li>
 * </ol>
 */
final class Retention {
    private Retention() {
    }

    static List<Segment> deletable(List<Segment> segments, LogConfig config, long logStartOffset, long nowMs) {
        List<Segment> out = new ArrayList<>();
        int closed = segments.size() - 1;
        long total = 0;
        for (Segment s : segments) total += s.size();
        long excess = config.retentionBytes() < 0 || !config.delete() ? Long.MIN_VALUE : total - config.retentionBytes();
        for (int i = 0; i < closed; i++) {
            Segment s = segments.get(i);
            boolean belowStart = segments.get(i + 1).baseOffset() <= logStartOffset;
            boolean expired = config.delete() && config.retentionMs() >= 0 && s.maxTimestamp() >= 0 && nowMs - s.maxTimestamp() > config.retentionMs();
            boolean oversize = excess != Long.MIN_VALUE && excess - s.size() >= 0;
            if (!belowStart && !expired && !oversize) break;
            out.add(s);
            if (excess != Long.MIN_VALUE) excess -= s.size();
        }
        return out;
    }
}
