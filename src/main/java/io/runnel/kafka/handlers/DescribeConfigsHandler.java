package io.runnel.kafka.handlers;

import io.runnel.config.BrokerConfig;
import io.runnel.config.ConfigKey;
import io.runnel.config.TopicConfig;
import io.runnel.kafka.RequestContext;
import io.runnel.kafka.TypedApiHandler;
import io.runnel.partition.LocalTopic;
import io.vertx.core.Future;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import org.apache.kafka.common.acl.AclOperation;
import org.apache.kafka.common.config.ConfigResource;
import org.apache.kafka.common.config.types.Password;
import org.apache.kafka.common.message.DescribeConfigsRequestData.DescribeConfigsResource;
import org.apache.kafka.common.message.DescribeConfigsResponseData.DescribeConfigsResourceResult;
import org.apache.kafka.common.message.DescribeConfigsResponseData.DescribeConfigsResult;
import org.apache.kafka.common.message.DescribeConfigsResponseData.DescribeConfigsSynonym;
import org.apache.kafka.common.message.DescribeConfigsResponseData;
import org.apache.kafka.common.protocol.ApiKeys;
import org.apache.kafka.common.protocol.Errors;
import org.apache.kafka.common.requests.AbstractResponse;
import org.apache.kafka.common.requests.DescribeConfigsRequest;
import org.apache.kafka.common.requests.DescribeConfigsResponse.ConfigSource;
import org.apache.kafka.common.requests.DescribeConfigsResponse.ConfigType;
import org.apache.kafka.common.requests.DescribeConfigsResponse;

/**
 * DescribeConfigs for topics (every topic key Runnel honours, with its source and, on request, its broker synonym
 * and documentation) and for this broker (every broker key; the name is the node id, or empty for the defaults).
 */
public final class DescribeConfigsHandler extends TypedApiHandler<DescribeConfigsRequest> {
    public DescribeConfigsHandler() {
        super(ApiKeys.DESCRIBE_CONFIGS, DescribeConfigsRequest.class);
    }

