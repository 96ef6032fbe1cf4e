package io.runnel.config;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.lang.reflect.Field;
import java.lang.reflect.Modifier;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** The launch contract: defaults, file, --config, --KEY=VALUE, RUNNEL_KEY, and one clear line for every mistake. */
class BrokerConfigTest {
    @TempDir
    Path tmp;

    private static final String[] NO_ARGS = {};

    @Test
    void defaultsAreKafkas() {
        BrokerConfig c = BrokerConfig.defaults();
        assertThat(c.listeners()).containsExactly(new Listener("PLAINTEXT", "0.0.0.0", 9092));
        assertThat(c.logDir()).isEqualTo(Path.of("./data"));
        assertThat(c.get(BrokerConfig.AUTO_CREATE_TOPICS_ENABLE)).isTrue();
        assertThat(c.get(BrokerConfig.LOG_SEGMENT_BYTES)).isEqualTo(1 << 30);
        assertThat(c.retentionMs()).isEqualTo(168 * 3_600_000L);
        assertThat(c.rollMs()).isEqualTo(168 * 3_600_000L);
        assertThat(c.flushIntervalMs()).isEqualTo(Long.MAX_VALUE);
        assertThat(c.get(BrokerConfig.MESSAGE_MAX_BYTES)).isEqualTo(1_048_588);
        assertThat(c.httpPort()).isEqualTo(8080);
    }

    @Test
    void precedenceIsCommandLineThenEnvironmentThenFileThenDefaults() throws Exception {
        Path file = tmp.resolve("b.properties");
        Files.writeString(file, "num.partitions=3\nlog.segment.bytes=1000\nhttp.port=9000\n");
        BrokerConfig c = BrokerConfig.load(new String[] {"--http.port=9002"},
                Map.of("RUNNEL_LOG_SEGMENT_BYTES", "2000", "RUNNEL_HTTP_PORT", "9001", "PATH", "/bin"), file);
        assertThat(c.get(BrokerConfig.NUM_PARTITIONS)).isEqualTo(3);
        assertThat(c.get(BrokerConfig.LOG_SEGMENT_BYTES)).isEqualTo(2000);
        assertThat(c.httpPort()).isEqualTo(9002);
        assertThat(c.origin(BrokerConfig.HTTP_PORT)).isEqualTo("command line");
        assertThat(c.origin(BrokerConfig.LOG_SEGMENT_BYTES)).isEqualTo("environment");
        assertThat(c.origin(BrokerConfig.NUM_PARTITIONS)).isEqualTo(file.toString());
    }

    @Test
    void configFileReplacesTheDefaultFile() throws Exception {
        Path def = tmp.resolve("default.properties");
        Files.writeString(def, "num.partitions=3\n");
        Path other = tmp.resolve("other.properties");
        Files.writeString(other, "log.dirs=/var/runnel\n");
        BrokerConfig c = BrokerConfig.load(new String[] {"--config", other.toString()}, Map.of(), def);
        assertThat(c.get(BrokerConfig.NUM_PARTITIONS)).isEqualTo(1);
        assertThat(c.logDir()).isEqualTo(Path.of("/var/runnel"));
        assertThat(BrokerConfig.load(new String[] {"--config=" + other}, Map.of(), def).logDir()).isEqualTo(Path.of("/var/runnel"));
    }

    @Test
    void badValuesNameTheKeyTheSourceAndWhatIsAllowed() {
        assertThatThrownBy(() -> BrokerConfig.load(new String[] {"--log.segment.bytes=abc"}, Map.of(), null))
                .isInstanceOf(ConfigException.class)
                .hasMessage("Invalid value 'abc' for configuration key 'log.segment.bytes' (from command line): must be an integer >= 14.");
        assertThatThrownBy(() -> BrokerConfig.load(NO_ARGS, Map.of("RUNNEL_HTTP_PORT", "70000"), null))
                .hasMessage("Invalid value '70000' for configuration key 'http.port' (from environment): must be an integer between 0 and 65535.");
        assertThatThrownBy(() -> BrokerConfig.of(Map.of("auto.create.topics.enable", "yes")))
                .hasMessageContaining("'auto.create.topics.enable'").hasMessageContaining("true or false");
        assertThatThrownBy(() -> BrokerConfig.of(Map.of("listeners", "PLAINTEXT://localhost")))
                .hasMessageContaining("'listeners'").hasMessageContaining("NAME://host:port");
        assertThatThrownBy(() -> BrokerConfig.of(Map.of("log.dirs", "/a,/b")))
                .hasMessageContaining("'log.dirs'").hasMessageContaining("one directory");
        assertThatThrownBy(() -> BrokerConfig.of(Map.of("log.message.timestamp.type", "Now")))
                .hasMessageContaining("one of");
    }

