#!/usr/bin/env python3
"""Drives confluent-kafka-python (Debian's python3-confluent-kafka 1.7.0 on
librdkafka 2.0.2) against a broker.

Run by broker/debian_clients_test.go. It prints one JSON object on stdout
with what the client saw; the Go test checks it. librdkafka's debug log
(--debug CONTEXTS) goes to stderr so a failing test can show it.

Modes:
  basic  AdminClient.create_topics (CreateTopics v4), again (must fail with
         TOPIC_ALREADY_EXISTS), list_topics (Metadata v4); an idempotent
         Producer (InitProducerId v4, Produce v7, zstd); a Consumer reading
         every partition from the beginning by assign() (Fetch v11,
         ListOffsets v2) and the watermarks.
  group  an idempotent Producer into an existing topic, then a Consumer in
         group --group (FindCoordinator v2, JoinGroup v5, SyncGroup v3,
         Heartbeat v3) that commits synchronously (OffsetCommit v7) and reads
         the commits back (OffsetFetch v7).
"""
import argparse
import json
import sys
import time

from confluent_kafka import (OFFSET_BEGINNING, Consumer, KafkaException,
                             Producer, TopicPartition)
from confluent_kafka.admin import AdminClient, NewTopic

# PAD makes every value compressible, so the clients (which fall back to an
# uncompressed batch when compression does not shrink it) really send
# compressed batches and the broker's stored codec can be checked.
PAD = "skiff" * 20


def conf(args, **extra):
    c = {"bootstrap.servers": args.bootstrap, "client.id": "skiff-confluent-kafka"}
    if args.debug:
        c["debug"] = args.debug
    c.update(extra)
    return c


def produce(args, prefix):
    errors = []
    delivered = {}

    def on_delivery(err, msg):
        if err is not None:
            errors.append(str(err))
            return
        delivered[msg.key().decode()] = (msg.partition(), msg.offset())

    prod = Producer(conf(args, **{
        "enable.idempotence": True,
        "compression.type": args.codec,
        "linger.ms": 5,
        "partitioner": "murmur2_random",
        "message.timeout.ms": 15000,
    }))
    keys = []
    for i in range(args.count):
        key, value = "%s-k%d" % (prefix, i), "%s-v%d-%s" % (prefix, i, PAD)
        keys.append((key, value))
        prod.produce(args.topic, key=key.encode(), value=value.encode(), on_delivery=on_delivery)
        prod.poll(0)
    left = prod.flush(20)
    if left or errors:
        raise SystemExit("produce: %d undelivered, errors %s" % (left, errors))
    return [{"codec": args.codec, "key": k, "value": v,
             "partition": delivered[k][0], "offset": delivered[k][1]} for k, v in keys]


def poll_until(consumer, want, deadline_s):
    got = []
    errors = []
    deadline = time.monotonic() + deadline_s
    while len(got) < want and time.monotonic() < deadline:
        msg = consumer.poll(0.2)
        if msg is None:
            continue
        if msg.error():
            errors.append(str(msg.error()))
            if msg.error().fatal():
                break
            continue
        got.append({"key": msg.key().decode(), "value": msg.value().decode(),
                    "partition": msg.partition(), "offset": msg.offset()})
    return got, errors


def basic(args, result):
    admin = AdminClient(conf(args))
    fs = admin.create_topics([NewTopic(args.topic, num_partitions=args.partitions, replication_factor=1)],
                             request_timeout=15)
    fs[args.topic].result(timeout=20)
    try:
        admin.create_topics([NewTopic(args.topic, num_partitions=args.partitions, replication_factor=1)],
                            request_timeout=15)[args.topic].result(timeout=20)
        result["duplicate_error"] = None
    except KafkaException as e:
        result["duplicate_error"] = e.args[0].name()
    md = admin.list_topics(timeout=10)
    result["topics"] = {name: len(t.partitions) for name, t in md.topics.items()}
    result["brokers"] = ["%d@%s:%d" % (b.id, b.host, b.port) for b in md.brokers.values()]

    result["produced"] = produce(args, "idem")
    if args.skip_consume:
        return

    # A group.id is required by this client version even for assign(); no
    # group API is used without subscribe() or commits.
    consumer = Consumer(conf(args, **{"group.id": "skiff-unused", "enable.auto.commit": False,
                                      "enable.auto.offset.store": False}))
    consumer.assign([TopicPartition(args.topic, p, OFFSET_BEGINNING) for p in range(args.partitions)])
    result["consumed"], result["consume_errors"] = poll_until(consumer, len(result["produced"]), args.timeout_s)
    result["watermarks"] = {str(p): list(consumer.get_watermark_offsets(TopicPartition(args.topic, p), timeout=10))
                            for p in range(args.partitions)}
    consumer.close()


def group(args, result):
    result["produced"] = produce(args, "group")
    consumer = Consumer(conf(args, **{"group.id": args.group, "auto.offset.reset": "earliest",
                                      "enable.auto.commit": False, "session.timeout.ms": 10000}))
    consumer.subscribe([args.topic])
    result["consumed"], result["consume_errors"] = poll_until(consumer, len(result["produced"]), args.timeout_s)
    result["assignment"] = sorted(tp.partition for tp in consumer.assignment())
    consumer.commit(asynchronous=False)
    committed = consumer.committed([TopicPartition(args.topic, p) for p in range(args.partitions)], timeout=10)
    result["committed"] = {str(tp.partition): tp.offset for tp in committed}
    consumer.close()


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--bootstrap", required=True)
    ap.add_argument("--topic", required=True)
    ap.add_argument("--mode", choices=["basic", "group"], default="basic")
    ap.add_argument("--partitions", type=int, default=3)
    ap.add_argument("--count", type=int, default=30)
    ap.add_argument("--codec", default="zstd")
    ap.add_argument("--group", default="skiff-confluent-kafka")
    ap.add_argument("--timeout-s", type=float, default=20)
    ap.add_argument("--skip-consume", action="store_true", help="basic: stop after producing")
    ap.add_argument("--debug", default="", help="librdkafka debug contexts, e.g. broker,protocol")
    args = ap.parse_args()
    result = {"mode": args.mode}
    if args.mode == "basic":
        basic(args, result)
    else:
        group(args, result)
    json.dump(result, sys.stdout)
    sys.stdout.write("\n")


if __name__ == "__main__":
    main()