    @Override
    protected Future<AbstractResponse> serve(RequestContext ctx, DescribeConfigsRequest r) {
        boolean synonyms = r.data().includeSynonyms();
        boolean docs = r.data().includeDocumentation();
        List<DescribeConfigsResult> results = new ArrayList<>();
        List<Future<?>> pending = new ArrayList<>();
        for (DescribeConfigsResource res : r.data().resources()) {
            DescribeConfigsResult out = new DescribeConfigsResult().setResourceType(res.resourceType()).setResourceName(res.resourceName());
            results.add(out);
            ConfigResource.Type type = ConfigResource.Type.forId(res.resourceType());
            List<DescribeConfigsResourceResult> entries = new ArrayList<>();
            // Kafka's check: DESCRIBE_CONFIGS on the topic, or on the cluster for a broker.
            if (type == ConfigResource.Type.TOPIC && !ctx.authorizeTopic(AclOperation.DESCRIBE_CONFIGS, res.resourceName())) {
                out.setErrorCode(Errors.TOPIC_AUTHORIZATION_FAILED.code()).setErrorMessage(Errors.TOPIC_AUTHORIZATION_FAILED.message());
                continue;
            }
            if (type == ConfigResource.Type.BROKER && !ctx.authorizeCluster(AclOperation.DESCRIBE_CONFIGS)) {
                out.setErrorCode(Errors.CLUSTER_AUTHORIZATION_FAILED.code()).setErrorMessage(Errors.CLUSTER_AUTHORIZATION_FAILED.message());
                continue;
            }
            if (type == ConfigResource.Type.TOPIC) {
                Optional<LocalTopic> t = ctx.broker().topics().topic(res.resourceName());
                if (t.isEmpty()) {
                    out.setErrorCode(Errors.UNKNOWN_TOPIC_OR_PARTITION.code()).setErrorMessage("Topic '" + res.resourceName() + "' does not exist.");
                    continue;
                }
                for (TopicConfig.Entry e : t.get().config().describe(ctx.broker().dynamicConfig().current())) {
                    DescribeConfigsResourceResult c = new DescribeConfigsResourceResult().setName(e.name()).setValue(e.value())
                            .setConfigSource(CreateTopicsHandler.ConfigSources.of(e)).setReadOnly(false).setIsSensitive(false)
                            .setConfigType(ConfigType.STRING.id()).setDocumentation(docs ? e.doc() : null);
                    if (synonyms) {
                        if (e.overridden()) c.synonyms().add(new DescribeConfigsSynonym().setName(e.name()).setValue(e.value()).setSource(ConfigSource.TOPIC_CONFIG.id()));
                        if (e.brokerKey() != null) {
                            c.synonyms().add(new DescribeConfigsSynonym().setName(e.brokerKey()).setValue(e.brokerValue())
                                    .setSource(ConfigSource.STATIC_BROKER_CONFIG.id()));
                        }
                    }
                    entries.add(c);
                }
            } else if (type == ConfigResource.Type.BROKER) {
                String name = res.resourceName();
                if (!name.isEmpty() && !name.equals(Integer.toString(ctx.broker().nodeId()))) {
                    out.setErrorCode(Errors.INVALID_REQUEST.code()).setErrorMessage("Broker " + name + " is not this broker (" + ctx.broker().nodeId() + ")");
                    continue;
                }
                BrokerConfig config = ctx.broker().dynamicConfig().current();
                for (ConfigKey<?> k : BrokerConfig.KEYS) {
                    Object v = config.get(k);
                    byte source = switch (config.origin(k)) {
                        case "default" -> ConfigSource.DEFAULT_CONFIG.id();
                        case BrokerConfig.DYNAMIC_DEFAULT -> ConfigSource.DYNAMIC_DEFAULT_BROKER_CONFIG.id();
                        case BrokerConfig.DYNAMIC_BROKER -> ConfigSource.DYNAMIC_BROKER_CONFIG.id();
                        default -> ConfigSource.STATIC_BROKER_CONFIG.id();
                    };
                    DescribeConfigsResourceResult c = new DescribeConfigsResourceResult().setName(k.name()).setValue(text(v))
                            .setConfigSource(source).setReadOnly(!BrokerConfig.DYNAMIC_KEYS.contains(k.name())).setIsSensitive(v instanceof Password)
                            .setConfigType(type(v).id())
                            .setDocumentation(docs ? k.doc() : null);
                    if (synonyms) c.synonyms().add(new DescribeConfigsSynonym().setName(k.name()).setValue(text(v)).setSource(source));
                    entries.add(c);
                }
            } else if (type == ConfigResource.Type.GROUP) {
                // Kafka's check: DESCRIBE_CONFIGS on the group. Every broker holds groups' configurations.
                if (!ctx.authorizeGroup(AclOperation.DESCRIBE_CONFIGS, res.resourceName())) {
                    out.setErrorCode(Errors.GROUP_AUTHORIZATION_FAILED.code()).setErrorMessage(Errors.GROUP_AUTHORIZATION_FAILED.message());
                    continue;
                }
                List<String> keys = res.configurationKeys();
                var groups = ctx.broker().groups();
                Map<String, String> overrides = groups.groupConfigOverrides(res.resourceName());
                List<DescribeConfigsResourceResult> group = new ArrayList<>();
                groups.groupConfig(res.resourceName()).forEach((name, value) -> {
                    byte source = overrides.containsKey(name) ? ConfigSource.GROUP_CONFIG.id() : ConfigSource.DEFAULT_CONFIG.id();
                    DescribeConfigsResourceResult c = new DescribeConfigsResourceResult().setName(name).setValue(value)
                            .setConfigSource(source).setReadOnly(false).setIsSensitive(false).setConfigType(ConfigType.STRING.id());
                    if (synonyms) c.synonyms().add(new DescribeConfigsSynonym().setName(name).setValue(value).setSource(source));
                    if (keys == null || keys.isEmpty() || keys.contains(name)) group.add(c);
                });
                out.setConfigs(group);
                continue;
            } else {
                out.setErrorCode(Errors.INVALID_REQUEST.code()).setErrorMessage("Resource type " + type + " has no configuration in Runnel");
                continue;
            }
            List<String> keys = res.configurationKeys();
            out.setConfigs(keys == null || keys.isEmpty() ? entries : entries.stream().filter(c -> keys.contains(c.name())).toList());
        }
        DescribeConfigsResponse response = new DescribeConfigsResponse(new DescribeConfigsResponseData().setResults(results));
        if (pending.isEmpty()) return Future.succeededFuture(response);
        return Future.join(pending).transform(x -> Future.succeededFuture(response));
    }

    /** A value as DescribeConfigs shows it; passwords and JAAS texts never (null, with isSensitive, as in Kafka). */
    private static String text(Object v) {
        if (v == null || v instanceof Password) return null;
        if (v instanceof List<?> l) return String.join(",", l.stream().map(Object::toString).toList());
        return v.toString();
    }

    private static ConfigType type(Object v) {
        if (v instanceof Password) return ConfigType.PASSWORD;
        if (v instanceof Integer) return ConfigType.INT;
        if (v instanceof Long) return ConfigType.LONG;
        if (v instanceof Boolean) return ConfigType.BOOLEAN;
        if (v instanceof List) return ConfigType.LIST;
        return ConfigType.STRING;
    }
}
