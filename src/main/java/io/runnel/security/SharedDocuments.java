package io.runnel.security;

import java.util.function.Consumer;
import java.util.function.UnaryOperator;

/**
 * Named JSON documents shared by every broker of a cluster (the SCRAM credentials, the ACLs, groups'
 * configurations), kept in the cluster metadata. Implemented by the cluster package over Hazelcast; a broker alone has none, and its stores keep their
 * documents in its own files only. All methods block: call them on worker threads.
 */
public interface SharedDocuments {
    /** The document's text, or null when the cluster has none. */
    String get(String name);

    /**
     * Replaces the document with {@code change} applied to its current text (null when there is none), atomically
     * with respect to every other broker's updates ({@code change} may be called again when another update won a
     * race), and returns the text stored.
     */
    String update(String name, UnaryOperator<String> change);

    /** Calls {@code listener} with the new text after every change of the document by any broker, in order. */
    void listen(String name, Consumer<String> listener);
}
