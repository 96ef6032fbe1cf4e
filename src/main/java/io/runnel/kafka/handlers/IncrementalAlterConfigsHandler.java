package io.runnel.kafka.handlers;

import io.runnel.config.BrokerConfig;
import io.runnel.config.ConfigException;
import io.runnel.config.TopicConfig;
import io.runnel.group.GroupConfig;
import io.runnel.kafka.RequestContext;
import io.runnel.kafka.TypedApiHandler;
import io.runnel.partition.LocalTopic;
import io.vertx.core.Future;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Set;
import java.util.function.UnaryOperator;
import org.apache.kafka.clients.admin.AlterConfigOp;
import org.apache.kafka.common.acl.AclOperation;
import org.apache.kafka.common.config.ConfigResource;
import org.apache.kafka.common.errors.InvalidConfigurationException;
import org.apache.kafka.common.errors.InvalidRequestException;
import org.apache.kafka.common.errors.UnknownTopicOrPartitionException;
import org.apache.kafka.common.message.IncrementalAlterConfigsRequestData.AlterConfigsResource;
import org.apache.kafka.common.message.IncrementalAlterConfigsRequestData.AlterableConfig;
import org.apache.kafka.common.message.IncrementalAlterConfigsResponseData.AlterConfigsResourceResponse;
import org.apache.kafka.common.message.IncrementalAlterConfigsResponseData;
import org.apache.kafka.common.protocol.ApiKeys;
import org.apache.kafka.common.protocol.Errors;
import org.apache.kafka.common.requests.AbstractResponse;
import org.apache.kafka.common.requests.IncrementalAlterConfigsRequest;
import org.apache.kafka.common.requests.IncrementalAlterConfigsResponse;

/**
 * IncrementalAlterConfigs. Topics: SET and DELETE on every topic key Runnel honours, APPEND and SUBTRACT on the
 * list key {@code cleanup.policy}; validated as at creation, persisted, and applied to the partitions at once.
 * Brokers: SET and DELETE on the dynamic keys ({@link BrokerConfig#DYNAMIC_KEYS}, the defaults of the topic storage
 * settings), for the cluster-wide default resource (empty name) or this broker (its node id), as in Kafka; persisted
 * in {@code dynamic-config.properties} and applied to every topic that does not override them.
 */
public final class IncrementalAlterConfigsHandler extends TypedApiHandler<IncrementalAlterConfigsRequest> {
    private static final Set<String> LIST_KEYS = Set.of(TopicConfig.CLEANUP_POLICY.name());

    public IncrementalAlterConfigsHandler() {
        super(ApiKeys.INCREMENTAL_ALTER_CONFIGS, IncrementalAlterConfigsRequest.class);
    }


    @Override
    protected Future<AbstractResponse> serve(RequestContext ctx, IncrementalAlterConfigsRequest r) {
        List<AlterConfigsResourceResponse> results = new ArrayList<>();
        List<Future<?>> all = new ArrayList<>();
        for (AlterConfigsResource res : r.data().resources()) {
            AlterConfigsResourceResponse out = new AlterConfigsResourceResponse().setResourceType(res.resourceType()).setResourceName(res.resourceName());
            results.add(out);
            Future<?> done;
            try {
                ConfigResource.Type type = ConfigResource.Type.forId(res.resourceType());
                // Kafka's check: ALTER_CONFIGS on the topic, or on the cluster for a broker.
                if (type == ConfigResource.Type.TOPIC && !ctx.authorizeTopic(AclOperation.ALTER_CONFIGS, res.resourceName())) {
                    throw Errors.TOPIC_AUTHORIZATION_FAILED.exception();
                }
                if (type == ConfigResource.Type.BROKER && !ctx.authorizeCluster(AclOperation.ALTER_CONFIGS)) throw Errors.CLUSTER_AUTHORIZATION_FAILED.exception();
                if (type == ConfigResource.Type.GROUP && !ctx.authorizeGroup(AclOperation.ALTER_CONFIGS, res.resourceName())) {
                    throw Errors.GROUP_AUTHORIZATION_FAILED.exception();
                }
                if (type == ConfigResource.Type.BROKER) done = alterBroker(ctx, r.data().validateOnly(), res);
                else if (type == ConfigResource.Type.TOPIC) done = alterTopic(ctx, r.data().validateOnly(), res);
                else if (type == ConfigResource.Type.GROUP) done = alterGroup(ctx, r.data().validateOnly(), res);
                else throw new InvalidRequestException("Resource type " + type + " has no configuration in Runnel");
            } catch (RuntimeException e) {
                done = Future.failedFuture(e);
            }
            all.add(Outcomes.recordError(done, (code, message) -> out.setErrorCode(code).setErrorMessage(message)));
        }
        return Future.join(all).transform(x -> Future.succeededFuture(
                new IncrementalAlterConfigsResponse(new IncrementalAlterConfigsResponseData().setResponses(results))));
    }

