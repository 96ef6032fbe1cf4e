package io.runnel.server;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import io.runnel.config.BrokerConfig;
import io.runnel.log.Checkpoints;
import io.runnel.partition.PartitionHandle;
import io.runnel.testkit.AppendingBroker;
import io.runnel.testkit.Batches.Rec;
import io.runnel.testkit.BrokerProcess;
import io.runnel.testkit.Brokers;
import java.net.InetAddress;
import java.net.ServerSocket;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import org.apache.kafka.common.utils.Time;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** What only a real broker process shows: kill -9, SIGTERM, the directory lock, exit codes. */
class BrokerProcessTest {
    @TempDir
    Path work;

    private record Ack(int partition, long first, long last, String prefix) {
    }

    @Test
    void killMinus9LosesNothingAcknowledgedAcrossRepeatedCrashes() throws Exception {
        Path data = work.resolve("data");
        String[] args = Brokers.testArgs(data, "--log.segment.bytes=16384", "--log.index.interval.bytes=512");
        Map<Integer, List<Ack>> acked = new HashMap<>();
        for (int round = 0; round < 3; round++) {
            try (BrokerProcess p = BrokerProcess.start(work, AppendingBroker.class.getName(), args)) {
                await().atMost(Duration.ofSeconds(60)).until(() -> acks(p).size() >= 600);
                p.kill9();
                for (Ack a : acks(p)) acked.computeIfAbsent(a.partition(), k -> new ArrayList<>()).add(a);
            }
            // Reopen in process: recovery runs, and every acknowledged record must be there, intact.
            var broker = Brokers.start(data);
            try {
                for (int part = 0; part < 3; part++) {
                    PartitionHandle h = broker.topics().partition("crash", part).orElseThrow();
                    List<Rec> all = Brokers.readAll(h, 4096);
                    for (int i = 0; i < all.size(); i++) assertThat(all.get(i).offset()).isEqualTo(i);
                    for (Ack a : acked.getOrDefault(part, List.of())) {
                        assertThat(a.last()).isLessThan(all.size());
                        for (long o = a.first(); o <= a.last(); o++) {
                            assertThat(all.get((int) o).value()).isEqualTo(a.prefix() + "-" + (o - a.first()));
                        }
                    }
                }
            } finally {
                broker.stop().get();
            }
        }
        assertThat(acked.values().stream().mapToInt(List::size).sum()).isGreaterThanOrEqualTo(1800);
    }

    @Test
    void sigtermFlushesEveryLogSoThatTheNextStartNeedsNoRecovery() throws Exception {
        Path data = work.resolve("data");
        List<Ack> acks;
        try (BrokerProcess p = BrokerProcess.start(work, AppendingBroker.class.getName(), Brokers.testArgs(data))) {
            await().atMost(Duration.ofSeconds(60)).until(() -> acks(p).size() >= 200);
            int code = p.terminate();
            assertThat(code).isEqualTo(143); // 128 + SIGTERM, after the shutdown hook ran
            assertThat(p.output()).contains("Stopping broker 1").contains("every log is flushed");
            acks = acks(p);
        }
        var broker = Brokers.start(data);
        try {
            for (int part = 0; part < 3; part++) {
                PartitionHandle h = broker.topics().partition("crash", part).orElseThrow();
                final int partition = part;
                long lastAcked = acks.stream().filter(a -> a.partition() == partition).mapToLong(Ack::last).max().orElse(-1);
                assertThat(h.logEndOffset()).isGreaterThan(lastAcked);
                // The checkpoint written at shutdown already covered the whole log: nothing was re-validated.
                assertThat(h.recoveryPoint()).isEqualTo(h.logEndOffset());
            }
        } finally {
            broker.stop().get();
        }
        assertThat(Checkpoints.read(data.resolve("crash-0").resolve(Checkpoints.RECOVERY_POINT))).isPresent();
    }

    @Test
    void aSecondBrokerOnTheSameDirectoryRefusesToStart() throws Exception {
        Path data = work.resolve("data");
        try (BrokerProcess first = BrokerProcess.start(work, Main.class.getName(), Brokers.testArgs(data));
             BrokerProcess second = BrokerProcess.launch(work, Main.class.getName(), Brokers.testArgs(data))) {
            assertThat(second.waitForExit()).isEqualTo(1);
            assertThat(second.output()).contains("runnel: cannot start: log.dirs " + data.toAbsolutePath().normalize()
                    + " is in use by another broker");
            // In the same JVM too.
            assertThat(Broker.start(BrokerConfig.of(Brokers.testConfig(data)), Time.SYSTEM)
                    .toCompletionStage().toCompletableFuture().handle((b, e) -> e).get()).hasMessageContaining("in use by another broker");
            // The first broker is unharmed.
            HttpResponse<String> health = HttpClient.newHttpClient().send(
                    HttpRequest.newBuilder(URI.create("http://127.0.0.1:" + first.httpPort() + "/health")).build(),
                    HttpResponse.BodyHandlers.ofString());
            assertThat(health.statusCode()).isEqualTo(200);
            assertThat(first.terminate()).isEqualTo(143);
        }
    }

    /**
     * A failure after Vert.x started (here the HTTP port is taken) stops what had started and exits with code 1: the
     * start's answer used to be dispatched to the event loops the stop had just closed, and the process hung.
     */
    @Test
    void aStartThatFailsAfterVertxStartedExitsWithCode1() throws Exception {
        try (ServerSocket taken = new ServerSocket(0, 1, InetAddress.getLoopbackAddress());
             BrokerProcess p = BrokerProcess.launch(work, Main.class.getName(), Brokers.testArgs(work.resolve("data"),
                     "--http.port=" + taken.getLocalPort()))) {
            assertThat(p.waitForExit()).isEqualTo(1);
            assertThat(p.output()).contains("runnel: cannot start").contains("Broker 1 stopped");
        }
    }

    @Test
    void aBadConfigurationStopsStartUpWithOneLineAndExitCode2() throws Exception {
        try (BrokerProcess p = BrokerProcess.launch(work, Main.class.getName(), "--log.segment.bytes=lots")) {
            assertThat(p.waitForExit()).isEqualTo(2);
            assertThat(p.outputLines()).containsExactly(
                    "runnel: Invalid value 'lots' for configuration key 'log.segment.bytes' (from command line): must be an integer >= 14.");
        }
    }

    private static List<Ack> acks(BrokerProcess p) throws Exception {
        List<Ack> out = new ArrayList<>();
        for (String line : p.outputLines()) {
            String[] f = line.split(" ");
            if (f.length == 5 && f[0].equals("ACK")) {
                out.add(new Ack(Integer.parseInt(f[1]), Long.parseLong(f[2]), Long.parseLong(f[3]), f[4]));
            }
        }
        return out;
    }
}
