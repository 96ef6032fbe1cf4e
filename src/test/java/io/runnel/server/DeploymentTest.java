package io.runnel.server;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import io.runnel.config.BrokerConfig;
import io.runnel.testkit.KafkaClients;
import java.io.IOException;
import java.io.OutputStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import java.util.jar.Attributes;
import java.util.jar.JarOutputStream;
import java.util.jar.Manifest;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import java.util.stream.Collectors;
import java.util.stream.IntStream;
import org.apache.kafka.clients.admin.Admin;
import org.apache.kafka.clients.admin.NewTopic;
import org.apache.kafka.clients.producer.KafkaProducer;
import org.apache.kafka.clients.producer.ProducerConfig;
import org.apache.kafka.clients.producer.ProducerRecord;
import org.apache.kafka.common.Node;
import org.apache.kafka.common.TopicPartition;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.yaml.snakeyaml.Yaml;

/**
 * deploy/: the image's entrypoint and preStop hook run for real, and the Kubernetes manifests agree with the broker
 * (every RUNNEL_ variable a valid key, node ids and voters from the ordinals, probes on /health and /ready, a grace
 * period longer than the broker's stop bound), so that they cannot drift from the code. No Kubernetes runs here:
 * what a cluster would do with them is docs/deploy.md's, and discovery itself is ClusterDiscoveryTest's.
 */
class DeploymentTest {
    private static final Path ENTRYPOINT = Path.of("deploy", "bin", "runnel-entrypoint");
    private static final Path PRESTOP = Path.of("deploy", "bin", "runnel-prestop");
    private static final Path MANIFEST = Path.of("deploy", "kubernetes", "runnel.yaml");

    @TempDir
    Path dir;

    @Test
    void theEntrypointTakesTheNodeIdFromTheStatefulSetOrdinal() throws Exception {
        // A stand-in java on the PATH prints what it was given (a fake is enough: the real launch is the next test).
        Path bin = Files.createDirectories(dir.resolve("bin"));
        Path java = bin.resolve("java");
        Files.writeString(java, "#!/bin/sh\necho \"node=${RUNNEL_NODE_ID:-unset} args=$*\"\n");
        java.toFile().setExecutable(true);
        assertThat(entrypoint(bin, Map.of("HOSTNAME", "runnel-2"))).isEqualTo("node=2 args=-Xmx64m -jar app.jar --config b.properties --http.port=1");
        assertThat(entrypoint(bin, Map.of("HOSTNAME", "runnel-0"))).startsWith("node=0 ");
        assertThat(entrypoint(bin, Map.of("HOSTNAME", "my-runnel-12"))).startsWith("node=12 ");
        assertThat(entrypoint(bin, Map.of("HOSTNAME", "broker"))).as("not a StatefulSet pod").startsWith("node=unset ");
        assertThat(entrypoint(bin, Map.of("HOSTNAME", "runnel-2", "RUNNEL_NODE_ID", "7"))).as("set explicitly").startsWith("node=7 ");
    }

