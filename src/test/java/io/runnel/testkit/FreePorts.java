package io.runnel.testkit;

import java.io.IOException;
import java.net.InetAddress;
import java.net.ServerSocket;

/**
 * A loopback port that is free now, for the few tests that must restart a broker on the same port (clients keep
 * their bootstrap address). Everything else binds port 0.
 */
public final class FreePorts {
    private FreePorts() {
    }

    public static int freePort() throws IOException {
        try (ServerSocket s = new ServerSocket(0, 1, InetAddress.getLoopbackAddress())) {
            s.setReuseAddress(true);
            return s.getLocalPort();
        }
    }
}
