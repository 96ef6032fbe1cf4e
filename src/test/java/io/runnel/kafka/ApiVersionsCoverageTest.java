package io.runnel.kafka;

import static org.assertj.core.api.Assertions.assertThat;

import io.runnel.testkit.Batches;
import io.runnel.testkit.Brokers;
import io.runnel.testkit.RawKafkaClient;
import io.runnel.testkit.SharedBroker;
import java.nio.ByteBuffer;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import org.apache.kafka.clients.admin.AlterConfigOp;
import org.apache.kafka.clients.admin.ConfigEntry;
import org.apache.kafka.common.ElectionType;
import org.apache.kafka.common.IsolationLevel;
import org.apache.kafka.common.TopicPartition;
import org.apache.kafka.common.Uuid;
import org.apache.kafka.common.config.ConfigResource;
import org.apache.kafka.common.message.AlterPartitionReassignmentsRequestData;
import org.apache.kafka.common.message.ApiVersionsResponseData.ApiVersion;
import org.apache.kafka.common.message.CreatePartitionsRequestData;
import org.apache.kafka.common.message.CreateTopicsRequestData;
import org.apache.kafka.common.message.DeleteTopicsRequestData;
import org.apache.kafka.common.message.DescribeClusterRequestData;
import org.apache.kafka.common.message.DescribeConfigsRequestData;
import org.apache.kafka.common.message.InitProducerIdRequestData;
import org.apache.kafka.common.message.ListOffsetsRequestData.ListOffsetsPartition;
import org.apache.kafka.common.message.ListOffsetsRequestData.ListOffsetsTopic;
import org.apache.kafka.common.message.ListPartitionReassignmentsRequestData;
import org.apache.kafka.common.message.MetadataRequestData;
import org.apache.kafka.common.message.OffsetForLeaderEpochRequestData;
import org.apache.kafka.common.message.ProduceRequestData;
import org.apache.kafka.common.protocol.ApiKeys;
import org.apache.kafka.common.protocol.ByteBufferAccessor;
import org.apache.kafka.common.protocol.Errors;
import org.apache.kafka.common.record.internal.MemoryRecords;
import org.apache.kafka.common.requests.AlterPartitionReassignmentsRequest;
import org.apache.kafka.common.requests.AlterPartitionReassignmentsResponse;
import org.apache.kafka.common.requests.ApiVersionsRequest;
import org.apache.kafka.common.requests.ApiVersionsResponse;
import org.apache.kafka.common.requests.CreatePartitionsRequest;
import org.apache.kafka.common.requests.CreatePartitionsResponse;
import org.apache.kafka.common.requests.CreateTopicsRequest;
import org.apache.kafka.common.requests.CreateTopicsResponse;
import org.apache.kafka.common.requests.DeleteTopicsRequest;
import org.apache.kafka.common.requests.DeleteTopicsResponse;
import org.apache.kafka.common.requests.DescribeClusterRequest;
import org.apache.kafka.common.requests.DescribeClusterResponse;
import org.apache.kafka.common.requests.DescribeConfigsRequest;
import org.apache.kafka.common.requests.DescribeConfigsResponse;
import org.apache.kafka.common.requests.ElectLeadersRequest;
import org.apache.kafka.common.requests.ElectLeadersResponse;
import org.apache.kafka.common.requests.FetchRequest;
import org.apache.kafka.common.requests.FetchResponse;
import org.apache.kafka.common.requests.IncrementalAlterConfigsRequest;
import org.apache.kafka.common.requests.IncrementalAlterConfigsResponse;
import org.apache.kafka.common.requests.InitProducerIdRequest;
import org.apache.kafka.common.requests.InitProducerIdResponse;
import org.apache.kafka.common.requests.ListOffsetsRequest;
import org.apache.kafka.common.requests.ListOffsetsResponse;
import org.apache.kafka.common.requests.ListPartitionReassignmentsRequest;
import org.apache.kafka.common.requests.ListPartitionReassignmentsResponse;
import org.apache.kafka.common.requests.MetadataRequest;
import org.apache.kafka.common.requests.MetadataResponse;
import org.apache.kafka.common.requests.OffsetsForLeaderEpochRequest;
import org.apache.kafka.common.requests.OffsetsForLeaderEpochResponse;
import org.apache.kafka.common.requests.ProduceRequest;
import org.apache.kafka.common.requests.ProduceResponse;
import org.apache.kafka.common.requests.RequestHeader;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/**
 * Every advertised version of the data-path APIs works, old non-flexible ones (librdkafka, kafkajs, Sarama) and new
 * flexible ones with tagged fields alike: each version produces a record and reads it back.
 */