    private static String entrypoint(Path fakeBin, Map<String, String> env) throws Exception {
        ProcessBuilder pb = new ProcessBuilder("sh", ENTRYPOINT.toString(), "--http.port=1").redirectErrorStream(true);
        pb.environment().keySet().removeIf(k -> k.startsWith("RUNNEL_"));
        pb.environment().putAll(env);
        pb.environment().put("PATH", fakeBin + ":" + System.getenv("PATH"));
        pb.environment().put("RUNNEL_OPTS", "-Xmx64m");
        pb.environment().put("RUNNEL_JAR", "app.jar");
        pb.environment().put("RUNNEL_CONFIG", "b.properties");
        Process p = pb.start();
        assertThat(p.waitFor(10, TimeUnit.SECONDS)).isTrue();
        return new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8).strip();
    }

    @Test
    void theEntrypointStartsABrokerAndThePreStopHookWaitsForItsOrderlyStop() throws Exception {
        Path log = dir.resolve("broker.log");
        ProcessBuilder pb = new ProcessBuilder("sh", ENTRYPOINT.toString(), "--listeners=PLAINTEXT://127.0.0.1:0", "--http.host=127.0.0.1",
                "--http.port=0", "--log.dirs=" + dir.resolve("data")).redirectErrorStream(true).redirectOutput(log.toFile());
        pb.environment().keySet().removeIf(k -> k.startsWith("RUNNEL_"));
        pb.environment().put("HOSTNAME", "runnel-2");
        pb.environment().put("RUNNEL_JAR", launcherJar().toString());
        pb.environment().put("RUNNEL_CONFIG", Path.of("conf", "broker.properties").toAbsolutePath().toString());
        pb.environment().put("RUNNEL_OPTS", "-Xmx256m");
        Process broker = pb.start();
        try {
            await().atMost(Duration.ofSeconds(60)).until(() -> !broker.isAlive() || Files.readString(log).contains("HTTP listening on"));
            String out = Files.readString(log);
            assertThat(broker.isAlive()).as(out).isTrue();
            Matcher m = Pattern.compile("Kafka listener PLAINTEXT on 127\\.0\\.0\\.1:(\\d+)").matcher(out);
            assertThat(m.find()).as(out).isTrue();
            String bootstrap = "127.0.0.1:" + m.group(1);
            try (Admin admin = KafkaClients.admin(bootstrap)) {
                assertThat(admin.describeCluster().nodes().get(30, TimeUnit.SECONDS)).extracting(Node::id).containsExactly(2);
                admin.createTopics(List.of(new NewTopic("deployed", 1, (short) 1))).all().get(30, TimeUnit.SECONDS);
            }
            try (KafkaProducer<String, String> p = KafkaClients.producer(bootstrap, Map.of(ProducerConfig.ACKS_CONFIG, "all"))) {
                p.send(new ProducerRecord<>("deployed", "k", "v")).get(30, TimeUnit.SECONDS);
            }
            assertThat(KafkaClients.readToEnd(bootstrap, "read_uncommitted", List.of(new TopicPartition("deployed", 0)))).hasSize(1);

            // The preStop hook: SIGTERM to the broker, then it returns only once the broker has ended.
            ProcessBuilder hook = new ProcessBuilder("sh", PRESTOP.toString(), Long.toString(broker.pid())).redirectErrorStream(true);
            hook.environment().put("RUNNEL_STOP_WAIT_S", "60");
            Process stop = hook.start();
            assertThat(stop.waitFor(70, TimeUnit.SECONDS)).isTrue();
            assertThat(stop.exitValue()).as(new String(stop.getInputStream().readAllBytes(), StandardCharsets.UTF_8)).isZero();
            assertThat(broker.waitFor(5, TimeUnit.SECONDS)).as("ended before the hook returned").isTrue();
            assertThat(Files.readString(log)).contains("Broker 2 stopped; every log is flushed");
        } finally {
            broker.destroyForcibly();
            broker.waitFor(30, TimeUnit.SECONDS);
        }
    }

    /**
     * A jar that starts the broker as the image's fat jar does ({@code java -jar}, with its manifest's Add-Opens), on
     * this test's classpath: the fat jar is packaged after the tests run.
     */
    private Path launcherJar() throws IOException {
        Manifest mf = new Manifest();
        Attributes a = mf.getMainAttributes();
        a.put(Attributes.Name.MANIFEST_VERSION, "1.0");
        a.put(Attributes.Name.MAIN_CLASS, Main.class.getName());
        a.put(Attributes.Name.CLASS_PATH, java.util.Arrays.stream(System.getProperty("java.class.path").split(java.io.File.pathSeparator))
                .map(e -> Path.of(e).toUri().toString()).collect(Collectors.joining(" ")));
        String pom = Files.readString(Path.of("pom.xml"));
        Matcher opens = Pattern.compile("<Add-Opens>([^<]+)</Add-Opens>").matcher(pom);
        assertThat(opens.find()).isTrue();
        a.put(new Attributes.Name("Add-Opens"), opens.group(1));
        Path jar = dir.resolve("runnel-launcher.jar");
        try (OutputStream out = Files.newOutputStream(jar); JarOutputStream j = new JarOutputStream(out, mf)) {
            j.flush();
        }
        return jar;
    }

    @Test
    void theKubernetesManifestsAgreeWithTheBroker() throws Exception {
        Map<String, Map<String, Object>> byKind = new HashMap<>();
        List<Map<String, Object>> services = new ArrayList<>();
        for (Object doc : new Yaml().loadAll(Files.readString(MANIFEST))) {
            if (doc == null) continue;
            Map<String, Object> d = map(doc);
            if (d.get("kind").equals("Service")) services.add(d);
            else byKind.put((String) d.get("kind"), d);
        }
        assertThat(byKind).containsKeys("StatefulSet", "PodDisruptionBudget");
        Map<String, Object> sts = byKind.get("StatefulSet");
        Map<String, Object> spec = map(sts.get("spec"));
        int replicas = (Integer) spec.get("replicas");
        assertThat(spec.get("podManagementPolicy")).as("a new cluster waits for a majority: all pods start together").isEqualTo("Parallel");
        Map<String, Object> headless = services.stream().filter(s -> "None".equals(map(s.get("spec")).get("clusterIP"))).findFirst().orElseThrow();
        String headlessName = (String) map(headless.get("metadata")).get("name");
        assertThat(spec.get("serviceName")).isEqualTo(headlessName);
        assertThat(map(headless.get("spec")).get("publishNotReadyAddresses")).as("brokers find each other before they are ready").isEqualTo(true);

        Map<String, Object> pod = map(map(spec.get("template")).get("spec"));
        Map<String, Object> container = map(list(pod.get("containers")).get(0));
        // The environment as Kubernetes expands it for pod 1 of namespace prod, with the entrypoint's node id.
        Map<String, String> fields = Map.of("POD_NAME", "runnel-1", "POD_NAMESPACE", "prod", "POD_IP", "10.0.0.11");
        Map<String, String> env = new HashMap<>(fields);
        for (Object o : list(container.get("env"))) {
            Map<String, Object> e = map(o);
            if (e.get("value") == null) continue;
            String v = (String) e.get("value");
            for (var f : fields.entrySet()) v = v.replace("$(" + f.getKey() + ")", f.getValue());
            env.put((String) e.get("name"), v);
        }
        env.put("RUNNEL_NODE_ID", "1");
        BrokerConfig config = BrokerConfig.load(new String[0], env, null); // every RUNNEL_ variable must be a valid key
        assertThat(config.clustered()).isTrue();
        assertThat(config.quorumVoters()).as("the voters are the first pods' ordinals").isEqualTo(IntStream.range(0, Math.min(replicas, 3)).boxed().toList());
        assertThat(config.get(BrokerConfig.CLUSTER_DISCOVERY)).isEqualTo("kubernetes-dns");
        assertThat(config.get(BrokerConfig.CLUSTER_KUBERNETES_SERVICE_DNS)).isEqualTo(headlessName + ".prod.svc.cluster.local");
        assertThat(config.get(BrokerConfig.ADVERTISED_LISTENERS).get(0).host()).isEqualTo("runnel-1." + headlessName + ".prod.svc.cluster.local");
        assertThat(config.get(BrokerConfig.CLUSTER_HOST)).isEqualTo("10.0.0.11");

        Map<String, Integer> ports = new HashMap<>();
        for (Object o : list(container.get("ports"))) ports.put((String) map(o).get("name"), (Integer) map(o).get("containerPort"));
        assertThat(ports).containsEntry("http", config.httpPort()).containsEntry("kafka", config.listeners().get(0).port())
                .containsEntry("hazelcast", config.get(BrokerConfig.CLUSTER_PORT)).containsEntry("quorum", config.get(BrokerConfig.CLUSTER_QUORUM_PORT));
        for (Map<String, Object> s : services) {
            for (Object o : list(map(s.get("spec")).get("ports"))) assertThat(ports).containsEntry((String) map(o).get("name"), (Integer) map(o).get("port"));
        }
        assertThat(probe(container, "livenessProbe")).isEqualTo("/health");
        assertThat(probe(container, "startupProbe")).isEqualTo("/health");
        assertThat(probe(container, "readinessProbe")).isEqualTo("/ready");

        long graceMs = ((Integer) pod.get("terminationGracePeriodSeconds")) * 1000L;
        assertThat(graceMs).as("the broker's stop (controlled shutdown, then closing) fits the grace period").isGreaterThan(Broker.stopTimeoutMs(config));
        List<Object> preStop = list(map(map(map(container.get("lifecycle")).get("preStop")).get("exec")).get("command"));
        assertThat(preStop).containsExactly("/opt/runnel/bin/runnel-prestop");
        Matcher hookWait = Pattern.compile("RUNNEL_STOP_WAIT_S:-(\\d+)").matcher(Files.readString(PRESTOP));
        assertThat(hookWait.find()).isTrue();
        assertThat(Long.parseLong(hookWait.group(1)) * 1000).isGreaterThan(Broker.stopTimeoutMs(config)).isLessThan(graceMs);

        String mount = (String) map(list(container.get("volumeMounts")).get(0)).get("mountPath");
        assertThat(config.logDir()).isEqualTo(Path.of(mount));
        assertThat(map(map(list(spec.get("volumeClaimTemplates")).get(0)).get("metadata")).get("name"))
                .isEqualTo(map(list(container.get("volumeMounts")).get(0)).get("name"));
        int maxUnavailable = (Integer) map(byKind.get("PodDisruptionBudget").get("spec")).get("maxUnavailable");
        assertThat(maxUnavailable).as("a majority of the voters stays").isLessThanOrEqualTo((config.quorumVoters().size() - 1) / 2);

        // The image the manifests run: its entrypoint and hook are the ones tested above, at the paths used here.
        String dockerfile = Files.readString(Path.of("deploy", "Dockerfile"));
        assertThat(dockerfile).contains("COPY deploy/bin/runnel-entrypoint deploy/bin/runnel-prestop /opt/runnel/bin/")
                .contains("ENTRYPOINT [\"/opt/runnel/bin/runnel-entrypoint\"]").contains("COPY target/runnel.jar /opt/runnel/runnel.jar")
                .contains("RUNNEL_LOG_DIRS=" + mount);
        for (int port : ports.values()) assertThat(dockerfile).containsPattern("EXPOSE .*\\b" + port + "\\b");
        assertThat(Files.readString(ENTRYPOINT)).contains("/opt/runnel/runnel.jar").contains("/opt/runnel/conf/broker.properties");
    }

    @Test
    void theApiDiscoveryManifestGrantsWhatHazelcastReads() throws Exception {
        Map<String, Map<String, Object>> byKind = new HashMap<>();
        for (Object doc : new Yaml().loadAll(Files.readString(Path.of("deploy", "kubernetes", "api-discovery.yaml")))) {
            if (doc != null) byKind.put((String) map(doc).get("kind"), map(doc));
        }
        assertThat(byKind).containsKeys("ServiceAccount", "Role", "RoleBinding");
        List<String> granted = new ArrayList<>();
        for (Object r : list(byKind.get("Role").get("rules"))) {
            for (Object res : list(map(r).get("resources"))) granted.add(res + ":" + map(r).get("verbs"));
        }
        assertThat(granted).contains("endpoints:[get, list]", "endpointslices:[get, list]", "pods:[get, list]");
        BrokerConfig.of(Map.of("cluster.discovery", "kubernetes-api", "cluster.kubernetes.service.name", "runnel-headless", "cluster.quorum.voters", "0,1,2"));
    }

    private static String probe(Map<String, Object> container, String name) {
        return (String) map(map(container.get(name)).get("httpGet")).get("path");
    }

    @SuppressWarnings("unchecked")
    private static Map<String, Object> map(Object o) {
        return (Map<String, Object>) o;
    }

    @SuppressWarnings("unchecked")
    private static List<Object> list(Object o) {
        return (List<Object>) o;
    }
}
