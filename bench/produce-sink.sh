#!/usr/bin/env bash
# produce-sink.sh: skiff's producer against franz-go's kgo, across processes.
#
# One `skiff sink` process (internal/fastack: acknowledges produce requests
# without storing them) serves both clients; each round runs
# `skiff bench-produce` once per client, each in its own process, the order
# alternating between rounds so neither always runs on a warmer (or busier)
# machine. Both clients get the same settings, set explicitly on each.
# It prints every run, then the per-round skiff/kgo ratios and, per client,
# the medians of records/s, heap allocations per record and the CPU time
# the client process spent per record (steadier than records/s on a loaded
# machine), and the median of the per-round ratios of each.
#
# Usage (from anywhere in the repository):
#
#	bench/produce-sink.sh                              # 3 rounds x 500k, 3 partitions, no compression
#	ROUNDS=5 PARTITIONS=1000 bench/produce-sink.sh     # the 1,000-partition case (10,000 keys)
#	COMPRESSION=zstd VALUES=json bench/produce-sink.sh
#	SKIFF_OLD=/tmp/skiff-main PARTITIONS=1000 RECORDS=2000000 bench/produce-sink.sh
#	                                                   # this tree's skiff against another build
#	                                                   # of it (skiff-old) instead of kgo
#
# Settings (environment, with defaults): ROUNDS=3 RECORDS=500000
# PARTITIONS=3 KEYS=10000 VALUES=random VALUE_SIZE=100 COMPRESSION=none
# ACKS=all IDEMPOTENT=true LINGER=5ms BATCH_SIZE=16384
# BUFFER_MEMORY=33554432 MAX_IN_FLIGHT=5 PRODUCERS=1 SKIFF= (a prebuilt
# skiff binary to use instead of building this tree) SKIFF_OLD= (a second
# skiff build: its producer, "skiff-old", then runs in kgo's place, so the
# ratios compare two builds of skiff's client, alternating as above; with
# a loaded machine compare CPU per record at like records/batch).
set -euo pipefail

ROUNDS=${ROUNDS:-3}
RECORDS=${RECORDS:-500000}
PARTITIONS=${PARTITIONS:-3}
KEYS=${KEYS:-10000}
VALUES=${VALUES:-random}
VALUE_SIZE=${VALUE_SIZE:-100}
COMPRESSION=${COMPRESSION:-none}
ACKS=${ACKS:-all}
IDEMPOTENT=${IDEMPOTENT:-true}
LINGER=${LINGER:-5ms}
BATCH_SIZE=${BATCH_SIZE:-16384}
BUFFER_MEMORY=${BUFFER_MEMORY:-33554432}
MAX_IN_FLIGHT=${MAX_IN_FLIGHT:-5}
PRODUCERS=${PRODUCERS:-1}
other=kgo
[[ -n ${SKIFF_OLD:-} ]] && other=skiff-old

root=$(cd "$(dirname "$0")/.." && pwd)
work=$(mktemp -d)
sink_pid=
cleanup() {
	if [[ -n $sink_pid ]]; then
		kill -INT "$sink_pid" 2>/dev/null || true
		wait "$sink_pid" 2>/dev/null || true
	fi
	rm -rf "$work"
}
trap cleanup EXIT

if [[ -n ${SKIFF:-} ]]; then
	cp "$SKIFF" "$work/skiff" # a prebuilt binary, to compare two builds
else
	(cd "$root" && go build -o "$work/skiff" ./cmd/skiff)
fi
if [[ -n ${SKIFF_OLD:-} ]]; then
	cp "$SKIFF_OLD" "$work/skiff-old"
fi

"$work/skiff" sink --listen 127.0.0.1:0 --partitions "$PARTITIONS" >"$work/sink.out" 2>&1 &
sink_pid=$!
addr=
for _ in $(seq 100); do
	addr=$(awk '/^listening on/ {print $3}' "$work/sink.out")
	[[ -n $addr ]] && break
	sleep 0.05
done
[[ -n $addr ]] || { echo "sink did not start:" >&2; cat "$work/sink.out" >&2; exit 1; }