    @Test
    void theMetadataQuorumsVotersAreCheckedAndReplaceTheCpSubsystem() {
        Map<String, String> members = Map.of("cluster.members", "127.0.0.1:5701,127.0.0.1:5702,127.0.0.1:5703");
        BrokerConfig c = BrokerConfig.of(with(members, "cluster.quorum.voters", "3, 1,2"));
        assertThat(c.quorumVoters()).containsExactly(1, 2, 3);
        assertThat(c.cpMemberCount()).as("no CP subsystem beside the quorum").isZero();
        assertThat(c.quorumMode()).isTrue();
        assertThat(BrokerConfig.of(members).quorumMode()).as("unset with three members: the quorum, voters chosen by the cluster").isTrue();
        assertThat(BrokerConfig.of(members).quorumVoters()).isEmpty();
        assertThat(BrokerConfig.of(members).cpMemberCount()).isZero();
        assertThat(BrokerConfig.of(with(members, "cluster.cp.member.count", "3")).quorumMode()).as("the CP subsystem on request").isFalse();
        assertThat(BrokerConfig.of(with(members, "cluster.cp.member.count", "3")).cpMemberCount()).isEqualTo(3);
        assertThat(BrokerConfig.of(with(members, "cluster.cp.member.count", "0")).quorumMode()).as("oldest member on request").isFalse();
        assertThat(BrokerConfig.of(Map.of("cluster.members", "127.0.0.1:5701,127.0.0.1:5702")).quorumMode()).as("two brokers").isFalse();
        assertThatThrownBy(() -> BrokerConfig.of(with(members, "cluster.quorum.voters", "1,2"))).hasMessageContaining("3, 5 or 7");
        assertThatThrownBy(() -> BrokerConfig.of(with(members, "cluster.quorum.voters", "1,1,2"))).hasMessageContaining("different");
        assertThatThrownBy(() -> BrokerConfig.of(Map.of("cluster.quorum.voters", "1,2,3"))).hasMessageContaining("a cluster to vote in");
        Map<String, String> both = new java.util.HashMap<>(with(members, "cluster.quorum.voters", "1,2,3"));
        both.put("cluster.cp.member.count", "3");
        assertThatThrownBy(() -> BrokerConfig.of(both)).hasMessageContaining("cluster.cp.member.count");
    }

    @Test
    void discoveryOtherThanMembersJoinsAClusterAndNeedsTheVoters() {
        assertThat(BrokerConfig.defaults().clustered()).as("no members: a single broker").isFalse();
        assertThat(BrokerConfig.of(Map.of("cluster.members", "127.0.0.1")).clustered()).isTrue();
        Map<String, String> multicast = Map.of("cluster.discovery", "multicast", "cluster.quorum.voters", "0,1,2");
        BrokerConfig m = BrokerConfig.of(multicast);
        assertThat(m.clustered()).isTrue();
        assertThat(m.quorumMode()).isTrue();
        assertThat(m.quorumVoters()).containsExactly(0, 1, 2);
        assertThat(m.get(BrokerConfig.CLUSTER_MULTICAST_GROUP)).isEqualTo("224.2.2.3");
        assertThatThrownBy(() -> BrokerConfig.of(Map.of("cluster.discovery", "multicast")))
                .as("the size of a discovered cluster is unknown: no safe automatic choice of voters").hasMessageContaining("cluster.quorum.voters");
        assertThat(BrokerConfig.of(Map.of("cluster.discovery", "multicast", "cluster.cp.member.count", "0")).quorumMode())
                .as("the deprecated oldest-member mode on request").isFalse();
        assertThatThrownBy(() -> BrokerConfig.of(with(multicast, "cluster.members", "127.0.0.1"))).hasMessageContaining("leave it unset");
        assertThatThrownBy(() -> BrokerConfig.of(with(multicast, "cluster.multicast.group", "10.0.0.1"))).hasMessageContaining("multicast address");
        assertThatThrownBy(() -> BrokerConfig.of(with(multicast, "cluster.multicast.group", "239.1.300.1"))).hasMessageContaining("cluster.multicast.group");
        assertThatThrownBy(() -> BrokerConfig.of(with(multicast, "cluster.discovery", "kubernetes-dns")))
                .hasMessageContaining("cluster.kubernetes.service.dns");
        assertThatThrownBy(() -> BrokerConfig.of(with(multicast, "cluster.kubernetes.service.dns", "runnel.default.svc")))
                .hasMessageContaining("kubernetes-dns only");
        assertThatThrownBy(() -> BrokerConfig.of(with(multicast, "cluster.kubernetes.service.name", "runnel")))
                .hasMessageContaining("kubernetes-api only");
        assertThatThrownBy(() -> BrokerConfig.of(Map.of("cluster.discovery", "gossip"))).hasMessageContaining("one of");
        assertThat(BrokerConfig.of(with(with(multicast, "cluster.discovery", "kubernetes-dns"), "cluster.kubernetes.service.dns",
                "runnel-headless.default.svc.cluster.local")).clustered()).isTrue();
    }

