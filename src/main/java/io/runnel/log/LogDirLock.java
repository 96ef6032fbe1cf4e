package io.runnel.log;

import java.io.IOException;
import java.nio.channels.FileChannel;
import java.nio.channels.FileLock;
import java.nio.channels.OverlappingFileLockException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;

/**
 * The {@code .lock} file that keeps a second broker (or a second start in the same JVM) off a log directory, as
 * Kafka's {@code .lock}. It is an OS file lock, so it is released by the kernel when the process dies, even by
 * kill -9; the empty file itself stays and means nothing on its own.
 */
public final class LogDirLock implements AutoCloseable {
    public static final String FILE = ".lock";
    private final FileChannel channel;
    private final FileLock lock;

    private LogDirLock(FileChannel channel, FileLock lock) {
        this.channel = channel;
        this.lock = lock;
    }

    /** Takes the lock, creating the directory if needed; throws {@link LockedException} if another holder has it. */
    public static LogDirLock acquire(Path dir) throws IOException {
        Files.createDirectories(dir);
        Path file = dir.resolve(FILE);
        FileChannel ch = FileChannel.open(file, StandardOpenOption.CREATE, StandardOpenOption.WRITE);
        FileLock lock;
        try {
            lock = ch.tryLock();
        } catch (OverlappingFileLockException e) {
            lock = null;
        }
        if (lock == null) {
            ch.close();
            throw new LockedException("log.dirs " + dir.toAbsolutePath().normalize() + " is in use by another broker (lock file "
                    + file.toAbsolutePath() + "); stop it or choose another directory");
        }
        return new LogDirLock(ch, lock);
    }

    @Override
    public void close() throws IOException {
        if (lock.isValid()) lock.release();
        channel.close();
    }

    /** The directory is locked by someone else. */
    public static final class LockedException extends IOException {
        public LockedException(String message) {
            super(message);
        }
    }
}