class ApiVersionsCoverageTest extends SharedBroker {
    static Uuid topicId;

    @BeforeAll
    static void createTopic() throws Exception {
        topicId = Brokers.await(broker.topicAdmin().createTopic("versions", 1, Map.of())).topicId();
    }

    private static Map<ApiKeys, ApiVersion> advertised(RawKafkaClient c) throws Exception {
        ApiVersionsResponse r = c.send(new ApiVersionsRequest.Builder().build((short) 3));
        assertThat(r.data().errorCode()).isEqualTo(Errors.NONE.code());
        Map<ApiKeys, ApiVersion> out = new LinkedHashMap<>();
        for (ApiVersion v : r.data().apiKeys()) out.put(ApiKeys.forId(v.apiKey()), v);
        return out;
    }

    @Test
    void apiVersionsAdvertisesExactlyWhatIsImplementedAndAnswersEveryVersion() throws Exception {
        try (RawKafkaClient c = new RawKafkaClient(broker.bootstrapServers())) {
            Map<ApiKeys, ApiVersion> adv = advertised(c);
            assertThat(adv.keySet()).containsExactlyInAnyOrder(ApiKeys.API_VERSIONS, ApiKeys.METADATA, ApiKeys.PRODUCE, ApiKeys.FETCH,
                    ApiKeys.LIST_OFFSETS, ApiKeys.INIT_PRODUCER_ID, ApiKeys.CREATE_TOPICS, ApiKeys.DELETE_TOPICS,
                    ApiKeys.CREATE_PARTITIONS, ApiKeys.DESCRIBE_CLUSTER, ApiKeys.DESCRIBE_CONFIGS, ApiKeys.INCREMENTAL_ALTER_CONFIGS,
                    ApiKeys.FIND_COORDINATOR, ApiKeys.JOIN_GROUP, ApiKeys.SYNC_GROUP, ApiKeys.HEARTBEAT, ApiKeys.LEAVE_GROUP,
                    ApiKeys.OFFSET_COMMIT, ApiKeys.OFFSET_FETCH, ApiKeys.LIST_GROUPS, ApiKeys.DESCRIBE_GROUPS, ApiKeys.DELETE_GROUPS,
                    ApiKeys.OFFSET_DELETE, ApiKeys.CONSUMER_GROUP_HEARTBEAT, ApiKeys.CONSUMER_GROUP_DESCRIBE, ApiKeys.OFFSET_FOR_LEADER_EPOCH,
                    ApiKeys.SHARE_GROUP_HEARTBEAT, ApiKeys.SHARE_GROUP_DESCRIBE, ApiKeys.SHARE_FETCH, ApiKeys.SHARE_ACKNOWLEDGE,
                    ApiKeys.DESCRIBE_SHARE_GROUP_OFFSETS, ApiKeys.ALTER_SHARE_GROUP_OFFSETS, ApiKeys.DELETE_SHARE_GROUP_OFFSETS,
                    ApiKeys.READ_SHARE_GROUP_STATE, ApiKeys.WRITE_SHARE_GROUP_STATE, ApiKeys.INITIALIZE_SHARE_GROUP_STATE,
                    ApiKeys.DELETE_SHARE_GROUP_STATE, ApiKeys.READ_SHARE_GROUP_STATE_SUMMARY, ApiKeys.ELECT_LEADERS, ApiKeys.ALTER_PARTITION_REASSIGNMENTS, ApiKeys.LIST_PARTITION_REASSIGNMENTS,
                    ApiKeys.WRITE_TXN_MARKERS, ApiKeys.DESCRIBE_PRODUCERS, ApiKeys.ADD_PARTITIONS_TO_TXN, ApiKeys.END_TXN,
                    ApiKeys.ADD_OFFSETS_TO_TXN, ApiKeys.TXN_OFFSET_COMMIT, ApiKeys.DESCRIBE_TRANSACTIONS, ApiKeys.LIST_TRANSACTIONS,
                    ApiKeys.SASL_HANDSHAKE, ApiKeys.SASL_AUTHENTICATE, ApiKeys.DESCRIBE_USER_SCRAM_CREDENTIALS,
                    ApiKeys.ALTER_USER_SCRAM_CREDENTIALS, ApiKeys.CREATE_ACLS, ApiKeys.DESCRIBE_ACLS, ApiKeys.DELETE_ACLS);
            // SaslHandshake on a listener without SASL: ILLEGAL_SASL_STATE, as Kafka answers, and the connection stays usable.
            org.apache.kafka.common.requests.SaslHandshakeResponse sasl = c.send(new org.apache.kafka.common.requests.SaslHandshakeRequest(
                    new org.apache.kafka.common.message.SaslHandshakeRequestData().setMechanism("PLAIN"), (short) 1));
            assertThat(Errors.forCode(sasl.data().errorCode())).isEqualTo(Errors.ILLEGAL_SASL_STATE);
            assertThat(adv.get(ApiKeys.PRODUCE).minVersion()).isEqualTo((short) 3); // KIP-896 baseline
            assertThat(adv.get(ApiKeys.FETCH).maxVersion()).isEqualTo(ApiKeys.FETCH.latestVersion(false));
            for (short v = 0; v <= ApiKeys.API_VERSIONS.latestVersion(); v++) {
                ApiVersionsResponse r = c.send(new ApiVersionsRequest.Builder().build(v));
                assertThat(r.data().errorCode()).as("ApiVersions v%d", v).isEqualTo(Errors.NONE.code());
                assertThat(r.data().apiKeys()).hasSize(adv.size());
            }
        }
    }

