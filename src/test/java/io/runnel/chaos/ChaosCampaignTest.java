package io.runnel.chaos;

import static org.assertj.core.api.Assertions.assertThat;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The fault campaign of {@code scripts/chaos} in the suite: three brokers in network namespaces under the full load,
 * every fault once in a fixed order, each held 12 s (longer than Hazelcast's 10 s failure detection, so that
 * isolations and splits end in elections), then the checker's verdict. Followers leave the ISR after 5 s
 * ({@code replica.lag.time.max.ms}) so that ISR shrinks and expands happen within each fault. The brokers run with
 * their defaults otherwise: the CP metadata quorum, as three brokers do. Needs root and iproute2, as
 * {@code .ci/run} has (and Debian's faketime for the clock fault, which .ci/run installs).
 */
class ChaosCampaignTest {
    @TempDir
    Path dir;

    @Test
    void everyFaultOnceLosesNothingAcknowledgedAndBreaksNoPromise() throws Exception {
        assumeTrue(Files.isExecutable(Path.of("/usr/sbin/ip")), "needs iproute2 for network namespaces");
        try (Netns probe = Netns.create(1)) {
            assumeTrue(probe.size() == 1);
        } catch (java.io.IOException e) {
            assumeTrue(false, "cannot make network namespaces here (root with CAP_NET_ADMIN is needed): " + e.getMessage());
        }
        List<Fault> faults = new ArrayList<>(List.of(Fault.values()));
        if (!ChaosCluster.clockSkewAvailable()) faults.remove(Fault.CLOCK_SKEW);
        ChaosMain.Options o = new ChaosMain.Options();
        o.seed = 20261202L;
        o.faults = faults;
        o.sequence = true;
        o.durationSeconds = 600; // the sequence ends the injection, not the clock
        o.faultMinSeconds = 12;
        o.faultMaxSeconds = 12;
        o.brokerArgs.add("--replica.lag.time.max.ms=5000");
        // No metadata settings: three brokers run their own metadata quorum by default, which is what this checks.
        // (In oldest-member mode, cluster.cp.member.count=0, this very sequence once showed two brokers acting as
        // controller in one epoch: the split brain docs/cluster.md describes for that mode.)
        o.calmMinSeconds = 3;
        o.calmMaxSeconds = 3;
        o.overlap = 0;
        o.ratePerProducer = 50;
        o.diskBytes = 128L << 20;
        o.recoverySeconds = 60; // the wait for a whole cluster between faults, and for the consumers at the end
        o.root = dir.resolve("run");

        ByteArrayOutputStream report = new ByteArrayOutputStream();
        ChaosMain.Result r;
        try (PrintStream out = new PrintStream(report, true, StandardCharsets.UTF_8)) {
            r = ChaosMain.run(o, new PrintStream(new TeeStream(out, System.out), true, StandardCharsets.UTF_8));
        }
        String text = report.toString(StandardCharsets.UTF_8);
        assertThat(r.faultLines()).as("one line per fault:\n" + text).hasSize(faults.size());
        assertThat(r.recovered()).as("recovered:\n" + text).isTrue();
        // Safety is asserted; the time to be whole again is reported, not asserted: after some faults the CP quorum
        // does not come back (a group whose member merged back elects no leader; docs/chaos.md), which is open work.
        assertThat(r.checks()).as(text).allMatch(Checker.Check::passed);
        assertThat(Netns.run(List.of("ip", "netns", "list"))).as("namespaces removed").doesNotContain("rnc" + ProcessHandle.current().pid());
    }

    /** Writes to two streams: the report is asserted on and also shown in the test's output. */
    private static final class TeeStream extends java.io.OutputStream {
        private final java.io.OutputStream a;
        private final java.io.OutputStream b;

        TeeStream(java.io.OutputStream a, java.io.OutputStream b) {
            this.a = a;
            this.b = b;
        }

        @Override
        public void write(int x) throws java.io.IOException {
            a.write(x);
            b.write(x);
        }

        @Override
        public void write(byte[] buf, int off, int len) throws java.io.IOException {
            a.write(buf, off, len);
            b.write(buf, off, len);
        }
    }
}
