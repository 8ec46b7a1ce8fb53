#!/usr/bin/env bash
# txn-produce.sh: transactional against idempotent produce, across processes
# (issue 11). One `skiff broker` process (fsync interval, a fresh data
# directory); each round runs `skiff bench-produce` twice, each in its own
# process: idempotent, and in transactions of TXN_RECORDS records
# (--txn-records), the order alternating between rounds. Same client, same
# settings otherwise. It prints every run, the median records/s of each
# mode and the median of the per-round transactional/idempotent ratios.
#
# Usage (from anywhere in the repository):
#
#	bench/txn-produce.sh                       # skiff, 3 rounds x 200k records, transactions of 1,000
#	CLIENT=kgo ROUNDS=5 bench/txn-produce.sh
#
# Settings (environment, with defaults): CLIENT=skiff ROUNDS=3
# RECORDS=200000 TXN_RECORDS=1000 PARTITIONS=3 VALUE_SIZE=100 LINGER=5ms.
set -euo pipefail

CLIENT=${CLIENT:-skiff}
ROUNDS=${ROUNDS:-3}
RECORDS=${RECORDS:-200000}
TXN_RECORDS=${TXN_RECORDS:-1000}
PARTITIONS=${PARTITIONS:-3}
VALUE_SIZE=${VALUE_SIZE:-100}
LINGER=${LINGER:-5ms}

root=$(cd "$(dirname "$0")/.." && pwd)
work=$(mktemp -d)
broker_pid=
cleanup() {
	if [[ -n $broker_pid ]]; then
		kill -INT "$broker_pid" 2>/dev/null || true
		wait "$broker_pid" 2>/dev/null || true
	fi
	rm -rf "$work"
}
trap cleanup EXIT

(cd "$root" && go build -o "$work/skiff" ./cmd/skiff)

"$work/skiff" broker --listen 127.0.0.1:0 --data "$work/data" --partitions "$PARTITIONS" >"$work/broker.out" 2>&1 &
broker_pid=$!
addr=
for _ in $(seq 200); do
	addr=$(awk '/^listening/ {print $2; exit}' "$work/broker.out")
	[[ -n $addr ]] && break
	sleep 0.05
done
[[ -n $addr ]] || { echo "broker did not start:" >&2; cat "$work/broker.out" >&2; exit 1; }

# Every producer setting explicit, as in the other comparisons (franz-go
# would otherwise pick its own defaults, snappy among them).
settings=(--client "$CLIENT" --brokers "$addr" --records "$RECORDS" --keys 0 --value-size "$VALUE_SIZE" --linger "$LINGER"
	--compression none --acks all --idempotent=true --batch-size 16384 --buffer-memory 33554432 --max-in-flight 5)
echo "broker $addr, $PARTITIONS partitions; per run: ${settings[*]:2}; transactions of $TXN_RECORDS"

field() { sed -n "s|.* $1=\([0-9.]*\).*|\1|p"; }
results=$work/results
for round in $(seq "$ROUNDS"); do
	order=(idem txn)
	((round % 2 == 0)) && order=(txn idem)
	for mode in "${order[@]}"; do
		extra=()
		[[ $mode == txn ]] && extra=(--txn-records "$TXN_RECORDS")
		topic="txn-bench-$round-$mode"
		"$work/skiff" topics create "$topic" --partitions "$PARTITIONS" --brokers "$addr" >/dev/null
		line=$("$work/skiff" bench-produce --topic "$topic" "${settings[@]}" "${extra[@]}")
		echo "round $round $mode: $line"
		echo "$round $mode $(field records/s <<<"$line")" >>"$results"
	done
done

awk '
	{ rate[$1, $2] = $3; v[$2] = v[$2] " " $3; if ($1 > n) n = $1 }
	function median(list,   a, n, i, j, t) {
		n = split(list, a, " ")
		for (i = 2; i <= n; i++) for (j = i; j > 1 && a[j-1] + 0 > a[j] + 0; j--) { t = a[j]; a[j] = a[j-1]; a[j-1] = t }
		return n % 2 ? a[(n+1)/2] : (a[n/2] + a[n/2+1]) / 2
	}
	END {
		for (r = 1; r <= n; r++) { ratio = rate[r, "txn"] / rate[r, "idem"]; ratios = ratios " " ratio; printf "round %s: txn/idem %.3f\n", r, ratio }
		printf "median records/s: idempotent %.0f, transactional %.0f; median txn/idem ratio %.3f\n", median(v["idem"]), median(v["txn"]), median(ratios)
	}' "$results"
