#!/usr/bin/env python3
"""Drives confluent-kafka-python's transactional producer (Debian's
python3-confluent-kafka 1.7.0 on librdkafka 2.0.2) against a broker.

Run by broker/debian_txn_test.go. It prints one JSON object on stdout with
what the client saw; the Go test checks it against the broker. librdkafka's
debug log (--debug CONTEXTS) goes to stderr so a failing test can show it.

Modes:
  txn  a Producer with transactional.id: init_transactions (FindCoordinator
       key type 1, InitProducerId), then three transactions: "c1" committed,
       "ab" flushed and aborted, "c2" committed (AddPartitionsToTxn,
       Produce, EndTxn). Then a read_committed Consumer reads every
       partition from the beginning to its end (the last stable offset) and
       a read_uncommitted one reads everything.
  etl  consume-transform-produce: a Consumer in group --group reads --count
       records of --topic (produced by the test), and a transactional
       Producer writes each as "out-<value>" to --out with the consumer's
       positions in the same transaction (send_offsets_to_transaction:
       AddOffsetsToTxn, TxnOffsetCommit). The first transaction is aborted
       (its output and offsets must vanish), then the whole input is
       transformed again and committed. A read_committed Consumer reads
       --out, and the group's committed offsets are read back.
"""
import argparse
import json
import sys
import time

from confluent_kafka import (OFFSET_BEGINNING, Consumer, KafkaError,
                             Producer, TopicPartition)


def conf(args, **extra):
    c = {"bootstrap.servers": args.bootstrap, "client.id": "skiff-confluent-txn"}
    if args.debug:
        c["debug"] = args.debug
    c.update(extra)
    return c


def txn_producer(args, txn_id):
    errors = []

    def on_delivery(err, msg):
        if err is not None:
            errors.append(str(err))

    prod = Producer(conf(args, **{
        "transactional.id": txn_id,
        "transaction.timeout.ms": 30000,
        "linger.ms": 5,
        "message.timeout.ms": 15000,
    }))
    prod.init_transactions(20)
    return prod, on_delivery, errors


def read_to_end(args, topic, isolation):
    """Reads every partition of topic from the beginning until each reports
    its end (for read_committed: the last stable offset)."""
    consumer = Consumer(conf(args, **{
        "group.id": "skiff-unused-" + isolation,
        "enable.auto.commit": False,
        "enable.auto.offset.store": False,
        "enable.partition.eof": True,
        "isolation.level": isolation,
    }))
    consumer.assign([TopicPartition(topic, p, OFFSET_BEGINNING) for p in range(args.partitions)])
    got, errors, eof = [], [], set()
    deadline = time.monotonic() + args.timeout_s
    while len(eof) < args.partitions and time.monotonic() < deadline:
        msg = consumer.poll(0.2)
        if msg is None:
            continue
        if msg.error():
            if msg.error().code() == KafkaError._PARTITION_EOF:
                eof.add(msg.partition())
                continue
            errors.append(str(msg.error()))
            if msg.error().fatal():
                break
            continue
        eof.discard(msg.partition())
        got.append({"key": msg.key().decode() if msg.key() else "", "value": msg.value().decode(),
                    "partition": msg.partition(), "offset": msg.offset()})
    consumer.close()
    if len(eof) < args.partitions:
        errors.append("only partitions %s reached their end in %ss" % (sorted(eof), args.timeout_s))
    return got, errors


def txn(args, result):
    prod, on_delivery, errors = txn_producer(args, args.txn_id)
    for prefix, commit in (("c1", True), ("ab", False), ("c2", True)):
        prod.begin_transaction()
        for i in range(args.count):
            prod.produce(args.topic, key=("%s-k%d" % (prefix, i)).encode(),
                         value=("%s-%d" % (prefix, i)).encode(), on_delivery=on_delivery)
            prod.poll(0)
        if commit:
            prod.commit_transaction(20)
        else:
            # Flushed first, so the aborted records are really in the log
            # and it is the broker's filtering that hides them.
            left = prod.flush(20)
            if left:
                raise SystemExit("flush before abort: %d undelivered" % left)
            prod.abort_transaction(20)
    prod.flush(5)
    result["delivery_errors"] = errors
    result["committed"], result["committed_errors"] = read_to_end(args, args.topic, "read_committed")
    result["uncommitted"], result["uncommitted_errors"] = read_to_end(args, args.topic, "read_uncommitted")


def etl(args, result):
    consumer = Consumer(conf(args, **{
        "group.id": args.group,
        "auto.offset.reset": "earliest",
        "enable.auto.commit": False,
        "isolation.level": "read_committed",
        "session.timeout.ms": 10000,
    }))
    consumer.subscribe([args.topic])
    prod, on_delivery, errors = txn_producer(args, args.txn_id)

    def transform_all(commit):
        prod.begin_transaction()
        n = 0
        deadline = time.monotonic() + args.timeout_s
        while n < args.count and time.monotonic() < deadline:
            msg = consumer.poll(0.2)
            if msg is None:
                continue
            if msg.error():
                raise SystemExit("consume: %s" % msg.error())
            prod.produce(args.out, key=msg.key(), value=b"out-" + msg.value(), on_delivery=on_delivery)
            prod.poll(0)
            n += 1
        if n < args.count:
            raise SystemExit("consumed %d of %d input records" % (n, args.count))
        prod.send_offsets_to_transaction(consumer.position(consumer.assignment()),
                                         consumer.consumer_group_metadata(), 20)
        if commit:
            prod.commit_transaction(20)
            return
        left = prod.flush(20)
        if left:
            raise SystemExit("flush before abort: %d undelivered" % left)
        prod.abort_transaction(20)
        # As an aborting application does: rewind to the last committed
        # offsets (none: the aborted transaction's must not have counted).
        committed = consumer.committed(consumer.assignment(), timeout=10)
        result["committed_after_abort"] = {str(tp.partition): tp.offset for tp in committed}
        for tp in committed:
            consumer.seek(TopicPartition(tp.topic, tp.partition,
                                         tp.offset if tp.offset >= 0 else OFFSET_BEGINNING))

    transform_all(False)
    transform_all(True)
    result["assignment"] = sorted(tp.partition for tp in consumer.assignment())
    committed = consumer.committed([TopicPartition(args.topic, p) for p in range(args.partitions)], timeout=10)
    result["group_committed"] = {str(tp.partition): tp.offset for tp in committed}
    consumer.close()
    prod.flush(5)
    result["delivery_errors"] = errors
    result["committed"], result["committed_errors"] = read_to_end(args, args.out, "read_committed")


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--bootstrap", required=True)
    ap.add_argument("--topic", required=True)
    ap.add_argument("--out", default="")
    ap.add_argument("--mode", choices=["txn", "etl"], default="txn")
    ap.add_argument("--txn-id", default="skiff-confluent-txn")
    ap.add_argument("--group", default="skiff-confluent-etl")
    ap.add_argument("--partitions", type=int, default=3)
    ap.add_argument("--count", type=int, default=30)
    ap.add_argument("--timeout-s", type=float, default=20)
    ap.add_argument("--debug", default="", help="librdkafka debug contexts, e.g. eos,protocol")
    args = ap.parse_args()
    result = {"mode": args.mode}
    if args.mode == "txn":
        txn(args, result)
    else:
        etl(args, result)
    json.dump(result, sys.stdout)
    sys.stdout.write("\n")


if __name__ == "__main__":
    main()
