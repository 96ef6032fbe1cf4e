package io.runnel.partition;

import java.io.IOException;
import java.nio.channels.ClosedChannelException;
import java.util.Locale;

/**
 * Tells I/O errors that pass by themselves (a full disk, a quota, too many open files, a channel closed under a call
 * because the replica is closing) from those that mean the disk or the files failed, which take a replica offline.
 */
final class DiskErrors {
    private DiskErrors() {
    }

    /**
     * Why {@code e} (or a cause of it) is an error that passes by itself, or null when it is a failure: the JDK gives
     * the errno's text (ENOSPC, EDQUOT, EMFILE, ENFILE) as the message and has no subclass for them.
     */
    static String transientReason(Throwable e) {
        for (Throwable t = e; t != null; t = t.getCause() == t ? null : t.getCause()) {
            if (t instanceof ClosedChannelException) return "the replica is closing";
            if (!(t instanceof IOException) || t.getMessage() == null) continue;
            String m = t.getMessage().toLowerCase(Locale.ROOT);
            if (m.contains("no space left on device") || m.contains("disk quota exceeded")) return "disk full";
            if (m.contains("too many open files")) return "too many open files";
        }
        return null;
    }
}
