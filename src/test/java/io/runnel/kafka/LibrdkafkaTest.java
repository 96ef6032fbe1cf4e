package io.runnel.kafka;

import static org.assertj.core.api.Assertions.assertThat;

import io.runnel.server.Broker;
import io.runnel.testkit.Brokers;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * librdkafka, the C client behind kcat and the confluent-kafka-* libraries, which uses older non-flexible protocol
 * versions: kcat (Debian's package; scripts/test installs it) lists metadata, produces with keys and compression,
 * and consumes everything back.
 */
class LibrdkafkaTest {
    @TempDir
    static Path data;
    static Broker broker;

    @BeforeAll
    static void start() throws Exception {
        broker = Brokers.start(data);
    }

    @AfterAll
    static void stop() throws Exception {
        broker.stop().get(30, TimeUnit.SECONDS);
    }

    private static String kcat(String stdin, String... args) throws IOException, InterruptedException {
        List<String> cmd = new ArrayList<>(List.of("kcat", "-b", broker.bootstrapServers()));
        cmd.addAll(List.of(args));
        Process p;
        try {
            p = new ProcessBuilder(cmd).redirectErrorStream(true).start();
        } catch (IOException e) {
            throw new AssertionError("kcat is not installed: scripts/test installs Debian's kcat package (apt-get install kcat)", e);
        }
        if (stdin != null) p.getOutputStream().write(stdin.getBytes(StandardCharsets.UTF_8));
        p.getOutputStream().close();
        String out = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
        assertThat(p.waitFor(60, TimeUnit.SECONDS)).isTrue();
        assertThat(p.exitValue()).as("kcat %s:%n%s", cmd, out).isZero();
        return out;
    }

    @Test
    void kcatProducesAndConsumes() throws Exception {
        StringBuilder in = new StringBuilder();
        for (int i = 0; i < 100; i++) in.append("key").append(i).append(':').append("value ").append(i).append('\n');
        kcat(in.toString(), "-P", "-t", "rdkafka", "-K", ":", "-z", "lz4", "-X", "topic.request.required.acks=-1");
        String out = kcat(null, "-C", "-t", "rdkafka", "-o", "beginning", "-e", "-q", "-f", "%k=%s@%o\\n");
        List<String> lines = out.lines().filter(l -> l.contains("=")).toList();
        assertThat(lines).hasSize(100);
        for (int i = 0; i < 100; i++) assertThat(lines.get(i)).isEqualTo("key" + i + "=value " + i + "@" + i);
        assertThat(kcat(null, "-L", "-t", "rdkafka")).contains("topic \"rdkafka\" with 1 partitions").contains("leader 1");
        // A balanced consumer in a group (librdkafka's classic group protocol), until the end of the partition.
        String grouped = kcat(null, "-G", "rdkafka-group", "rdkafka", "-X", "auto.offset.reset=earliest", "-e", "-q", "-f", "%s\\n",
                "-X", "enable.partition.eof=true");
        assertThat(grouped.lines().filter(l -> l.startsWith("value ")).toList()).hasSize(100);
    }
}
