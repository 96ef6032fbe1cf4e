// kafkajs (pure JavaScript, its own implementation of the protocol at older versions) against a Runnel broker:
// creates a topic, produces keyed messages with headers, and lists the topic's offsets; prints JSON.
// Usage: node kafkajs-roundtrip.mjs HOST:PORT TOPIC COUNT
import { Kafka, logLevel } from 'kafkajs';

const [bootstrap, topic, countText] = process.argv.slice(2);
const count = Number(countText);
const kafka = new Kafka({ clientId: 'runnel-kafkajs-test', brokers: [bootstrap], logLevel: logLevel.NOTHING, retry: { retries: 5 } });

const admin = kafka.admin();
await admin.connect();
await admin.createTopics({ topics: [{ topic, numPartitions: 1 }], waitForLeaders: true });
await admin.disconnect();

const producer = kafka.producer();
await producer.connect();
const messages = [];
for (let i = 0; i < count; i++) messages.push({ key: `k${i}`, value: `v${i}`, headers: { h: `h${i}` } });
const acks = await producer.send({ topic, messages, acks: -1 });
await producer.disconnect();

// kafkajs consumers always join a consumer group (no assign()), so consuming with kafkajs waits for consumer groups;
// until then the test reads the log end offsets back with the admin API and checks the records with a Java consumer.
const admin2 = kafka.admin();
await admin2.connect();
const offsets = await admin2.fetchTopicOffsets(topic);
await admin2.disconnect();
console.log(JSON.stringify({ acks, offsets }));
process.exit(0);
