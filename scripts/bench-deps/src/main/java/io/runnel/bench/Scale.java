package io.runnel.bench;

import java.io.FileInputStream;
import java.io.IOException;
import java.io.InputStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Collection;
import java.util.HashMap;
import java.util.HashSet;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Properties;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.function.BooleanSupplier;
import org.apache.kafka.clients.admin.Admin;
import org.apache.kafka.clients.admin.AdminClientConfig;
import org.apache.kafka.clients.admin.NewTopic;
import org.apache.kafka.clients.admin.OffsetSpec;
import org.apache.kafka.clients.admin.TopicDescription;
import org.apache.kafka.clients.consumer.ConsumerConfig;
import org.apache.kafka.clients.consumer.KafkaConsumer;
import org.apache.kafka.clients.producer.KafkaProducer;
import org.apache.kafka.clients.producer.ProducerConfig;
import org.apache.kafka.clients.producer.ProducerRecord;
import org.apache.kafka.common.TopicPartition;
import org.apache.kafka.common.TopicPartitionInfo;
import org.apache.kafka.common.serialization.ByteArrayDeserializer;
import org.apache.kafka.common.serialization.ByteArraySerializer;

/**
 * The scale workload's client side: many partitions, many connections. One step per run, chosen by the first
 * argument; each prints {@code name value} lines.
 *
 * <pre>
 * Scale create   --bootstrap B --partitions N [--rf 1] [--min-isr 2]   N partitions in topics of at most 100
 *                                                                      (scale-0000, scale-0001, ...): create_ms
 *                                                                      (answers) and leaders_ms (every partition
 *                                                                      has a leader in Metadata)
 * Scale fill     --bootstrap B --records K                             K records of 100 bytes into every partition
 *                                                                      of the scale topics, acks=all: fill_ms
 * Scale ready    --bootstrap B --records K --since EPOCH_MS            waits until every scale partition has a leader
 *                                                                      and an end offset of at least K: ready_ms
 *                                                                      (from --since: the broker's launch)
 * Scale metadata --bootstrap B                                         Metadata for every topic (Admin describe),
 *                                                                      median of 5: metadata_ms
 * Scale clients  --bootstrap B --producers P --consumers C --pids 1,2 --protocol classic|consumer
 *                P producers (one record each) and C consumers of one group subscribed to every scale topic, all
 *                held open: rebalance_ms (until the C members own every partition once, each at least one when
 *                there are enough), rebalance_leave_ms (one member closed: until the others own every partition
 *                again), the brokers' resident memory before and with the connections (rss_before_KB,
 *                rss_clients_KB) and per connection (rss_per_connection_KB)
 * </pre>
 *
 * Every wait is bounded (--timeout-s, 300 by default); a step that times out exits with status 1.
 */
public final class Scale {
    private static final int TOPIC_PARTITIONS = 100;
    private static final String PREFIX = "scale-";

    private final Map<String, String> opts = new HashMap<>();
    private final Properties common = new Properties();
    private final long timeoutMs;

    private Scale(String[] args) throws IOException {
        for (int i = 1; i + 1 < args.length; i += 2) opts.put(args[i].replaceFirst("^--", ""), args[i + 1]);
        String config = opts.get("config");
        if (config != null && !config.isEmpty()) {
            try (InputStream in = new FileInputStream(config)) {
                common.load(in);
            }
        }
        common.put("bootstrap.servers", need("bootstrap"));
        timeoutMs = Long.parseLong(opts.getOrDefault("timeout-s", "300")) * 1000;
    }

    public static void main(String[] args) throws Exception {
        if (args.length == 0) throw new IllegalArgumentException("usage: Scale create|fill|ready|metadata|clients --bootstrap B ...");
        Scale s = new Scale(args);
        switch (args[0]) {
            case "create" -> s.create();
            case "fill" -> s.fill();
            case "ready" -> s.ready();
            case "metadata" -> s.metadata();
            case "clients" -> s.clients();
            default -> throw new IllegalArgumentException("unknown step " + args[0]);
        }
        System.exit(0); // consumer threads of a failed close must not keep the JVM up
    }

    private String need(String key) {
        String v = opts.get(key);
        if (v == null) throw new IllegalArgumentException("--" + key + " is needed");
        return v;
    }

