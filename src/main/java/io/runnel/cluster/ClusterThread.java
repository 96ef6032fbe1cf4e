package io.runnel.cluster;

import io.runnel.config.Limits;

/**
 * The cluster's own threads, for Hazelcast calls that block for long (the CP controller lock, the CP metadata
 * poller): daemon threads, so that none keeps a stopping broker alive, and stopped by an interrupt.
 */
final class ClusterThread {
    private ClusterThread() {
    }

    static Thread start(String name, Runnable body) {
        Thread t = new Thread(body, name);
        t.setDaemon(true);
        t.start();
        return t;
    }

    /** Interrupts {@code t} and waits for it to end, at most {@link Limits#CLUSTER_THREAD_JOIN_MS}. */
    static void stop(Thread t) {
        if (t == null) return;
        t.interrupt();
        try {
            t.join(Limits.CLUSTER_THREAD_JOIN_MS);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
    }
}