    @Test
    void anUnknownApiVersionsVersionGetsAV0AnswerWithUnsupportedVersion() throws Exception {
        try (RawKafkaClient c = new RawKafkaClient(broker.bootstrapServers())) {
            // KIP-511: header v2 (the version is too new to know), body that cannot be parsed as any known version.
            RequestHeader header = new RequestHeader(ApiKeys.API_VERSIONS, (short) 99, "future-client", 7);
            ByteBuffer h = ByteBuffer.allocate(64);
            h.putShort(ApiKeys.API_VERSIONS.id).putShort((short) 99).putInt(7).putShort((short) 13).put("future-client".getBytes())
                    .put((byte) 0).put(new byte[] {1, 2, 3});
            h.flip();
            c.sendFrame(h);
            ByteBuffer resp = c.readFrame();
            assertThat(resp.getInt()).isEqualTo(header.correlationId()); // response header v0: correlation id only
            ApiVersionsResponse r = ApiVersionsResponse.parse(new ByteBufferAccessor(resp), (short) 0);
            assertThat(r.data().errorCode()).isEqualTo(Errors.UNSUPPORTED_VERSION.code());
            assertThat(r.data().apiKeys()).isNotEmpty();
        }
    }

    @Test
    void everyVersionOfMetadataProduceFetchAndListOffsetsWorks() throws Exception {
        try (RawKafkaClient c = new RawKafkaClient(broker.bootstrapServers())) {
            Map<ApiKeys, ApiVersion> adv = advertised(c);
            for (short v = adv.get(ApiKeys.METADATA).minVersion(); v <= adv.get(ApiKeys.METADATA).maxVersion(); v++) {
                var md = new MetadataRequestData().setAllowAutoTopicCreation(v < 4)
                        .setTopics(MetadataRequest.convertToMetadataRequestTopic(List.of("versions")));
                MetadataResponse m = c.send(new MetadataRequest(md, v));
                assertThat(m.topicMetadata()).as("Metadata v%d", v).singleElement().satisfies(t -> {
                    assertThat(t.error()).isEqualTo(Errors.NONE);
                    assertThat(t.partitionMetadata()).hasSize(1);
                });
                assertThat(m.brokers()).singleElement().satisfies(b -> assertThat(b.port()).isEqualTo(broker.kafkaPort("PLAINTEXT")));
            }
            long expectedOffset = 0;
            for (short v = adv.get(ApiKeys.PRODUCE).minVersion(); v <= adv.get(ApiKeys.PRODUCE).maxVersion(); v++) {
                ByteBuffer batch = Batches.batch(2, 1_700_000_000_000L + v, "produce-v" + v);
                ProduceRequestData data = new ProduceRequestData().setAcks((short) -1).setTimeoutMs(5000);
                ProduceRequestData.TopicProduceData t = new ProduceRequestData.TopicProduceData().setName("versions").setTopicId(topicId);
                t.partitionData().add(new ProduceRequestData.PartitionProduceData().setIndex(0).setRecords(MemoryRecords.readableRecords(batch)));
                data.topicData().add(t);
                ProduceResponse r = c.send(ProduceRequest.builder(data).build(v));
                var part = r.data().responses().iterator().next().partitionResponses().get(0);
                assertThat(part.errorCode()).as("Produce v%d: %s", v, part.errorMessage()).isEqualTo(Errors.NONE.code());
                assertThat(part.baseOffset()).isEqualTo(expectedOffset);
                expectedOffset += 2;
            }
            for (short v = adv.get(ApiKeys.FETCH).minVersion(); v <= adv.get(ApiKeys.FETCH).maxVersion(); v++) {
                LinkedHashMap<TopicPartition, FetchRequest.PartitionData> parts = new LinkedHashMap<>();
                parts.put(new TopicPartition("versions", 0), new FetchRequest.PartitionData(topicId, 2, -1, 1 << 20, Optional.empty()));
                FetchResponse r = c.send(FetchRequest.Builder.forConsumer(v, 100, 1, parts).build(v));
                assertThat(r.error()).isEqualTo(Errors.NONE);
                var pd = r.data().responses().get(0).partitions().get(0);
                assertThat(pd.errorCode()).as("Fetch v%d", v).isEqualTo(Errors.NONE.code());
                assertThat(pd.highWatermark()).isEqualTo(expectedOffset);
                List<Batches.Rec> recs = Batches.decode(((MemoryRecords) pd.records()).buffer());
                assertThat(recs.get(0).offset()).isEqualTo(2);
            }
            for (short v = adv.get(ApiKeys.LIST_OFFSETS).minVersion(); v <= adv.get(ApiKeys.LIST_OFFSETS).maxVersion(); v++) {
                ListOffsetsTopic t = new ListOffsetsTopic().setName("versions");
                t.partitions().add(new ListOffsetsPartition().setPartitionIndex(0).setTimestamp(ListOffsetsRequest.LATEST_TIMESTAMP));
                ListOffsetsResponse r = c.send(ListOffsetsRequest.Builder.forConsumer(false, IsolationLevel.READ_UNCOMMITTED)
                        .setTargetTimes(List.of(t)).build(v));
                var p = r.data().topics().get(0).partitions().get(0);
                assertThat(p.errorCode()).as("ListOffsets v%d", v).isEqualTo(Errors.NONE.code());
                assertThat(p.offset()).isEqualTo(expectedOffset);
            }
            for (short v = adv.get(ApiKeys.OFFSET_FOR_LEADER_EPOCH).minVersion(); v <= adv.get(ApiKeys.OFFSET_FOR_LEADER_EPOCH).maxVersion(); v++) {
                var topics = new OffsetForLeaderEpochRequestData.OffsetForLeaderTopicCollection();
                var t = new OffsetForLeaderEpochRequestData.OffsetForLeaderTopic().setTopic("versions");
                t.partitions().add(new OffsetForLeaderEpochRequestData.OffsetForLeaderPartition()
                        .setPartition(0).setLeaderEpoch(0).setCurrentLeaderEpoch(v >= 2 ? 0 : -1));
                t.partitions().add(new OffsetForLeaderEpochRequestData.OffsetForLeaderPartition()
                        .setPartition(7).setLeaderEpoch(0));
                topics.add(t);
                // kafka-clients' builders start at v3 (the consumer's form); v2 (the KIP-896 baseline, without a replica id)
                // is built from the message itself, as an older client sends it.
                var request = v >= 3 ? OffsetsForLeaderEpochRequest.Builder.forConsumer(topics).build(v)
                        : new OffsetsForLeaderEpochRequest(
                                new OffsetForLeaderEpochRequestData().setTopics(topics), v);
                OffsetsForLeaderEpochResponse r = c.send(request);
                var parts = r.data().topics().find("versions").partitions();
                assertThat(parts.get(0).errorCode()).as("OffsetForLeaderEpoch v%d", v).isEqualTo(Errors.NONE.code());
                assertThat(parts.get(0).leaderEpoch()).isZero(); // a single broker leads in epoch 0
                assertThat(parts.get(0).endOffset()).isEqualTo(expectedOffset); // the latest epoch ends at the log end
                assertThat(parts.get(1).errorCode()).isEqualTo(Errors.UNKNOWN_TOPIC_OR_PARTITION.code());
            }
        }
    }

