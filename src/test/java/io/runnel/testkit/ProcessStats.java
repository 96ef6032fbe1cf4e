package io.runnel.testkit;

import java.io.IOException;
import java.lang.management.ManagementFactory;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.HashSet;
import java.util.List;
import java.util.Set;
import java.util.stream.Stream;

/**
 * File descriptors and heap of this JVM, for leak checks around an in-process broker. The descriptors are counted
 * per owner (files under a data directory, connections accepted on a port) because the test JVM's total also moves
 * with whatever earlier tests are still winding down (a CI run failed on the total).
 */
public final class ProcessStats {
    private ProcessStats() {
    }

    /** Open descriptors of this JVM on files under {@code dir}. */
    public static long filesUnder(Path dir) throws IOException {
        String prefix = dir.toAbsolutePath().normalize().toString();
        return targets().stream().filter(t -> t.startsWith(prefix)).count();
    }

    /**
     * Open descriptors of this JVM on TCP connections whose local port is {@code port}: the connections a server
     * listening there accepted (the listening socket itself is left out; clients in this JVM have ephemeral local ports).
     */
    public static long connectionsAcceptedOn(int port) throws IOException {
        Set<String> inodes = new HashSet<>();
        for (String t : targets()) {
            if (t.startsWith("socket:[")) inodes.add(t.substring(8, t.length() - 1));
        }
        long n = 0;
        for (String table : List.of("/proc/net/tcp", "/proc/net/tcp6")) {
            Path p = Path.of(table);
            if (!Files.exists(p)) continue;
            List<String> lines = Files.readAllLines(p);
            for (String line : lines.subList(1, lines.size())) {
                String[] f = line.trim().split("\\s+");
                // sl local_address rem_address st tx:rx tr:when retrnsmt uid timeout inode
                String local = f[1];
                int localPort = Integer.parseInt(local.substring(local.indexOf(':') + 1), 16);
                boolean listening = f[3].equals("0A");
                if (localPort == port && !listening && inodes.contains(f[9])) n++;
            }
        }
        return n;
    }

    private static List<String> targets() throws IOException {
        try (Stream<Path> fds = Files.list(Path.of("/proc/self/fd"))) {
            return fds.map(fd -> {
                try {
                    return Files.readSymbolicLink(fd).toString();
                } catch (IOException e) {
                    return ""; // closed meanwhile
                }
            }).toList();
        }
    }

    /** Heap in use after a full collection was requested. */
    public static long heapUsedAfterGc() {
        System.gc();
        return ManagementFactory.getMemoryMXBean().getHeapMemoryUsage().getUsed();
    }
}
