package io.runnel.http;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import io.runnel.testkit.BrokerPerTest;
import io.runnel.testkit.BrowserScript;
import io.runnel.testkit.KafkaClients;
import io.vertx.core.json.JsonObject;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import org.apache.kafka.clients.admin.Admin;
import org.apache.kafka.clients.admin.ListShareGroupOffsetsSpec;
import org.apache.kafka.clients.admin.ShareGroupDescription;
import org.apache.kafka.clients.consumer.AcknowledgeType;
import org.apache.kafka.clients.consumer.ConsumerConfig;
import org.apache.kafka.clients.consumer.ConsumerRecord;
import org.apache.kafka.clients.consumer.KafkaShareConsumer;
import org.apache.kafka.clients.producer.KafkaProducer;
import org.apache.kafka.clients.producer.ProducerRecord;
import org.apache.kafka.common.TopicPartition;
import org.junit.jupiter.api.Test;

/**
 * A worker pool of runnel.js share subscriptions in headless Chromium and two Kafka share consumers in one share
 * group: every record is handled once (the one record that fails once with each kind of worker is released and handled again), both
 * kinds of worker get work, and every acknowledgement reaches the broker (the group's start offsets reach the end).
 */
class ShareWorkersBrowserTest extends BrokerPerTest {
    private static final int RECORDS = 200;

    @Override
    protected Map<String, String> brokerConfig() {
        return Map.of("group.share.heartbeat.interval.ms", "500");
    }

    private KafkaShareConsumer<String, String> consumer() {
        return KafkaClients.shareConsumer(broker.bootstrapServers(), "pool", Map.of(ConsumerConfig.MAX_POLL_RECORDS_CONFIG, 5,
                "share.acquire.mode", "record_limit", "share.acknowledgement.mode", "explicit"));
    }

