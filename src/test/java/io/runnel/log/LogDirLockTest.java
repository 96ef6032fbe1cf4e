package io.runnel.log;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.nio.file.Path;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class LogDirLockTest {
    @TempDir
    Path dir;

    @Test
    void aSecondHolderIsRefusedUntilTheFirstLetsGo() throws Exception {
        try (LogDirLock first = LogDirLock.acquire(dir.resolve("data"))) {
            assertThatThrownBy(() -> LogDirLock.acquire(dir.resolve("data"))).isInstanceOf(LogDirLock.LockedException.class)
                    .hasMessageContaining("in use by another broker");
        }
        LogDirLock.acquire(dir.resolve("data")).close();
    }

    @Test
    void networkFileSystemsAreRecognised() {
        assertThat(LogDirLock.isNetworkFileSystem("nfs4")).isTrue();
        assertThat(LogDirLock.isNetworkFileSystem("NFS")).isTrue();
        assertThat(LogDirLock.isNetworkFileSystem("cifs")).isTrue();
        assertThat(LogDirLock.isNetworkFileSystem("fuse.sshfs")).isTrue();
        assertThat(LogDirLock.isNetworkFileSystem("ext4")).isFalse();
        assertThat(LogDirLock.isNetworkFileSystem("xfs")).isFalse();
        assertThat(LogDirLock.isNetworkFileSystem("tmpfs")).isFalse();
        assertThat(LogDirLock.isNetworkFileSystem("overlay")).isFalse();
    }
}
