#!/usr/bin/env python3
"""Drives kafka-python (Debian's python3-kafka 2.0.2) against a broker.

Run by broker/debian_clients_test.go. It prints one JSON object on stdout
with what the client saw; the Go test checks it. Client logs go to stderr
(DEBUG with --debug) so a failing test can show them.

Modes:
  basic  create the topic with KafkaAdminClient (CreateTopics v3), create it
         again (must fail with TopicAlreadyExistsError), produce with
         KafkaProducer (acks=all, Produce v7) once per codec, consume
         everything without a group (Metadata, Fetch v4, ListOffsets v1)
         and read the beginning and end offsets.
  group  produce --count records uncompressed to an existing topic, consume
         them in group --group (FindCoordinator, JoinGroup, SyncGroup,
         Heartbeat), commit synchronously, read the commits back
         (OffsetFetch), and leave the group on close.
"""
import argparse
import json
import logging
import sys

from kafka import KafkaAdminClient, KafkaConsumer, KafkaProducer, TopicPartition
from kafka.admin import NewTopic
from kafka.errors import TopicAlreadyExistsError

CLIENT_ID = "skiff-kafka-python"

# PAD makes every value compressible, so the clients (which fall back to an
# uncompressed batch when compression does not shrink it) really send
# compressed batches and the broker's stored codec can be checked.
PAD = "skiff" * 20


def produce(args, codec, prefix):
    """Sends --count keyed records; returns them with their partition/offset."""
    prod = KafkaProducer(
        bootstrap_servers=args.bootstrap,
        client_id=CLIENT_ID,
        acks="all",
        compression_type=codec,
        linger_ms=5,
        request_timeout_ms=10000,
    )
    sent = []
    for i in range(args.count):
        key = "%s-k%d" % (prefix, i)
        value = "%s-v%d-%s" % (prefix, i, PAD)
        sent.append((key, value, prod.send(args.topic, key=key.encode(), value=value.encode())))
    prod.flush(timeout=15)
    out = []
    for key, value, fut in sent:
        md = fut.get(timeout=15)
        out.append({"codec": codec or "none", "key": key, "value": value,
                    "partition": md.partition, "offset": md.offset})
    prod.close(timeout=10)
    return out


def drain(consumer, want):
    """Iterates consumer until want records or consumer_timeout_ms of silence."""
    got = []
    for msg in consumer:
        got.append({"key": msg.key.decode(), "value": msg.value.decode(),
                    "partition": msg.partition, "offset": msg.offset})
        if len(got) >= want:
            break
    return got


def basic(args, result):
    admin = KafkaAdminClient(bootstrap_servers=args.bootstrap, client_id=CLIENT_ID,
                             request_timeout_ms=10000)
    resp = admin.create_topics([NewTopic(args.topic, args.partitions, 1)], timeout_ms=10000)
    result["create_version"] = resp.API_VERSION
    result["create_errors"] = [[t[0], t[1]] for t in resp.topic_errors]
    try:
        admin.create_topics([NewTopic(args.topic, args.partitions, 1)], timeout_ms=10000)
        result["duplicate_error"] = None
    except TopicAlreadyExistsError as e:
        result["duplicate_error"] = type(e).__name__
    result["topics"] = sorted(admin.list_topics())
    result["api_version"] = list(admin.config["api_version"])
    admin.close()

    produced = []
    for codec in args.codecs.split(","):
        produced += produce(args, None if codec == "none" else codec, codec)
    result["produced"] = produced

    consumer = KafkaConsumer(
        args.topic,
        bootstrap_servers=args.bootstrap,
        client_id=CLIENT_ID,
        group_id=None,
        auto_offset_reset="earliest",
        enable_auto_commit=False,
        consumer_timeout_ms=args.timeout_ms,
        fetch_max_wait_ms=100,
    )
    result["consumed"] = drain(consumer, len(produced))
    tps = [TopicPartition(args.topic, p) for p in range(args.partitions)]
    result["beginning"] = {str(tp.partition): off for tp, off in consumer.beginning_offsets(tps).items()}
    result["end"] = {str(tp.partition): off for tp, off in consumer.end_offsets(tps).items()}
    consumer.close()


def group(args, result):
    result["produced"] = produce(args, None, "group")
    consumer = KafkaConsumer(
        args.topic,
        bootstrap_servers=args.bootstrap,
        client_id=CLIENT_ID,
        group_id=args.group,
        auto_offset_reset="earliest",
        enable_auto_commit=False,
        consumer_timeout_ms=args.timeout_ms,
        fetch_max_wait_ms=100,
        session_timeout_ms=10000,
        heartbeat_interval_ms=1000,
    )
    result["consumed"] = drain(consumer, len(result["produced"]))
    result["assignment"] = sorted(tp.partition for tp in consumer.assignment())
    consumer.commit()
    result["committed"] = {str(p): consumer.committed(TopicPartition(args.topic, p))
                           for p in range(args.partitions)}
    consumer.close()


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--bootstrap", required=True)
    ap.add_argument("--topic", required=True)
    ap.add_argument("--mode", choices=["basic", "group"], default="basic")
    ap.add_argument("--partitions", type=int, default=3)
    ap.add_argument("--count", type=int, default=20, help="records per codec")
    ap.add_argument("--codecs", default="gzip,lz4,snappy")
    ap.add_argument("--group", default="skiff-kafka-python")
    ap.add_argument("--timeout-ms", type=int, default=10000,
                    help="consumer_timeout_ms: give up after this long without records")
    ap.add_argument("--debug", action="store_true")
    args = ap.parse_args()
    logging.basicConfig(stream=sys.stderr, level=logging.DEBUG if args.debug else logging.WARNING,
                        format="%(asctime)s %(levelname)s %(name)s %(message)s")
    result = {"mode": args.mode}
    if args.mode == "basic":
        basic(args, result)
    else:
        group(args, result)
    json.dump(result, sys.stdout)
    sys.stdout.write("\n")


if __name__ == "__main__":
    main()
