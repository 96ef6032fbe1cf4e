package io.runnel.server;

import io.runnel.config.BrokerConfig;
import io.runnel.config.ConfigException;
import io.runnel.config.ConfigKey;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;
import org.apache.kafka.common.utils.Time;

/**
 * The fat jar's entry point: {@code java -jar runnel.jar [--config FILE] [--KEY=VALUE ...]}. Exit codes: 0 after a
 * clean stop, 1 when the broker could not start, 2 for a configuration error (one line on stderr).
 */
public final class Main {
    /** Where the defaults come from when no --config is given, relative to the working directory. */
    static final Path DEFAULT_CONFIG = Path.of("conf", "broker.properties");

    private Main() {
    }

    public static void main(String[] args) {
        if (Arrays.asList(args).contains("--help") || Arrays.asList(args).contains("-h")) {
            printHelp();
            return;
        }
        launch(args);
    }

    /**
     * Loads the configuration, starts the broker and registers the SIGTERM hook that stops it; exits the process
     * with code 2 (configuration) or 1 (start-up) on failure.
     */
    public static Broker launch(String[] args) {
        BrokerConfig config;
        try {
            config = BrokerConfig.load(args, System.getenv(), DEFAULT_CONFIG);
        } catch (ConfigException e) {
            System.err.println("runnel: " + e.getMessage());
            System.exit(2);
            return null;
        }
        Broker broker;
        try {
            broker = Broker.start(config, Time.SYSTEM).toCompletionStage().toCompletableFuture().get();
        } catch (ExecutionException e) {
            System.err.println("runnel: cannot start: " + e.getCause().getMessage());
            System.exit(1);
            return null;
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            System.exit(1);
            return null;
        }
        Runtime.getRuntime().addShutdownHook(new Thread(() -> {
            try {
                broker.stop().get(broker.stopTimeoutMs(), TimeUnit.MILLISECONDS);
            } catch (Exception e) {
                System.err.println("runnel: shutdown did not complete: " + e);
            }
        }, "runnel-shutdown"));
        return broker;
    }

    private static void printHelp() {
        System.out.println("Usage: java -jar runnel.jar [--config FILE] [--KEY=VALUE ...]");
        System.out.println("Each key can also be set with the environment variable RUNNEL_KEY (dots to underscores, upper case).");
        System.out.println("Precedence: command line > environment > --config FILE (or conf/broker.properties) > defaults.");
        System.out.println();
        for (ConfigKey<?> k : BrokerConfig.KEYS) {
            System.out.printf("  %-34s %s (default: %s)%n", k.name(), k.doc(), k.defaultValue() == null ? "unset" : k.defaultValue());
        }
    }
}
