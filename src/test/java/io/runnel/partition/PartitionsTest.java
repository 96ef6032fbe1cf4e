package io.runnel.partition;

import static io.runnel.testkit.Brokers.await;
import static io.runnel.testkit.Failures.causeOf;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.awaitility.Awaitility.await;

import io.runnel.log.value.AppendInfo;
import io.runnel.log.value.LogSlice;
import io.runnel.server.Broker;
import io.runnel.testkit.Batches;
import io.runnel.testkit.Brokers;
import io.runnel.testkit.ManualTime;
import io.vertx.core.Context;
import io.vertx.core.Future;
import io.vertx.core.Promise;
import io.vertx.core.Vertx;
import io.vertx.junit5.VertxTestContext;
import java.nio.ByteBuffer;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import org.apache.kafka.common.errors.BrokerNotAvailableException;
import org.apache.kafka.common.errors.InvalidConfigurationException;
import org.apache.kafka.common.errors.InvalidPartitionsException;
import org.apache.kafka.common.errors.InvalidTopicException;
import org.apache.kafka.common.errors.NotLeaderOrFollowerException;
import org.apache.kafka.common.errors.OffsetOutOfRangeException;
import org.apache.kafka.common.errors.TopicExistsException;
import org.apache.kafka.common.errors.UnknownTopicOrPartitionException;
import org.apache.kafka.common.requests.ListOffsetsRequest;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** Topics and partition verticles inside a real in-process broker. */
class PartitionsTest {
    private static final long T0 = 1_700_000_000_000L;
    @TempDir
    Path data;
    private Broker broker;

    @AfterEach
    void stop() throws Exception {
        if (broker != null) broker.stop().get(30, TimeUnit.SECONDS);
    }

    @Test
    void callsHopOntoThePartitionAndCompleteOnTheCallersContext() throws Throwable {
        broker = Brokers.start(data);
        TopicRegistry topics = broker.topics();
        TopicAdmin admin = broker.topicAdmin();
        await(admin.createTopic("hop", 2, Map.of()));
        Vertx vertx = broker.vertx();
        Context caller = vertx.getOrCreateContext();
        VertxTestContext test = new VertxTestContext();
        var done = test.checkpoint(10);
        caller.runOnContext(v -> {
            for (int i = 0; i < 10; i++) {
                int n = i;
                PartitionHandle h = topics.partition("hop", i % 2).orElseThrow();
                h.append(Batches.batch(1, T0, "r" + n)).onComplete(test.succeeding(info -> test.verify(() -> {
                    assertThat(Vertx.currentContext()).isSameAs(caller);
                    assertThat(info.firstOffset()).isEqualTo(n / 2);
                    done.flag();
                })));
            }
        });
        assertThat(test.awaitCompletion(30, TimeUnit.SECONDS)).isTrue();
        if (test.failed()) throw test.causeOfFailure();
        PartitionHandle p1 = topics.partition("hop", 1).orElseThrow();
        assertThat(Brokers.readAll(p1, 100)).extracting(Batches.Rec::value).containsExactly("r1-0", "r3-0", "r5-0", "r7-0", "r9-0");
        assertThatThrownBy(() -> await(p1.read(99, 100, true))).hasCauseInstanceOf(OffsetOutOfRangeException.class);
    }

    @Test
    void topicsAndTheirConfigsSurviveARestart() throws Exception {
        broker = Brokers.start(data);
        await(broker.topicAdmin().createTopic("kept", 3, Map.of("retention.ms", "1234", "segment.bytes", "2048")));
        for (int i = 0; i < 30; i++) await(broker.topics().partition("kept", i % 3).orElseThrow().append(Batches.batch(2, T0, "v" + i)));
        broker.stop().get();
        broker = Brokers.start(data);
        var topic = broker.topics().topic("kept").orElseThrow();
        assertThat(topic.partitions()).hasSize(3);
        assertThat(topic.config().overrides()).containsEntry("retention.ms", "1234");
        assertThat(topic.config().logConfig().segmentBytes()).isEqualTo(2048);
        for (int p = 0; p < 3; p++) {
            assertThat(Brokers.readAll(topic.partitions().get(p), 1000)).hasSize(20);
        }
        assertThat(Files.exists(data.resolve("topics").resolve("kept.properties"))).isTrue();
    }

