#!/usr/bin/env bash
# fetch-zerocopy.sh: broker CPU per GB fetched, with and without sendfile.
#
# Produces RECORDS records of VALUE_SIZE random bytes once into a
# `skiff broker` (kgo producer, acks=1, no compression), then in each round
# restarts the broker on that data with --sendfile=true and with
# --sendfile=false (copying, as on TLS listeners; the order alternates
# between rounds) and reads everything back with one `skiff bench-consume`
# consumer (CLIENT, kgo by default) in its own process. Around each read it
# takes the broker's user+system CPU time from /proc/<pid>/stat, so the
# figure is the broker's work alone. It prints every run, then per mode the
# median consumer MB/s and broker CPU-seconds per GB.
#
# Usage (from anywhere in the repository; Linux only):
#
#	bench/fetch-zerocopy.sh                       # 3 rounds, 1M x 1 KiB, kgo consumer
#	ROUNDS=5 CLIENT=skiff bench/fetch-zerocopy.sh
#
# Settings (environment, with defaults): ROUNDS=3 RECORDS=1000000
# VALUE_SIZE=1024 CLIENT=kgo.
set -euo pipefail

ROUNDS=${ROUNDS:-3}
RECORDS=${RECORDS:-1000000}
VALUE_SIZE=${VALUE_SIZE:-1024}
CLIENT=${CLIENT:-kgo}

root=$(cd "$(dirname "$0")/.." && pwd)
work=$(mktemp -d)
broker_pid=
stop_broker() {
	if [[ -n $broker_pid ]]; then
		kill -INT "$broker_pid" 2>/dev/null || true
		wait "$broker_pid" 2>/dev/null || true
		broker_pid=
	fi
}
cleanup() {
	stop_broker
	rm -rf "$work"
}
trap cleanup EXIT

(cd "$root" && go build -o "$work/skiff" ./cmd/skiff)

# start_broker SENDFILE: starts the broker on $work/data, sets addr.
start_broker() {
	"$work/skiff" broker --listen 127.0.0.1:0 --data "$work/data" --fsync none --sendfile="$1" >"$work/broker.out" 2>&1 &
	broker_pid=$!
	addr=
	for _ in $(seq 200); do
		addr=$(awk '/^listening/ {print $2; exit}' "$work/broker.out")
		[[ -n $addr ]] && return
		sleep 0.05
	done
	echo "broker did not start:" >&2
	cat "$work/broker.out" >&2
	exit 1
}

# cpu_ticks PID: utime + stime in clock ticks (fields 14 and 15; the
# command name in field 2 has no spaces here).
cpu_ticks() { awk '{print $14 + $15}' "/proc/$1/stat"; }
hz=$(getconf CLK_TCK)

start_broker true
"$work/skiff" topics create bench --brokers "$addr" --partitions 1 >/dev/null
"$work/skiff" bench-produce --client kgo --brokers "$addr" --topic bench --records "$RECORDS" --keys 0 \
	--value-size "$VALUE_SIZE" --acks 1 --idempotent=false --linger 5ms --batch-size 1048576 >/dev/null
stop_broker
echo "produced $RECORDS x $VALUE_SIZE bytes; reading with $CLIENT"

field() { sed -n "s|.* $1=\([0-9.]*\).*|\1|p"; }
results=$work/results
for round in $(seq "$ROUNDS"); do
	order=(true false)
	((round % 2 == 0)) && order=(false true)
	for sf in "${order[@]}"; do
		start_broker "$sf"
		before=$(cpu_ticks "$broker_pid")
		line=$("$work/skiff" bench-consume --client "$CLIENT" --brokers "$addr" --topic bench --records "$RECORDS")
		after=$(cpu_ticks "$broker_pid")
		stop_broker
		bytes=$(field bytes <<<"$line")
		cpu=$(awk -v t=$((after - before)) -v hz="$hz" 'BEGIN { printf "%.2f", t / hz }')
		perGB=$(awk -v c="$cpu" -v b="$bytes" 'BEGIN { printf "%.2f", c / (b / 1e9) }')
		echo "round $round sendfile=$sf: $line broker-cpu-s=$cpu broker-cpu-s/GB=$perGB"
		echo "$sf $(field MB/s <<<"$line") $perGB" >>"$results"
	done
done

awk '
	{ mb[$1] = mb[$1] " " $2; cpu[$1] = cpu[$1] " " $3 }
	function median(list,   a, n, i, j, t) {
		n = split(list, a, " ")
		for (i = 2; i <= n; i++) for (j = i; j > 1 && a[j-1] + 0 > a[j] + 0; j--) { t = a[j]; a[j] = a[j-1]; a[j-1] = t }
		return n % 2 ? a[(n+1)/2] : (a[n/2] + a[n/2+1]) / 2
	}
	END {
		printf "median sendfile: %.0f MB/s, broker %.2f CPU-s/GB\n", median(mb["true"]), median(cpu["true"])
		printf "median copy:     %.0f MB/s, broker %.2f CPU-s/GB\n", median(mb["false"]), median(cpu["false"])
	}' "$results"
