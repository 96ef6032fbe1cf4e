package io.runnel.partition;

import java.io.IOException;
import java.util.Locale;

/** Tells a full disk, which passes by itself once space returns, from other I/O errors, which take a replica offline. */
final class DiskErrors {
    private DiskErrors() {
    }

    /**
     * Whether {@code e} (or a cause of it) reports a full disk or an exhausted quota: the JDK gives the errno's text
     * (ENOSPC, EDQUOT) as the message, and no subclass of its own.
     */
    static boolean isFull(Throwable e) {
        for (Throwable t = e; t != null; t = t.getCause() == t ? null : t.getCause()) {
            if (!(t instanceof IOException) || t.getMessage() == null) continue;
            String m = t.getMessage().toLowerCase(Locale.ROOT);
            if (m.contains("no space left on device") || m.contains("disk quota exceeded")) return true;
        }
        return false;
    }
}
