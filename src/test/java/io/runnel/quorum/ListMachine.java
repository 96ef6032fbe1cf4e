package io.runnel.quorum;

import io.microraft.statemachine.StateMachine;
import java.util.List;
import java.util.function.Consumer;

/** The operations applied, in order (new-term entries left out); a snapshot is the list as one text. */
record ListMachine(List<String> ops) implements StateMachine {
    @Override
    public Object runOperation(long commitIndex, Object operation) {
        if (!"new-term".equals(operation)) ops.add((String) operation);
        return operation;
    }

    @Override
    public void takeSnapshot(long commitIndex, Consumer<Object> chunks) {
        chunks.accept(String.join("\n", ops));
    }

    @Override
    public void installSnapshot(long commitIndex, List<Object> chunks) {
        ops.clear();
        String text = (String) chunks.get(0);
        if (!text.isEmpty()) ops.addAll(List.of(text.split("\n")));
    }

    @Override
    public Object getNewTermOperation() {
        return "new-term";
    }
}
