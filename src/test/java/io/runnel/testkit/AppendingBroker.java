package io.runnel.testkit;

import io.runnel.partition.PartitionHandle;
import io.runnel.server.Broker;
import io.runnel.server.Main;
import io.vertx.core.Future;
import java.nio.ByteBuffer;
import java.util.Map;
import java.util.concurrent.atomic.AtomicLong;
import org.apache.kafka.common.errors.TopicExistsException;

/**
 * A test program: the real broker ({@link Main#launch}) plus a producer inside it that appends to topic
 * {@code crash} (3 partitions) and prints {@code ACK partition first last} after each acknowledged append, so that a
 * test can kill it at any moment and know what was acknowledged. Bounded: at most 20,000 appends per partition and
 * 60 seconds, then it stops appending by itself.
 */
public final class AppendingBroker {
    private static final int PARTITIONS = 3;
    private static final int MAX_APPENDS = 20_000;
    private static final long MAX_MS = 60_000;

    private AppendingBroker() {
    }

    public static void main(String[] args) throws Exception {
        Broker broker = Main.launch(args);
        long deadline = System.currentTimeMillis() + MAX_MS;
        broker.topicAdmin().createTopic("crash", PARTITIONS, Map.of())
                .recover(e -> e instanceof TopicExistsException ? Future.succeededFuture() : Future.failedFuture(e))
                .toCompletionStage().toCompletableFuture().get();
        System.out.println("APPENDING");
        for (int p = 0; p < PARTITIONS; p++) {
            PartitionHandle h = broker.topics().partition("crash", p).orElseThrow();
            appendNext(h, new AtomicLong(), deadline);
        }
    }

    private static void appendNext(PartitionHandle h, AtomicLong count, long deadline) {
        long n = count.incrementAndGet();
        if (n > MAX_APPENDS || System.currentTimeMillis() > deadline) return;
        int p = h.topicPartition().partition();
        ByteBuffer batch = Batches.batch(1 + (int) (n % 5), System.currentTimeMillis(), "p" + p + "-n" + n);
        h.append(batch).onComplete(ar -> {
            if (ar.failed()) {
                System.out.println("FAILED " + p + " " + ar.cause());
                return;
            }
            System.out.println("ACK " + p + " " + ar.result().firstOffset() + " " + ar.result().lastOffset() + " p" + p + "-n" + n);
            appendNext(h, count, deadline);
        });
    }
}
