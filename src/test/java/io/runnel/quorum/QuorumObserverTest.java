package io.runnel.quorum;

import static io.runnel.quorum.RawQuorumSocket.assertClosedAfter;
import static io.runnel.quorum.RawQuorumSocket.frame;
import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import io.vertx.core.Future;
import io.vertx.core.Vertx;
import io.vertx.core.net.NetClientOptions;
import io.vertx.core.net.NetServerOptions;
import io.vertx.core.net.SocketAddress;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicReference;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

/**
 * The observer protocol over real loopback sockets: a broker that is not a voter reads the newest committed image from
 * a voter, each change in version order and never an older image; it moves to the leader a voter names and on to
 * another voter when its voter goes away; a voter refuses observers it cannot or may not serve, and a connection that
 * breaks the protocol is closed alone.
 */
class QuorumObserverTest {
    private static final String CLUSTER = "observer-test-cluster";
    private static final QuorumEndpoint A = new QuorumEndpoint(1, "dir-a");
    private static final QuorumEndpoint B = new QuorumEndpoint(2, "dir-b");
    private static final QuorumEndpoint OBSERVER = new QuorumEndpoint(4, "observer");

    private Vertx vertx;
    private ExecutorService raftThread;
    private final Map<QuorumEndpoint, SocketAddress> addresses = new ConcurrentHashMap<>();
    private final List<QuorumTransport> transports = new ArrayList<>();
    private final List<QuorumObserver> observers = new ArrayList<>();

    /** A voter's image and the leader it names, as the test sets them. */
    private static final class Voter {
        final AtomicReference<ImageServer.Image> image = new AtomicReference<>(new ImageServer.Image(0, List.of("")));
        final AtomicReference<QuorumEndpoint> leader = new AtomicReference<>();
        final ImageServer server = new ImageServer(image::get, leader::get);

        void set(long version, String... chunks) {
            image.set(new ImageServer.Image(version, List.of(chunks)));
            server.changed();
        }
    }

    @BeforeEach
    void start() {
        vertx = Vertx.vertx();
        raftThread = Executors.newSingleThreadExecutor();
    }

    @AfterEach
    void stop() throws Exception {
        for (QuorumObserver o : observers) o.closeAsync().toCompletionStage().toCompletableFuture().get(10, TimeUnit.SECONDS);
        for (QuorumTransport t : transports) t.closeAsync().toCompletionStage().toCompletableFuture().get(10, TimeUnit.SECONDS);
        vertx.close().toCompletionStage().toCompletableFuture().get(10, TimeUnit.SECONDS);
        raftThread.shutdownNow();
    }

    @Test
    void anObserverGetsTheNewestImageAndThenEachChangeInVersionOrder() throws Exception {
        Voter a = new Voter();
        a.leader.set(A);
        voter(A, QuorumTransport.Admission.ANYONE).serveObservers(a.server);
        a.set(1, "{\"v\":1}");
        List<ImageServer.Image> seen = new CopyOnWriteArrayList<>();
        QuorumObserver o = observer(List.of(A), 0, seen);
        await().atMost(Duration.ofSeconds(10)).until(() -> o.version() == 1);
        assertThat(o.source()).isEqualTo(A);

        // An image of several chunks, each of a megabyte, arrives whole.
        String mb = "x".repeat(1024 * 1024);
        a.set(2, mb, mb + "y", "z");
        await().atMost(Duration.ofSeconds(10)).until(() -> o.version() == 2);
        assertThat(seen.get(seen.size() - 1).chunks()).containsExactly(mb, mb + "y", "z");

        // Changes in quick succession: the observer may skip some, never goes back, and ends at the newest.
        for (int v = 3; v <= 60; v++) a.set(v, "{\"v\":" + v + "}");
        await().atMost(Duration.ofSeconds(10)).until(() -> o.version() == 60);
        List<Long> versions = seen.stream().map(ImageServer.Image::version).toList();
        assertThat(versions).isSorted().doesNotHaveDuplicates().startsWith(1L, 2L).endsWith(60L);
        assertThat(seen.get(seen.size() - 1).chunks()).containsExactly("{\"v\":60}");
    }

