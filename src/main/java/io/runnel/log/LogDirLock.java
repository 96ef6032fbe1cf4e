package io.runnel.log;

import java.io.IOException;
import java.nio.channels.FileChannel;
import java.nio.channels.FileLock;
import java.nio.channels.OverlappingFileLockException;
import java.nio.file.FileStore;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.Locale;
import java.util.Set;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The {@code .lock} file that keeps a second broker (or a second start in the same JVM) off a log directory, as
 * Kafka's {@code .lock}. It is an OS file lock, so it is released by the kernel when the process dies, even by
 * kill -9; the empty file itself stays and means nothing on its own. On a network file system it is only as good as
 * that file system's locks, which the broker warns about at start.
 */
public final class LogDirLock implements AutoCloseable {
    private static final Logger LOG = LoggerFactory.getLogger(LogDirLock.class);
    public static final String FILE = ".lock";
    private final FileChannel channel;
    private final FileLock lock;

    private LogDirLock(FileChannel channel, FileLock lock) {
        this.channel = channel;
        this.lock = lock;
    }

    /**
     * File systems on which the lock and fsync do not mean what they do on a local disk (docs/deploy.md): network
     * file systems (their locks are leases a partition can lose while the broker still writes, and an export may
     * acknowledge writes before they are on disk) and FUSE mounts (whatever the program behind them does).
     */
    private static final Set<String> NETWORK_FILE_SYSTEMS = Set.of("nfs", "nfs4", "cifs", "smb3", "smbfs", "9p", "ceph", "glusterfs",
            "lustre", "gpfs", "afs", "virtiofs");

    /** Whether {@code type} (a {@link FileStore#type()}) is a network file system or a FUSE mount. */
    static boolean isNetworkFileSystem(String type) {
        String t = type.toLowerCase(Locale.ROOT);
        return NETWORK_FILE_SYSTEMS.contains(t) || t.startsWith("fuse");
    }

    /** Takes the lock, creating the directory if needed; throws {@link LockedException} if another holder has it. */
    public static LogDirLock acquire(Path dir) throws IOException {
        Files.createDirectories(dir);
        String type = Files.getFileStore(dir).type();
        if (isNetworkFileSystem(type)) {
            LOG.warn("log.dirs {} is on a {} file system: its .lock file and fsync may not hold there (a lock lost in a network "
                    + "partition, writes acknowledged before they reach a disk); use a local disk or a block volume (docs/deploy.md)",
                    dir.toAbsolutePath().normalize(), type);
        }
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