    private static Map<String, String> with(Map<String, String> base, String key, String value) {
        Map<String, String> out = new java.util.HashMap<>(base);
        out.put(key, value);
        return out;
    }

    @Test
    void unknownKeysAreRefusedFromEverySource() throws Exception {
        assertThatThrownBy(() -> BrokerConfig.load(new String[] {"--log.segment.byte=1"}, Map.of(), null))
                .isInstanceOf(ConfigException.class).hasMessageContaining("Unknown configuration key 'log.segment.byte' (from command line)");
        assertThatThrownBy(() -> BrokerConfig.load(NO_ARGS, Map.of("RUNNEL_NOPE", "1"), null))
                .hasMessageContaining("'RUNNEL_NOPE'");
        Path file = tmp.resolve("bad.properties");
        Files.writeString(file, "nope=1\n");
        assertThatThrownBy(() -> BrokerConfig.load(new String[] {"--config", file.toString()}, Map.of(), null))
                .hasMessageContaining("'nope'").hasMessageContaining(file.toString());
        assertThatThrownBy(() -> BrokerConfig.load(new String[] {"--config", tmp.resolve("missing").toString()}, Map.of(), null))
                .hasMessageContaining("does not exist");
        assertThatThrownBy(() -> BrokerConfig.load(new String[] {"positional"}, Map.of(), null))
                .hasMessageContaining("usage");
        // RUNNEL_OPTS carries JVM flags for scripts/runnel and is not a key.
        assertThat(BrokerConfig.load(NO_ARGS, Map.of("RUNNEL_OPTS", "-Xmx1g"), null).httpPort()).isEqualTo(8080);
        // So do the container image's script variables (deploy/bin), which a pod's environment passes on.
        assertThat(BrokerConfig.load(NO_ARGS, Map.of("RUNNEL_JAR", "/x.jar", "RUNNEL_CONFIG", "/b.properties", "RUNNEL_STOP_WAIT_S", "60"), null)
                .httpPort()).isEqualTo(8080);
    }

    @Test
    void retentionAndRollFollowKafkasPrecedence() {
        assertThat(BrokerConfig.of(Map.of("log.retention.hours", "1")).retentionMs()).isEqualTo(3_600_000L);
        assertThat(BrokerConfig.of(Map.of("log.retention.hours", "1", "log.retention.minutes", "2")).retentionMs()).isEqualTo(120_000L);
        assertThat(BrokerConfig.of(Map.of("log.retention.minutes", "2", "log.retention.ms", "5")).retentionMs()).isEqualTo(5L);
        assertThat(BrokerConfig.of(Map.of("log.retention.ms", "-1")).retentionMs()).isEqualTo(-1L);
        assertThat(BrokerConfig.of(Map.of("log.roll.hours", "2")).rollMs()).isEqualTo(7_200_000L);
        assertThat(BrokerConfig.of(Map.of("log.roll.ms", "10")).rollMs()).isEqualTo(10L);
    }

    @Test
    void topicConfigOverridesTheBrokerDefaultsAndRefusesWhatItDoesNotHonour() {
        BrokerConfig broker = BrokerConfig.of(Map.of("log.segment.bytes", "5000", "log.retention.ms", "60000"));
        TopicConfig t = TopicConfig.of(broker, Map.of("retention.ms", "1000"));
        assertThat(t.logConfig().retentionMs()).isEqualTo(1000);
        assertThat(t.logConfig().segmentBytes()).isEqualTo(5000);
        assertThatThrownBy(() -> TopicConfig.of(broker, Map.of("segment.bytes", "x"))).hasMessageContaining("'segment.bytes'");
        assertThatThrownBy(() -> TopicConfig.of(broker, Map.of("compression.typo", "x"))).hasMessageContaining("'compression.typo'");
    }

    /** A key declared and not listed in KEYS is unknown to every source and has no default (it read as null). */
    @Test
    void everyDeclaredKeyIsListedAndHasAValue() throws Exception {
        BrokerConfig defaults = BrokerConfig.defaults();
        for (Field f : BrokerConfig.class.getFields()) {
            if (!ConfigKey.class.isAssignableFrom(f.getType()) || !Modifier.isStatic(f.getModifiers())) continue;
            ConfigKey<?> k = (ConfigKey<?>) f.get(null);
            assertThat(BrokerConfig.KEYS).as("BrokerConfig.KEYS lists %s", f.getName()).contains(k);
            if (k.defaultValue() != null) assertThat(defaults.get(k)).as("the default of %s", k.name()).isNotNull();
        }
    }

