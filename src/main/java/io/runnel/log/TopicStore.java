package io.runnel.log;

import io.runnel.log.value.TopicRecord;
import java.io.IOException;
import java.io.StringReader;
import java.io.StringWriter;
import java.nio.charset.StandardCharsets;
import java.nio.file.DirectoryStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Properties;
import java.util.TreeMap;
import org.apache.kafka.common.Uuid;

/**
 * Topic metadata on disk: one file {@code <log.dirs>/topics/<topic>.properties} per topic.
 *
 * <p>Format: Java properties in UTF-8 with {@code version=0}, {@code topic.id} (Kafka's base64 UUID),
 * {@code partitions} (the count) and one {@code config.<key>=<value>} line per topic-level configuration override.
 * Files are replaced atomically (see {@link Checkpoints#writeAtomically}), so a crash leaves the old or the new
 * version. A file that cannot be parsed stops start-up with its name rather than silently dropping a topic.
 */
public final class TopicStore {
    public static final String DIR = "topics";
    private static final String SUFFIX = ".properties";
    private final Path dir;

    public TopicStore(Path logDir) {
        this.dir = logDir.resolve(DIR);
    }

    /** Reads every topic file. Blocking. */
    public List<TopicRecord> loadAll() throws IOException {
        Files.createDirectories(dir);
        TreeMap<String, TopicRecord> out = new TreeMap<>();
        try (DirectoryStream<Path> files = Files.newDirectoryStream(dir, "*" + SUFFIX)) {
            for (Path f : files) {
                TopicRecord t = read(f);
                out.put(t.name(), t);
            }
        }
        return new ArrayList<>(out.values());
    }

    private static TopicRecord read(Path file) throws IOException {
        String fileName = file.getFileName().toString();
        String name = fileName.substring(0, fileName.length() - SUFFIX.length());
        Properties p = new Properties();
        p.load(new StringReader(Files.readString(file, StandardCharsets.UTF_8)));
        try {
            Map<String, String> configs = new LinkedHashMap<>();
            for (String k : new TreeMap<>(p).keySet().stream().map(Object::toString).toList()) {
                if (k.startsWith("config.")) configs.put(k.substring("config.".length()), p.getProperty(k));
            }
            int partitions = Integer.parseInt(p.getProperty("partitions"));
            if (partitions < 1) throw new IllegalArgumentException("partitions " + partitions);
            return new TopicRecord(name, Uuid.fromString(p.getProperty("topic.id")), partitions, configs);
        } catch (RuntimeException e) {
            throw new IOException("Topic metadata file " + file + " is damaged: " + e.getMessage(), e);
        }
    }

    /** Writes (or replaces) a topic's file. Blocking. */
    public void save(TopicRecord t) throws IOException {
        Files.createDirectories(dir);
        StringBuilder sb = new StringBuilder("# Runnel topic metadata; written by the broker.\n");
        Properties p = new Properties();
        p.setProperty("version", "0");
        p.setProperty("topic.id", t.topicId().toString());
        p.setProperty("partitions", Integer.toString(t.partitions()));
        t.configs().forEach((k, v) -> p.setProperty("config." + k, v));
        StringWriter w = new StringWriter();
        p.store(w, null);
        w.toString().lines().filter(l -> !l.startsWith("#")).sorted().forEach(l -> sb.append(l).append('\n'));
        Checkpoints.writeAtomically(dir.resolve(t.name() + SUFFIX), sb.toString().getBytes(StandardCharsets.UTF_8));
    }

    /** Removes a topic's file. Blocking. */
    public void delete(String topic) throws IOException {
        Files.deleteIfExists(dir.resolve(topic + SUFFIX));
        Checkpoints.fsyncDirectory(dir);
    }
}