    @Test
    void anObserverMovesToTheLeaderAndOnWhenItsVoterGoesAwayAndNeverGoesBack() throws Exception {
        Voter a = new Voter();
        Voter b = new Voter();
        voter(A, QuorumTransport.Admission.ANYONE).serveObservers(a.server);
        QuorumTransport tb = voter(B, QuorumTransport.Admission.ANYONE);
        tb.serveObservers(b.server);
        // A knows no leader (it may be cut off from the others): the observer takes no first image there (it could not
        // tell it is current) and does not stay.
        b.leader.set(B);
        a.set(5, "five");
        b.set(7, "seven");
        List<ImageServer.Image> seen = new CopyOnWriteArrayList<>();
        QuorumObserver o = observer(List.of(A, B), 0, seen);
        await().atMost(Duration.ofSeconds(10)).until(() -> o.version() == 7 && B.equals(o.source()));

        // The leader goes away and A leads: the observer reads from A, which is behind (version 5): nothing older is
        // handed over.
        a.leader.set(A);
        tb.closeAsync().toCompletionStage().toCompletableFuture().get(10, TimeUnit.SECONDS);
        await().atMost(Duration.ofSeconds(10)).until(() -> A.equals(o.source()));
        a.set(6, "six");
        a.set(9, "nine");
        await().atMost(Duration.ofSeconds(10)).until(() -> o.version() == 9);
        assertThat(seen.stream().map(ImageServer.Image::version).toList()).containsExactly(7L, 9L);
        assertThat(seen.get(1).chunks()).containsExactly("nine");
    }

    @Test
    void aVoterRefusesObserversItDoesNotServeOrAdmitAndClosesABadOneAlone() throws Exception {
        // Not serving images yet: refused, and the observer tries again until it is served.
        Voter a = new Voter();
        a.leader.set(A);
        QuorumTransport ta = voter(A, QuorumTransport.Admission.ANYONE);
        a.set(3, "three");
        QuorumObserver o = observer(List.of(A), 0, new CopyOnWriteArrayList<>());
        await().atMost(Duration.ofSeconds(10)).until(() -> ta.refusedConnections() > 0);
        assertThat(o.version()).isZero();
        ta.serveObservers(a.server);
        await().atMost(Duration.ofSeconds(10)).until(() -> o.version() == 3);

        // The admission says no: nothing is read.
        Voter b = new Voter();
        QuorumTransport tb = voter(B, (hello, socket) -> Future.failedFuture("no CLUSTER_ACTION for " + hello.username()));
        tb.serveObservers(b.server);
        b.set(4, "four");
        QuorumObserver refused = observer(List.of(B), 0, new CopyOnWriteArrayList<>());
        await().atMost(Duration.ofSeconds(10)).until(() -> tb.refusedConnections() > 0);
        assertThat(refused.version()).isZero();

        // Garbage after an observer's hello, an unknown request, and a second fetch before the first is answered: each
        // closes its own connection; the good observer goes on.
        int port = addresses.get(A).port();
        byte[] hello = new QuorumTransport.Hello(CLUSTER, OBSERVER, null, null, true).encode();
        assertClosedAfter(port, out -> {
            frame(out, hello);
            frame(out, new byte[] {9, 9, 9});
        });
        assertClosedAfter(port, out -> {
            frame(out, hello);
            frame(out, fetch(ImageServer.CHUNK, 0, 0));
        });
        assertClosedAfter(port, out -> {
            frame(out, hello);
            frame(out, fetch(ImageServer.FETCH, 1_000, 10_000)); // nothing newer than 1000: it waits
            frame(out, fetch(ImageServer.FETCH, 1_000, 10_000));
        });
        assertClosedAfter(port, out -> {
            frame(out, hello);
            frame(out, fetch(ImageServer.FETCH, 0, 3_600_000)); // a wait beyond the bound
        });
        a.set(8, "eight");
        await().atMost(Duration.ofSeconds(10)).until(() -> o.version() == 8);
    }

    private QuorumTransport voter(QuorumEndpoint self, QuorumTransport.Admission admission) throws Exception {
        QuorumTransport t = new QuorumTransport(vertx, self, CLUSTER, addresses::get, new NetServerOptions().setHost("127.0.0.1").setPort(0),
                new NetClientOptions(), null, admission, raftThread, m -> { });
        transports.add(t);
        int port = t.start().toCompletionStage().toCompletableFuture().get(10, TimeUnit.SECONDS);
        addresses.put(self, SocketAddress.inetSocketAddress(port, "127.0.0.1"));
        return t;
    }

    private QuorumObserver observer(List<QuorumEndpoint> voters, long from, List<ImageServer.Image> seen) {
        QuorumObserver o = new QuorumObserver(vertx, OBSERVER, CLUSTER, () -> voters, addresses::get, new NetClientOptions(), null, from, seen::add);
        observers.add(o);
        o.start();
        return o;
    }

    private static byte[] fetch(byte type, long after, int waitMs) {
        return QuorumCodec.write(out -> {
            out.writeByte(type);
            out.writeLong(after);
            out.writeInt(waitMs);
        });
    }
}
