// kafkajs transactions (Kafka's transactions version 1, at kafkajs's older protocol versions) against a Runnel broker:
// one transaction commits three messages, a second aborts two, a third commits one. Prints JSON.
// Usage: node kafkajs-transactions.mjs HOST:PORT TOPIC
import { Kafka, logLevel } from 'kafkajs';

const [bootstrap, topic] = process.argv.slice(2);
const kafka = new Kafka({ clientId: 'runnel-kafkajs-txn-test', brokers: [bootstrap], logLevel: logLevel.NOTHING, retry: { retries: 8 } });

const admin = kafka.admin();
await admin.connect();
await admin.createTopics({ topics: [{ topic, numPartitions: 2 }], waitForLeaders: true });
await admin.disconnect();

const producer = kafka.producer({ transactionalId: `${topic}-kafkajs`, idempotent: true, maxInFlightRequests: 1 });
await producer.connect();
const outcomes = [];
for (const [values, commit] of [[['c0', 'c1', 'c2'], true], [['a0', 'a1'], false], [['c3'], true]]) {
  const txn = await producer.transaction();
  await txn.send({ topic, messages: values.map((v, i) => ({ key: v, value: v, partition: i % 2 })) });
  if (commit) await txn.commit(); else await txn.abort();
  outcomes.push(commit ? 'committed' : 'aborted');
}
await producer.disconnect();
console.log(JSON.stringify({ outcomes }));
process.exit(0);