    private Admin admin() {
        Properties p = new Properties();
        p.putAll(common);
        p.put(AdminClientConfig.REQUEST_TIMEOUT_MS_CONFIG, "30000");
        p.put(AdminClientConfig.DEFAULT_API_TIMEOUT_MS_CONFIG, "60000");
        return Admin.create(p);
    }

    private void create() throws Exception {
        int n = Integer.parseInt(need("partitions"));
        short rf = Short.parseShort(opts.getOrDefault("rf", "1"));
        List<NewTopic> topics = new ArrayList<>();
        for (int t = 0, left = n; left > 0; t++, left -= TOPIC_PARTITIONS) {
            NewTopic nt = new NewTopic(String.format(Locale.ROOT, PREFIX + "%04d", t), Math.min(left, TOPIC_PARTITIONS), rf);
            if (rf > 1) nt.configs(Map.of("min.insync.replicas", opts.getOrDefault("min-isr", "2")));
            topics.add(nt);
        }
        try (Admin admin = admin()) {
            long t0 = System.nanoTime();
            // In chunks of ten topics (1,000 partitions), as a tool creating many topics would.
            for (int i = 0; i < topics.size(); i += 10) {
                admin.createTopics(topics.subList(i, Math.min(topics.size(), i + 10))).all().get(timeoutMs, TimeUnit.MILLISECONDS);
            }
            print("create_ms", ms(t0));
            Set<String> names = new HashSet<>();
            for (NewTopic t : topics) names.add(t.name());
            await(() -> leaders(admin, names) == n, "every one of " + n + " partitions with a leader");
            print("leaders_ms", ms(t0));
        }
    }

    /** Partitions of the named topics with a leader, or -1 when Metadata cannot be had yet. */
    private int leaders(Admin admin, Collection<String> names) {
        try {
            int with = 0;
            for (TopicDescription d : admin.describeTopics(names).allTopicNames().get(30, TimeUnit.SECONDS).values()) {
                for (TopicPartitionInfo p : d.partitions()) if (p.leader() != null) with++;
            }
            return with;
        } catch (Exception e) {
            return -1;
        }
    }

    private List<String> scaleTopics(Admin admin) throws Exception {
        List<String> names = new ArrayList<>();
        for (String t : admin.listTopics().names().get(60, TimeUnit.SECONDS)) if (t.startsWith(PREFIX)) names.add(t);
        names.sort(null);
        return names;
    }

    private List<TopicPartition> scalePartitions(Admin admin) throws Exception {
        List<TopicPartition> tps = new ArrayList<>();
        for (TopicDescription d : admin.describeTopics(scaleTopics(admin)).allTopicNames().get(60, TimeUnit.SECONDS).values()) {
            for (TopicPartitionInfo p : d.partitions()) tps.add(new TopicPartition(d.name(), p.partition()));
        }
        return tps;
    }

    private void fill() throws Exception {
        int k = Integer.parseInt(need("records"));
        List<TopicPartition> tps;
        try (Admin admin = admin()) {
            tps = scalePartitions(admin);
        }
        Properties p = producerProps();
        p.put(ProducerConfig.LINGER_MS_CONFIG, "5");
        long t0 = System.nanoTime();
        // What a send to a partition just created fails with (Kafka 4.4 once let 17 of 10,000 records expire after
        // the 120 s delivery timeout, never answered) is sent again, at most twice, and counted.
        p.put(ProducerConfig.REQUEST_TIMEOUT_MS_CONFIG, "15000");
        p.put(ProducerConfig.DELIVERY_TIMEOUT_MS_CONFIG, "30000");
        Map<TopicPartition, Integer> todo = new HashMap<>();
        for (TopicPartition tp : tps) todo.put(tp, k);
        long resent = 0;
        try (KafkaProducer<byte[], byte[]> producer = new KafkaProducer<>(p)) {
            byte[] value = new byte[100];
            for (int attempt = 0; attempt < 3 && !todo.isEmpty(); attempt++) {
                Map<TopicPartition, Integer> failed = new ConcurrentHashMap<>();
                for (int i = 0, most = todo.values().stream().mapToInt(Integer::intValue).max().orElse(0); i < most; i++) {
                    for (Map.Entry<TopicPartition, Integer> e : todo.entrySet()) {
                        if (i >= e.getValue()) continue;
                        TopicPartition tp = e.getKey();
                        producer.send(new ProducerRecord<>(tp.topic(), tp.partition(), null, value), (md, err) -> {
                            if (err == null) return;
                            if (failed.isEmpty()) System.err.println("fill: " + tp + ": " + err);
                            failed.merge(tp, 1, Integer::sum);
                        });
                    }
                }
                producer.flush();
                todo = failed;
                if (attempt > 0 || !failed.isEmpty()) resent += failed.values().stream().mapToInt(Integer::intValue).sum();
            }
        }
        print("fill_ms", ms(t0));
        if (resent > 0) print("fill_resent", resent);
        if (!todo.isEmpty()) fail("fill: records to " + todo.size() + " partition(s) failed three times");
    }