    @Test
    void aStoppingBrokerNeitherCreatesNorChangesTopics() throws Exception {
        broker = Brokers.start(data);
        TopicRegistry topics = broker.topics();
        TopicAdmin admin = broker.topicAdmin();
        await(admin.createTopic("kept", 3, Map.of()));
        var stopped = broker.stop();
        // Requests still in flight while the broker stops (a Metadata request that would auto-create, say) are
        // refused: once, a stopping broker re-created a topic it had already closed, with one partition.
        assertThat(causeOf(() -> await(admin.createTopic("kept", 1, Map.of())))).isInstanceOf(BrokerNotAvailableException.class);
        assertThat(causeOf(() -> await(admin.createTopic("late", 1, Map.of())))).isInstanceOf(BrokerNotAvailableException.class);
        assertThat(causeOf(() -> await(admin.deleteTopic("kept")))).isInstanceOf(BrokerNotAvailableException.class);
        stopped.get(30, TimeUnit.SECONDS);
        broker = Brokers.start(data);
        assertThat(broker.topics().topic("kept").orElseThrow().partitions()).hasSize(3);
        assertThat(broker.topics().topic("late")).isEmpty();
    }

    @Test
    void createAndDeleteRefuseWhatKafkaRefuses() throws Exception {
        broker = Brokers.start(data);
        TopicRegistry topics = broker.topics();
        TopicAdmin admin = broker.topicAdmin();
        assertThat(causeOf(() -> await(admin.createTopic("bad/name", 1, Map.of())))).isInstanceOf(InvalidTopicException.class);
        assertThat(causeOf(() -> await(admin.createTopic("..", 1, Map.of())))).isInstanceOf(InvalidTopicException.class);
        assertThat(causeOf(() -> await(admin.createTopic("zero", 0, Map.of())))).isInstanceOf(InvalidPartitionsException.class);
        assertThat(causeOf(() -> await(admin.createTopic("cfg", 1, Map.of("retention.ms", "soon")))))
                .isInstanceOf(InvalidConfigurationException.class).hasMessageContaining("retention.ms");
        await(admin.createTopic("twice", -1, Map.of()));
        assertThat(topics.topic("twice").orElseThrow().partitions()).hasSize(1); // num.partitions
        assertThat(causeOf(() -> await(admin.createTopic("twice", 1, Map.of())))).isInstanceOf(TopicExistsException.class);
        assertThat(causeOf(() -> await(admin.deleteTopic("never")))).isInstanceOf(UnknownTopicOrPartitionException.class);
    }

    /**
     * An acks=all produce appends on the partition's context and parks its wait in a later task: when leadership
     * moved (or the replica closed) in between, nothing would wake the wait, and the producer hung until its request
     * timeout (seen as 10 s stalls while partitions were reassigned under load). It must complete at once.
     */
    @Test
    void anAcksAllWaitParkedAfterLeadershipMovedOrTheReplicaClosedCompletesAtOnce() throws Exception {
        broker = Brokers.start(data);
        TopicRegistry topics = broker.topics();
        TopicAdmin admin = broker.topicAdmin();
        await(admin.createTopic("moved", 2, Map.of()));
        int self = topics.nodeId();
        Promise<Void> never = Promise.promise(); // no request timeout: only the partition can complete the waits
        for (int p = 0; p < 2; p++) {
            PartitionHandle h = topics.partition("moved", p).orElseThrow();
            // A second in-sync replica (absent) holds the high watermark back: the records are not replicated.
            int epoch = h.placement().leaderEpoch() + 1;
            await(h.applyPlacement(new Placement(List.of(self, 99), self, epoch, List.of(self, 99))));
            AppendInfo info = await(h.append(Batches.batch(2, T0, "w")));
            Future<Void> waiting = h.awaitReplicated(info.lastOffset(), epoch, never.future());
            await(h.flush()); // a later task on the partition's context: the wait is parked by now
            assertThat(waiting.isComplete()).as("the wait for replication while still leading").isFalse();
            await(h.applyPlacement(new Placement(List.of(self, 99), 99, epoch + 1, List.of(self, 99))));
            await(waiting); // released by the placement change
        }
        // Parked after the change: leader no more (partition 0), or a stale epoch of a replica leading again (1).
        PartitionHandle follower = topics.partition("moved", 0).orElseThrow();
        await(follower.awaitReplicated(follower.logEndOffset(), follower.placement().leaderEpoch() - 1, never.future()));
        PartitionHandle again = topics.partition("moved", 1).orElseThrow();
        int next = again.placement().leaderEpoch() + 1;
        await(again.applyPlacement(new Placement(List.of(self, 99), self, next, List.of(self, 99))));
        await(again.awaitReplicated(again.logEndOffset(), next - 2, never.future()));
        // Parked after the replica closed (the topic deleted) and a follower's long poll on a closed replica.
        Future<Void> leaderWait = again.awaitReplicated(again.logEndOffset(), next, never.future());
        await(admin.deleteTopic("moved"));
        await(leaderWait);
        await(again.awaitReplicated(again.logEndOffset() + 10, next, never.future()));
        await(again.awaitLogEndAfter(again.logEndOffset() + 10, never.future()));
    }

