package io.runnel.cluster;

import com.hazelcast.core.EntryEvent;
import com.hazelcast.map.IMap;
import com.hazelcast.map.listener.EntryAddedListener;
import com.hazelcast.map.listener.EntryUpdatedListener;
import io.runnel.config.Limits;
import io.runnel.security.SharedDocuments;
import java.util.function.Consumer;
import java.util.function.UnaryOperator;

/**
 * {@link SharedDocuments} in a Hazelcast map with two synchronous backups ({@code runnel-security}, configured with the
 * other {@code runnel-*} maps), so a document survives the loss of two brokers. An update is a compare-and-set loop
 * on the document's text: two brokers changing the ACLs at once both get their change in. Events of one key come in
 * order on one Hazelcast event thread.
 */
final class HazelcastDocuments implements SharedDocuments {
    static final String MAP = "runnel-security";

    private final IMap<String, String> map;

    HazelcastDocuments(HazelcastMember member) {
        this.map = member.hz().getMap(MAP);
    }

    @Override
    public String get(String name) {
        return map.get(name);
    }

    @Override
    public String update(String name, UnaryOperator<String> change) {
        for (int attempt = 0; attempt < Limits.SHARED_DOCUMENT_UPDATE_ATTEMPTS; attempt++) {
            String old = map.get(name);
            String next = change.apply(old);
            if (old == null ? map.putIfAbsent(name, next) == null : map.replace(name, old, next)) return next;
        }
        throw new IllegalStateException("the shared document " + name + " changed " + Limits.SHARED_DOCUMENT_UPDATE_ATTEMPTS
                + " times while this update was made; try again");
    }

    @Override
    public void listen(String name, Consumer<String> listener) {
        map.addEntryListener(new Listener(listener), name, true);
    }

    private record Listener(Consumer<String> target) implements EntryAddedListener<String, String>, EntryUpdatedListener<String, String> {
        @Override
        public void entryAdded(EntryEvent<String, String> event) {
            target.accept(event.getValue());
        }

        @Override
        public void entryUpdated(EntryEvent<String, String> event) {
            target.accept(event.getValue());
        }
    }
}
