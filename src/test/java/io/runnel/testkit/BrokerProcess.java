package io.runnel.testkit;

import static org.awaitility.Awaitility.await;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * A broker in its own JVM, started from the test classpath (so the suite needs no jar), for what only a process can
 * show: kill -9, SIGTERM, exit codes, two brokers on one directory. Output goes to a file in the working directory.
 * {@link #close} kills the process if it is still running.
 */
public final class BrokerProcess implements AutoCloseable {
    private static final Pattern KAFKA = Pattern.compile("Kafka listener \\S+ on (\\S+:\\d+)");
    private static final Pattern HTTP = Pattern.compile("HTTP listening on http://[^:]+:(\\d+)");
    private final Process process;
    private final Path output;

    private BrokerProcess(Process process, Path output) {
        this.process = process;
        this.output = output;
    }

    /** Starts {@code mainClass} with {@code args} in {@code workDir}; does not wait for it to be ready. */
    public static BrokerProcess launch(Path workDir, String mainClass, String... args) throws IOException {
        return launch(workDir, List.of("-Xmx256m"), mainClass, args);
    }

    /** Starts {@code mainClass} with JVM options {@code jvm} (heap limits, say) and {@code args}. */
    public static BrokerProcess launch(Path workDir, List<String> jvm, String mainClass, String... args) throws IOException {
        return launchWithClasspath(workDir, jvm, System.getProperty("java.class.path"), mainClass, args);
    }

    /** Starts {@code mainClass} of another {@code classpath} (a tool of Kafka's, say) with JVM options {@code jvm} and {@code args}. */
    public static BrokerProcess launchWithClasspath(Path workDir, List<String> jvm, String classpath, String mainClass, String... args) throws IOException {
        List<String> cmd = new ArrayList<>(List.of(Path.of(System.getProperty("java.home"), "bin", "java").toString()));
        cmd.addAll(jvm);
        cmd.addAll(List.of("-cp", classpath, mainClass));
        cmd.addAll(List.of(args));
        Path out = Files.createTempFile(workDir, "broker-", ".out");
        ProcessBuilder pb = new ProcessBuilder(cmd).directory(workDir.toFile()).redirectErrorStream(true).redirectOutput(out.toFile());
        pb.environment().keySet().removeIf(k -> k.startsWith("RUNNEL_"));
        return new BrokerProcess(pb.start(), out);
    }

    /** Starts and waits until the broker logs its HTTP address. */
    public static BrokerProcess start(Path workDir, String mainClass, String... args) throws IOException {
        BrokerProcess p = launch(workDir, mainClass, args);
        p.awaitOutput("HTTP listening on", Duration.ofSeconds(30));
        return p;
    }

    public void awaitOutput(String text, Duration timeout) {
        await().atMost(timeout).pollInterval(Duration.ofMillis(20)).until(() -> {
            if (output().contains(text)) return true;
            if (!process.isAlive()) throw new IllegalStateException("broker exited with " + process.exitValue() + ":\n" + output());
            return false;
        });
    }

    public String output() throws IOException {
        return Files.readString(output, StandardCharsets.UTF_8);
    }

    public List<String> outputLines() throws IOException {
        return Files.readAllLines(output, StandardCharsets.UTF_8);
    }

    /** {@code host:port} of the Kafka listener the broker logged. */
    public String kafkaBootstrap() throws IOException {
        Matcher m = KAFKA.matcher(output());
        if (!m.find()) throw new IllegalStateException("no Kafka listener in output");
        return m.group(1);
    }

    public int httpPort() throws IOException {
        Matcher m = HTTP.matcher(output());
        if (!m.find()) throw new IllegalStateException("no HTTP address in output");
        return Integer.parseInt(m.group(1));
    }

    public boolean isAlive() {
        return process.isAlive();
    }

    public long pid() {
        return process.pid();
    }

    /** SIGKILL: no shutdown hook, no flush. */
    public int kill9() throws InterruptedException {
        process.destroyForcibly();
        return waitForExit();
    }

    /** SIGSTOP: the JVM freezes (a long GC pause, a hung machine); {@link #unpause} resumes it. */
    public void pause() throws IOException, InterruptedException {
        signal("-STOP");
    }

    /** SIGCONT after {@link #pause}. */
    public void unpause() throws IOException, InterruptedException {
        signal("-CONT");
    }

    private void signal(String signal) throws IOException, InterruptedException {
        Process kill = new ProcessBuilder("kill", signal, Long.toString(process.pid())).inheritIO().start();
        if (kill.waitFor() != 0) throw new IllegalStateException("kill " + signal + " " + process.pid() + " failed");
    }

    /** SIGTERM: the broker's shutdown hook runs. */
    public int terminate() throws InterruptedException {
        process.destroy();
        return waitForExit();
    }

    public int waitForExit() throws InterruptedException {
        if (!process.waitFor(60, TimeUnit.SECONDS)) throw new IllegalStateException("broker did not exit");
        return process.exitValue();
    }

    @Override
    public void close() throws Exception {
        if (process.isAlive()) {
            try {
                signal("-CONT"); // a paused JVM is killed all the same, but let it go first
            } catch (RuntimeException | IOException ignored) {
                // it may be gone already
            }
            process.destroyForcibly();
            process.waitFor(30, TimeUnit.SECONDS);
        }
        Files.deleteIfExists(output);
    }
}