    /**
     * ListOffsets as Kafka answers it: a client sees offsets below the high watermark only (LATEST is the high
     * watermark), with the leader epoch each record was written in (KIP-320); the debugging replica id reads to the
     * log end; a follower refuses clients.
     */
    @Test
    void listOffsetsAnswersBelowTheHighWatermarkWithTheEpochOfWhatItFound() throws Exception {
        broker = Brokers.start(data);
        TopicRegistry topics = broker.topics();
        TopicAdmin admin = broker.topicAdmin();
        await(admin.createTopic("listed", 1, Map.of()));
        int self = topics.nodeId();
        PartitionHandle h = topics.partition("listed", 0).orElseThrow();
        int first = h.placement().leaderEpoch();
        await(h.append(Batches.batch(new long[] {T0, T0 + 1}, 10))); // offsets 0-1
        int later = first + 3;
        // A new epoch with an absent in-sync replica, which holds the high watermark at 2.
        await(h.applyPlacement(new Placement(List.of(self, 99), self, later, List.of(self, 99))));
        await(h.append(Batches.batch(new long[] {T0 + 10, T0 + 20}, 10))); // offsets 2-3
        long latest = ListOffsetsRequest.LATEST_TIMESTAMP;
        assertThat(listed(h, latest, true)).isEqualTo(new PartitionHandle.ListedOffset(-1, 2, later));
        assertThat(listed(h, latest, false)).as("debugging replica id").isEqualTo(new PartitionHandle.ListedOffset(-1, 4, later));
        assertThat(await(h.listOffset(T0 + 5, true))).as("a record at or past the high watermark is not found").isEmpty();
        assertThat(await(h.listOffset(ListOffsetsRequest.MAX_TIMESTAMP, true))).isEmpty();
        assertThat(listed(h, T0 + 5, false)).isEqualTo(new PartitionHandle.ListedOffset(T0 + 10, 2, later));
        assertThat(listed(h, T0 + 1, true)).isEqualTo(new PartitionHandle.ListedOffset(T0 + 1, 1, first));
        assertThat(listed(h, ListOffsetsRequest.EARLIEST_TIMESTAMP, true)).isEqualTo(new PartitionHandle.ListedOffset(-1, 0, first));

        await(h.applyPlacement(new Placement(List.of(self, 99), self, later, List.of(self)))); // 99 leaves the ISR
        assertThat(listed(h, latest, true)).isEqualTo(new PartitionHandle.ListedOffset(-1, 4, later));
        assertThat(listed(h, ListOffsetsRequest.MAX_TIMESTAMP, true)).isEqualTo(new PartitionHandle.ListedOffset(T0 + 20, 3, later));
        assertThat(await(h.listOffset(T0 + 21, true))).isEmpty();

        await(h.applyPlacement(new Placement(List.of(self, 99), 99, later + 1, List.of(self, 99)))); // a follower now
        assertThatThrownBy(() -> await(h.listOffset(latest, true))).hasCauseInstanceOf(NotLeaderOrFollowerException.class);
        assertThat(listed(h, ListOffsetsRequest.EARLIEST_TIMESTAMP, false)).isEqualTo(new PartitionHandle.ListedOffset(-1, 0, first));
    }

    private static PartitionHandle.ListedOffset listed(PartitionHandle h, long timestamp, boolean consumer) throws Exception {
        return await(h.listOffset(timestamp, consumer)).orElseThrow();
    }

