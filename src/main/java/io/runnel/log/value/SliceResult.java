package io.runnel.log.value;

/**
 * A read as a {@link LogSlice} of a segment file (see {@link Log#slice}) and the log's bounds at the time of it.
 *
 * @param records        the batches, {@link LogSlice#EMPTY} when nothing was available from the offset
 * @param logStartOffset the first readable offset
 * @param logEndOffset   the offset the next appended record will get (the high watermark for a consumer's read)
 */
public record SliceResult(LogSlice records, long logStartOffset, long logEndOffset) {
}