    private static Future<?> alterBroker(RequestContext ctx, boolean validateOnly, AlterConfigsResource res) {
        boolean clusterDefault = res.resourceName().isEmpty();
        if (!clusterDefault && !res.resourceName().equals(Integer.toString(ctx.broker().nodeId()))) {
            throw new InvalidRequestException("Broker " + res.resourceName() + " is not this broker (" + ctx.broker().nodeId() + ")");
        }
        var dynamic = ctx.broker().dynamicConfig();
        Map<String, String> level = apply(new LinkedHashMap<>(dynamic.overrides(clusterDefault)), res, Set.of());
        if (!validateOnly) return ctx.broker().topicAdmin().alterBrokerConfig(clusterDefault, level);
        return validate(() -> dynamic.validate(clusterDefault, level));
    }

    private static Future<?> alterTopic(RequestContext ctx, boolean validateOnly, AlterConfigsResource res) {
        Optional<LocalTopic> t = ctx.broker().topics().topic(res.resourceName());
        if (t.isEmpty()) throw new UnknownTopicOrPartitionException("Topic '" + res.resourceName() + "' does not exist.");
        Map<String, String> overrides = apply(new LinkedHashMap<>(t.get().config().overrides()), res, LIST_KEYS);
        if (!validateOnly) return ctx.broker().topicAdmin().alterTopicConfig(res.resourceName(), overrides);
        return validate(() -> TopicConfig.of(ctx.broker().dynamicConfig().current(), overrides));
    }

    /** A group's configuration (Kafka 4's GROUP resource), cluster metadata that any broker changes. */
    private static Future<?> alterGroup(RequestContext ctx, boolean validateOnly, AlterConfigsResource res) {
        if (res.resourceName() == null || res.resourceName().isEmpty()) throw new InvalidRequestException("A group id is required");
        var groups = ctx.broker().groups();
        UnaryOperator<Map<String, String>> change = current -> apply(new LinkedHashMap<>(current), res, Set.of());
        if (!validateOnly) return groups.alterGroupConfig(res.resourceName(), change);
        change.apply(groups.groupConfigOverrides(res.resourceName())).forEach(GroupConfig::validate);
        return Future.succeededFuture();
    }

    /** Runs a configuration check for validate-only requests, with Kafka's exception for a bad value. */
    private static Future<?> validate(Runnable check) {
        try {
            check.run();
            return Future.succeededFuture();
        } catch (ConfigException e) {
            throw new InvalidConfigurationException(e.getMessage());
        }
    }

    private static Map<String, String> apply(Map<String, String> overrides, AlterConfigsResource res, Set<String> listKeys) {
        for (AlterableConfig c : res.configs()) {
            AlterConfigOp.OpType op = AlterConfigOp.OpType.forId(c.configOperation());
            if (op == null) throw new InvalidRequestException("Unknown config operation " + c.configOperation());
            switch (op) {
                case SET -> overrides.put(c.name(), c.value());
                case DELETE -> overrides.remove(c.name());
                case APPEND, SUBTRACT -> {
                    if (!listKeys.contains(c.name())) {
                        throw new InvalidConfigurationException("Config '" + c.name() + "' is not a list; " + op + " applies to " + listKeys);
                    }
                    Set<String> values = new LinkedHashSet<>(Arrays.asList(overrides.getOrDefault(c.name(), "delete").split(",")));
                    List<String> change = Arrays.stream(c.value().split(",")).map(String::trim).toList();
                    if (op == AlterConfigOp.OpType.APPEND) values.addAll(change);
                    else change.forEach(values::remove);
                    overrides.put(c.name(), String.join(",", values));
                }
                default -> throw new InvalidRequestException("Unsupported operation " + op);
            }
        }
        return overrides;
    }
}
