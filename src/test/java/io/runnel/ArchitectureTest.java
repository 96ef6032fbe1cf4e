package io.runnel;

import static com.tngtech.archunit.lang.syntax.ArchRuleDefinition.noClasses;

import com.tngtech.archunit.base.DescribedPredicate;
import com.tngtech.archunit.core.domain.JavaClass;
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
     * The protocol layers see the log's result values (offsets, read bytes, and the file slices the zero-copy fetch
     * sends), never the log itself.
     */
    @ArchTest
    static final ArchRule onlyPartitionReachesTheLog = noClasses().that()
            .resideInAnyPackage("io.runnel.kafka..", "io.runnel.http..", "io.runnel.group..")
            .should().dependOnClassesThat(JavaClass.Predicates.resideInAPackage("io.runnel.log..")
                    .and(DescribedPredicate.not(JavaClass.Predicates.simpleNameEndingWith("Result")
                            .or(JavaClass.Predicates.simpleName("AppendInfo")).or(JavaClass.Predicates.simpleName("TimestampOffset"))
                            .or(JavaClass.Predicates.simpleName("EpochEnd")).or(JavaClass.Predicates.simpleName("LogSlice")))));

    @ArchTest
    static final ArchRule onlyClusterImportsHazelcast = noClasses().that().resideOutsideOfPackage("io.runnel.cluster..")
            .should().dependOnClassesThat().resideInAPackage("com.hazelcast..");

    @ArchTest
    static final ArchRule onlyServerWiresThingsTogether = noClasses().that().resideOutsideOfPackage("io.runnel.server..")
            .should().dependOnClassesThat().resideInAPackage("io.runnel.server..");
}
