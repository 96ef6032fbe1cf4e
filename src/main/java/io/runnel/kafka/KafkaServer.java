package io.runnel.kafka;

import io.runnel.config.BrokerConfig;
import io.runnel.config.Listener;
import io.runnel.config.SecurityKeys;
import io.runnel.security.BrokerSecurity;
import io.runnel.security.Session;
import io.runnel.security.TlsSettings;
import io.vertx.core.Context;
import io.vertx.core.DeploymentOptions;
import io.vertx.core.Future;
import io.vertx.core.VerticleBase;
import io.vertx.core.Vertx;
import io.vertx.core.VertxOptions;
import io.vertx.core.net.NetServer;
import io.vertx.core.net.NetServerOptions;
import io.vertx.core.net.NetSocket;
import java.net.InetAddress;
import java.net.UnknownHostException;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The Kafka protocol endpoint: for each entry of {@code listeners}, one NetServer per event loop sharing the port,
 * so that connections spread over every event loop. A port of 0 becomes a random port shared by the instances
 * (Vert.x's negative port convention).
 */
public final class KafkaServer {
    private static final Logger LOG = LoggerFactory.getLogger(KafkaServer.class);

    private final Map<String, Integer> boundPorts = new LinkedHashMap<>();
    private InflightBudget budget;
    private final List<String> deploymentIds = new ArrayList<>();
    /** Every NetServer instance, by listener name (for certificate reloads). */
    private final Map<String, List<ListenerVerticle>> instances = new LinkedHashMap<>();
    private final Vertx vertx;
    private long reloadTimer = -1;

    private KafkaServer(Vertx vertx) {
        this.vertx = vertx;
    }

    /**
     * Binds every listener and serves its connections once {@code serving} completes: until then a connection is
     * accepted but not read, as Kafka's broker binds its sockets at start but enables request processing only once it
     * has caught up with the cluster metadata (BrokerServer.startup), so that a client or broker reaching a starting
     * broker is not told that topics it simply has not learnt of yet do not exist.
     */
    public static Future<KafkaServer> start(Vertx vertx, KafkaApis apis, Future<Void> serving) {
        BrokerConfig config = apis.broker().config();
        KafkaServer server = new KafkaServer(vertx);
        InflightBudget budget = new InflightBudget(config.get(BrokerConfig.QUEUED_MAX_REQUEST_BYTES));
        server.budget = budget;
        int instances = VertxOptions.DEFAULT_EVENT_LOOP_POOL_SIZE;
        Future<Void> chain = Future.succeededFuture();
        int randomPortId = 0;
        for (Listener l : config.listeners()) {
            int port = l.port() == 0 ? --randomPortId : l.port();
            Map<String, Endpoint> advertised = server.advertisedFor(config, l);
            chain = chain.compose(v -> {
                List<ListenerVerticle> verticles = new ArrayList<>();
                return vertx.deployVerticle(() -> {
                    ListenerVerticle lv = new ListenerVerticle(l, port, apis, budget, advertised, serving);
                    synchronized (verticles) {
                        verticles.add(lv);
                    }
                    return lv;
                }, new DeploymentOptions().setInstances(instances)).map(id -> {
                    server.deploymentIds.add(id);
                    server.instances.put(l.name(), List.copyOf(verticles));
                    int actual = verticles.get(0).actualPort();
                    server.boundPorts.put(l.name(), actual);
                    String protocol = config.protocolOf(l.name()).name;
                    LOG.info("Kafka listener {} on {}:{}{}", l.name(), l.bindHost(), actual, protocol.equals(l.name()) ? "" : " (" + protocol + ")");
                    return null;
                });
            });
        }
        return chain.map(v -> {
            long interval = config.get(SecurityKeys.SSL_CERTIFICATE_RELOAD_INTERVAL_MS);
            if (interval > 0 && server.instances.keySet().stream().anyMatch(n -> apis.broker().security().listener(n).tls() != null)) {
                server.reloadTimer = vertx.setPeriodic(interval, id -> server.reloadChangedStores(apis.broker().security(), config));
            }
            return server;
        });
    }

    /**
     * Reloads the key and trust stores of every TLS listener whose files changed, and gives the new ones to its
     * servers: connections made from then on use them, open ones keep theirs (Kafka's dynamic keystore update does
     * the same). A store that cannot be read (a file half copied) keeps the old settings and is tried again next time.
     */
    private void reloadChangedStores(BrokerSecurity security, BrokerConfig config) {
        vertx.executeBlocking(() -> {
            List<TlsSettings> changed = new ArrayList<>();
            for (String name : instances.keySet()) {
                TlsSettings tls = security.listener(name).tls();
                if (tls == null || !tls.storesChanged()) continue;
                try {
                    changed.add(TlsSettings.load(config, name));
                } catch (RuntimeException e) {
                    LOG.warn("TLS stores of listener {} changed but cannot be loaded; keeping the previous ones: {}", name, e.getMessage());
                }
            }
            return changed;
        }, false).onSuccess(changed -> {
            for (TlsSettings tls : changed) {
                security.replaceTls(tls);
                for (ListenerVerticle v : instances.get(tls.listener())) v.updateTls(tls);
                LOG.info("Reloaded the TLS key and trust stores of listener {}", tls.listener());
            }
        });
    }

    /** The advertised endpoint for listener {@code l}: from advertised.listeners, else the listener itself. */
    private Map<String, Endpoint> advertisedFor(BrokerConfig config, Listener l) {
        Map<String, Endpoint> m = new LinkedHashMap<>();
        List<Listener> advertised = config.get(BrokerConfig.ADVERTISED_LISTENERS);
        if (advertised != null) {
            for (Listener a : advertised) if (a.name().equals(l.name())) m.put(l.name(), new Endpoint(a.name(), a.host(), a.port()));
        }
        return m;
    }

    /** The port each listener is bound to, by listener name. */
    public Map<String, Integer> boundPorts() {
        return boundPorts;
    }

    /** Request bytes read and not yet answered, over all connections (the broker-wide credit in use). */
    public long inflightRequestBytes() {
        return budget.usedBytes();
    }

    public Future<Void> stop() {
        if (reloadTimer >= 0) vertx.cancelTimer(reloadTimer);
        List<Future<Void>> all = new ArrayList<>();
        for (String id : deploymentIds) all.add(vertx.undeploy(id));
        return Future.all(all).mapEmpty();
    }

    /** One NetServer instance on one event loop. */
    private static final class ListenerVerticle extends VerticleBase {
        private final Listener listener;
        private final int port;
        private final KafkaApis apis;
        private final InflightBudget budget;
        private final Map<String, Endpoint> advertised;
        private final Future<Void> serving;
        private NetServer server;

        ListenerVerticle(Listener listener, int port, KafkaApis apis, InflightBudget budget, Map<String, Endpoint> advertised,
                         Future<Void> serving) {
            this.serving = serving;
            this.listener = listener;
            this.port = port;
            this.apis = apis;
            this.budget = budget;
            this.advertised = advertised;
        }

        @Override
        public Future<?> start() {
            NetServerOptions options = new NetServerOptions().setHost(listener.bindHost()).setPort(port).setTcpNoDelay(true);
            TlsSettings tls = apis.broker().security().listener(listener.name()).tls();
            if (tls != null) tls.applyTo(options);
            server = vertx.createNetServer(options).connectHandler(this::accept);
            return server.listen();
        }

        private void accept(NetSocket socket) {
            String clientHost = socket.remoteAddress() == null ? "" : socket.remoteAddress().host();
            Session session;
            try {
                session = apis.broker().security().newSession(listener.name(), clientHost, socket.isSsl() ? socket.sslSession() : null);
            } catch (IllegalArgumentException e) {
                LOG.info("Refusing a connection from {} on listener {}: {}", clientHost, listener.name(), e.getMessage());
                socket.close();
                return;
            }
            BrokerConfig config = apis.broker().config();
            new Connection(socket, apis, endpointFor(socket.localAddress().hostAddress()), budget, config.get(BrokerConfig.SOCKET_REQUEST_MAX_BYTES),
                    config.get(BrokerConfig.CONNECTION_MAX_INFLIGHT_BYTES), session,
                    config.forListener(listener.name(), SecurityKeys.SASL_SERVER_MAX_RECEIVE_SIZE),
                    config.forListener(listener.name(), SecurityKeys.CONNECTION_FAILED_AUTHENTICATION_DELAY_MS));
            if (!serving.isComplete()) {
                socket.pause(); // read once the broker serves (see start)
                Context here = vertx.getOrCreateContext();
                serving.onComplete(x -> here.runOnContext(v -> socket.resume()));
            }
        }

        void updateTls(TlsSettings tls) {
            server.updateSSLOptions(tls.serverOptions(), true);
        }

        int actualPort() {
            return server.actualPort();
        }

        /**
         * The address Metadata gives clients of this listener: advertised.listeners when set; else the listener's
         * host, or for a wildcard host the address this connection reached (which the client can reach).
         */
        private Endpoint endpointFor(String localAddress) {
            Endpoint a = advertised.get(listener.name());
            if (a != null) return a;
            String host = listener.host();
            if (host.isEmpty() || host.equals("0.0.0.0") || host.equals("::")) host = localAddress != null ? localAddress : localHostName();
            return new Endpoint(listener.name(), host, server.actualPort());
        }

        private static String localHostName() {
            try {
                return InetAddress.getLocalHost().getCanonicalHostName();
            } catch (UnknownHostException e) {
                return "localhost";
            }
        }
    }
}
