package io.runnel.cluster;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.vertx.core.json.JsonObject;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import org.apache.kafka.common.TopicPartition;
import org.apache.kafka.common.errors.InvalidRequestException;
import org.apache.kafka.common.protocol.Errors;
import org.apache.kafka.common.requests.ApiError;
import org.junit.jupiter.api.Test;

/** The one codec of controller commands: what a broker encodes is what the controller decodes, for every command. */
class ControllerCommandTest {
    @Test
    void everyCommandDecodesToWhatWasEncodedAfterCrossingTheWireAsText() {
        Map<String, List<Integer>> some = new LinkedHashMap<>();
        some.put("a", List.of(0, 2));
        some.put("b", List.of(1));
        List<ControllerCommand> commands = List.of(
                new ControllerCommand.Create("orders", 6, 3, Map.of("retention.ms", "1000", "cleanup.policy", "compact")),
                new ControllerCommand.Create("bare", 1, 1, Map.of()),
                new ControllerCommand.Create("placed", 2, 2, Map.of(), List.of(List.of(3, 1), List.of(2, 3))),
                new ControllerCommand.Delete("orders"),
                new ControllerCommand.Grow("orders", 12),
                new ControllerCommand.Configure("orders", Map.of("min.insync.replicas", "2")),
                new ControllerCommand.AlterIsr("orders", 4, 2, 17, List.of(2, 3)),
                new ControllerCommand.Elect(false, null),
                new ControllerCommand.Elect(true, some),
                new ControllerCommand.Reassign("orders", 1, List.of(4, 5, 6), false),
                new ControllerCommand.Reassign("orders", 1, null, true),
                new ControllerCommand.Shutdown(3));
        for (ControllerCommand c : commands) {
            JsonObject wire = new JsonObject(ControllerCommand.encode(c).encode()); // as the clustered event bus carries it
            assertThat(ControllerCommand.decode(wire)).as(wire.encode()).isEqualTo(c);
        }
    }

    @Test
    void electionResultsKeepTheirErrorsAndMessages() {
        Map<TopicPartition, ApiError> results = new LinkedHashMap<>();
        results.put(new TopicPartition("a", 0), ApiError.NONE);
        results.put(new TopicPartition("a", 1), new ApiError(Errors.ELECTION_NOT_NEEDED, "broker 1 already leads it"));
        results.put(new TopicPartition("gone", 0), new ApiError(Errors.UNKNOWN_TOPIC_OR_PARTITION, "gone-0 does not exist"));
        Map<TopicPartition, ApiError> back = ControllerCommand.decodeResults(new JsonObject(ControllerCommand.encodeResults(results).encode()));
        assertThat(back).containsOnlyKeys(results.keySet());
        results.forEach((tp, e) -> {
            assertThat(back.get(tp).error()).isEqualTo(e.error());
            if (e.error() != Errors.NONE) assertThat(back.get(tp).message()).isEqualTo(e.message());
        });
    }

    @Test
    void anUnknownOrMissingOpIsAnInvalidRequest() {
        assertThatThrownBy(() -> ControllerCommand.decode(new JsonObject().put("op", "explode"))).isInstanceOf(InvalidRequestException.class)
                .hasMessageContaining("explode");
        assertThatThrownBy(() -> ControllerCommand.decode(new JsonObject())).isInstanceOf(InvalidRequestException.class);
    }
}
