package io.runnel.kafka.handlers;

import io.runnel.config.BrokerConfig;
import io.runnel.config.ConfigException;
import io.runnel.config.Limits;
import io.runnel.config.TopicConfig;
import io.runnel.kafka.RequestContext;
import io.runnel.kafka.TypedApiHandler;
import io.vertx.core.Future;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import org.apache.kafka.common.acl.AclOperation;
import org.apache.kafka.common.errors.InvalidConfigurationException;
import org.apache.kafka.common.errors.InvalidPartitionsException;
import org.apache.kafka.common.errors.InvalidReplicaAssignmentException;
import org.apache.kafka.common.errors.InvalidReplicationFactorException;
import org.apache.kafka.common.errors.InvalidRequestException;
import org.apache.kafka.common.errors.TopicAuthorizationException;
import org.apache.kafka.common.errors.TopicExistsException;
import org.apache.kafka.common.internals.Topic;
import org.apache.kafka.common.message.CreateTopicsRequestData.CreatableReplicaAssignment;
import org.apache.kafka.common.message.CreateTopicsRequestData.CreatableTopic;
import org.apache.kafka.common.message.CreateTopicsRequestData.CreatableTopicConfig;
import org.apache.kafka.common.message.CreateTopicsResponseData.CreatableTopicConfigs;
import org.apache.kafka.common.message.CreateTopicsResponseData.CreatableTopicResult;
import org.apache.kafka.common.message.CreateTopicsResponseData.CreatableTopicResultCollection;
import org.apache.kafka.common.message.CreateTopicsResponseData;
import org.apache.kafka.common.protocol.ApiKeys;
import org.apache.kafka.common.requests.AbstractResponse;
import org.apache.kafka.common.requests.CreateTopicsRequest;
import org.apache.kafka.common.requests.CreateTopicsResponse;
import org.apache.kafka.common.requests.DescribeConfigsResponse.ConfigSource;

/**
 * CreateTopics: partition count (-1 for {@code num.partitions}), replication factor (-1 for
 * {@code default.replication.factor}; it may not exceed the live brokers), manual assignments (partitions 0 to n-1;
 * in a cluster the controller checks the brokers, as KRaft's does; alone, every replica must be this broker),
 * configuration overrides, and validate-only. Each topic gets its own error.
 */
public final class CreateTopicsHandler extends TypedApiHandler<CreateTopicsRequest> {
    public CreateTopicsHandler() {
        super(ApiKeys.CREATE_TOPICS, CreateTopicsRequest.class);
    }

    @Override
    protected Future<AbstractResponse> serve(RequestContext ctx, CreateTopicsRequest r) {
        boolean validateOnly = r.data().validateOnly();
        CreatableTopicResultCollection results = new CreatableTopicResultCollection();
        List<Future<?>> all = new ArrayList<>();
        Set<String> seen = new HashSet<>();
        Set<String> duplicates = new HashSet<>();
        for (CreatableTopic t : r.data().topics()) if (!seen.add(t.name())) duplicates.add(t.name());
        // Kafka's check: CREATE on the cluster, or else on each topic.
        boolean clusterCreate = ctx.authorizeQuietly(AclOperation.CREATE, org.apache.kafka.common.resource.ResourceType.CLUSTER,
                io.runnel.security.Authorizer.CLUSTER);
        for (CreatableTopic t : r.data().topics()) {
            CreatableTopicResult out = new CreatableTopicResult().setName(t.name()).setNumPartitions(-1).setReplicationFactor((short) -1);
            results.add(out);
            Future<?> done;
            try {
                if (duplicates.contains(t.name())) throw new InvalidRequestException("Topic '" + t.name() + "' appears more than once in the request.");
                if (!clusterCreate && !ctx.authorizeTopic(AclOperation.CREATE, t.name())) {
                    throw new TopicAuthorizationException("Authorization failed.");
                }
                Map<String, String> configs = new LinkedHashMap<>();
                for (CreatableTopicConfig c : t.configs()) configs.put(c.name(), c.value());
                int partitions = partitionCount(ctx, t);
                short rf = replicationFactor(ctx, t);
                Topic.validate(t.name());
                TopicConfig config;
                try {
                    config = TopicConfig.of(ctx.broker().dynamicConfig().current(), configs);
                } catch (ConfigException e) {
                    throw new InvalidConfigurationException(e.getMessage());
                }
                if (validateOnly) {
                    if (ctx.broker().topics().topic(t.name()).isPresent()) throw new TopicExistsException("Topic '" + t.name() + "' already exists.");
                    fill(ctx, out, partitions, rf, config);
                    done = Future.succeededFuture();
                } else {
                    done = (t.assignments().isEmpty() || !ctx.broker().cluster().clustered()
                            ? ctx.broker().topicAdmin().createTopic(t.name(), partitions, t.assignments().isEmpty() ? rf : 1, configs)
                            : ctx.broker().topicAdmin().createTopic(t.name(), assignment(t), configs)).map(info -> {
                        out.setTopicId(info.topicId());
                        fill(ctx, out, partitions, rf, info.config());
                        return null;
                    });
                }
            } catch (RuntimeException e) {
                done = Future.failedFuture(e);
            }
            all.add(Outcomes.recordError(done, (code, message) -> out.setErrorCode(code).setErrorMessage(message)));
        }
        return Future.join(all).transform(x -> Future.succeededFuture(new CreateTopicsResponse(new CreateTopicsResponseData().setTopics(results))));
    }

