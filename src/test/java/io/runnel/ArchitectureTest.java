package io.runnel;

import static com.tngtech.archunit.lang.syntax.ArchRuleDefinition.noClasses;

import com.tngtech.archunit.core.importer.ImportOption;
import com.tngtech.archunit.junit.AnalyzeClasses;
import com.tngtech.archunit.junit.ArchTest;
import com.tngtech.archunit.lang.ArchRule;

/** The package rules of ARCHITECTURE.md, kept true by the build. */
@AnalyzeClasses(packages = "io.runnel", importOptions = ImportOption.DoNotIncludeTests.class)
class ArchitectureTest {
    @ArchTest
    static final ArchRule logIsPlainJava = noClasses().that().resideInAPackage("io.runnel.log..")
            .should().dependOnClassesThat().resideInAnyPackage("io.vertx..", "com.hazelcast..", "io.netty..", "java.net..",
                    "org.apache.kafka.common.network..", "org.apache.kafka.common.requests..");

    /**
     * The protocol layers see the log's value types (offsets, read bytes, the file slices the zero-copy fetch sends),
     * never the log itself: they reach it through {@code partition.PartitionHandle}.
     */
    @ArchTest
    static final ArchRule onlyPartitionReachesTheLog = noClasses().that().resideInAnyPackage("io.runnel.kafka..", "io.runnel.http..", "io.runnel.group..", "io.runnel.transaction..")
            .should().dependOnClassesThat().resideInAPackage("io.runnel.log")
            .because("kafka, http and group may use io.runnel.log.value only");

    /** The value types stand alone, so that using them brings none of the log along. */
    @ArchTest
    static final ArchRule logValuesAreALeaf = noClasses().that().resideInAPackage("io.runnel.log.value..")
            .should().dependOnClassesThat().resideInAnyPackage("io.runnel.log", "io.runnel.config..", "io.runnel.partition..");

    /** A partition knows nothing of who drives it: the cluster, the protocols. */
    @ArchTest
    static final ArchRule partitionImportsNeitherClusterNorProtocols = noClasses().that().resideInAPackage("io.runnel.partition..")
            .should().dependOnClassesThat().resideInAnyPackage("io.runnel.cluster..", "io.runnel.kafka..", "io.runnel.http..");

    /** The group coordinator is protocol-neutral (Kafka and WebSocket clients share it) and cluster-neutral. */
    @ArchTest
    static final ArchRule groupImportsNeitherKafkaNorCluster = noClasses().that().resideInAPackage("io.runnel.group..")
            .should().dependOnClassesThat().resideInAnyPackage("io.runnel.kafka..", "io.runnel.cluster..", "io.runnel.http..");

    /** Share groups' delivery state is protocol-neutral (Kafka share consumers and WebSocket workers share it). */
    @ArchTest
    static final ArchRule shareImportsNeitherKafkaNorCluster = noClasses().that().resideInAPackage("io.runnel.share..")
            .should().dependOnClassesThat().resideInAnyPackage("io.runnel.kafka..", "io.runnel.cluster..", "io.runnel.http..");

    @ArchTest
    static final ArchRule transactionImportsNeitherKafkaNorCluster = noClasses().that().resideInAPackage("io.runnel.transaction..")
            .should().dependOnClassesThat().resideInAnyPackage("io.runnel.kafka..", "io.runnel.cluster..", "io.runnel.http..", "io.runnel.group..");

    /** Security is shared by the Kafka and HTTP endpoints and reaches the cluster only through SharedDocuments. */
    @ArchTest
    static final ArchRule securityImportsNoEndpointNorCluster = noClasses().that().resideInAPackage("io.runnel.security..")
            .should().dependOnClassesThat().resideInAnyPackage("io.runnel.kafka..", "io.runnel.http..", "io.runnel.cluster..",
                    "io.runnel.partition..", "io.runnel.group..", "io.runnel.transaction..");

    @ArchTest
    static final ArchRule onlyClusterImportsHazelcast = noClasses().that().resideOutsideOfPackage("io.runnel.cluster..")
            .should().dependOnClassesThat().resideInAPackage("com.hazelcast..");

    @ArchTest
    static final ArchRule onlyServerWiresThingsTogether = noClasses().that().resideOutsideOfPackage("io.runnel.server..")
            .should().dependOnClassesThat().resideInAPackage("io.runnel.server..");

    /**
     * The Kafka protocol's framing is shared by the broker's connections (kafka) and its connections to other brokers
     * (cluster), which kafka also uses: it depends on neither, so no cycle goes through it.
     */
    @ArchTest
    static final ArchRule kafkaWireIsALeaf = noClasses().that().resideInAPackage("io.runnel.kafka.wire..")
            .should().dependOnClassesThat().resideInAnyPackage("io.runnel.kafka", "io.runnel.kafka.handlers..", "io.runnel.cluster..",
                    "io.runnel.http..", "io.runnel.partition..", "io.runnel.security..", "io.runnel.server..");

    /**
     * The metadata quorum (Raft node, store, transport) knows nothing of brokers: the cluster package wires it to the
     * registry, the controller and security, so that it can be tested and simulated alone.
     */
    @ArchTest
    static final ArchRule quorumIsALeafOfTheCluster = noClasses().that().resideInAPackage("io.runnel.quorum..")
            .should().dependOnClassesThat().resideInAnyPackage("io.runnel.cluster..", "io.runnel.kafka..", "io.runnel.http..",
                    "io.runnel.security..", "io.runnel.partition..", "io.runnel.group..", "io.runnel.transaction..");
}
