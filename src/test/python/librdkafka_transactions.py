"""librdkafka transactions (Debian's python3-confluent-kafka) against a Runnel broker: one transaction commits three
messages, a second aborts two, a third commits one. Prints a JSON line.
Usage: python3 librdkafka_transactions.py HOST:PORT TOPIC
"""
import json
import sys

from confluent_kafka import Producer

bootstrap, topic = sys.argv[1], sys.argv[2]
p = Producer({'bootstrap.servers': bootstrap, 'transactional.id': topic + '-librdkafka', 'transaction.timeout.ms': 60000})
p.init_transactions(30)
outcomes = []
for values, commit in ((['c0', 'c1', 'c2'], True), (['a0', 'a1'], False), (['c3'], True)):
    p.begin_transaction()
    for i, v in enumerate(values):
        p.produce(topic, key=v, value=v, partition=i % 2)
    p.flush(30)
    if commit:
        p.commit_transaction(30)
        outcomes.append('committed')
    else:
        p.abort_transaction(30)
        outcomes.append('aborted')
print(json.dumps({'outcomes': outcomes, 'librdkafka': __import__('confluent_kafka').libversion()[0]}))