    private Properties producerProps() {
        Properties p = new Properties();
        p.putAll(common);
        p.put(ProducerConfig.ACKS_CONFIG, "all");
        p.put(ProducerConfig.KEY_SERIALIZER_CLASS_CONFIG, ByteArraySerializer.class.getName());
        p.put(ProducerConfig.VALUE_SERIALIZER_CLASS_CONFIG, ByteArraySerializer.class.getName());
        return p;
    }

    private void ready() throws Exception {
        long k = Long.parseLong(need("records"));
        long since = Long.parseLong(need("since"));
        long deadline = System.currentTimeMillis() + timeoutMs;
        try (Admin admin = admin()) {
            while (true) {
                if (System.currentTimeMillis() > deadline) fail("the scale partitions were not ready within " + timeoutMs + " ms");
                try {
                    List<TopicPartition> tps = scalePartitions(admin);
                    Map<TopicPartition, OffsetSpec> specs = new HashMap<>();
                    for (TopicPartition tp : tps) specs.put(tp, OffsetSpec.latest());
                    var ends = admin.listOffsets(specs).all().get(60, TimeUnit.SECONDS);
                    if (!tps.isEmpty() && ends.values().stream().allMatch(e -> e.offset() >= k)) break;
                } catch (ExecutionException | java.util.concurrent.TimeoutException e) {
                    // not yet: leaders still being chosen, or the broker still loading
                }
                Thread.sleep(50);
            }
        }
        print("ready_ms", System.currentTimeMillis() - since);
    }

    private void metadata() throws Exception {
        try (Admin admin = admin()) {
            List<String> names = scaleTopics(admin);
            long[] runs = new long[5];
            for (int i = 0; i < runs.length; i++) {
                long t0 = System.nanoTime();
                admin.describeTopics(names).allTopicNames().get(60, TimeUnit.SECONDS);
                runs[i] = ms(t0);
            }
            Arrays.sort(runs);
            print("metadata_ms", runs[runs.length / 2]);
        }
    }

