package io.runnel.partition;

import io.vertx.core.Context;
import io.vertx.core.Deployable;
import io.vertx.core.Future;
import io.vertx.core.Vertx;

/**
 * Deploys long-lived verticles (partitions, group shards) as top-level deployments. Vert.x makes a verticle deployed
 * from inside another verticle its child, undeployed with it; a topic created by a Kafka request would otherwise die
 * with the connection's listener verticle. Deployments therefore go through a context of their own, created when the
 * broker starts, outside every verticle.
 */
public final class Deployer {
    private final Vertx vertx;
    private final Context context;

    /** Call from outside Vert.x's threads (broker start-up), so that the context belongs to no deployment. */
    public Deployer(Vertx vertx) {
        this.vertx = vertx;
        this.context = vertx.getOrCreateContext();
    }

    public Future<String> deploy(Deployable verticle) {
        return OnContext.compose(context, () -> vertx.deployVerticle(verticle));
    }

    public Future<Void> undeploy(String deploymentId) {
        return OnContext.compose(context, () -> vertx.undeploy(deploymentId));
    }

    /** A periodic timer on this context (which no undeployment closes); completes with the timer's id. */
    public Future<Long> periodic(long periodMs, io.vertx.core.Handler<Long> handler) {
        return OnContext.compose(context, () -> Future.succeededFuture(vertx.setPeriodic(periodMs, handler)));
    }
}