    @Test
    void confBrokerPropertiesDocumentsEveryKeyCommentedOutWithItsDefault() throws Exception {
        List<String> lines = Files.readAllLines(Path.of("conf", "broker.properties"));
        for (ConfigKey<?> k : BrokerConfig.KEYS) {
            String expected = "#" + k.name() + "=" + (k.defaultValue() == null ? "" : k.defaultValue());
            assertThat(lines).as("conf/broker.properties documents %s", k.name()).contains(expected);
        }
        // With every line commented out, the file changes nothing.
        BrokerConfig fromFile = BrokerConfig.load(NO_ARGS, Map.of(), Path.of("conf", "broker.properties"));
        assertThat(fromFile.values()).isEqualTo(BrokerConfig.defaults().values());
    }

    @Test
    void listenersTakeKafkasProtocolsNamesAndPerListenerKeys() {
        BrokerConfig c = BrokerConfig.of(Map.of("listeners", "CLIENT://127.0.0.1:9093,INTERNAL://127.0.0.1:9094",
                "listener.security.protocol.map", "CLIENT:SASL_SSL,INTERNAL:SASL_PLAINTEXT", "inter.broker.listener.name", "INTERNAL",
                "ssl.keystore.location", "/k.p12", "listener.name.client.ssl.client.auth", "required",
                "listener.name.internal.plain.sasl.jaas.config", "org.apache.kafka.common.security.plain.PlainLoginModule required;"));
        assertThat(c.protocolOf("CLIENT")).isEqualTo(org.apache.kafka.common.security.auth.SecurityProtocol.SASL_SSL);
        assertThat(c.interBrokerListener()).isEqualTo("INTERNAL");
        assertThat(c.forListener("CLIENT", SecurityKeys.SSL_CLIENT_AUTH)).isEqualTo("required");
        assertThat(c.forListener("INTERNAL", SecurityKeys.SSL_CLIENT_AUTH)).isEqualTo("none");
        assertThat(c.forMechanism("INTERNAL", "PLAIN", SecurityKeys.SASL_JAAS_CONFIG).value()).contains("PlainLoginModule");
        assertThat(c.forMechanism("CLIENT", "PLAIN", SecurityKeys.SASL_JAAS_CONFIG)).isNull();
        // Passwords print as [hidden].
        assertThat(BrokerConfig.of(Map.of("ssl.keystore.password", "s3cret")).toString()).doesNotContain("s3cret");

        assertThat(BrokerConfig.of(Map.of("listeners", "PLAINTEXT://127.0.0.1:9092,SASL_PLAINTEXT://127.0.0.1:9093",
                "security.inter.broker.protocol", "SASL_PLAINTEXT")).interBrokerListener()).isEqualTo("SASL_PLAINTEXT");
        assertThatThrownBy(() -> BrokerConfig.of(Map.of("security.inter.broker.protocol", "SSL")))
                .hasMessageContaining("no listener has that protocol");
        assertThatThrownBy(() -> BrokerConfig.of(Map.of("listeners", "CLIENT://127.0.0.1:9093")))
                .hasMessageContaining("Listener CLIENT has no security protocol");
        assertThatThrownBy(() -> BrokerConfig.of(Map.of("listeners", "SSL://127.0.0.1:9093")))
                .hasMessageContaining("Listener SSL is SSL but has no key store");
        assertThatThrownBy(() -> BrokerConfig.of(Map.of("inter.broker.listener.name", "OTHER")))
                .hasMessageContaining("inter.broker.listener.name is OTHER");
        assertThatThrownBy(() -> BrokerConfig.of(Map.of("listener.name.other.ssl.client.auth", "required")))
                .hasMessageContaining("names listener OTHER");
        assertThatThrownBy(() -> BrokerConfig.of(Map.of("listener.name.plaintext.ssl.client.auth", "always")))
                .hasMessageContaining("'listener.name.plaintext.ssl.client.auth'").hasMessageContaining("one of none, requested, required");
        assertThatThrownBy(() -> BrokerConfig.of(Map.of("listener.name.plaintext.no.such.key", "x")))
                .hasMessageContaining("Unknown configuration key 'listener.name.plaintext.no.such.key'");
        assertThatThrownBy(() -> BrokerConfig.of(Map.of("authorizer.class.name", "com.example.MyAuthorizer")))
                .hasMessageContaining("'authorizer.class.name'");
    }
}
