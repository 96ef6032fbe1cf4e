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

    /**
     * A free port below the kernel's ephemeral range: a broker restarted on its old port must not find it taken by the
     * local end of some outgoing connection, which the kernel picks from that range (seen: a restarted broker's
     * Hazelcast port in use). Falls back to a port the kernel chooses.
     */
    public static int freePort() throws IOException {
        int low = ephemeralLow();
        java.util.concurrent.ThreadLocalRandom random = java.util.concurrent.ThreadLocalRandom.current();
        for (int attempt = 0; attempt < 100 && low > 11_000; attempt++) {
            int port = random.nextInt(10_000, low);
            try (ServerSocket s = new ServerSocket()) {
                s.setReuseAddress(true);
                s.bind(new java.net.InetSocketAddress(InetAddress.getLoopbackAddress(), port), 1);
                return port;
            } catch (IOException taken) {
                // try another
            }
        }
        try (ServerSocket s = new ServerSocket(0, 1, InetAddress.getLoopbackAddress())) {
            s.setReuseAddress(true);
            return s.getLocalPort();
        }
    }

    private static int ephemeralLow() {
        try {
            return Integer.parseInt(java.nio.file.Files.readString(java.nio.file.Path.of("/proc/sys/net/ipv4/ip_local_port_range")).trim().split("\\s+")[0]);
        } catch (IOException | RuntimeException e) {
            return 32_768; // Linux's default
        }
    }
}
