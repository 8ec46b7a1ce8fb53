#!/usr/bin/env python3
"""Drives kafka-python (python3-kafka 2.0.2) over SASL against a broker.

Run by broker/secure_clients_test.go. It produces --count records to
--topic with the given security protocol and SASL mechanism, consumes them
back without a group, and prints one JSON object: the values consumed, or
{"error": "<exception class>: <message>"} when the client failed (wrong
password, unknown user). The password comes from the environment
(SKIFF_SASL_PASSWORD), never the command line.
"""
import argparse
import json
import logging
import os
import sys

from kafka import KafkaConsumer, KafkaProducer


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--bootstrap", required=True)
    ap.add_argument("--topic", required=True)
    ap.add_argument("--protocol", default="SASL_PLAINTEXT")
    ap.add_argument("--mechanism", default="PLAIN")
    ap.add_argument("--user", required=True)
    ap.add_argument("--cafile")
    ap.add_argument("--count", type=int, default=10)
    ap.add_argument("--debug", action="store_true")
    args = ap.parse_args()
    logging.basicConfig(stream=sys.stderr, level=logging.DEBUG if args.debug else logging.WARNING)
    common = dict(
        bootstrap_servers=args.bootstrap,
        security_protocol=args.protocol,
        sasl_mechanism=args.mechanism,
        sasl_plain_username=args.user,
        sasl_plain_password=os.environ["SKIFF_SASL_PASSWORD"],
        api_version_auto_timeout_ms=10000,
    )
    if args.cafile:
        common["ssl_cafile"] = args.cafile
    try:
        prod = KafkaProducer(acks="all", **common)
        for i in range(args.count):
            prod.send(args.topic, value=("v%d" % i).encode()).get(timeout=20)
        prod.close()
        cons = KafkaConsumer(args.topic, auto_offset_reset="earliest", consumer_timeout_ms=5000, **common)
        values = []
        for msg in cons:
            values.append(msg.value.decode())
            if len(values) == args.count:
                break
        cons.close()
        print(json.dumps({"values": values}))
    except Exception as e:  # the test checks which failure it was
        print(json.dumps({"error": "%s: %s" % (type(e).__name__, e)}))


if __name__ == "__main__":
    main()
