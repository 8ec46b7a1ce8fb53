#!/usr/bin/env bash
# Installs the Debian-packaged Kafka clients that broker/debian_clients_test.go
# runs against the bundled broker: kcat (librdkafka), kafka-python and
# confluent-kafka-python, plus the codecs kafka-python needs for lz4 and
# snappy (it imports them lazily and fails only when a batch uses them).
# Idempotent: apt-get runs only when a package is missing. Debian/Ubuntu only.
set -euo pipefail

packages=(kcat python3-kafka python3-confluent-kafka python3-lz4 python3-snappy)

missing=()
for p in "${packages[@]}"; do
	if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q '^install ok installed$'; then
		missing+=("$p")
	fi
done
if [ ${#missing[@]} -eq 0 ]; then
	echo "install-clients: all present: ${packages[*]}"
	exit 0
fi

sudo=()
if [ "$(id -u)" -ne 0 ]; then
	if ! command -v sudo >/dev/null 2>&1; then
		echo "install-clients: need root (or sudo) to install: ${missing[*]}" >&2
		exit 1
	fi
	sudo=(sudo)
fi

echo "install-clients: installing ${missing[*]}"
export DEBIAN_FRONTEND=noninteractive
"${sudo[@]}" apt-get update -q
"${sudo[@]}" apt-get install -y -q --no-install-recommends "${missing[@]}"

# The packages install for the system interpreter, which the tests prefer over
# whatever python3 comes first on PATH.
/usr/bin/python3 -c 'import kafka, confluent_kafka, lz4.frame, snappy'
command -v kcat >/dev/null
echo "install-clients: done"