    /** A manual assignment as replicas per partition, in partition order (partitionCount checked the indexes). */
    private static List<List<Integer>> assignment(CreatableTopic t) {
        List<List<Integer>> out = new ArrayList<>();
        for (int p = 0; p < t.assignments().size(); p++) out.add(List.copyOf(t.assignments().find(p).brokerIds()));
        return out;
    }

    private static int partitionCount(RequestContext ctx, CreatableTopic t) {
        if (!t.assignments().isEmpty()) {
            if (t.numPartitions() != -1 || t.replicationFactor() != -1) {
                throw new InvalidRequestException("Both a manual assignment and a partition count or replication factor were given.");
            }
            // Partitions 0 to n-1, each once (Kafka: "partitions should be a consecutive 0-based integer sequence").
            for (int p = 0; p < t.assignments().size(); p++) {
                if (t.assignments().find(p) == null) {
                    throw new InvalidReplicaAssignmentException("The manual partition assignment must name partitions 0 to "
                            + (t.assignments().size() - 1) + " each once; partition " + p + " is missing.");
                }
            }
            if (ctx.broker().cluster().clustered()) return t.assignments().size(); // the controller checks the brokers
            int node = ctx.broker().nodeId();
            for (CreatableReplicaAssignment a : t.assignments()) {
                if (!a.brokerIds().equals(List.of(node))) {
                    throw new InvalidReplicaAssignmentException("Partition " + a.partitionIndex() + " is assigned to brokers " + a.brokerIds()
                            + "; the only live broker is " + node);
                }
            }
            return t.assignments().size();
        }
        int n = t.numPartitions() == -1 ? ctx.broker().config().get(BrokerConfig.NUM_PARTITIONS) : t.numPartitions();
        if (n < 1 || n > Limits.PARTITIONS_PER_TOPIC_MAX) {
            throw new InvalidPartitionsException("Number of partitions must be between 1 and " + Limits.PARTITIONS_PER_TOPIC_MAX + ", got " + n);
        }
        return n;
    }

    private static short replicationFactor(RequestContext ctx, CreatableTopic t) {
        if (!t.assignments().isEmpty()) return (short) t.assignments().find(0).brokerIds().size();
        int rf = t.replicationFactor() == -1 ? ctx.broker().config().get(BrokerConfig.DEFAULT_REPLICATION_FACTOR) : t.replicationFactor();
        if (ctx.broker().cluster().clustered()) {
            if (rf < 1) throw new InvalidReplicationFactorException("Replication factor " + rf + " is invalid: it must be at least 1.");
            return (short) rf; // the controller checks it against the live brokers
        }
        if (rf < 1 || rf > 1) {
            throw new InvalidReplicationFactorException("Replication factor " + rf + " is invalid: it must be at least 1 and at most the "
                    + "number of live brokers (1).");
        }
        return (short) rf;
    }

    private static void fill(RequestContext ctx, CreatableTopicResult out, int partitions, short rf, TopicConfig config) {
        out.setNumPartitions(partitions).setReplicationFactor(rf);
        List<CreatableTopicConfigs> configs = new ArrayList<>();
        for (TopicConfig.Entry e : config.describe(ctx.broker().dynamicConfig().current())) {
            configs.add(new CreatableTopicConfigs().setName(e.name()).setValue(e.value()).setReadOnly(false).setIsSensitive(false)
                    .setConfigSource(ConfigSources.of(e)));
        }
        out.setConfigs(configs);
    }

    /** Kafka's config source codes (DescribeConfigsResponse.ConfigSource). */
    static final class ConfigSources {
        private ConfigSources() {
        }

        static byte of(TopicConfig.Entry e) {
            return e.overridden() ? ConfigSource.TOPIC_CONFIG.id() : brokerSource(e.brokerKey());
        }

        static byte brokerSource(String brokerKey) {
            return brokerKey == null ? ConfigSource.DEFAULT_CONFIG.id() : ConfigSource.STATIC_BROKER_CONFIG.id();
        }
    }
}
