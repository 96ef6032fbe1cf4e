package io.runnel.chaos;

import java.io.IOException;
import java.util.ArrayList;
import java.util.Collections;
import java.util.List;
import java.util.Locale;
import java.util.OptionalInt;
import java.util.Random;

/**
 * The faults of a chaos run. Each picks its victims from the run's seeded random source, applies itself, and
 * returns what heals it. The scheduler passes the brokers that active faults hold, so that overlapping faults do not
 * undo each other: two faults never pick the same broker.
 */
enum Fault {
    /** kill -9 of one broker; healed by starting it again on its data. */
    KILL,
    /** SIGSTOP of one broker (a long GC pause, a frozen VM); healed by SIGCONT. */
    PAUSE,
    /** One broker cut off from every other broker; clients still reach it. */
    ISOLATE,
    /** The brokers split into a minority and a majority (1|2 of 3, 2|3 of 5); clients reach both sides. */
    SPLIT,
    /** A reaches B and B reaches C, but A does not reach C. */
    NONTRANSITIVE,
    /** The controller, as the brokers see it, cut off from every other broker. */
    ISOLATE_CONTROLLER,
    /** One link between two brokers cut and restored every 0.3 to 1.5 s. */
    FLAP,
    /** One broker's log.dirs filled to the last 64 KB. */
    DISK_FULL,
    /** One broker restarted with its wall clock 5 s to 10 min off, ahead or behind; healed by a restart on the true time. */
    CLOCK_SKEW;

    /** A fault in force: what it did and how to undo it. */
    interface Active {
        String description();

        List<Integer> brokers();

        void heal() throws IOException;
    }

    String label() {
        return name().toLowerCase(Locale.ROOT).replace('_', '-');
    }

    static Fault parse(String label) {
        return valueOf(label.trim().toUpperCase(Locale.ROOT).replace('-', '_'));
    }

    /** Applies this fault to brokers not in {@code busy}; null when it cannot (not enough free brokers, no controller known). */
    Active apply(ChaosCluster c, Random random, List<Integer> busy) throws IOException, InterruptedException {
        List<Integer> free = new ArrayList<>();
        for (int b = 1; b <= c.size(); b++) if (!busy.contains(b) && c.isRunning(b)) free.add(b);
        Collections.shuffle(free, random);
        return switch (this) {
            case KILL -> {
                if (free.isEmpty()) yield null;
                int b = free.get(0);
                c.kill(b);
                yield active("kill -9 broker " + b, List.of(b), () -> c.restart(b));
            }
            case PAUSE -> {
                if (free.isEmpty()) yield null;
                int b = free.get(0);
                c.pause(b);
                yield active("SIGSTOP broker " + b, List.of(b), () -> c.resume(b));
            }
            case ISOLATE -> free.isEmpty() ? null : isolate(c, free.get(0), "isolate broker " + free.get(0) + " from the other brokers");
            case ISOLATE_CONTROLLER -> {
                List<Integer> order = new ArrayList<>(free);
                OptionalInt controller = c.controller(order);
                if (controller.isEmpty() || !free.contains(controller.getAsInt())) yield null;
                int b = controller.getAsInt();
                yield isolate(c, b, "isolate the controller (broker " + b + ") from the other brokers");
            }
            case SPLIT -> {
                if (free.size() < c.size()) yield null; // a split involves every broker
                int minority = (c.size() - 1) / 2;
                List<Integer> small = free.subList(0, minority);
                List<Integer> large = free.subList(minority, free.size());
                for (int a : small) for (int b : large) c.net().cut(a, b);
                List<Integer> s = List.copyOf(small);
                List<Integer> l = List.copyOf(large);
                yield active("split " + s + " | " + l, List.copyOf(free), () -> {
                    for (int a : s) for (int b : l) c.net().heal(a, b);
                });
            }
            case NONTRANSITIVE -> {
                if (free.size() < 3) yield null;
                int a = free.get(0);
                int b = free.get(1);
                int d = free.get(2);
                c.net().cut(a, d);
                yield active("non-transitive: " + a + " and " + d + " both reach " + b + " but not each other", List.of(a, b, d),
                        () -> c.net().heal(a, d));
            }
            case FLAP -> {
                if (free.size() < 2) yield null;
                int a = free.get(0);
                int b = free.get(1);
                Random flips = new Random(random.nextLong());
                java.util.concurrent.ScheduledExecutorService timer = java.util.concurrent.Executors.newSingleThreadScheduledExecutor(r -> {
                    Thread t = new Thread(r, "chaos-flap-" + a + "-" + b);
                    t.setDaemon(true);
                    return t;
                });
                flip(c, a, b, flips, timer);
                yield active("flapping link " + a + " ↔ " + b, List.of(a, b), () -> {
                    timer.shutdownNow();
                    try {
                        timer.awaitTermination(5, java.util.concurrent.TimeUnit.SECONDS);
                    } catch (InterruptedException e) {
                        Thread.currentThread().interrupt();
                    }
                    c.net().heal(a, b);
                });
            }
            case DISK_FULL -> {
                if (free.isEmpty()) yield null;
                int b = free.get(0);
                c.fillDisk(b, 64 * 1024);
                yield active("disk full on broker " + b, List.of(b), () -> c.freeDisk(b));
            }
            case CLOCK_SKEW -> {
                if (free.isEmpty() || !ChaosCluster.clockSkewAvailable()) yield null;
                int b = free.get(0);
                long seconds = (5 + random.nextInt(596)) * (random.nextBoolean() ? 1L : -1L);
                c.restartWithClock(b, seconds);
                yield active("broker " + b + " restarted with its clock " + (seconds > 0 ? "+" : "") + seconds + " s", List.of(b), () -> {
                    try {
                        c.restartWithClock(b, 0);
                    } catch (InterruptedException e) {
                        Thread.currentThread().interrupt();
                    }
                });
            }
        };
    }

    private static Active isolate(ChaosCluster c, int b, String description) throws IOException {
        for (int o = 1; o <= c.size(); o++) c.net().cut(b, o);
        return active(description, List.of(b), () -> {
            for (int o = 1; o <= c.size(); o++) c.net().heal(b, o);
        });
    }

    /** Cuts the link if it is up, restores it if it is cut, and schedules the next flip 0.3 to 1.5 s later. */
    private static void flip(ChaosCluster c, int a, int b, Random random, java.util.concurrent.ScheduledExecutorService timer) {
        try {
            if (c.net().isCut(a, b)) c.net().heal(a, b);
            else c.net().cut(a, b);
            timer.schedule(() -> flip(c, a, b, random, timer), 300 + random.nextInt(1200), java.util.concurrent.TimeUnit.MILLISECONDS);
        } catch (IOException | java.util.concurrent.RejectedExecutionException e) {
            // healed meanwhile (the executor is shut down), or the network is gone
        }
    }

    private interface Healer {
        void heal() throws IOException;
    }

    private static Active active(String description, List<Integer> brokers, Healer healer) {
        return new Active() {
            @Override
            public String description() {
                return description;
            }

            @Override
            public List<Integer> brokers() {
                return brokers;
            }

            @Override
            public void heal() throws IOException {
                healer.heal();
            }
        };
    }
}
