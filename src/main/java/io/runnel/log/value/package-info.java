/**
 * The log's value types: what an append, a read or a lookup answers, and a topic's stored record. Immutable, and the
 * only part of {@code io.runnel.log} that the protocol packages ({@code kafka}, {@code http}, {@code group}) may use:
 * they reach a log itself only through {@code partition.PartitionHandle} (ArchitectureTest).
 */
package io.runnel.log.value;
