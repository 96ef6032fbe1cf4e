package io.runnel.partition;

import static org.assertj.core.api.Assertions.assertThat;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.channels.ClosedChannelException;
import java.nio.file.FileSystemException;
import java.nio.file.NoSuchFileException;
import org.junit.jupiter.api.Test;

/** Which I/O errors only refuse a call and which take a replica offline. */
class DiskErrorsTest {
    @Test
    void fullDisksQuotasOpenFileLimitsAndClosingChannelsPassByThemselves() {
        assertThat(DiskErrors.transientReason(new IOException("No space left on device"))).isEqualTo("disk full");
        assertThat(DiskErrors.transientReason(new FileSystemException("/d/0.log", null, "Disk quota exceeded"))).isEqualTo("disk full");
        assertThat(DiskErrors.transientReason(new FileSystemException("/d/0.index", null, "Too many open files"))).isEqualTo("too many open files");
        assertThat(DiskErrors.transientReason(new ClosedChannelException())).isEqualTo("the replica is closing");
        assertThat(DiskErrors.transientReason(new UncheckedIOException(new IOException("No space left on device")))).isEqualTo("disk full");
    }

    @Test
    void otherIoErrorsAreFailures() {
        assertThat(DiskErrors.transientReason(new IOException("Input/output error"))).isNull();
        assertThat(DiskErrors.transientReason(new NoSuchFileException("/d/topic-0/00000000000000000020.log"))).isNull();
        assertThat(DiskErrors.transientReason(new FileSystemException("/d/0.log", null, "Is a directory"))).isNull();
        assertThat(DiskErrors.transientReason(new IOException((String) null))).isNull();
    }
}