    @Test
    void browserWorkersAndKafkaShareConsumersShareOneQueue() throws Exception {
        createTopic("tasks", 2);
        List<String> kafkaHandled = new CopyOnWriteArrayList<>();
        List<Short> kafkaFailed = new CopyOnWriteArrayList<>();
        List<Short> failMeCounts = new CopyOnWriteArrayList<>();
        AtomicBoolean stop = new AtomicBoolean();
        List<Thread> threads = new ArrayList<>();
        List<KafkaShareConsumer<String, String>> consumers = new CopyOnWriteArrayList<>();
        try (BrowserScript page = BrowserScript.start(data, "share-workers.mjs", "http://127.0.0.1:" + broker.httpPort() + "/", "tasks", "pool", "3")) {
            assertThat(page.line(l -> l.equals("ready"))).isEqualTo("ready");
            for (int i = 0; i < 2; i++) {
                KafkaShareConsumer<String, String> c = consumer();
                consumers.add(c);
                c.subscribe(List.of("tasks"));
                Thread t = new Thread(() -> {
                    while (!stop.get()) {
                        for (ConsumerRecord<String, String> r : c.poll(Duration.ofMillis(100))) {
                            if (r.value().equals("fail-me") && kafkaFailed.isEmpty()) { // fails once here too: released, it comes again
                                kafkaFailed.add(r.deliveryCount().orElse((short) -1));
                                c.acknowledge(r, AcknowledgeType.RELEASE);
                                continue;
                            }
                            if (r.value().equals("fail-me")) failMeCounts.add(r.deliveryCount().orElse((short) -1));
                            kafkaHandled.add(r.value());
                            c.acknowledge(r, AcknowledgeType.ACCEPT);
                            try {
                                Thread.sleep(3); // the work a record takes, as the browser workers' handlers take
                            } catch (InterruptedException e) {
                                return;
                            }
                        }
                    }
                }, "kafka-worker-" + i);
                threads.add(t);
                t.start();
            }
            try (Admin admin = KafkaClients.admin(broker.bootstrapServers())) {
                // Five members (three browser workers, two Kafka consumers), each with a partition, before records come.
                await().atMost(Duration.ofSeconds(30)).until(() -> {
                    ShareGroupDescription d = admin.describeShareGroups(List.of("pool")).describedGroups().get("pool").get();
                    return d.members().size() == 5 && d.members().stream().allMatch(m -> m.assignment().topicPartitions().size() == 1);
                });
                try (KafkaProducer<String, String> p = KafkaClients.producer(broker.bootstrapServers(), Map.of())) {
                    for (int i = 0; i < RECORDS; i++) p.send(new ProducerRecord<>("tasks", i % 2, null, i == 77 ? "fail-me" : "task-" + i));
                    p.flush();
                }
                JsonObject[] seen = new JsonObject[1];
                await().atMost(Duration.ofSeconds(60)).until(() -> {
                    page.send("dump");
                    seen[0] = new JsonObject(page.line(l -> l.startsWith("{")));
                    return seen[0].getJsonArray("handled").size() + kafkaHandled.size() >= RECORDS;
                });
                List<String> browserHandled = seen[0].getJsonArray("handled").stream().map(o -> ((JsonObject) o).getString("value")).toList();
                List<String> all = new ArrayList<>(browserHandled);
                all.addAll(kafkaHandled);
                assertThat(all).as("every record handled once").hasSize(RECORDS).doesNotHaveDuplicates().contains("fail-me");
                assertThat(browserHandled).as("the browser workers got work").isNotEmpty();
                assertThat(kafkaHandled).as("the Kafka consumers got work").isNotEmpty();
                // fail-me failed once with each kind of worker that got it before it succeeded: handled on delivery failures + 1.
                int failures = seen[0].getJsonArray("failed").size() + kafkaFailed.size();
                assertThat(failures).isBetween(1, 2);
                seen[0].getJsonArray("handled").stream().map(o -> (JsonObject) o).filter(o -> o.getString("value").equals("fail-me"))
                        .forEach(o -> failMeCounts.add(o.getInteger("deliveryCount").shortValue()));
                assertThat(failMeCounts).containsExactly((short) (failures + 1));
                // Every record acknowledged (accepted): the group's start offsets reach the end of both partitions.
                await().atMost(Duration.ofSeconds(30)).untilAsserted(() -> assertThat(admin.listShareGroupOffsets(Map.of("pool",
                                new ListShareGroupOffsetsSpec())).partitionsToOffsetInfo("pool").get(30, TimeUnit.SECONDS))
                        .hasEntrySatisfying(new TopicPartition("tasks", 0), o -> assertThat(o.startOffset()).isEqualTo(RECORDS / 2L))
                        .hasEntrySatisfying(new TopicPartition("tasks", 1), o -> assertThat(o.startOffset()).isEqualTo(RECORDS / 2L)));
            }
            // The console shows the group: a Kafka consumer, alone in it now, holding three records in flight.
            stop.set(true);
            for (Thread t : threads) t.join(30_000);
            page.send("stop");
            page.line(l -> l.equals("stopped"));
            consumers.remove(1).close(Duration.ofSeconds(5));
            KafkaShareConsumer<String, String> holder = consumers.get(0);
            try (KafkaProducer<String, String> p = KafkaClients.producer(broker.bootstrapServers(), Map.of("linger.ms", 1_000))) {
                for (int i = 0; i < 3; i++) p.send(new ProducerRecord<>("tasks", 0, null, "held-" + i));
                p.flush();
            }
            List<ConsumerRecord<String, String>> held = new ArrayList<>();
            await().atMost(Duration.ofSeconds(30)).until(() -> {
                holder.poll(Duration.ofMillis(100)).forEach(held::add);
                return held.size() >= 3;
            });
            page.send("console pool");
            JsonObject console = new JsonObject(page.line(l -> l.startsWith("{\"members\"")));
            assertThat(console.getInteger("members")).isEqualTo(1);
            List<List<String>> rows = console.getJsonArray("deliveries").stream().map(r -> ((io.vertx.core.json.JsonArray) r).stream()
                    .map(String::valueOf).toList()).toList();
            assertThat(rows).extracting(r -> r.get(0) + "-" + r.get(1)).containsExactly("tasks-0", "tasks-1");
            assertThat(rows.get(0).get(4)).as("tasks-0 in flight: %s", rows.get(0)).isEqualTo("3");
            assertThat(rows.get(0).get(8)).isEqualTo("3×1");
            page.quit();
        } finally {
            stop.set(true);
            for (Thread t : threads) t.join(30_000);
            for (KafkaShareConsumer<String, String> c : consumers) c.close(Duration.ofSeconds(5));
        }
    }
}
