package io.runnel.bench;

import java.util.Arrays;
import java.util.Collection;
import java.util.HashMap;
import java.util.Map;
import org.openjdk.jmh.results.RunResult;
import org.openjdk.jmh.runner.Runner;
import org.openjdk.jmh.runner.options.ChainedOptionsBuilder;
import org.openjdk.jmh.runner.options.OptionsBuilder;
import org.openjdk.jmh.runner.options.TimeValue;

/**
 * Runs {@link LogBenchmark} and prints each figure in MB/s with its ratio to the page-cache baseline measured in the
 * same run. Targets (issue: the foundation): append of 1 MiB batches at 80% or more of page-cache write bandwidth,
 * reads at 80% or more of page-cache read bandwidth. Arguments: {@code --quick} for one short iteration each.
 */
public final class LogBench {
    private LogBench() {
    }

    public static void main(String[] args) throws Exception {
        boolean quick = Arrays.asList(args).contains("--quick");
        ChainedOptionsBuilder opts = new OptionsBuilder()
                .include(LogBenchmark.class.getName())
                .forks(1)
                .jvmArgs("-Xmx2g", "-XX:+UseParallelGC")
                .warmupIterations(quick ? 1 : 3).warmupTime(TimeValue.seconds(quick ? 1 : 2))
                .measurementIterations(quick ? 1 : 5).measurementTime(TimeValue.seconds(quick ? 1 : 2));
        Collection<RunResult> results = new Runner(opts.build()).run();
        Map<String, Double> mbPerSec = new HashMap<>();
        Map<String, Double> error = new HashMap<>();
        for (RunResult r : results) {
            String method = r.getParams().getBenchmark().replaceAll(".*\\.", "");
            int batchBytes = Integer.parseInt(r.getParams().getParam("batchBytes"));
            double bytes = LogBenchmark.batchOf(batchBytes).remaining();
            String key = method + "/" + batchBytes;
            mbPerSec.put(key, r.getPrimaryResult().getScore() * bytes / 1e6);
            error.put(key, r.getPrimaryResult().getScoreError() * bytes / 1e6);
        }
        System.out.println();
        System.out.printf("%-10s %-8s %12s %12s %16s %8s%n", "operation", "batch", "Runnel MB/s", "(± error)", "page cache MB/s", "ratio");
        for (String batch : new String[] {"16384", "1048576"}) {
            row("append", batch, mbPerSec.get("appendBatch/" + batch), error.get("appendBatch/" + batch), mbPerSec.get("pageCacheWrite/" + batch));
            row("read", batch, mbPerSec.get("readBatch/" + batch), error.get("readBatch/" + batch), mbPerSec.get("pageCacheRead/" + batch));
        }
        System.out.println("Targets: append of 1 MiB batches >= 0.80 of page-cache write; reads >= 0.80 of page-cache read.");
    }

    private static void row(String op, String batch, Double runnel, Double err, Double baseline) {
        if (runnel == null || baseline == null) return;
        System.out.printf("%-10s %-8s %12.0f %12.0f %16.0f %8.2f%n", op, batch.equals("16384") ? "16 KiB" : "1 MiB", runnel, err, baseline, runnel / baseline);
    }
}