settings=(--brokers "$addr" --records "$RECORDS" --keys "$KEYS" --values "$VALUES" --value-size "$VALUE_SIZE"
	--compression "$COMPRESSION" --acks "$ACKS" --idempotent="$IDEMPOTENT" --linger "$LINGER"
	--batch-size "$BATCH_SIZE" --buffer-memory "$BUFFER_MEMORY" --max-in-flight "$MAX_IN_FLIGHT")
((PRODUCERS > 1)) && settings+=(--producers "$PRODUCERS")
# The load average says how much of the machine other work took: records/s
# of both clients falls, and their ratio moves, as it rises.
loadavg() { cut -d' ' -f1-3 /proc/loadavg 2>/dev/null || uptime; }
echo "sink $addr, $PARTITIONS partitions; per run: ${settings[*]:2}"
echo "load average at start: $(loadavg)"

field() { sed -n "s|.* $1=\([0-9.]*\).*|\1|p"; }
results=$work/results
for round in $(seq "$ROUNDS"); do
	order=(skiff "$other")
	((round % 2 == 0)) && order=("$other" skiff)
	for client in "${order[@]}"; do
		bin=$work/skiff
		flag=$client
		if [[ $client == skiff-old ]]; then
			bin=$work/skiff-old
			flag=skiff
		fi
		# A fresh topic per run: each producer starts from sequence 0.
		line=$("$bin" bench-produce --client "$flag" --topic "bench-$round-$client" "${settings[@]}")
		echo "round $round ($client): $line"
		echo "$round $client $(field records/s <<<"$line") $(field cpu-ns/record <<<"$line") $(field allocs/record <<<"$line") $(field records/batch <<<"$line")" >>"$results"
	done
done

awk -v other="$other" '
	{ rate[$1, $2] = $3; cpuof[$1, $2] = $4; v[$2] = v[$2] " " $3; cpu[$2] = cpu[$2] " " $4; allocs[$2] = allocs[$2] " " $5; rpb[$2] = rpb[$2] " " $6; if ($1 > n) n = $1 }
	function median(list,   a, n, i, j, t) {
		n = split(list, a, " ")
		for (i = 2; i <= n; i++) for (j = i; j > 1 && a[j-1] + 0 > a[j] + 0; j--) { t = a[j]; a[j] = a[j-1]; a[j-1] = t }
		return n % 2 ? a[(n+1)/2] : (a[n/2] + a[n/2+1]) / 2
	}
	function span(list,   a, n, i, lo, hi) {
		n = split(list, a, " ")
		lo = hi = a[1]
		for (i = 2; i <= n; i++) { if (a[i] + 0 < lo + 0) lo = a[i]; if (a[i] + 0 > hi + 0) hi = a[i] }
		return sprintf("%.2f–%.2f", lo, hi)
	}
	END {
		for (r = 1; r <= n; r++) {
			ratio = rate[r, "skiff"] / rate[r, other]; ratios = ratios " " ratio
			cratio = cpuof[r, other] / cpuof[r, "skiff"]; cratios = cratios " " cratio
			printf "round %s: skiff/%s records/s %.2f, %s/skiff CPU per record %.2f\n", r, other, ratio, other, cratio
		}
		printf "%-9s %12s %14s %18s %14s\n", "client", "records/s", "allocs/record", "CPU ns/record", "records/batch"
		printf "%-9s %12.0f %14.3f %18.0f %14.1f\n", "skiff", median(v["skiff"]), median(allocs["skiff"]), median(cpu["skiff"]), median(rpb["skiff"])
		printf "%-9s %12.0f %14.3f %18.0f %14.1f\n", other, median(v[other]), median(allocs[other]), median(cpu[other]), median(rpb[other])
		printf "median of %d rounds (range): skiff/%s records/s %.2f (%s); %s/skiff CPU per record %.2f (%s)\n", n, other, median(ratios), span(ratios), other, median(cratios), span(cratios)
	}' "$results"

echo "load average at end: $(loadavg)"

# The sink's own count: every timed record plus one warm-up record per
# run and producer.
kill -INT "$sink_pid"
wait "$sink_pid" || true
sink_pid=
echo "sink: $(tail -n 1 "$work/sink.out") (expected $((ROUNDS * 2 * (RECORDS + PRODUCERS))) records)"
