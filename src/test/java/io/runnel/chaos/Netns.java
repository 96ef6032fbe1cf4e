package io.runnel.chaos;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Set;
import java.util.concurrent.TimeUnit;

/**
 * The network of a chaos run: one Linux network namespace per broker, joined by a bridge this run creates, with
 * addresses that exist only on that bridge and inside those namespaces. Clients stay in the root namespace, which
 * has the bridge's first address, so they reach every broker whatever is cut between the brokers.
 *
 * <p>Links between brokers are cut with blackhole routes inside the namespaces ({@code ip -n NS route add blackhole
 * PEER/32}): packets to the peer are dropped without an answer, as on a real partition (no reset, the peer's
 * connections hang until their timeouts). A cut is one-way per namespace, so {@link #cut} adds it on both sides.
 *
 * <p>Names carry this JVM's pid ({@code rnc<pid>...}, within Linux's 15 characters), and {@link #close} deletes
 * every namespace (with its veth end) and the bridge; {@link #sweepLeftovers} removes those of runs whose JVM is gone.
 */
final class Netns implements AutoCloseable {
    private static final String PREFIX = "rnc";
    private final String tag;
    private final int subnet;
    private final int size;
    private final List<String> namespaces = new ArrayList<>();
    private final Set<Long> cuts = new HashSet<>();
    private boolean bridgeUp;

    private Netns(int size) {
        long pid = ProcessHandle.current().pid();
        this.tag = PREFIX + pid;
        // 10.<200..249>.<pid>.0/24: a subnet per run, unlikely to meet the machine's own networks.
        this.subnet = (int) (200 + pid % 50) << 8 | (int) (pid % 250 + 1);
        this.size = size;
    }

    /** Creates the bridge and {@code size} namespaces, each with a veth on the bridge and lo up. */
    static Netns create(int size) throws IOException {
        sweepLeftovers();
        Netns n = new Netns(size);
        try {
            // No multicast snooping: the bridge floods multicast to every namespace (multicast discovery needs no querier).
            n.ip("link", "add", n.bridge(), "type", "bridge", "mcast_snooping", "0");
            n.bridgeUp = true;
            n.ip("addr", "add", n.clientAddress() + "/24", "dev", n.bridge());
            n.ip("link", "set", n.bridge(), "up");
            for (int i = 1; i <= size; i++) {
                String ns = n.namespace(i);
                n.ip("netns", "add", ns);
                n.namespaces.add(ns);
                String veth = n.tag + "v" + i;
                n.ip("link", "add", veth, "type", "veth", "peer", "name", "eth0", "netns", ns);
                n.ip("link", "set", veth, "master", n.bridge(), "up");
                n.ip("-n", ns, "addr", "add", n.address(i) + "/24", "dev", "eth0");
                n.ip("-n", ns, "link", "set", "eth0", "up");
                n.ip("-n", ns, "link", "set", "lo", "up");
                // Multicast (Hazelcast's multicast discovery) leaves through the bridge; there is no default route.
                n.ip("-n", ns, "route", "add", "224.0.0.0/4", "dev", "eth0");
            }
        } catch (IOException | RuntimeException e) {
            n.close();
            throw e;
        }
        return n;
    }

    String namespace(int broker) {
        return tag + "n" + broker;
    }

    private String bridge() {
        return tag + "b";
    }

    /** The address of broker {@code broker} (1-based), inside its namespace. */
    String address(int broker) {
        return prefix() + (10 + broker);
    }

    /** The root namespace's address on the bridge, where the clients are. */
    String clientAddress() {
        return prefix() + 1;
    }

    private String prefix() {
        return "10." + (subnet >> 8) + "." + (subnet & 0xff) + ".";
    }

    int size() {
        return size;
    }

    /**
     * Drops every packet between brokers {@code a} and {@code b}, both ways. Idempotent ({@code route replace}): a cut
     * half made when a command failed is completed by the next, instead of failing on the route already there.
     */
    synchronized void cut(int a, int b) throws IOException {
        if (a == b) return;
        cuts.add(key(a, b));
        ip("-n", namespace(a), "route", "replace", "blackhole", address(b) + "/32");
        ip("-n", namespace(b), "route", "replace", "blackhole", address(a) + "/32");
    }

