package io.runnel.testkit;

import io.runnel.server.Broker;
import java.nio.file.Path;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import org.apache.kafka.common.Uuid;
import org.apache.kafka.common.utils.Time;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.io.TempDir;

/**
 * Base for test classes that need a fresh in-process broker per test, in its own data directory. A test may replace
 * {@link #broker} (a restart); whichever broker is current when the test ends is stopped.
 */
public abstract class BrokerPerTest {
    @TempDir
    protected Path data;
    protected Broker broker;

    /** Extra broker settings for this class (on top of {@link Brokers#testConfig}). */
    protected Map<String, String> brokerConfig() {
        return Map.of();
    }

    @BeforeEach
    void startBrokerPerTest() throws Exception {
        broker = Brokers.start(data, brokerConfig(), Time.SYSTEM);
    }

    @AfterEach
    void stopBrokerPerTest() throws Exception {
        broker.stop().get(30, TimeUnit.SECONDS);
    }

    /** Stops {@link #broker} and starts it again on the same data. */
    protected void restartBroker() throws Exception {
        broker.stop().get(30, TimeUnit.SECONDS);
        broker = Brokers.start(data, brokerConfig(), Time.SYSTEM);
    }

    /** Creates a topic and returns its id. */
    protected Uuid createTopic(String name, int partitions) throws Exception {
        return Brokers.await(broker.topicAdmin().createTopic(name, partitions, Map.of())).topicId();
    }
}
