package io.runnel.group;

/** What is asked of a share group's offsets: DescribeShareGroupOffsets, AlterShareGroupOffsets or DeleteShareGroupOffsets. */
public enum ShareOffsetsOp {
    DESCRIBE, ALTER, DELETE
}