    /**
     * A follower's truncation (file truncation, segment deletion, the producer-state replay) runs on the partition's
     * worker queue, not on its event loop, and calls that arrive meanwhile wait for it: here the worker queue is held
     * by another task, the event loop goes on, and the truncation and an append queued behind it complete only once
     * the queue is released, in order.
     */
    @Test
    void aFollowersTruncationRunsOnTheWorkerQueueAndLaterCallsWaitForIt() throws Exception {
        broker = Brokers.start(data);
        TopicRegistry topics = broker.topics();
        TopicAdmin admin = broker.topicAdmin();
        await(admin.createTopic("cut", 1, Map.of("segment.bytes", "2048")));
        int self = topics.nodeId();
        PartitionHandle h = topics.partition("cut", 0).orElseThrow();
        await(h.applyPlacement(new Placement(List.of(99, self), 99, 1, List.of(99, self)))); // follows broker 99
        for (int i = 0; i < 40; i++) await(h.appendFromLeader(Batches.leaderBatch(i * 5L, 5, 1, T0, "a" + i), 0));
        CountDownLatch hold = new CountDownLatch(1);
        Future<Object> holding = h.context().executeBlocking(() -> {
            hold.await(30, TimeUnit.SECONDS);
            return null;
        }, true);
        Future<Void> cut = h.truncateTo(60);
        Future<AppendInfo> next = h.appendFromLeader(Batches.leaderBatch(60, 5, 2, T0, "b"), 65);
        await(OnContext.call(h.context(), () -> null)); // the event loop has run everything queued before this
        assertThat(cut.isComplete()).as("the truncation waits on the worker queue, not on the event loop").isFalse();
        assertThat(next.isComplete()).as("a call after the truncation waits for it").isFalse();
        hold.countDown();
        await(holding);
        await(cut);
        assertThat(await(next).firstOffset()).isEqualTo(60);
        assertThat(h.logEndOffset()).isEqualTo(65);
        await(h.applyPlacement(new Placement(List.of(99, self), self, 2, List.of(self)))); // leads now: read it back
        List<String> expected = new ArrayList<>();
        for (int i = 0; i < 12; i++) for (int r = 0; r < 5; r++) expected.add("a" + i + "-" + r);
        for (int r = 0; r < 5; r++) expected.add("b-" + r);
        assertThat(Brokers.readAll(h, 100_000)).extracting(Batches.Rec::value).containsExactlyElementsOf(expected);
    }

    @Test
    void deletingATopicRemovesItsFilesAndItsName() throws Exception {
        broker = Brokers.start(data);
        await(broker.topicAdmin().createTopic("gone", 2, Map.of()));
        await(broker.topics().partition("gone", 0).orElseThrow().append(Batches.batch(3, T0, "x")));
        await(broker.topicAdmin().deleteTopic("gone"));
        assertThat(broker.topics().topic("gone")).isEmpty();
        assertThat(Files.exists(data.resolve("gone-0"))).isFalse();
        assertThat(Files.exists(data.resolve("topics").resolve("gone.properties"))).isFalse();
        try (var files = Files.list(data)) {
            assertThat(files.map(p -> p.getFileName().toString())).noneMatch(n -> n.startsWith("gone"));
        }
        // The name can be used again, empty.
        await(broker.topicAdmin().createTopic("gone", 1, Map.of()));
        assertThat(broker.topics().partition("gone", 0).orElseThrow().logEndOffset()).isZero();
    }

    @Test
    void flushPolicyFsyncsAfterFlushMessagesRecords() throws Exception {
        broker = Brokers.start(data);
        await(broker.topicAdmin().createTopic("flushy", 1, Map.of("flush.messages", "5")));
        PartitionHandle h = broker.topics().partition("flushy", 0).orElseThrow();
        await(h.append(Batches.batch(3, T0, "a")));
        assertThat(h.recoveryPoint()).isZero();
        AppendInfo info = await(h.append(Batches.batch(3, T0, "b")));
        await().atMost(Duration.ofSeconds(10)).until(() -> h.recoveryPoint() == info.lastOffset() + 1);
    }

    /**
     * Retention on its timer; the deleted segments' files stay open for log.segment.delete.delay.ms, so that a slice
     * taken before (a fetch response still being sent from the file) reads its bytes, and are deleted after it.
     */
    @Test
    void retentionRunsOnItsTimerAndDeletesExpiredSegmentsAfterTheDelay() throws Exception {
        ManualTime time = new ManualTime(T0);
        broker = Brokers.start(data, Map.of("log.retention.check.interval.ms", "20", "log.segment.delete.delay.ms", "8000"), time);
        await(broker.topicAdmin().createTopic("old", 1, Map.of("retention.ms", "60000", "segment.bytes", "100")));
        PartitionHandle h = broker.topics().partition("old", 0).orElseThrow();
        for (int i = 0; i < 5; i++) await(h.append(Batches.batch(1, T0, "v" + i)));
        await(h.append(Batches.batch(1, T0 + 120_000, "new")));
        assertThat(h.logStartOffset()).isZero();
        LogSlice inFlight = await(h.slice(0, 1000, true)).records();
        time.advance(61_000);
        await().atMost(Duration.ofSeconds(5)).until(() -> h.logStartOffset() == 5);
        ByteBuffer bytes = ByteBuffer.allocate(inFlight.size());
        while (bytes.hasRemaining()) inFlight.channel().read(bytes, inFlight.position() + bytes.position());
        assertThat(Batches.decode(bytes.flip())).extracting(Batches.Rec::value).containsExactly("v0-0");
        await().atMost(Duration.ofSeconds(30)).until(() -> !Files.exists(data.resolve("old-0").resolve("00000000000000000000.log")));
        assertThat(inFlight.channel().isOpen()).isFalse();
        assertThat(Brokers.readAll(h, 1000)).extracting(Batches.Rec::value).containsExactly("new-0");
    }
}
