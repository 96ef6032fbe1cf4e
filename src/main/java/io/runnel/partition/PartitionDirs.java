package io.runnel.partition;

import io.runnel.log.Log;
import java.io.IOException;
import java.nio.file.DirectoryStream;
import java.nio.file.Files;
import java.nio.file.Path;
import org.apache.kafka.common.TopicPartition;

/**
 * Names of partition directories under {@code log.dirs}: {@code <topic>-<partition>}, and
 * {@code <topic>-<partition>.<n>-delete} for one whose topic is being deleted (removed at the next start if a crash
 * interrupted the deletion). Blocking helpers; call them on workers.
 */
final class PartitionDirs {
    private PartitionDirs() {
    }

    static Path dirOf(Path logDir, TopicPartition tp) {
        return logDir.resolve(tp.topic() + "-" + tp.partition());
    }

    /** Removes what interrupted topic deletions left behind. */
    static void deleteLeftovers(Path logDir) throws IOException {
        try (DirectoryStream<Path> dirs = Files.newDirectoryStream(logDir, "*-delete")) {
            for (Path d : dirs) Log.deleteDirectory(d);
        }
    }
}
