// kafkajs (pure JavaScript, its own implementation of the protocol at older versions) against a Runnel broker:
// creates a topic, produces keyed messages with headers, consumes them in a consumer group, commits, and lists
// offsets; prints JSON.
// Usage: node kafkajs-roundtrip.mjs HOST:PORT TOPIC COUNT
// With KAFKAJS_SASL='{"mechanism":"scram-sha-512","username":"...","password":"..."}' it authenticates, and with
// KAFKAJS_CA=FILE it connects over TLS trusting that CA certificate (PEM).
import { readFileSync } from 'node:fs';
import { Kafka, logLevel } from 'kafkajs';

const [bootstrap, topic, countText] = process.argv.slice(2);
const count = Number(countText);
const security = {};
if (process.env.KAFKAJS_SASL) security.sasl = JSON.parse(process.env.KAFKAJS_SASL);
if (process.env.KAFKAJS_CA) security.ssl = { ca: [readFileSync(process.env.KAFKAJS_CA, 'utf-8')] };
const kafka = new Kafka({ clientId: 'runnel-kafkajs-test', brokers: [bootstrap], logLevel: logLevel.NOTHING, retry: { retries: 5 }, ...security });

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

// kafkajs consumers always join a consumer group (JoinGroup v5, SyncGroup v3, OffsetCommit v5...).
const consumer = kafka.consumer({ groupId: `kafkajs-${topic}`, sessionTimeout: 10000, heartbeatInterval: 500 });
await consumer.connect();
await consumer.subscribe({ topic, fromBeginning: true });
const received = [];
await new Promise((resolve, reject) => {
  const timer = setTimeout(() => reject(new Error(`only ${received.length} of ${count} messages arrived`)), 30000);
  consumer.run({
    eachMessage: async ({ message }) => {
      received.push({ key: message.key.toString(), value: message.value.toString(), offset: message.offset });
      if (received.length === count) {
        clearTimeout(timer);
        resolve();
      }
    },
  }).catch(reject);
});
await consumer.commitOffsets([{ topic, partition: 0, offset: String(count) }]);
await consumer.disconnect();

const admin2 = kafka.admin();
await admin2.connect();
const offsets = await admin2.fetchTopicOffsets(topic);
const committed = await admin2.fetchOffsets({ groupId: `kafkajs-${topic}`, topics: [topic] });
await admin2.disconnect();
console.log(JSON.stringify({ acks, offsets, committed, received: received.length, last: received[received.length - 1] }));
process.exit(0);
