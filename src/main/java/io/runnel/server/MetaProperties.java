package io.runnel.server;

import io.runnel.log.Checkpoints;
import java.io.IOException;
import java.io.StringReader;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Properties;
import org.apache.kafka.common.Uuid;

/**
 * {@code <log.dirs>/meta.properties}: which broker and which cluster a data directory belongs to, as in Kafka.
 * Format: Java properties, {@code version=1}, {@code node.id}, {@code cluster.id} (Kafka's base64 UUID). Written once,
 * atomically, when the directory is first used; afterwards a broker with another {@code node.id} refuses the
 * directory rather than serving another broker's data under its id.
 */
public record MetaProperties(int nodeId, String clusterId) {
    public static final String FILE = "meta.properties";

    public static MetaProperties loadOrCreate(Path logDir, int nodeId) throws IOException {
        MetaProperties existing = load(logDir, nodeId);
        return existing != null ? existing : create(logDir, nodeId, Uuid.randomUuid().toString());
    }

    /** Writes a new {@code meta.properties} (a directory used for the first time). */
    public static MetaProperties create(Path logDir, int nodeId, String clusterId) throws IOException {
        MetaProperties created = new MetaProperties(nodeId, clusterId);
        String text = "# Written by Runnel when this directory was first used.\nversion=1\nnode.id=" + nodeId
                + "\ncluster.id=" + created.clusterId() + "\n";
        Checkpoints.writeAtomically(logDir.resolve(FILE), text.getBytes(StandardCharsets.UTF_8));
        return created;
    }

    /** The stored identity, or null for a directory never used; fails when it belongs to another node id. */
    public static MetaProperties load(Path logDir, int nodeId) throws IOException {
        Path file = logDir.resolve(FILE);
        if (!Files.exists(file)) return null;
        Properties p = new Properties();
        p.load(new StringReader(Files.readString(file, StandardCharsets.UTF_8)));
        int storedId;
        try {
            storedId = Integer.parseInt(p.getProperty("node.id", "").trim());
        } catch (NumberFormatException e) {
            throw new IOException(file + " is damaged: no valid node.id");
        }
        String clusterId = p.getProperty("cluster.id", "").trim();
        if (clusterId.isEmpty()) throw new IOException(file + " is damaged: no cluster.id");
        if (storedId != nodeId) {
            throw new IOException("log.dirs belongs to node.id " + storedId + " (" + file + ") but this broker has node.id " + nodeId);
        }
        return new MetaProperties(storedId, clusterId);
    }
}