    @Test
    void everyVersionOfTheAdminApisWorks() throws Exception {
        try (RawKafkaClient c = new RawKafkaClient(broker.bootstrapServers())) {
            Map<ApiKeys, ApiVersion> adv = advertised(c);
            for (short v = adv.get(ApiKeys.CREATE_TOPICS).minVersion(); v <= adv.get(ApiKeys.CREATE_TOPICS).maxVersion(); v++) {
                var topics = new CreateTopicsRequestData.CreatableTopicCollection();
                CreateTopicsRequestData.CreatableTopic t = new CreateTopicsRequestData.CreatableTopic().setName("admin-v" + v)
                        .setNumPartitions(1).setReplicationFactor((short) 1);
                t.configs().add(new CreateTopicsRequestData.CreatableTopicConfig().setName("retention.ms").setValue("60000"));
                topics.add(t);
                CreateTopicsResponse r = c.send(new CreateTopicsRequest.Builder(new CreateTopicsRequestData().setTopics(topics).setTimeoutMs(5000)).build(v));
                assertThat(r.data().topics().find("admin-v" + v).errorCode()).as("CreateTopics v%d", v).isEqualTo(Errors.NONE.code());
            }
            for (short v = adv.get(ApiKeys.CREATE_PARTITIONS).minVersion(); v <= adv.get(ApiKeys.CREATE_PARTITIONS).maxVersion(); v++) {
                var topics = new CreatePartitionsRequestData.CreatePartitionsTopicCollection();
                topics.add(new CreatePartitionsRequestData.CreatePartitionsTopic().setName("admin-v3").setCount(2 + v).setAssignments(null));
                CreatePartitionsResponse r = c.send(new CreatePartitionsRequest.Builder(new CreatePartitionsRequestData().setTopics(topics).setTimeoutMs(5000)).build(v));
                assertThat(r.data().results().get(0).errorCode()).as("CreatePartitions v%d", v).isEqualTo(Errors.NONE.code());
            }
            for (short v = adv.get(ApiKeys.DESCRIBE_CONFIGS).minVersion(); v <= adv.get(ApiKeys.DESCRIBE_CONFIGS).maxVersion(); v++) {
                DescribeConfigsRequestData d = new DescribeConfigsRequestData().setIncludeSynonyms(v >= 1).setIncludeDocumentation(v >= 3);
                d.resources().add(new DescribeConfigsRequestData.DescribeConfigsResource().setResourceType(ConfigResource.Type.TOPIC.id())
                        .setResourceName("admin-v3").setConfigurationKeys(null));
                d.resources().add(new DescribeConfigsRequestData.DescribeConfigsResource().setResourceType(ConfigResource.Type.BROKER.id())
                        .setResourceName("1").setConfigurationKeys(null));
                DescribeConfigsResponse r = c.send(new DescribeConfigsRequest.Builder(d).build(v));
                assertThat(r.data().results()).as("DescribeConfigs v%d", v).allSatisfy(res -> assertThat(res.errorCode()).isZero());
                assertThat(r.data().results().get(0).configs()).anySatisfy(e -> {
                    assertThat(e.name()).isEqualTo("retention.ms");
                    assertThat(e.value()).isEqualTo("60000");
                });
            }
            for (short v = adv.get(ApiKeys.INCREMENTAL_ALTER_CONFIGS).minVersion(); v <= adv.get(ApiKeys.INCREMENTAL_ALTER_CONFIGS).maxVersion(); v++) {
                ConfigResource res = new ConfigResource(ConfigResource.Type.TOPIC, "admin-v3");
                IncrementalAlterConfigsResponse r = c.send(new IncrementalAlterConfigsRequest.Builder(Map.of(res,
                        List.of(new AlterConfigOp(new ConfigEntry("retention.ms", Integer.toString(1000 + v)), AlterConfigOp.OpType.SET))), false).build(v));
                assertThat(r.data().responses().get(0).errorCode()).as("IncrementalAlterConfigs v%d", v).isEqualTo(Errors.NONE.code());
            }
            for (short v = adv.get(ApiKeys.DESCRIBE_CLUSTER).minVersion(); v <= adv.get(ApiKeys.DESCRIBE_CLUSTER).maxVersion(); v++) {
                DescribeClusterResponse r = c.send(new DescribeClusterRequest.Builder(new DescribeClusterRequestData()).build(v));
                assertThat(r.data().errorCode()).as("DescribeCluster v%d", v).isEqualTo(Errors.NONE.code());
                assertThat(r.data().brokers()).hasSize(1);
            }
            for (short v = adv.get(ApiKeys.INIT_PRODUCER_ID).minVersion(); v <= adv.get(ApiKeys.INIT_PRODUCER_ID).maxVersion(); v++) {
                InitProducerIdResponse r = c.send(new InitProducerIdRequest.Builder(new InitProducerIdRequestData().setTransactionalId(null).setTransactionTimeoutMs(1000)
                        .setProducerId(-1).setProducerEpoch((short) -1)).build(v));
                assertThat(r.data().errorCode()).as("InitProducerId v%d", v).isEqualTo(Errors.NONE.code());
                assertThat(r.data().producerId()).isNotNegative();
            }
            for (short v = adv.get(ApiKeys.ELECT_LEADERS).minVersion(); v <= adv.get(ApiKeys.ELECT_LEADERS).maxVersion(); v++) {
                // A broker alone already leads every partition: ELECTION_NOT_NEEDED, and an unknown one is named.
                ElectLeadersResponse r = c.send(new ElectLeadersRequest.Builder(ElectionType.PREFERRED,
                        List.of(new TopicPartition("admin-v3", 0), new TopicPartition("no-such-topic", 0)),
                        5000).build(v));
                Map<String, Short> codes = new HashMap<>();
                r.data().replicaElectionResults().forEach(t -> codes.put(t.topic(), t.partitionResult().get(0).errorCode()));
                assertThat(codes).as("ElectLeaders v%d", v).containsEntry("admin-v3", Errors.ELECTION_NOT_NEEDED.code())
                        .containsEntry("no-such-topic", Errors.UNKNOWN_TOPIC_OR_PARTITION.code());
            }
            for (short v = adv.get(ApiKeys.ALTER_PARTITION_REASSIGNMENTS).minVersion(); v <= adv.get(ApiKeys.ALTER_PARTITION_REASSIGNMENTS).maxVersion(); v++) {
                // A broker alone can only "move" a partition to itself; anything else is an invalid assignment.
                List<AlterPartitionReassignmentsRequestData.ReassignableTopic> topics = new ArrayList<>();
                var t = new AlterPartitionReassignmentsRequestData.ReassignableTopic().setName("admin-v3");
                t.partitions().add(new AlterPartitionReassignmentsRequestData.ReassignablePartition().setPartitionIndex(0)
                        .setReplicas(List.of(1)));
                t.partitions().add(new AlterPartitionReassignmentsRequestData.ReassignablePartition().setPartitionIndex(1)
                        .setReplicas(List.of(7)));
                topics.add(t);
                var r = (AlterPartitionReassignmentsResponse) c.send(
                        new AlterPartitionReassignmentsRequest.Builder(
                                new AlterPartitionReassignmentsRequestData().setTopics(topics).setTimeoutMs(5000)).build(v));
                var parts = r.data().responses().get(0).partitions();
                assertThat(parts.get(0).errorCode()).as("AlterPartitionReassignments v%d", v).isEqualTo(Errors.NONE.code());
                assertThat(parts.get(1).errorCode()).isEqualTo(Errors.INVALID_REPLICA_ASSIGNMENT.code());
            }
            for (short v = adv.get(ApiKeys.LIST_PARTITION_REASSIGNMENTS).minVersion(); v <= adv.get(ApiKeys.LIST_PARTITION_REASSIGNMENTS).maxVersion(); v++) {
                var r = (ListPartitionReassignmentsResponse) c.send(
                        new ListPartitionReassignmentsRequest.Builder(
                                new ListPartitionReassignmentsRequestData().setTimeoutMs(5000).setTopics(null)).build(v));
                assertThat(r.data().errorCode()).as("ListPartitionReassignments v%d", v).isZero();
                assertThat(r.data().topics()).isEmpty();
            }
            for (short v = adv.get(ApiKeys.DELETE_TOPICS).minVersion(); v <= adv.get(ApiKeys.DELETE_TOPICS).maxVersion(); v++) {
                String name = "admin-v" + (v + 1);
                DeleteTopicsRequestData d = new DeleteTopicsRequestData().setTimeoutMs(5000);
                if (v >= 6) d.topics().add(new DeleteTopicsRequestData.DeleteTopicState().setName(name));
                else d.topicNames().add(name);
                DeleteTopicsResponse r = c.send(new DeleteTopicsRequest.Builder(d).build(v));
                assertThat(r.data().responses().find(name).errorCode()).as("DeleteTopics v%d", v).isEqualTo(Errors.NONE.code());
                assertThat(broker.topics().topic(name)).isEmpty();
            }
        }
    }
}
