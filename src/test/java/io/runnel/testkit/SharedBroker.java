package io.runnel.testkit;

import io.runnel.server.Broker;
import java.nio.file.Path;
import java.util.concurrent.TimeUnit;
import org.apache.kafka.clients.admin.Admin;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.io.TempDir;

/** Base for test classes whose tests share one in-process broker (each test uses its own topics) and an Admin. */
public abstract class SharedBroker {
    @TempDir
    protected static Path data;
    protected static Broker broker;
    protected static String bootstrap;
    protected static Admin admin;

    @BeforeAll
    static void startSharedBroker() throws Exception {
        broker = Brokers.start(data);
        bootstrap = broker.bootstrapServers();
        admin = KafkaClients.admin(bootstrap);
    }

    @AfterAll
    static void stopSharedBroker() throws Exception {
        admin.close();
        broker.stop().get(30, TimeUnit.SECONDS);
    }
}