    /** Restores the link between {@code a} and {@code b}; a route already gone is no error. */
    synchronized void heal(int a, int b) {
        if (!cuts.remove(key(a, b))) return;
        quietly("-n", namespace(a), "route", "del", "blackhole", address(b) + "/32");
        quietly("-n", namespace(b), "route", "del", "blackhole", address(a) + "/32");
    }

    synchronized boolean isCut(int a, int b) {
        return cuts.contains(key(a, b));
    }

    /** Restores every link. */
    synchronized void healAll() throws IOException {
        for (Long k : List.copyOf(cuts)) heal((int) (k >> 32), (int) (long) k);
    }

    private static long key(int a, int b) {
        return (long) Math.min(a, b) << 32 | Math.max(a, b);
    }

    @Override
    public synchronized void close() {
        for (String ns : namespaces) quietly("netns", "del", ns); // takes its veth pair with it
        namespaces.clear();
        cuts.clear();
        if (bridgeUp) quietly("link", "del", bridge());
        bridgeUp = false;
    }

    /**
     * Removes what earlier runs whose JVM no longer exists (a run killed with -9) left: their brokers (the processes
     * in their namespaces), the namespaces, the bridges, and the tmpfs mounts under a {@code runnel-chaos-<pid>-}
     * directory.
     */
    static void sweepLeftovers() {
        try {
            for (String line : run(List.of("ip", "netns", "list")).split("\n")) {
                String name = line.split(" ")[0];
                if (!name.startsWith(PREFIX) || alive(name)) continue;
                for (String pid : run(List.of("ip", "netns", "pids", name)).split("\\s+")) {
                    if (!pid.isBlank()) ProcessHandle.of(Long.parseLong(pid.trim())).ifPresent(ProcessHandle::destroyForcibly);
                }
                quietly("netns", "del", name);
            }
            java.util.regex.Pattern mount = java.util.regex.Pattern.compile(".*/runnel-chaos-(\\d+)-[^/]*/broker-\\d+/data");
            for (String line : java.nio.file.Files.readAllLines(java.nio.file.Path.of("/proc/mounts"))) {
                String[] f = line.split(" ");
                if (f.length < 3 || !f[2].equals("tmpfs")) continue;
                java.util.regex.Matcher m = mount.matcher(f[1]);
                if (m.matches() && ProcessHandle.of(Long.parseLong(m.group(1))).map(h -> !h.isAlive()).orElse(true)) {
                    try {
                        run(List.of("umount", "-l", f[1]));
                    } catch (IOException e) {
                        // best effort
                    }
                }
            }
            for (String line : run(List.of("ip", "-o", "link", "show", "type", "bridge")).split("\n")) {
                String[] f = line.split(":\\s*");
                if (f.length > 1 && f[1].startsWith(PREFIX) && !alive(f[1])) quietly("link", "del", f[1].split("@")[0]);
            }
        } catch (IOException | RuntimeException e) {
            // nothing to sweep, or no ip command: create() reports the latter
        }
    }

    private static boolean alive(String name) {
        String digits = name.substring(PREFIX.length()).replaceAll("[^0-9].*$", "");
        if (digits.isEmpty()) return false;
        return ProcessHandle.of(Long.parseLong(digits)).map(ProcessHandle::isAlive).orElse(false);
    }

    private void ip(String... args) throws IOException {
        List<String> cmd = new ArrayList<>(List.of("ip"));
        cmd.addAll(List.of(args));
        run(cmd);
    }

    private static void quietly(String... args) {
        try {
            List<String> cmd = new ArrayList<>(List.of("ip"));
            cmd.addAll(List.of(args));
            run(cmd);
        } catch (IOException | RuntimeException e) {
            // best effort on the way out
        }
    }

    static String run(List<String> cmd) throws IOException {
        Process p = new ProcessBuilder(cmd).redirectErrorStream(true).start();
        try {
            if (!p.waitFor(30, TimeUnit.SECONDS)) {
                p.destroyForcibly();
                throw new IOException("timed out: " + String.join(" ", cmd));
            }
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            p.destroyForcibly();
            throw new IOException("interrupted: " + String.join(" ", cmd));
        }
        String out = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
        if (p.exitValue() != 0) throw new IOException(String.join(" ", cmd) + " failed (" + p.exitValue() + "): " + out.strip());
        return out;
    }
}