    private void clients() throws Exception {
        int producers = Integer.parseInt(need("producers"));
        int consumers = Integer.parseInt(need("consumers"));
        String protocol = opts.getOrDefault("protocol", "classic");
        long[] pids = Arrays.stream(need("pids").split(",")).mapToLong(Long::parseLong).toArray();
        List<String> topics;
        int total;
        try (Admin admin = admin()) {
            topics = scaleTopics(admin);
            total = scalePartitions(admin).size();
        }
        long rssBefore = rssKb(pids);
        List<KafkaProducer<byte[], byte[]>> open = new ArrayList<>();
        Map<Integer, Set<TopicPartition>> owned = new ConcurrentHashMap<>();
        AtomicBoolean stop = new AtomicBoolean();
        List<Thread> threads = new ArrayList<>();
        Set<Integer> closing = ConcurrentHashMap.newKeySet();
        CountDownLatch closed = new CountDownLatch(1);
        try {
            Properties pp = producerProps();
            pp.put(ProducerConfig.LINGER_MS_CONFIG, "0");
            byte[] value = new byte[100];
            for (int i = 0; i < producers; i++) {
                KafkaProducer<byte[], byte[]> p = new KafkaProducer<>(pp);
                open.add(p);
                p.send(new ProducerRecord<>(topics.get(i % topics.size()), value));
            }
            for (KafkaProducer<byte[], byte[]> p : open) p.flush();
            Properties cp = new Properties();
            cp.putAll(common);
            cp.put(ConsumerConfig.GROUP_ID_CONFIG, "scale-" + protocol + "-" + System.nanoTime());
            cp.put(ConsumerConfig.GROUP_PROTOCOL_CONFIG, protocol);
            cp.put(ConsumerConfig.AUTO_OFFSET_RESET_CONFIG, "earliest");
            cp.put(ConsumerConfig.KEY_DESERIALIZER_CLASS_CONFIG, ByteArrayDeserializer.class.getName());
            cp.put(ConsumerConfig.VALUE_DESERIALIZER_CLASS_CONFIG, ByteArrayDeserializer.class.getName());
            if (protocol.equals("classic")) {
                cp.put(ConsumerConfig.PARTITION_ASSIGNMENT_STRATEGY_CONFIG, "org.apache.kafka.clients.consumer.CooperativeStickyAssignor");
            }
            long t0 = System.nanoTime();
            for (int i = 0; i < consumers; i++) {
                int id = i;
                Thread t = new Thread(() -> {
                    try (KafkaConsumer<byte[], byte[]> c = new KafkaConsumer<>(cp)) {
                        c.subscribe(topics);
                        while (!stop.get() && !closing.contains(id)) {
                            c.poll(Duration.ofMillis(100));
                            owned.put(id, new HashSet<>(c.assignment()));
                        }
                    } catch (Exception e) {
                        if (!stop.get()) System.err.println("consumer " + id + ": " + e);
                    } finally {
                        owned.remove(id);
                        if (closing.contains(id)) closed.countDown();
                    }
                }, "scale-consumer-" + i);
                t.setDaemon(true);
                t.start();
                threads.add(t);
            }
            await(() -> covered(owned, consumers, total), consumers + " consumers owning " + total + " partitions");
            print("rebalance_ms", ms(t0));
            long rssClients = rssKb(pids);
            print("rss_before_KB", rssBefore);
            print("rss_clients_KB", rssClients);
            print("rss_per_connection_KB", (rssClients - rssBefore) / Math.max(1, producers + consumers));
            long t1 = System.nanoTime();
            closing.add(0);
            closed.await(timeoutMs, TimeUnit.MILLISECONDS);
            await(() -> covered(owned, consumers - 1, total), (consumers - 1) + " consumers owning " + total + " partitions");
            print("rebalance_leave_ms", ms(t1));
        } finally {
            stop.set(true);
            for (Thread t : threads) t.join(30_000);
            for (KafkaProducer<byte[], byte[]> p : open) p.close(Duration.ofSeconds(5));
        }
    }

    /** Whether {@code members} consumers own every partition exactly once, each at least one when there are enough. */
    private static boolean covered(Map<Integer, Set<TopicPartition>> owned, int members, int total) {
        if (owned.size() != members) return false;
        int sum = 0;
        Set<TopicPartition> all = new HashSet<>();
        for (Set<TopicPartition> s : owned.values()) {
            if (s.isEmpty() && total >= members) return false;
            sum += s.size();
            all.addAll(s);
        }
        return sum == total && all.size() == total;
    }

    private static long rssKb(long[] pids) throws IOException {
        long kb = 0;
        for (long pid : pids) {
            for (String line : Files.readAllLines(Path.of("/proc/" + pid + "/status"))) {
                if (line.startsWith("VmRSS:")) kb += Long.parseLong(line.replaceAll("\\D", ""));
            }
        }
        return kb;
    }

    private void await(BooleanSupplier done, String what) throws InterruptedException {
        long deadline = System.currentTimeMillis() + timeoutMs;
        while (!done.getAsBoolean()) {
            if (System.currentTimeMillis() > deadline) fail("not within " + timeoutMs + " ms: " + what);
            Thread.sleep(20);
        }
    }

    private static void fail(String why) {
        System.err.println(why);
        System.exit(1);
    }

    private static long ms(long t0) {
        return (System.nanoTime() - t0) / 1_000_000;
    }

    private static void print(String name, long value) {
        System.out.println(name + " " + value);
    }
}
