package io.runnel.partition;

import static org.assertj.core.api.Assertions.assertThat;

import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** The cluster-placement file: what is written reads back, and a damaged or missing file reads as absent. */
class PlacementFileTest {
    @TempDir
    Path dir;

    @Test
    void aWrittenPlacementReadsBackWithoutItsLeader() throws Exception {
        PlacementFile.write(dir, new Placement(List.of(3, 1, 2), 1, 7, List.of(1, 3), 12));
        assertThat(Files.readString(dir.resolve(PlacementFile.NAME))).isEqualTo("replicas=3,1,2\nisr=1,3\nepoch=7\npartitionEpoch=12\n");
        assertThat(PlacementFile.read(dir)).contains(new Placement(List.of(3, 1, 2), -1, 7, List.of(1, 3), 12));
        PlacementFile.write(dir, new Placement(List.of(3, 1, 2), 3, 8, List.of(3)));
        assertThat(PlacementFile.read(dir)).contains(new Placement(List.of(3, 1, 2), -1, 8, List.of(3)));
        try (var files = Files.list(dir)) {
            assertThat(files.map(f -> f.getFileName().toString())).containsExactly(PlacementFile.NAME); // no temporary file left
        }
    }

    @Test
    void aFileWrittenBeforePartitionEpochsReadsAsPartitionEpochZero() throws Exception {
        Files.writeString(dir.resolve(PlacementFile.NAME), "replicas=3,1,2\nisr=1,3\nepoch=7\n");
        assertThat(PlacementFile.read(dir)).contains(new Placement(List.of(3, 1, 2), -1, 7, List.of(1, 3), 0));
    }

    @Test
    void aMissingEmptyOrDamagedFileReadsAsAbsent() throws Exception {
        assertThat(PlacementFile.read(dir)).isEmpty();
        Path f = dir.resolve(PlacementFile.NAME);
        Files.writeString(f, "replicas=\nisr=\nepoch=0\n");
        assertThat(PlacementFile.read(dir)).as("no replicas").isEmpty();
        Files.writeString(f, "replicas=1,x\nisr=1\nepoch=2\n");
        assertThat(PlacementFile.read(dir)).as("a replica that is not a number").isEmpty();
        Files.write(f, new byte[] {'r', 'e', (byte) 0xff, 0, '\n'});
        assertThat(PlacementFile.read(dir)).as("bytes that are not text").isEmpty();
        Files.writeString(f, "replicas=4\nisr=4\nepoch=nine\n", StandardCharsets.UTF_8);
        assertThat(PlacementFile.read(dir)).as("an epoch that is not a number").isEmpty();
    }
}
