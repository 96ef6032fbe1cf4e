package io.runnel.log;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.AtomicMoveNotSupportedException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.nio.file.StandardOpenOption;
import java.util.OptionalLong;

/**
 * Small checkpoint files that hold one offset: {@code recovery-point} (every byte before it has been fsynced) and
 * {@code log-start-offset} (the first offset a consumer may read).
 *
 * <p>Format, text in UTF-8: a version line {@code 0}, then the offset in decimal, each followed by a newline.
 * Writes are crash safe: the new content goes to {@code NAME.tmp}, which is fsynced, renamed over the old file, and
 * the directory is fsynced. A crash leaves either the old file or the new one, plus perhaps a stray {@code .tmp}
 * that opening a log deletes. A file that cannot be parsed reads as absent: the log then recovers from the start
 * (recovery point) or from its first segment (log start offset), which is always safe.
 */
public final class Checkpoints {
    public static final String RECOVERY_POINT = "recovery-point";
    public static final String LOG_START_OFFSET = "log-start-offset";
    private static final String VERSION = "0";

    private Checkpoints() {
    }

    public static void write(Path file, long offset) throws IOException {
        writeAtomically(file, (VERSION + "\n" + offset + "\n").getBytes(StandardCharsets.UTF_8));
    }

    public static OptionalLong read(Path file) {
        try {
            if (!Files.isRegularFile(file)) return OptionalLong.empty();
            String[] lines = Files.readString(file, StandardCharsets.UTF_8).split("\n");
            if (lines.length < 2 || !lines[0].equals(VERSION)) return OptionalLong.empty();
            long v = Long.parseLong(lines[1].trim());
            return v < 0 ? OptionalLong.empty() : OptionalLong.of(v);
        } catch (IOException | RuntimeException e) {
            return OptionalLong.empty();
        }
    }

    /** Replaces {@code file} with {@code content} so that a crash leaves the old or the new content, never a mix. */
    public static void writeAtomically(Path file, byte[] content) throws IOException {
        Path tmp = file.resolveSibling(file.getFileName() + ".tmp");
        try (FileChannel ch = FileChannel.open(tmp, StandardOpenOption.CREATE, StandardOpenOption.WRITE,
                StandardOpenOption.TRUNCATE_EXISTING)) {
            ByteBuffer buf = ByteBuffer.wrap(content);
            while (buf.hasRemaining()) ch.write(buf);
            ch.force(true);
        }
        try {
            Files.move(tmp, file, StandardCopyOption.ATOMIC_MOVE, StandardCopyOption.REPLACE_EXISTING);
        } catch (AtomicMoveNotSupportedException e) {
            Files.move(tmp, file, StandardCopyOption.REPLACE_EXISTING);
        }
        fsyncDirectory(file.toAbsolutePath().getParent());
    }

    /** Makes a directory's entries (new, renamed or deleted files) durable. */
    public static void fsyncDirectory(Path dir) throws IOException {
        try (FileChannel ch = FileChannel.open(dir, StandardOpenOption.READ)) {
            ch.force(true);
        } catch (IOException e) {
            // Some file systems refuse to open a directory for reading; Kafka ignores that too (Utils.flushDir).
            if (Files.isDirectory(dir)) return;
            throw e;
        }
    }
}
