package io.runnel.cluster;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.awaitility.Awaitility.await;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ConcurrentMap;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicReference;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** How the metadata quorum's voters are chosen once and remembered when cluster.quorum.voters is not set. */
class QuorumVotersTest {
    @TempDir
    Path dir;

    private final ConcurrentMap<String, String> clusterMap = new ConcurrentHashMap<>();
    private final AtomicInteger members = new AtomicInteger(1);
    private final AtomicBoolean allRegistered = new AtomicBoolean(true);
    private final AtomicReference<List<Integer>> registered = new AtomicReference<>(List.of(4));
    private final AtomicBoolean running = new AtomicBoolean(true);

    private CompletableFuture<List<Integer>> choose(QuorumVoters voters) {
        return CompletableFuture.supplyAsync(() -> {
            try {
                return voters.await(running::get, members::get, allRegistered::get, registered::get);
            } catch (IOException e) {
                throw new IllegalStateException(e);
            }
        });
    }

    private QuorumVoters broker(String name, int listed) throws IOException {
        return new QuorumVoters(List.of(), Files.createDirectories(dir.resolve(name)), clusterMap, listed);
    }

    @Test
    void threeRegisteredBrokersOfAMajorityChooseTheLowestNodeIdsOnceAndRememberThem() throws Exception {
        CompletableFuture<List<Integer>> first = choose(broker("a", 5));
        members.set(3);
        registered.set(List.of(2, 4));
        await().during(Duration.ofMillis(600)).atMost(Duration.ofSeconds(5)).until(() -> !first.isDone());
        registered.set(List.of(2, 4, 7, 9));
        allRegistered.set(false); // a member that joined but has not registered may remember other voters
        await().during(Duration.ofMillis(600)).atMost(Duration.ofSeconds(5)).until(() -> !first.isDone());
        allRegistered.set(true);
        assertThat(first.get(10, TimeUnit.SECONDS)).containsExactly(2, 4, 7);
        assertThat(Files.readString(dir.resolve("a").resolve(QuorumVoters.FILE), StandardCharsets.UTF_8)).isEqualTo("2,4,7");

        // Another broker, later, with other registrations: it takes the choice made.
        registered.set(List.of(1, 2, 3));
        assertThat(choose(broker("b", 5)).get(10, TimeUnit.SECONDS)).containsExactly(2, 4, 7);
        assertThat(QuorumVoters.read(dir.resolve("b").resolve(QuorumVoters.FILE))).containsExactly(2, 4, 7);
    }

    @Test
    void aMinorityOfTheListedMembersDoesNotChoose() throws Exception {
        registered.set(List.of(1, 2, 3));
        members.set(3);
        CompletableFuture<List<Integer>> minority = choose(broker("a", 6)); // 3 of 6 is no majority
        await().during(Duration.ofMillis(600)).atMost(Duration.ofSeconds(5)).until(() -> !minority.isDone());
        running.set(false);
        assertThat(minority.get(10, TimeUnit.SECONDS)).as("stopped while waiting").isEmpty();
        assertThat(clusterMap).isEmpty();
    }

    @Test
    void rememberedVotersWinOverTheMapAndArePutBackAfterAWholeClusterRestart() throws Exception {
        Path a = Files.createDirectories(dir.resolve("a"));
        Files.writeString(a.resolve(QuorumVoters.FILE), "3,1,2");
        QuorumVoters.publishRemembered(clusterMap, a);
        assertThat(clusterMap).containsValue("1,2,3");
        registered.set(List.of(5, 6, 7));
        members.set(3);
        assertThat(choose(broker("new", 3)).get(10, TimeUnit.SECONDS)).as("a new broker takes the remembered voters").containsExactly(1, 2, 3);

        // A broker of another cluster keeps the voters its data belongs to.
        Path other = Files.createDirectories(dir.resolve("other"));
        Files.writeString(other.resolve(QuorumVoters.FILE), "4,5,6");
        QuorumVoters.publishRemembered(clusterMap, other);
        assertThat(clusterMap).containsValue("1,2,3");
        assertThat(choose(new QuorumVoters(List.of(), other, clusterMap, 3)).get(10, TimeUnit.SECONDS)).containsExactly(4, 5, 6);
    }

    @Test
    void configuredVotersNeedNoChoiceAndAnUnreadableFileIsAnError() throws Exception {
        assertThat(new QuorumVoters(List.of(1, 2, 3), dir, clusterMap, 3).await(() -> true, () -> 0, () -> false, List::of)).containsExactly(1, 2, 3);
        assertThat(clusterMap).isEmpty();
        Files.writeString(dir.resolve(QuorumVoters.FILE), "1,x");
        assertThatThrownBy(() -> QuorumVoters.read(dir.resolve(QuorumVoters.FILE))).isInstanceOf(IOException.class).hasMessageContaining("1,x");
        assertThatThrownBy(() -> QuorumVoters.parse("1,1,2")).hasMessageContaining("distinct");
    }
}
