package io.runnel.kafka;

import static org.assertj.core.api.Assertions.assertThat;

import io.runnel.server.Broker;
import io.runnel.testkit.Brokers;
import io.runnel.testkit.RawKafkaClient;
import java.io.IOException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import org.apache.kafka.common.message.ApiVersionsRequestData;
import org.apache.kafka.common.message.FindCoordinatorRequestData;
import org.apache.kafka.common.protocol.ApiKeys;
import org.apache.kafka.common.protocol.Errors;
import org.apache.kafka.common.requests.AbstractResponse;
import org.apache.kafka.common.requests.ApiVersionsRequest;
import org.apache.kafka.common.requests.FindCoordinatorRequest;
import org.apache.kafka.common.requests.FindCoordinatorResponse;
import org.apache.kafka.common.requests.RequestHeader;
import org.apache.kafka.common.utils.Time;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Every response is written once, in request order, even when a handler's answer completes on another thread than
 * the connection's: the first FindCoordinator of each connection waits for the group or transaction coordinator to
 * start (one start, shared by all connections, finished on whichever thread created its topic) while the
 * requests pipelined behind it are answered at once on the connection's own event loop. Reading a response parses it
 * against the header of the request it must answer, so a response written twice or out of order fails the test with
 * kafka-clients' correlation id mismatch.
 */
class ResponseOrderTest {
    private static final int CONNECTIONS = 8;
    private static final int PIPELINED = 400;
    private static final int ROUNDS = 4;

    @TempDir
    Path data;

    @Test
    void answersFromOtherThreadsKeepTheResponseOrder() throws Exception {
        ExecutorService clients = Executors.newFixedThreadPool(CONNECTIONS);
        try {
            // A fresh broker each round: the race is widest while a coordinator starts (its topic is being created).
            for (int round = 0; round < ROUNDS; round++) {
                Broker broker = Brokers.start(data.resolve("round-" + round), Map.of(), Time.SYSTEM);
                AtomicBoolean roundDone = new AtomicBoolean();
                // Two threads spinning beside the broker (bounded: until the round ends, at most 30 s): on a busy
                // machine the coordinator's start completes while the connections' loops are still at work.
                List<Thread> spinners = new ArrayList<>();
                for (int i = 0; i < 2; i++) {
                    Thread t = new Thread(() -> spin(roundDone), "order-spinner");
                    t.setDaemon(true);
                    t.start();
                    spinners.add(t);
                }
                try {
                    List<Future<Integer>> answered = new ArrayList<>();
                    for (int c = 0; c < CONNECTIONS; c++) {
                        // Half ask for a group's coordinator, half for a transactional id's: two coordinators starting.
                        byte type = (c % 2 == 0 ? FindCoordinatorRequest.CoordinatorType.GROUP : FindCoordinatorRequest.CoordinatorType.TRANSACTION).id();
                        String key = "order-" + round + "-" + c;
                        answered.add(clients.submit(() -> pipeline(broker.bootstrapServers(), type, key)));
                    }
                    for (Future<Integer> a : answered) assertThat(a.get()).isEqualTo(PIPELINED + 1);
                } finally {
                    roundDone.set(true);
                    for (Thread t : spinners) t.join(5_000);
                    broker.stop().get(30, TimeUnit.SECONDS);
                }
            }
        } finally {
            clients.shutdownNow();
        }
    }

    private static void spin(AtomicBoolean done) {
        long until = System.nanoTime() + TimeUnit.SECONDS.toNanos(30);
        long x = 0;
        while (!done.get() && System.nanoTime() < until) x += System.nanoTime() & 1;
        if (x == 42) System.out.print("");
    }

    /**
     * A FindCoordinator, then ApiVersions pipelined behind it, written by a thread of their own so that the broker is
     * still reading and answering them when the coordinator's start completes; returns how many responses came back,
     * each the answer to the request it had to be.
     */
    private static int pipeline(String bootstrap, byte keyType, String key) throws Exception {
        try (RawKafkaClient client = new RawKafkaClient(bootstrap)) {
            List<RequestHeader> sent = new ArrayList<>();
            sent.add(new RequestHeader(ApiKeys.FIND_COORDINATOR, ApiKeys.FIND_COORDINATOR.latestVersion(), "raw-test", 1));
            for (int i = 0; i < PIPELINED; i++) sent.add(new RequestHeader(ApiKeys.API_VERSIONS, ApiKeys.API_VERSIONS.latestVersion(), "raw-test", i + 2));
            Thread writer = new Thread(() -> {
                try {
                    client.write(new FindCoordinatorRequest.Builder(new FindCoordinatorRequestData().setKeyType(keyType).setCoordinatorKeys(List.of(key)))
                            .build(ApiKeys.FIND_COORDINATOR.latestVersion()));
                    for (int i = 0; i < PIPELINED; i++) {
                        client.write(new ApiVersionsRequest(new ApiVersionsRequestData().setClientSoftwareName("order-test").setClientSoftwareVersion("1"),
                                ApiKeys.API_VERSIONS.latestVersion()));
                    }
                } catch (IOException e) {
                    // the reader fails on the missing responses
                }
            }, "order-writer");
            writer.start();
            try {
                int answered = 0;
                for (RequestHeader header : sent) {
                    AbstractResponse response = client.read(header); // throws on a correlation id mismatch
                    if (response instanceof FindCoordinatorResponse f) {
                        assertThat(Errors.forCode(f.data().coordinators().get(0).errorCode())).isIn(Errors.NONE, Errors.COORDINATOR_NOT_AVAILABLE);
                    }
                    answered++;
                }
                return answered;
            } finally {
                writer.join(30_000);
            }
        }
    }
}
