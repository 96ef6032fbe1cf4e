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
 * Every response is written once, in request order, while the first FindCoordinator of each connection waits for the
 * group or transaction coordinator to start (its topic being created) and the requests pipelined behind it are
 * answered at once. Reading a response parses it against the header of the request it must answer, so a response
 * written twice or out of order fails with kafka-clients' correlation id mismatch. Before the coordinators answered
 * on their caller's context ({@code CoordinatorContextTest}), FindCoordinator's answer came from the thread that
 * created the topic, and this test caught the connection writing a response twice (not every run: a race); the
 * connection now also takes any answer back to its own event loop before it writes.
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
                    broker.stop().get(30, TimeUnit.SECONDS);
                }
            }
        } finally {
            clients.shutdownNow();
        }
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
